/**
 * The listener over `node:net` and `node:tls`. Runs on Node, and on Deno
 * and Bun through their Node compatibility.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { fromNodeSocket } from "../../transport/node.ts";
import type { Transport } from "../../transport/transport.ts";
import type { Listener, ListenOptions } from "./listen.ts";
import { type AcceptedSocket, LINGER_MS } from "./socket_channel.ts";

const noop = () => {};

/**
 * An accepted `net.Socket` (or `tls.TLSSocket`) as an
 * {@link AcceptedSocket}; `head` is data already read from it. @internal
 */
export function nodeAcceptedSocket(
  socket: net.Socket,
  secure: boolean,
  head?: Uint8Array,
): AcceptedSocket {
  return new NodeAcceptedSocket(socket, fromNodeSocket(socket, head), secure);
}

/** An accepted `net.Socket` (methods, not closures: one small object per connection). */
class NodeAcceptedSocket implements AcceptedSocket {
  #closing = false;
  constructor(
    readonly socket: net.Socket,
    readonly transport: Transport,
    readonly secure: boolean,
  ) {}

  destroy(): void {
    this.socket.destroy();
  }

  close(): void {
    const socket = this.socket;
    if (this.#closing || socket.destroyed) return;
    this.#closing = true;
    // Discard what still comes; the transport's reader is done.
    socket.removeAllListeners("data");
    socket.on("data", noop);
    socket.resume();
    socket.end(); // FIN after what is queued
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once("close", () => clearTimeout(timer));
  }
}

/**
 * Listens with `net.createServer` (or `tls.createServer` when `tls` is
 * given; the TLS handshake is bounded by `handshakeTimeoutMs`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { listenNode as listen } from "./listen_node.ts";
 * // Each accepted socket gets a greeting, then a graceful close.
 * const greeting = new TextEncoder().encode("hello\n");
 * const listener = await listen(
 *   { hostname: "127.0.0.1", port: 0, handshakeTimeoutMs: 10_000 },
 *   (socket) => void socket.transport.write([greeting]).then(() => socket.close()),
 * );
 * const client = net.connect(listener.port, "127.0.0.1");
 * const [data] = await once(client, "data");
 * assert.equal(String(data), "hello\n");
 * client.end();
 * await once(client, "close");
 * listener.close();
 * ```
 */
export function listenNode(
  options: ListenOptions,
  onSocket: (socket: AcceptedSocket) => void,
): Promise<Listener> {
  const secure = options.tls !== undefined;
  const server: net.Server = secure
    ? tls.createServer({
      cert: options.tls!.cert,
      key: options.tls!.key,
      handshakeTimeout: options.handshakeTimeoutMs,
    })
    : net.createServer();
  const accept = (socket: net.Socket) => {
    socket.setNoDelay(true);
    onSocket(nodeAcceptedSocket(socket, secure));
  };
  server.on(secure ? "secureConnection" : "connection", accept);
  // A failed TLS handshake drops that socket only.
  server.on("tlsClientError", (_error: Error, socket: net.Socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      server.on("error", noop);
      const address = server.address() as net.AddressInfo;
      let closed = false;
      resolve({
        hostname: options.hostname,
        port: address.port,
        close() {
          if (closed) return;
          closed = true;
          server.close(noop);
        },
      });
    });
  });
}
