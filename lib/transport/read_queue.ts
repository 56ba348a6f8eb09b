/**
 * The pull-based read side shared by the callback-driven socket adapters
 * (node:net, Bun): chunks the socket pushes wait here for `read()`, and the
 * socket is paused while too many wait.
 *
 * @module
 */

import { READ_HIGH_WATER_BYTES, type TransportSink } from "./transport.ts";

/** A socket that can stop and restart reading. */
export interface PausableSocket {
  /** Stops reading. */
  pause?(): unknown;
  /** Reads again. */
  resume?(): unknown;
}

/**
 * Turns a socket's pushed chunks into pulled reads with backpressure: past
 * {@link READ_HIGH_WATER_BYTES} unread, `pause()` is called; once a reader
 * drains below half of it, `resume()`.
 */
export class ReadQueue {
  readonly #socket: PausableSocket;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #paused = false;
  #ended = false;
  #error: Error | undefined;
  #waiter: { resolve: (v: Uint8Array | null) => void; reject: (e: Error) => void } | undefined;
  /** Push mode: chunks go straight here. */
  #sink: TransportSink | undefined;
  /** Push mode: the consumer asked to stop reading. */
  #held = false;

  /** Pauses and resumes `socket` (its own `pause()` and `resume()`, where it has them). */
  constructor(socket: PausableSocket) {
    this.#socket = socket;
  }

  /** True once the socket ended or failed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** The error the socket failed with, if any. */
  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Push mode: what is queued goes to `sink` now, and every later chunk as it
   * comes; the end too.
   */
  attach(sink: TransportSink): void {
    this.#sink = sink;
    const chunks = this.#chunks;
    this.#chunks = [];
    this.#bytes = 0;
    for (const chunk of chunks) sink.data(chunk);
    if (this.#paused && !this.#held) {
      this.#paused = false;
      this.#socket.resume?.();
    }
    if (this.#ended) sink.end(this.#error);
  }

  /** Push mode: stops reading the socket. */
  hold(): void {
    if (this.#held) return;
    this.#held = true;
    if (!this.#paused) {
      this.#paused = true;
      this.#socket.pause?.();
    }
  }

  /** Push mode: reads the socket again. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume?.();
    }
  }

  /** A chunk from the socket. */
  push(chunk: Uint8Array): void {
    const sink = this.#sink;
    if (sink !== undefined) {
      sink.data(chunk);
      return;
    }
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve(chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= READ_HIGH_WATER_BYTES && !this.#paused) {
      this.#paused = true;
      this.#socket.pause?.();
    }
  }

  /** The socket ended (no error) or failed. Chunks already queued stay readable. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    if (this.#sink) {
      this.#sink.end(error);
      return;
    }
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (!waiter) return;
    if (error) waiter.reject(error);
    else waiter.resolve(null);
  }

  /** The next chunk, or null at the end. One read at a time. */
  read(): Promise<Uint8Array | null> {
    if (this.#chunks.length > 0) {
      const chunk = this.#chunks.shift()!;
      this.#bytes -= chunk.length;
      if (this.#paused && this.#bytes < READ_HIGH_WATER_BYTES / 2) {
        this.#paused = false;
        this.#socket.resume?.();
      }
      return Promise.resolve(chunk);
    }
    if (this.#ended) return this.#error ? Promise.reject(this.#error) : Promise.resolve(null);
    if (this.#waiter) return Promise.reject(new Error("a read is already pending"));
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume?.();
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }
}

/**
 * What a transport whose reads go through a {@link ReadQueue} does the same
 * way as every other: `read`, `attach`, `pause` and `resume` (see
 * {@link Transport}). The subclass sets {@link reads} in its constructor
 * and extends `attach` where it has more to do. @internal
 */
export abstract class QueuedReads {
  /** The socket's queue of reads; set by the subclass's constructor. */
  protected reads!: ReadQueue;

  /** The next chunk, or null at the end. */
  read(): Promise<Uint8Array | null> {
    return this.reads.read();
  }

  /** Push mode: chunks go to `sink` as they come. */
  attach(sink: TransportSink): void {
    this.reads.attach(sink);
  }

  /** Push mode: stops reading. */
  pause(): void {
    this.reads.hold();
  }

  /** Push mode: reads again. */
  resume(): void {
    this.reads.release();
  }
}
