/**
 * The {@link Transport} over one HTTP/2 stream, for WebSockets bootstrapped
 * with extended CONNECT (RFC 8441): the stream's DATA frames carry the
 * WebSocket's bytes in both directions, as a TCP connection does over
 * HTTP/1.1. Two kinds of stream: one of `node:http2` (the client, and the
 * server front on node:http2), and one of sprig's own HTTP/2 server
 * connection (lib/protocol/http2/, the front used on Deno).
 *
 * Backpressure is HTTP/2's own flow control: while the session pauses the
 * transport, the bytes that still arrive are not credited back (node:http2
 * stops consuming them; sprig's connection holds back its WINDOW_UPDATE), so
 * the peer stops sending on this stream after one stream window; the other
 * streams of the connection go on.
 *
 * @module
 */

import type * as http2 from "node:http2";
import { H2ErrorCode } from "../protocol/http2/frame.ts";
import type { Transport, TransportAddress, TransportSink } from "./transport.ts";
import { CLOSE_GRACE_MS } from "./transport.ts";
import { writeNowTo, writeTo } from "./node.ts";
import { QueuedReads, ReadQueue } from "./read_queue.ts";

/**
 * One stream of a `node:http2` session as a byte stream: the client's
 * stream after a 200 to its extended CONNECT, or the server's after it
 * answered one. Closing the transport ends the stream (END_STREAM, RFC 8441
 * §5 "an orderly close"), not the HTTP/2 connection; a peer that does not
 * end its side within 5 seconds gets RST_STREAM (CANCEL). @internal
 */
export class NodeHttp2StreamTransport extends QueuedReads implements Transport {
  readonly #stream: http2.Http2Stream;
  readonly closed: Promise<void>;
  #remote: TransportAddress | undefined | null = null;
  /** See {@link Transport.writeInReadTurn}: Bun's node:http2 needs it. */
  readonly writeInReadTurn = true;

  constructor(stream: http2.Http2Stream) {
    super();
    this.#stream = stream;
    this.reads = new ReadQueue(stream);
    this.closed = new Promise((resolve) => {
      if (stream.closed) resolve();
      else stream.once("close", () => resolve());
    });
    stream.on("data", (buffer: Uint8Array) => this.reads.push(buffer));
    stream.on("end", () => this.reads.end());
    stream.on("error", (error: Error) => this.reads.end(error));
    const closed = () => {
      // A reset by the peer, or the connection's end, without END_STREAM first.
      const code = stream.rstCode;
      this.reads.end(
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
    else if (stream.readableEnded) this.reads.end();
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

  override attach(sink: TransportSink): void {
    this.#stream.on("drain", () => sink.drain());
    super.attach(sink);
  }

  writeNow(chunks: readonly Uint8Array[]): boolean {
    return writeNowTo(this.#stream, chunks);
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    return writeTo(this.#stream, chunks, this.reads.error, "the HTTP/2 stream is closed");
  }

  /** Ends our side (END_STREAM after what is queued); the stream closes once the peer ends its side. */
  close(): void {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    // Nothing more is read: what still comes is consumed, so flow control
    // never blocks the peer's END_STREAM.
    this.reads.release();
    stream.resume();
    if (!stream.writableEnded) stream.end();
    const timer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    this.closed.then(() => clearTimeout(timer));
  }

  /** Resets the stream now (RST_STREAM with CANCEL). */
  destroy(): void {
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return;
    stream.close(H2ErrorCode.CANCEL);
  }
}

/** Bytes a stream may hold queued (beyond the client's windows) before `writeNow` says wait. */
export const STREAM_WRITE_HIGH_WATER_BYTES = 64 * 1024;

/** What a stream transport needs from its connection. @internal */
export interface SprigHttp2StreamHost {
  /** Queues DATA (and END_STREAM when `end`) and schedules the socket write. */
  send(streamId: number, chunks: readonly Uint8Array[], end: boolean): void;
  /** Credits consumed bytes back to the client. */
  consume(streamId: number, n: number): void;
  /** RST_STREAM. */
  reset(streamId: number, code: number): void;
  /** Bytes of the stream not yet written to the socket, plus whether the socket itself is full. */
  pending(streamId: number): number;
  /** The connection's peer. */
  readonly remoteAddress: TransportAddress | undefined;
}

/** One HTTP/2 stream of sprig's own server as a byte stream. @internal */
export class SprigHttp2StreamTransport extends QueuedReads implements Transport {
  readonly #host: SprigHttp2StreamHost;
  readonly #id: number;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  #sink: TransportSink | undefined;
  #held = false;
  /** Bytes delivered while held, credited on resume. */
  #owed = 0;
  #gone = false;
  #ended = false;
  #needDrain = false;
  #drainWaiters: Array<() => void> = [];

  constructor(host: SprigHttp2StreamHost, streamId: number) {
    super();
    this.#host = host;
    this.#id = streamId;
    this.reads = new ReadQueue({
      pause: () => {
        this.#held = true;
      },
      resume: () => this.#release(),
    });
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  // --- from the connection ---

  /** DATA for this stream. */
  push(data: Uint8Array): void {
    if (data.length === 0) return;
    if (this.#held) this.#owed += data.length;
    else this.#host.consume(this.#id, data.length);
    this.reads.push(data);
  }

  /** The client ended its side (END_STREAM). */
  endRemote(): void {
    this.reads.end();
  }

  /**
   * The stream is over (`code` 0: both sides ended; else reset). A reset
   * with CANCEL is the client going away (RFC 9113 §8.7: it no longer wants
   * the stream), as a TCP connection that ends without a close frame: the
   * WebSocket ends as closed by the peer, 1006, on every runtime (node:http2
   * reports it so); other codes are errors.
   */
  gone(code: number): void {
    if (this.#gone) return;
    this.#gone = true;
    this.reads.end(
      code !== 0 && code !== H2ErrorCode.CANCEL
        ? new Error(`the HTTP/2 stream was reset (error code ${code})`)
        : undefined,
    );
    this.#drained();
    this.#resolveClosed();
  }

  /** The stream's queue or the socket drained. */
  drained(): void {
    if (this.#host.pending(this.#id) > STREAM_WRITE_HIGH_WATER_BYTES / 2) return;
    this.#drained();
  }

  #drained(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
    if (this.#needDrain) {
      this.#needDrain = false;
      this.#sink?.drain();
    }
  }

  #release(): void {
    this.#held = false;
    const owed = this.#owed;
    this.#owed = 0;
    if (owed > 0 && !this.#gone) this.#host.consume(this.#id, owed);
  }

  // --- Transport ---

  get bufferedAmount(): number {
    return this.#host.pending(this.#id);
  }

  get remoteAddress(): TransportAddress | undefined {
    return this.#host.remoteAddress;
  }

  override attach(sink: TransportSink): void {
    this.#sink = sink;
    super.attach(sink);
  }

  writeNow(chunks: readonly Uint8Array[]): boolean {
    if (this.#gone || this.#ended) return true; // the end is reported by `end`
    this.#host.send(this.#id, chunks, false);
    if (this.#host.pending(this.#id) <= STREAM_WRITE_HIGH_WATER_BYTES) return true;
    this.#needDrain = true;
    return false;
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.#gone || this.#ended) {
      return Promise.reject(this.reads.error ?? new Error("the HTTP/2 stream is closed"));
    }
    this.#host.send(this.#id, chunks, false);
    if (this.#host.pending(this.#id) <= STREAM_WRITE_HIGH_WATER_BYTES) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#drainWaiters.push(() => {
        if (this.#gone && this.#host.pending(this.#id) > 0) {
          reject(this.reads.error ?? new Error("the HTTP/2 stream is closed"));
        } else resolve();
      });
    });
  }

  /** Ends our side (END_STREAM after what is queued, RFC 8441 §5); the stream closes once the client ends its side. */
  close(): void {
    if (this.#gone || this.#ended) return;
    this.#ended = true;
    // Nothing more is read: what still comes is credited, so flow control
    // never holds back the client's END_STREAM.
    this.reads.release();
    this.#release();
    this.#host.send(this.#id, [], true);
    const timer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    void this.closed.then(() => clearTimeout(timer));
  }

  /** Resets the stream now (RST_STREAM with CANCEL). */
  destroy(): void {
    if (this.#gone) return;
    this.#host.reset(this.#id, H2ErrorCode.CANCEL);
  }
}
