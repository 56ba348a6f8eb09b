/**
 * The {@link Transport} over Bun's native sockets (`Bun.connect`).
 *
 * @module
 */

import type { ConnectTarget, Transport, TransportAddress, TransportSink } from "./transport.ts";
import { CLOSE_GRACE_MS, joinSmall } from "./transport.ts";
import { ReadQueue } from "./read_queue.ts";
import { abortReason } from "./abort.ts";
import { Eventually } from "../util/eventually.ts";

/** The part of a Bun socket (`Bun.connect`, `Bun.listen`) this adapter uses. */
export interface BunSocket {
  /**
   * Writes what Bun takes now and returns how many bytes that was (negative
   * once closed); the adapter keeps the rest until `drain`.
   */
  write(data: Uint8Array): number;
  /** Closes the socket gracefully; used where `shutdown` or `terminate` is missing. */
  end(): void;
  /** Sends FIN, keeping the read side open. */
  shutdown?(halfClose?: boolean): void;
  /** Closes the socket at once, discarding unsent bytes. */
  terminate?(): void;
  /** Stops reading from the socket: backpressure, once 256 KiB wait unread. */
  pause?(): void;
  /** Reads again, once the reader has taken the queue below half of that. */
  resume?(): void;
  /** Called with `true` on every socket: Nagle's algorithm would hold small frames back. */
  setNoDelay?(noDelay?: boolean): boolean;
  /** The peer's IP address. */
  readonly remoteAddress?: string;
  /** The peer's port. */
  readonly remotePort?: number;
}

interface BunSocketHandlers {
  open?(socket: BunSocket): void;
  data?(socket: BunSocket, data: Uint8Array): void;
  drain?(socket: BunSocket): void;
  close?(socket: BunSocket, error?: Error): void;
  end?(socket: BunSocket): void;
  error?(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
  handshake?(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
}

interface BunNamespace {
  connect(options: {
    hostname?: string;
    port?: number;
    unix?: string;
    tls?: boolean | {
      ca?: string[];
      serverName?: string;
      rejectUnauthorized?: boolean;
      ALPNProtocols?: string[];
      cert?: string;
      key?: string;
      passphrase?: string;
    };
    socket: BunSocketHandlers;
  }): Promise<BunSocket>;
}

/** `Bun`, when running on Bun. */
export function bunNamespace(): BunNamespace | undefined {
  return (globalThis as { Bun?: BunNamespace }).Bun;
}

/**
 * Connects with `Bun.connect`, plain or TLS. A TLS connection is handed out
 * only after its handshake, so a bad certificate fails here.
 *
 * @throws {TypeError} when not running on Bun
 *
 * @example
 * ```ts ignore
 * // On Bun: always Bun.connect, whatever the options.
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../mod.ts";
 * import { connectBun } from "./bun.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * await using ws = await connect(server.url, { transport: connectBun });
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * ```
 */
export async function connectBun(target: ConnectTarget, signal?: AbortSignal): Promise<Transport> {
  const Bun = bunNamespace();
  if (!Bun) throw new TypeError("not running on Bun");
  if (signal?.aborted) throw abortReason(signal);
  const state = new BunTransportState(target.insecure);
  const pending = Bun.connect({
    hostname: target.unixPath === undefined ? target.hostname : undefined,
    port: target.unixPath === undefined ? target.port : undefined,
    unix: target.unixPath,
    tls: target.tls
      ? {
        ca: target.caCerts,
        serverName: target.serverName ?? target.hostname,
        rejectUnauthorized: !target.insecure,
        ALPNProtocols: target.alpnProtocols,
        ...(target.cert !== undefined ? { cert: target.cert, key: target.key } : {}),
        ...(target.passphrase !== undefined ? { passphrase: target.passphrase } : {}),
      }
      : undefined,
    socket: state.handlers,
  });
  let socket: BunSocket;
  if (signal) {
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        pending.then((s) => s.terminate?.() ?? s.end(), () => {});
        reject(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      socket = await Promise.race([pending, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  } else {
    socket = await pending;
  }
  if (target.tls) {
    // The TLS handshake (and certificate verification) ends before the transport is handed out.
    try {
      await state.handshake;
    } catch (error) {
      socket.terminate?.() ?? socket.end();
      throw error;
    }
  }
  socket.setNoDelay?.(true);
  return state.attach(socket);
}

/** Holds what Bun's callbacks deliver until the socket object exists. */
class BunTransportState {
  constructor(readonly insecure = false) {}
  transport: BunTransport | undefined;
  early: Uint8Array[] = [];
  ended = false;
  error: Error | undefined;

  #settleHandshake!: (error?: Error) => void;
  readonly handshake: Promise<void> = new Promise((resolve, reject) => {
    this.#settleHandshake = (error) => (error ? reject(error) : resolve());
  });
  #handshakeObserved = this.handshake.catch(() => {});

  handlers: BunSocketHandlers = {
    handshake: (_s, success, authorizationError) => {
      // With rejectUnauthorized off, Bun still reports why it would have refused.
      const refused = !success || (authorizationError !== null && !this.insecure);
      this.#settleHandshake(
        refused ? authorizationError ?? new Error("TLS handshake failed") : undefined,
      );
    },
    data: (_s, data) => {
      if (this.transport) this.transport.onData(data);
      else this.early.push(data);
    },
    drain: () => this.transport?.onDrain(),
    end: () => this.#end(undefined),
    close: (_s, error) => this.#end(error),
    error: (_s, error) => this.#end(error),
  };

  #end(error: Error | undefined): void {
    this.#settleHandshake(error ?? new Error("the socket closed during the TLS handshake"));
    if (this.transport) this.transport.onEnd(error);
    else {
      this.ended = true;
      this.error ??= error;
    }
  }

  attach(socket: BunSocket): Transport {
    const t = new BunTransport(socket);
    this.transport = t;
    for (const chunk of this.early) t.onData(chunk);
    if (this.ended) t.onEnd(this.error);
    return t;
  }
}

/** Options of {@link BunTransport}. */
export interface BunTransportOptions {
  /**
   * How long {@link BunTransport.close} waits for queued bytes to drain and
   * for the peer to close too, in milliseconds. Default {@link CLOSE_GRACE_MS}.
   */
  lingerMs?: number;
}

/**
 * A {@link Transport} over one Bun socket, client or server side. Bun
 * delivers data through the handlers given when the socket was made, so
 * whoever owns those handlers forwards them here: `onData`, `onDrain`,
 * `onEnd`. The client does it in {@link connectBun}; the server does it for
 * sockets accepted by `Bun.listen`.
 *
 * Reads are pulled (the socket pauses while too much waits unread); writes
 * that Bun cannot take at once wait for `drain`, in order.
 *
 * @example
 * ```ts ignore
 * // On Bun: a TCP server whose accepted sockets are Transports; each greets and closes.
 * import assert from "node:assert/strict";
 * import { BunTransport, connectBun } from "./bun.ts";
 * const greeting = new TextEncoder().encode("hello\n");
 * const server = Bun.listen<{ transport: BunTransport }>({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   socket: {
 *     open(socket) {
 *       const transport = new BunTransport(socket);
 *       socket.data = { transport };
 *       void transport.write([greeting]).then(() => transport.close());
 *     },
 *     data: (socket, bytes) => socket.data.transport.onData(bytes),
 *     drain: (socket) => socket.data.transport.onDrain(),
 *     close: (socket, error) => socket.data.transport.onEnd(error),
 *   },
 * });
 * const client = await connectBun({ hostname: "127.0.0.1", port: server.port });
 * assert.equal(new TextDecoder().decode((await client.read())!), "hello\n");
 * client.close();
 * server.stop(true);
 * ```
 */
export class BunTransport implements Transport {
  readonly #reads: ReadQueue;
  readonly #socket: BunSocket;
  readonly #lingerMs: number;
  /** Bytes Bun did not take yet, with the settlement of the write they end. */
  #pending: Array<{ data: Uint8Array; done?: () => void; fail?: (e: Error) => void }> = [];
  #pendingBytes = 0;
  #sink: TransportSink | undefined;
  #closing = false;
  /** After a lingering close: what the peer still sends is discarded. */
  #discard = false;
  readonly #closed = new Eventually<void>();
  readonly remoteAddress: TransportAddress | undefined;

  /**
   * Takes over `socket`: from now on its handlers must forward to
   * {@link BunTransport.onData}, {@link BunTransport.onDrain} and
   * {@link BunTransport.onEnd}.
   */
  constructor(socket: BunSocket, options: BunTransportOptions = {}) {
    this.#socket = socket;
    this.#lingerMs = options.lingerMs ?? CLOSE_GRACE_MS;
    this.#reads = new ReadQueue(socket);
    socket.setNoDelay?.(true);
    this.remoteAddress = socket.remoteAddress
      ? { hostname: socket.remoteAddress, port: socket.remotePort ?? 0, transport: "tcp" }
      : undefined;
  }

  /** Resolves when the socket is fully closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** Bytes Bun did not take yet; they go out on `drain`. */
  get bufferedAmount(): number {
    return this.#pendingBytes;
  }

  /** Bun's `data` handler: a chunk arrived. */
  onData(buffer: Uint8Array): void {
    if (this.#discard) return;
    // Bun's Buffer as it is: reading its `.buffer` to re-wrap it would make
    // JavaScriptCore materialize an ArrayBuffer per read (it halved
    // throughput). Binary messages are made plain Uint8Arrays where they are
    // delivered (see LiveConnection).
    this.#reads.push(buffer);
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
    this.#sink?.drain();
  }

  /** Bun's `end`, `close` and `error` handlers: the socket is done. */
  onEnd(error?: Error): void {
    this.#reads.end(error);
    const failure = error ?? new Error("the socket closed");
    for (const p of this.#pending) p.fail?.(failure);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#closed.resolve();
  }

  read(): Promise<Uint8Array | null> {
    return this.#reads.read();
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
    this.#reads.attach(sink);
  }

  pause(): void {
    this.#reads.hold();
  }

  resume(): void {
    this.#reads.release();
  }

  writeNow(chunks: readonly Uint8Array[]): boolean {
    if (this.#reads.ended || this.#closing) return true; // the end is reported by `end`
    return this.#enqueue(chunks);
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.#reads.ended || this.#closing) {
      return Promise.reject(this.#reads.error ?? new Error("the socket is closed"));
    }
    if (this.#enqueue(chunks)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const last = this.#pending[this.#pending.length - 1];
      last.done = resolve;
      last.fail = reject;
    });
  }

  /**
   * Writes what Bun takes now; the rest, and everything behind a partial
   * write, waits for `drain` in order. True when nothing had to wait.
   */
  #enqueue(chunks: readonly Uint8Array[]): boolean {
    // Bun has no writev: each write is a system call and, with Nagle off, a
    // segment of its own. Runs of small chunks are joined into one write;
    // large ones are written as they are (see joinSmall).
    if (chunks.length > 1) {
      const joined = joinSmall(chunks);
      chunks = joined instanceof Uint8Array ? [joined] : joined;
    }
    const n = chunks.length;
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
      if (this.#pending.length === 0) return true;
    }
    for (; i < n; i++) {
      this.#pending.push({ data: chunks[i] });
      this.#pendingBytes += chunks[i].length;
    }
    return false;
  }

  /**
   * Closes gracefully: what is queued goes out, then FIN; what the peer
   * still sends is read and discarded until it closes too, for at most
   * `lingerMs` (closing with unread input would make the kernel send a RST
   * that can destroy a close frame the peer has not read yet).
   */
  close(): void {
    if (this.#reads.ended || this.#closing) return;
    this.#closing = true;
    const finish = () => {
      this.#discard = true;
      // Drain the read side so that the peer's FIN is seen.
      if (this.#sink) this.#reads.release();
      else void this.#drainReads();
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
    const timer = setTimeout(() => this.destroy(), this.#lingerMs);
    this.closed.then(() => clearTimeout(timer));
  }

  async #drainReads(): Promise<void> {
    while ((await this.#reads.read().catch(() => null)) !== null) { /* discard */ }
  }

  /** Drops the socket now, discarding what waits to be sent. */
  destroy(): void {
    if (this.#reads.ended) return;
    this.#socket.terminate?.() ?? this.#socket.end();
    this.onEnd(undefined);
  }
}
