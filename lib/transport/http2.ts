/**
 * The {@link Transport} over one HTTP/2 stream (`node:http2`), for
 * WebSockets bootstrapped with extended CONNECT (RFC 8441): the stream's
 * DATA frames carry the WebSocket's bytes in both directions, as a TCP
 * connection does over HTTP/1.1.
 *
 * Backpressure is HTTP/2's own flow control: pausing the stream stops
 * `node:http2` from consuming its data, so no WINDOW_UPDATE goes back and
 * the peer stops sending on this stream only; the other streams of the
 * connection go on.
 *
 * @module
 */

import type * as http2 from "node:http2";
import type { Transport, TransportAddress, TransportSink } from "./transport.ts";
import { CLOSE_GRACE_MS } from "./transport.ts";
import { writeNowTo, writeTo } from "./node.ts";
import { ReadQueue } from "./read_queue.ts";

/** RST_STREAM's CANCEL error code (RFC 9113 §7). */
const CANCEL = 0x8;

/**
 * Wraps an open HTTP/2 stream as a {@link Transport}: the client's stream
 * after a 200 to its extended CONNECT, or the server's after it answered
 * one. Closing the transport ends the stream (END_STREAM, RFC 8441 §5 "an
 * orderly close"), not the HTTP/2 connection; a peer that does not end its
 * side within 5 seconds gets RST_STREAM (CANCEL).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as http2 from "node:http2";
 * import type { AddressInfo } from "node:net";
 * import { fromHttp2Stream } from "./http2.ts";
 * // An HTTP/2 server taking extended CONNECT (RFC 8441 §3) whose streams echo their bytes.
 * const server = http2.createServer({ settings: { enableConnectProtocol: true } });
 * server.on("stream", (stream: http2.ServerHttp2Stream) => {
 *   stream.respond({ ":status": 200 });
 *   stream.pipe(stream);
 * });
 * await once(server.listen(0, "127.0.0.1"), "listening");
 * const { port } = server.address() as AddressInfo;
 * const session = http2.connect(`http://127.0.0.1:${port}`);
 * const stream = session.request({
 *   ":method": "CONNECT",
 *   ":protocol": "websocket",
 *   ":scheme": "http",
 *   ":path": "/chat",
 *   ":authority": `127.0.0.1:${port}`,
 *   "sec-websocket-version": "13",
 * });
 * const [headers] = await once(stream, "response");
 * assert.equal(headers[":status"], 200);
 * const transport = fromHttp2Stream(stream); // the stream's bytes, as any transport
 * await transport.write([new TextEncoder().encode("ping")]);
 * assert.equal(new TextDecoder().decode((await transport.read())!), "ping");
 * transport.close();
 * session.close();
 * await new Promise((closed) => server.close(closed));
 * ```
 */
export function fromHttp2Stream(stream: http2.Http2Stream): Transport {
  return new Http2StreamTransport(stream);
}

/** One HTTP/2 stream as a byte stream. @internal */
export class Http2StreamTransport implements Transport {
  readonly #stream: http2.Http2Stream;
  readonly #reads: ReadQueue;
  readonly closed: Promise<void>;
  #remote: TransportAddress | undefined | null = null;
  /** See {@link Transport.writeInReadTurn}: Bun's node:http2 needs it. */
  readonly writeInReadTurn = true;

  constructor(stream: http2.Http2Stream) {
    this.#stream = stream;
    this.#reads = new ReadQueue(stream);
    this.closed = new Promise((resolve) => {
      if (stream.closed) resolve();
      else stream.once("close", () => resolve());
    });
    stream.on("data", (buffer: Uint8Array) => this.#reads.push(buffer));
    stream.on("end", () => this.#reads.end());
    stream.on("error", (error: Error) => this.#reads.end(error));
    const closed = () => {
      // A reset by the peer, or the connection's end, without END_STREAM first.
      const code = stream.rstCode;
      this.#reads.end(
        code !== undefined && code !== 0
          ? new Error(`the HTTP/2 stream was reset (error code ${code})`)
          : undefined,
      );
    };
    stream.on("close", closed);
    // What happened before this transport was made (a 200 that came with
    // END_STREAM, a reset right after the response) fired its events
    // already: read the stream's state instead (runtimes differ in how soon
    // they fire them; Deno's came before the caller could attach).
    if (stream.closed || stream.destroyed) closed();
    else if (stream.readableEnded) this.#reads.end();
  }

  get bufferedAmount(): number {
    return this.#stream.writableLength;
  }

  /** The peer's address: that of the HTTP/2 connection's socket. */
  get remoteAddress(): TransportAddress | undefined {
    if (this.#remote === null) {
      const s = this.#stream.session?.socket;
      this.#remote = s?.remoteAddress !== undefined
        ? { hostname: s.remoteAddress, port: s.remotePort ?? 0, transport: "tcp" }
        : undefined;
    }
    return this.#remote;
  }

  read(): Promise<Uint8Array | null> {
    return this.#reads.read();
  }

  attach(sink: TransportSink): void {
    this.#stream.on("drain", () => sink.drain());
    this.#reads.attach(sink);
  }

  pause(): void {
    this.#reads.hold();
  }

  resume(): void {
    this.#reads.release();
  }

  writeNow(chunks: readonly Uint8Array[]): boolean {
    return writeNowTo(this.#stream, chunks);
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    return writeTo(this.#stream, chunks, this.#reads.error, "the HTTP/2 stream is closed");
  }

  /** Ends our side (END_STREAM after what is queued); the stream closes once the peer ends its side. */
  close(): void {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    // Nothing more is read: what still comes is consumed, so flow control
    // never blocks the peer's END_STREAM.
    this.#reads.release();
    stream.resume();
    if (!stream.writableEnded) stream.end();
    const timer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    this.closed.then(() => clearTimeout(timer));
  }

  /** Resets the stream now (RST_STREAM with CANCEL). */
  destroy(): void {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    stream.close(CANCEL);
  }
}
