/**
 * Byte-array helpers shared by the core and the layers above it.
 *
 * @module
 */

/**
 * One buffer holding `parts` in order. A single part of the full length is
 * returned as it is; otherwise the parts are copied (so the buffers they
 * view can be released).
 *
 * @param length the total length, when the caller already knows it
 */
export function concatBytes(parts: readonly Uint8Array[], length?: number): Uint8Array {
  if (length === undefined) {
    length = 0;
    for (const p of parts) length += p.length;
  }
  if (parts.length === 1 && parts[0].length === length) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
