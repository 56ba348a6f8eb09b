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
import { ReadQueue } from "./read_queue.ts";
import { abortReason } from "./abort.ts";

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
export function fromNodeSocket(socket: net.Socket, head?: Uint8Array): Transport {
  return new NodeTransport(socket, head);
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

class NodeTransport implements Transport {
  readonly #socket: net.Socket;
  readonly #reads: ReadQueue;
  readonly closed: Promise<void>;
  #remote: TransportAddress | undefined | null = null;

  constructor(socket: net.Socket, head?: Uint8Array) {
    this.#socket = socket;
    this.#reads = new ReadQueue(socket);
    if (head && head.length > 0) this.#reads.push(head);

    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    // Node's Buffer as it is; binary messages are made plain Uint8Arrays
    // where they are delivered (see LiveConnection).
    socket.on("data", (buffer: Uint8Array) => this.#reads.push(buffer));
    socket.on("end", () => this.#reads.end());
    socket.on("error", (error: Error) => this.#reads.end(error));
    socket.on("close", () => this.#reads.end());
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

  read(): Promise<Uint8Array | null> {
    return this.#reads.read();
  }

  attach(sink: TransportSink): void {
    this.#socket.on("drain", () => sink.drain());
    this.#reads.attach(sink);
  }

  pause(): void {
    this.#reads.hold();
  }

  resume(): void {
    this.#reads.release();
  }

  writeNow(chunks: readonly Uint8Array[]): boolean {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return true; // the end is reported by `end`
    const n = chunks.length;
    if (n === 1) return socket.write(chunks[0]);
    socket.cork();
    let ok = true;
    for (let i = 0; i < n; i++) ok = socket.write(chunks[i]);
    socket.uncork();
    return ok;
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) {
      return Promise.reject(this.#reads.error ?? new Error("the socket is closed"));
    }
    return new Promise((resolve, reject) => {
      const n = chunks.length;
      if (n === 0) return resolve();
      if (n > 1) socket.cork();
      for (let i = 0; i < n - 1; i++) socket.write(chunks[i]);
      socket.write(chunks[n - 1], (error?: Error | null) => (error ? reject(error) : resolve()));
      if (n > 1) socket.uncork();
    });
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
