/**
 * Splitting a byte stream (stdin) into lines.
 *
 * @module
 */

/**
 * Yields the lines of a byte stream as bytes, without their `\n` or `\r\n`.
 * A last line without a newline is yielded too; an empty stream yields
 * nothing.
 */
export async function* splitLines(
  chunks: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const take = (tail: Uint8Array): Uint8Array => {
    let line = tail;
    if (pending.length > 0) {
      line = new Uint8Array(pendingBytes + tail.length);
      let at = 0;
      for (const p of pending) {
        line.set(p, at);
        at += p.length;
      }
      line.set(tail, at);
      pending = [];
      pendingBytes = 0;
    }
    return line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line;
  };
  for await (const chunk of chunks) {
    const bytes = typeof chunk === "string" ? encoder.encode(chunk) : chunk;
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
      yield take(bytes.slice(start, nl));
      start = nl + 1;
    }
    if (start < bytes.length) {
      pending.push(bytes.slice(start));
      pendingBytes += bytes.length - start;
    }
  }
  if (pendingBytes > 0) yield take(new Uint8Array(0));
}
