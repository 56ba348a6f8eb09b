/**
 * The {@link Transport} over Deno's native sockets (`Deno.connect`,
 * `Deno.connectTls`), with no Node compatibility layer in between.
 *
 * @module
 */

import type { ConnectTarget, Transport, TransportAddress, TransportSink } from "./transport.ts";
import { CLOSE_GRACE_MS, joinSmall } from "./transport.ts";
import { abortReason } from "./abort.ts";
import { ReadGate } from "./read_gate.ts";

/**
 * The part of a `Deno.Conn` this adapter uses; `Deno.TcpConn`,
 * `Deno.TlsConn` and `Deno.UnixConn` all fit.
 */
export interface DenoConn {
  /** Reads into `p`; resolves with the byte count, or `null` once the peer ended the stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; may take only part of it and resolves with how much (the adapter loops). */
  write(p: Uint8Array): Promise<number>;
  /** Closes both directions and releases the resource. */
  close(): void;
  /** Sends FIN and keeps reading: the server's lingering close uses it when present. */
  closeWrite?(): Promise<void>;
  /** Called with `true` on every connection: Nagle's algorithm would hold small frames back. */
  setNoDelay?(noDelay?: boolean): void;
  /** TLS connections: completes the TLS handshake (verification happens here). */
  handshake?(): Promise<unknown>;
  /** The peer: `hostname` and `port` for TCP and TLS, `path` for a Unix socket. */
  readonly remoteAddr: { transport: string; hostname?: string; port?: number; path?: string };
}

interface DenoNamespace {
  connect(
    options: { hostname?: string; port?: number; transport?: "tcp" | "unix"; path?: string },
  ): Promise<DenoConn>;
  connectTls(
    options: {
      hostname?: string;
      port: number;
      caCerts?: string[];
      alpnProtocols?: string[];
      cert?: string;
      key?: string;
    },
  ): Promise<DenoConn>;
}

/** `Deno`, when running on Deno. */
export function denoNamespace(): DenoNamespace | undefined {
  return (globalThis as { Deno?: DenoNamespace }).Deno;
}

/**
 * The read buffer starts small, so that an idle connection holds 4 KiB, not
 * 64; a read that fills it makes the next buffer four times larger, up to
 * {@link MAX_READ_SIZE}, and a small read brings it back.
 */
const MIN_READ_SIZE = 4 * 1024;
const MAX_READ_SIZE = 256 * 1024;
/** A frame's payload lacking at least this many bytes is read straight into its buffer. */
const DIRECT_READ_MIN = 16 * 1024;
/** Bytes queued for writing past which `writeNow` asks the caller to wait for `drain`. */
const WRITE_HIGH_WATER_BYTES = 64 * 1024;

/**
 * Connects with `Deno.connect` or `Deno.connectTls`. Deno verifies TLS peers
 * against its trust store plus `caCerts`; it has no per-connection switch to
 * skip verification, so `insecure: true` is refused here (the client falls
 * back to `node:tls` for it).
 *
 * @throws {TypeError} when not running on Deno, or for TLS options Deno cannot honour
 *
 * @example
 * ```ts
 * // On Deno: always use Deno's own sockets, never the node:tls fallback.
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../mod.ts";
 * import { connectDeno } from "./deno.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * await using ws = await connect(server.url, { transport: connectDeno });
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * ```
 */
export async function connectDeno(target: ConnectTarget, signal?: AbortSignal): Promise<Transport> {
  const Deno = denoNamespace();
  if (!Deno) throw new TypeError("not running on Deno");
  if (target.insecure) throw new TypeError("Deno.connectTls cannot skip certificate verification");
  if (target.tls && target.serverName && target.serverName !== target.hostname) {
    throw new TypeError("Deno.connectTls cannot set a server name other than the host");
  }
  if (target.passphrase !== undefined) {
    throw new TypeError("Deno.connectTls cannot read an encrypted key (passphrase)");
  }
  if (signal?.aborted) throw abortReason(signal);
  const pending = target.tls
    ? Deno.connectTls({
      hostname: target.hostname,
      port: target.port,
      caCerts: target.caCerts,
      alpnProtocols: target.alpnProtocols,
      ...(target.cert !== undefined ? { cert: target.cert, key: target.key } : {}),
    })
    : target.unixPath !== undefined
    ? Deno.connect({ transport: "unix", path: target.unixPath })
    : Deno.connect({ hostname: target.hostname, port: target.port });
  let conn: DenoConn;
  if (signal) {
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        pending.then((c) => c.close(), () => {});
        reject(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      conn = await Promise.race([pending, aborted]);
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  } else {
    conn = await pending;
  }
  if (target.tls && conn.handshake) {
    // Deno handshakes lazily; finishing here makes a bad certificate a connect error.
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
  }
  conn.setNoDelay?.(true);
  return new DenoTransport(conn);
}

/**
 * Wraps a connected `Deno.Conn` as a {@link Transport}. The transport owns
 * the connection from then on: it reads, writes and closes it.
 *
 * @example
 * ```ts
 * // On Deno: a connection opened by the application, then used by the client.
 * /// <reference lib="deno.ns" />
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../mod.ts";
 * import { fromDenoConn } from "./deno.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
 * await using ws = await connect(server.url, { transport: fromDenoConn(conn) });
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * ```
 */
export function fromDenoConn(conn: DenoConn): Transport {
  return new DenoTransport(conn);
}

/** The transport over one `Deno.Conn`. @internal (use {@link fromDenoConn}) */
export class DenoTransport implements Transport {
  readonly #conn: DenoConn;
  /** Where reads go; what is read is copied out (see {@link read}). */
  #buffer: Uint8Array = new Uint8Array(MIN_READ_SIZE);
  #smallReads = 0;
  #closed = false;
  #resolveClosed!: () => void;
  readonly closed: Promise<void> = new Promise((resolve) => (this.#resolveClosed = resolve));
  readonly remoteAddress: TransportAddress | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** Bytes handed to `write`/`writeNow` and not yet taken by Deno. */
  #queuedBytes = 0;
  #sink: TransportSink | undefined;
  /** Push mode: set while paused; the read loop waits on it. */
  readonly #gate = new ReadGate();
  #needDrain = false;
  #lingering = false;
  /** Bytes given back by {@link unread}, read again first. */
  #unread: Uint8Array | undefined;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    const addr = conn.remoteAddr;
    this.remoteAddress = addr.transport === "unix"
      ? { hostname: addr.path ?? "", port: 0, transport: "unix" }
      : { hostname: addr.hostname ?? "", port: addr.port ?? 0, transport: "tcp" };
  }

  get bufferedAmount(): number {
    return this.#queuedBytes;
  }

  /**
   * Gives bytes already read back to the transport: the next read returns
   * them (a listener that looked at a connection's first bytes uses it).
   */
  unread(chunk: Uint8Array): void {
    if (chunk.length > 0) this.#unread = chunk;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    const unread = this.#unread;
    if (unread !== undefined) {
      this.#unread = undefined;
      return unread;
    }
    let n: number | null;
    const buffer = this.#buffer;
    try {
      n = await this.#conn.read(buffer);
    } catch (error) {
      if (this.#closed) return null;
      throw error;
    }
    if (n === null) return null;
    // The buffer stays with the connection and every read is copied out at
    // its exact size: on Deno a fresh 256 KiB Uint8Array per read costs
    // hundreds of microseconds (zeroing and the garbage collector's
    // accounting of external memory), a 64 KiB copy a few.
    if (n === buffer.length) {
      // Full: read bigger next time.
      this.#smallReads = 0;
      if (buffer.length < MAX_READ_SIZE) {
        this.#buffer = new Uint8Array(Math.min(buffer.length * 4, MAX_READ_SIZE));
      }
    } else if (n <= MIN_READ_SIZE) {
      // Back to the small buffer only after several reads in a row that a
      // small one would have held: traffic of large messages keeps its
      // buffer, an idle connection soon holds 4 KiB again.
      if (++this.#smallReads >= 8 && buffer.length > MIN_READ_SIZE) {
        this.#buffer = new Uint8Array(MIN_READ_SIZE);
      }
    } else this.#smallReads = 0;
    return buffer.slice(0, n);
  }

  attach(sink: TransportSink): void {
    this.#sink = sink;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    let error: Error | undefined;
    try {
      while (!this.#closed || this.#lingering) {
        const held = this.#gate.held;
        if (held) await held;
        // The rest of a large frame is read straight into its payload buffer.
        const into = this.#unread === undefined ? this.#sink!.readBuffer?.() : undefined;
        if (into !== undefined && into.length >= DIRECT_READ_MIN) {
          let n: number | null;
          try {
            n = await this.#conn.read(into);
          } catch (error) {
            if (this.#closed) break;
            throw error;
          }
          if (n === null) break;
          this.#sink!.data(into.subarray(0, n));
          continue;
        }
        const chunk = await this.read();
        if (chunk === null) break;
        this.#sink!.data(chunk);
      }
    } catch (e) {
      error = e as Error;
    }
    this.#sink!.end(error);
  }

  pause(): void {
    this.#gate.hold();
  }

  resume(): void {
    this.#gate.release();
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.#closed) return Promise.reject(new Error("the socket is closed"));
    const data = chunks.length === 1 ? chunks[0] : joinSmall(chunks);
    const size = data instanceof Uint8Array ? data.length : totalLength(data);
    this.#queuedBytes += size;
    // Writes are chained so that concurrent callers keep their order.
    const done = this.#writing.then(() => this.#writeAll(data, size));
    this.#writing = done.catch(() => {});
    return done;
  }

  writeNow(chunks: readonly Uint8Array[]): boolean {
    if (this.#closed) return true; // the end is reported by `end`
    this.write(chunks).catch((error) => {
      // A failed write fails the socket: the read side reports it.
      this.#fail(error);
    });
    if (this.#queuedBytes <= WRITE_HIGH_WATER_BYTES) return true;
    this.#needDrain = true;
    return false;
  }

  #fail(_error: Error): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  async #writeAll(data: Uint8Array | readonly Uint8Array[], size: number): Promise<void> {
    const list = data instanceof Uint8Array ? [data] : data;
    try {
      for (let chunk of list) {
        while (chunk.length > 0) {
          const n = await this.#conn.write(chunk);
          chunk = chunk.subarray(n);
        }
      }
    } finally {
      this.#queuedBytes -= size;
      if (this.#needDrain && this.#queuedBytes <= WRITE_HIGH_WATER_BYTES / 2) {
        this.#needDrain = false;
        this.#sink?.drain();
      }
    }
  }

  /**
   * Closes gracefully (a server's lingering close): what is queued goes out,
   * then FIN; what the peer still sends is read and dropped until it closes
   * too, for at most `ms`; then the socket is released.
   */
  linger(ms: number): void {
    if (this.#closed || this.#lingering) return;
    this.#lingering = true;
    const timer = setTimeout(() => this.destroy(), ms);
    const discard: TransportSink = { data() {}, end: () => this.destroy(), drain() {} };
    const attached = this.#sink !== undefined;
    this.#sink = discard;
    (async () => {
      await this.#writing;
      await this.#conn.closeWrite?.();
      if (attached) {
        this.resume(); // the pump reads on, into `discard`
        return;
      }
      for (let i = 0; i < 100_000; i++) if ((await this.read()) === null) break;
      this.destroy();
    })().catch(() => this.destroy()).finally(() =>
      void this.closed.then(() => clearTimeout(timer))
    );
  }

  /** Releases the socket now, dropping what waits to be written. */
  destroy(): void {
    const wasClosed = this.#closed;
    this.#closed = true;
    this.resume();
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    if (!wasClosed || this.#lingering) this.#resolveClosed();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    const release = () => {
      clearTimeout(timer);
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
      this.#resolveClosed();
    };
    // Pending writes (a close frame) go out before the socket closes, but a
    // peer that never reads cannot hold the socket open forever.
    const timer = setTimeout(release, CLOSE_GRACE_MS);
    this.#writing.finally(release);
  }
}

function totalLength(chunks: readonly Uint8Array[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}
