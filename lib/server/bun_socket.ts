/**
 * The {@link Transport} over a socket accepted by `Bun.listen`. Bun calls
 * one set of handlers for every socket of a listener; each socket's
 * `data` holds its transport, and the listener forwards the events to it.
 *
 * @module
 */

import type { Transport, TransportAddress } from "../transport/transport.ts";
import { READ_HIGH_WATER_BYTES } from "../transport/transport.ts";
import { LINGER_MS } from "./session_channel.ts";

/** The part of a Bun server-side socket this adapter uses. */
export interface BunServerSocket {
  write(data: Uint8Array): number;
  end(): void;
  /** Sends FIN, keeping the read side open. */
  shutdown?(halfClose?: boolean): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay?(noDelay?: boolean): boolean;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
}

/**
 * A Bun socket as a pull-based {@link Transport}: reads pause the socket
 * once {@link READ_HIGH_WATER_BYTES} wait unread; writes that Bun cannot
 * take at once wait for `drain`, in order.
 *
 * @example
 * ```ts
 * import { BunServerTransport } from "./bun_socket.ts";
 * // In Bun.listen's handlers:
 * //   open(socket) { socket.data = new BunServerTransport(socket); … }
 * //   data(socket, bytes) { socket.data.onData(bytes); }
 * //   drain(socket) { socket.data.onDrain(); }
 * //   close(socket, error) { socket.data.onEnd(error); }
 * ```
 */
export class BunServerTransport implements Transport {
  readonly #socket: BunServerSocket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #paused = false;
  #ended = false;
  #closing = false;
  /** After a lingering close: what the peer still sends is discarded. */
  #discard = false;
  #error: Error | undefined;
  #waiter: { resolve: (v: Uint8Array | null) => void; reject: (e: Error) => void } | undefined;
  /** Bytes Bun did not take yet, with the settlement of the write they end. */
  #pending: Array<{ data: Uint8Array; done?: () => void; fail?: (e: Error) => void }> = [];
  #pendingBytes = 0;
  #resolveClosed!: () => void;
  readonly closed: Promise<void> = new Promise((resolve) => (this.#resolveClosed = resolve));
  readonly remoteAddress: TransportAddress | undefined;

  constructor(socket: BunServerSocket) {
    this.#socket = socket;
    socket.setNoDelay?.(true);
    this.remoteAddress = socket.remoteAddress
      ? { hostname: socket.remoteAddress, port: socket.remotePort ?? 0, transport: "tcp" }
      : undefined;
  }

  get bufferedAmount(): number {
    return this.#pendingBytes;
  }

  /** Bun's `data` handler. */
  onData(buffer: Uint8Array): void {
    if (this.#discard) return;
    // A plain Uint8Array view: messages are the same type on every runtime.
    const data = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter.resolve(data);
      return;
    }
    this.#queue.push(data);
    this.#queued += data.length;
    if (this.#queued >= READ_HIGH_WATER_BYTES && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  /** Bun's `drain` handler: writes what waited, in order. */
  onDrain(): void {
    while (this.#pending.length > 0) {
      const head = this.#pending[0];
      const n = Math.max(0, this.#socket.write(head.data));
      this.#pendingBytes -= n;
      if (n < head.data.length) {
        head.data = head.data.subarray(n);
        return;
      }
      this.#pending.shift();
      head.done?.();
    }
  }

  /** Bun's `end`, `close` and `error` handlers. */
  onEnd(error?: Error): void {
    if (!this.#ended) {
      this.#ended = true;
      this.#error = error;
      const waiter = this.#waiter;
      this.#waiter = undefined;
      if (waiter) error ? waiter.reject(error) : waiter.resolve(null);
    }
    const failure = error ?? new Error("the socket closed");
    for (const p of this.#pending) p.fail?.(failure);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#resolveClosed();
  }

  read(): Promise<Uint8Array | null> {
    if (this.#queue.length > 0) {
      const chunk = this.#queue.shift()!;
      this.#queued -= chunk.length;
      if (this.#paused && this.#queued < READ_HIGH_WATER_BYTES / 2) {
        this.#paused = false;
        this.#socket.resume();
      }
      return Promise.resolve(chunk);
    }
    if (this.#ended) return this.#error ? Promise.reject(this.#error) : Promise.resolve(null);
    if (this.#waiter) return Promise.reject(new Error("a read is already pending"));
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.#ended || this.#closing) {
      return Promise.reject(this.#error ?? new Error("the socket is closed"));
    }
    const n = chunks.length;
    if (n === 0) return Promise.resolve();
    let i = 0;
    if (this.#pending.length === 0) {
      for (; i < n; i++) {
        const c = chunks[i];
        const written = Math.max(0, this.#socket.write(c));
        if (written < c.length) {
          this.#pending.push({ data: c.subarray(written) });
          this.#pendingBytes += c.length - written;
          i++;
          break;
        }
      }
      if (this.#pending.length === 0) return Promise.resolve();
    }
    // Everything behind a partial write waits its turn.
    for (; i < n; i++) {
      this.#pending.push({ data: chunks[i] });
      this.#pendingBytes += chunks[i].length;
    }
    return new Promise((resolve, reject) => {
      const last = this.#pending[this.#pending.length - 1];
      last.done = resolve;
      last.fail = reject;
    });
  }

  /**
   * Closes gracefully: what is queued goes out, then FIN; what the peer
   * still sends is read and discarded until it closes too, for at most
   * {@link LINGER_MS} (closing with unread input would send a RST that can
   * destroy the close frame before the peer reads it).
   */
  close(): void {
    if (this.#ended || this.#closing) return;
    this.#closing = true;
    const finish = () => {
      this.#discard = true;
      this.#queue = [];
      this.#queued = 0;
      if (this.#paused) {
        this.#paused = false;
        this.#socket.resume();
      }
      if (this.#socket.shutdown) this.#socket.shutdown();
      else this.#socket.end();
    };
    if (this.#pending.length === 0) finish();
    else {
      const last = this.#pending[this.#pending.length - 1];
      const done = last.done;
      last.done = () => {
        done?.();
        finish();
      };
    }
    // A peer that never reads or never closes cannot hold the socket open.
    const timer = setTimeout(() => this.#socket.terminate(), LINGER_MS);
    this.closed.then(() => clearTimeout(timer));
  }

  /** Drops the socket now, discarding what waits to be sent. */
  destroy(): void {
    if (this.#ended) return;
    this.#socket.terminate();
    this.onEnd(undefined);
  }
}
