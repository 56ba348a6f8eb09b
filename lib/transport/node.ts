/**
 * The {@link Transport} over `node:net` and `node:tls`. It runs on Node, and
 * also on Deno and Bun through their Node compatibility.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import type { ConnectTarget, Transport, TransportAddress, TransportSink } from "./transport.ts";
import { CLOSE_GRACE_MS } from "./transport.ts";
import { QueuedReads, ReadQueue } from "./read_queue.ts";
import { abortReason } from "./abort.ts";
import { Eventually } from "../util/eventually.ts";

/**
 * A `node:net` `Socket`, `node:tls` `TLSSocket` or the `stream.Duplex` of
 * `node:http`'s `upgrade` event, by the members that tell it apart: written
 * out so that sprig's type declarations need no `@types/node` (every such
 * socket fits as it is). sprig uses the rest of the socket's API as Node
 * documents it.
 */
export interface NodeSocket {
  /** True once the socket was destroyed. */
  readonly destroyed: boolean;
  /** True while it can be written to. */
  readonly writable: boolean;
  /** Writes `chunk`; false when the caller should wait for `drain`. */
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  /** Sends FIN after what was written. */
  end(): unknown;
  /** Closes at once. */
  destroy(error?: Error): unknown;
  /** Stops `data` events. */
  pause(): unknown;
  /** Resumes `data` events. */
  resume(): unknown;
  /** Listens to an event (`data`, `end`, `close`, `error`, `drain`). */
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
}

/**
 * Wraps a connected `net.Socket` (or `tls.TLSSocket`) as a {@link Transport}.
 * The server uses it for accepted sockets and for the `upgrade` event of
 * `node:http`; `head` is data already read from the socket.
 *
 * @example
 * ```ts
 * // A socket opened by the application (a proxy tunnel, say), then used by the client.
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { connect, serve } from "../../mod.ts";
 * import { fromNodeSocket } from "./node.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * const socket = net.connect({ host: "127.0.0.1", port: server.port });
 * await once(socket, "connect");
 * await using ws = await connect(server.url, { transport: fromNodeSocket(socket) });
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * ```
 */
export function fromNodeSocket(socket: NodeSocket, head?: Uint8Array): Transport {
  return new NodeTransport(socket as net.Socket, head);
}

/**
 * Connects with `node:net` or `node:tls`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../../mod.ts";
 * import { connectNode } from "./node.ts";
 * // sprig's server answers a plain GET with 426 Upgrade Required.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const t = await connectNode({ hostname: "127.0.0.1", port: server.port });
 * await t.write([new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]);
 * assert.ok(new TextDecoder().decode((await t.read())!).startsWith("HTTP/1.1 426 "));
 * t.close();
 * ```
 */
export function connectNode(target: ConnectTarget, signal?: AbortSignal): Promise<Transport> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    let socket: net.Socket;
    const ready = target.tls ? "secureConnect" : "connect";
    if (target.tls) {
      socket = tls.connect({
        host: target.hostname,
        port: target.port,
        path: target.unixPath,
        servername: net.isIP(target.serverName ?? target.hostname)
          ? undefined
          : (target.serverName ?? target.hostname),
        ca: target.caCerts,
        rejectUnauthorized: !target.insecure,
        cert: target.cert,
        key: target.key,
        passphrase: target.passphrase,
        ALPNProtocols: target.alpnProtocols,
      } as tls.ConnectionOptions);
    } else if (target.unixPath !== undefined) {
      socket = net.connect({ path: target.unixPath });
    } else {
      socket = net.connect({ host: target.hostname, port: target.port });
    }
    socket.setNoDelay(true);
    const onAbort = () => {
      socket.destroy();
      reject(abortReason(signal!));
    };
    const cleanup = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off(ready, onReady);
    };
    const onError = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onReady = () => {
      cleanup();
      resolve(new NodeTransport(socket));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(ready, onReady);
  });
}

/** The transport a socket's shared listeners (below) forward to. */
const OWNER = Symbol("sprig.transport");
type OwnedSocket = net.Socket & { [OWNER]: NodeTransport };

// One set of listener functions for every socket, reading their transport
// from the socket (`this` in an EventEmitter listener): no closures per
// connection, which an idle server holds by the thousand.
function onData(this: OwnedSocket, buffer: Uint8Array): void {
  // Node's Buffer as it is; binary messages are made plain Uint8Arrays
  // where they are delivered (see LiveConnection).
  this[OWNER].reads.push(buffer);
}
function onEnd(this: OwnedSocket): void {
  this[OWNER].reads.end();
}
function onError(this: OwnedSocket, error: Error): void {
  this[OWNER].reads.end(error);
}
function onClose(this: OwnedSocket): void {
  const t = this[OWNER];
  t.reads.end();
  t.ended.resolve();
}
function onDrain(this: OwnedSocket): void {
  this[OWNER].sink?.drain();
}

class NodeTransport extends QueuedReads implements Transport {
  readonly #socket: net.Socket;
  /** @internal for the shared listeners */
  declare readonly reads: ReadQueue;
  /** @internal for the shared listeners */
  readonly ended = new Eventually<void>();
  /** @internal for the shared listeners */
  sink: TransportSink | undefined;
  #remote: TransportAddress | undefined | null = null;

  constructor(socket: net.Socket, head?: Uint8Array) {
    super();
    this.#socket = socket;
    this.reads = new ReadQueue(socket);
    if (head && head.length > 0) this.reads.push(head);
    (socket as OwnedSocket)[OWNER] = this;
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("error", onError);
    socket.on("close", onClose);
  }

  /** Resolves when the socket closed. */
  get closed(): Promise<void> {
    return this.ended.promise;
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  /** The peer's address, read from the socket when first asked (it costs a system call). */
  get remoteAddress(): TransportAddress | undefined {
    if (this.#remote === null) {
      const s = this.#socket;
      this.#remote = s.remoteAddress !== undefined
        ? { hostname: s.remoteAddress, port: s.remotePort ?? 0, transport: "tcp" }
        : undefined;
    }
    return this.#remote;
  }

  override attach(sink: TransportSink): void {
    this.sink = sink;
    this.#socket.on("drain", onDrain);
    super.attach(sink);
  }

  writeNow(chunks: readonly Uint8Array[]): boolean {
    return writeNowTo(this.#socket, chunks);
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    return writeTo(this.#socket, chunks, this.reads.error, "the socket is closed");
  }

  close(): void {
    const socket = this.#socket;
    if (socket.destroyed) return;
    // Let written bytes (a close frame) reach the peer, then release.
    socket.end(() => socket.destroy());
    // A peer that never reads cannot hold the socket open forever.
    const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
    this.closed.then(() => clearTimeout(timer));
  }
}

/** What {@link writeNowTo} and {@link writeTo} need of a Node `Writable` (a socket, an HTTP/2 stream). */
interface CorkableWritable {
  readonly destroyed: boolean;
  readonly writable: boolean;
  write(chunk: Uint8Array, callback?: (error?: Error | null) => void): boolean;
  cork(): void;
  uncork(): void;
}

/**
 * `Transport.writeNow` over a Node `Writable`: the chunks in one corked
 * batch; false when the writable's buffer is over its high-water mark.
 * A closed writable takes nothing and says true (its end is reported on
 * the read side). @internal
 */
export function writeNowTo(w: CorkableWritable, chunks: readonly Uint8Array[]): boolean {
  if (w.destroyed || !w.writable) return true;
  const n = chunks.length;
  if (n === 1) return w.write(chunks[0]!);
  w.cork();
  let ok = true;
  for (let i = 0; i < n; i++) ok = w.write(chunks[i]!);
  w.uncork();
  return ok;
}

/**
 * `Transport.write` over a Node `Writable`: resolves once the last chunk
 * is flushed; rejects with `error` (or `closedMessage`) when closed. @internal
 */
export function writeTo(
  w: CorkableWritable,
  chunks: readonly Uint8Array[],
  error: Error | undefined,
  closedMessage: string,
): Promise<void> {
  if (w.destroyed || !w.writable) return Promise.reject(error ?? new Error(closedMessage));
  return new Promise((resolve, reject) => {
    const n = chunks.length;
    if (n === 0) return resolve();
    if (n > 1) w.cork();
    for (let i = 0; i < n - 1; i++) w.write(chunks[i]!);
    w.write(chunks[n - 1]!, (e?: Error | null) => (e ? reject(e) : resolve()));
    if (n > 1) w.uncork();
  });
}
