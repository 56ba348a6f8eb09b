/**
 * The {@link Transport} over Bun's native sockets (`Bun.connect`).
 *
 * @module
 */

import type { ConnectTarget, Transport, TransportAddress } from "./transport.ts";
import { CLOSE_GRACE_MS } from "./transport.ts";
import { ReadQueue } from "./read_queue.ts";
import { abortReason } from "./abort.ts";

/** The part of a Bun socket this adapter uses. */
export interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
  terminate?(): void;
  pause?(): void;
  resume?(): void;
  setNoDelay?(noDelay?: boolean): boolean;
  readonly remoteAddress?: string;
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
    };
    socket: BunSocketHandlers;
  }): Promise<BunSocket>;
}

/** `Bun`, when running on Bun. */
export function bunNamespace(): BunNamespace | undefined {
  return (globalThis as { Bun?: BunNamespace }).Bun;
}

/**
 * Connects with `Bun.connect`, plain or TLS.
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
    data: (_s, buffer) => {
      // A plain Uint8Array view: messages are the same type on every runtime.
      const data = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
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

/**
 * A {@link Transport} over one Bun socket. Bun delivers data through the
 * handlers given when the socket was made, so whoever owns those handlers
 * forwards them here: `onData`, `onDrain`, `onEnd`. The client does it in
 * {@link connectBun}; a server does it for accepted sockets.
 */
export class BunTransport implements Transport {
  readonly #socket: BunSocket;
  readonly #reads: ReadQueue;
  /** Bytes Bun did not take yet, with the promise of the write they belong to. */
  #pending: Array<{ data: Uint8Array; done?: () => void; fail?: (e: Error) => void }> = [];
  #pendingBytes = 0;
  #resolveClosed!: () => void;
  readonly closed: Promise<void> = new Promise((resolve) => (this.#resolveClosed = resolve));
  readonly remoteAddress: TransportAddress | undefined;

  constructor(socket: BunSocket) {
    this.#socket = socket;
    this.#reads = new ReadQueue(() => socket.pause?.(), () => socket.resume?.());
    this.remoteAddress = socket.remoteAddress
      ? { hostname: socket.remoteAddress, port: socket.remotePort ?? 0, transport: "tcp" }
      : undefined;
  }

  get bufferedAmount(): number {
    return this.#pendingBytes;
  }

  /** Bun's `data` handler: a chunk arrived. */
  onData(data: Uint8Array): void {
    this.#reads.push(data);
  }

  /** Bun's `drain` handler: the socket can take more. */
  onDrain(): void {
    while (this.#pending.length > 0) {
      const head = this.#pending[0];
      const n = this.#socket.write(head.data);
      this.#pendingBytes -= Math.max(0, n);
      if (n < head.data.length) {
        head.data = head.data.subarray(Math.max(0, n));
        return;
      }
      this.#pending.shift();
      head.done?.();
    }
  }

  /** Bun's `end`, `close` and `error` handlers: the socket is done. */
  onEnd(error: Error | undefined): void {
    this.#reads.end(error);
    const failure = error ?? new Error("the socket closed");
    for (const p of this.#pending) p.fail?.(failure);
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#resolveClosed();
  }

  read(): Promise<Uint8Array | null> {
    return this.#reads.read();
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.#reads.ended) {
      return Promise.reject(this.#reads.error ?? new Error("the socket is closed"));
    }
    const n = chunks.length;
    if (n === 0) return Promise.resolve();
    // Everything queued behind a partial write waits its turn.
    let i = 0;
    if (this.#pending.length === 0) {
      for (; i < n; i++) {
        const c = chunks[i];
        const written = this.#socket.write(c);
        if (written < c.length) {
          this.#pending.push({ data: c.subarray(Math.max(0, written)) });
          this.#pendingBytes += c.length - Math.max(0, written);
          i++;
          break;
        }
      }
      if (this.#pending.length === 0) return Promise.resolve();
    }
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

  close(): void {
    if (this.#reads.ended) return;
    if (this.#pending.length === 0) this.#socket.end();
    else {
      const last = this.#pending[this.#pending.length - 1];
      const done = last.done;
      last.done = () => {
        done?.();
        this.#socket.end();
      };
    }
    // A peer that never reads cannot hold the socket open forever.
    const timer = setTimeout(() => this.#socket.terminate?.(), CLOSE_GRACE_MS);
    this.closed.then(() => clearTimeout(timer));
  }
}
