/**
 * The listener over Bun's native sockets (`Bun.listen`).
 *
 * @module
 */

import { type BunSocket, BunTransport } from "../../transport/bun.ts";
import type { Listener, ListenOptions } from "./listen.ts";
import { type AcceptedSocket, LINGER_MS } from "./socket_channel.ts";

type Socket = BunSocket & { data: BunTransport | undefined };

interface BunListenNamespace {
  listen(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    reusePort?: boolean;
    socket: {
      open(socket: Socket): void;
      data(socket: Socket, data: Uint8Array): void;
      drain(socket: Socket): void;
      end(socket: Socket): void;
      close(socket: Socket, error?: Error): void;
      error(socket: Socket, error: Error): void;
    };
  }): {
    readonly port: number;
    readonly hostname: string;
    stop(closeActiveConnections?: boolean): void;
  };
}

/**
 * Listens with `Bun.listen`, plain or TLS (Bun opens a TLS socket once its
 * handshake completed).
 *
 * @example
 * ```ts ignore
 * // On Bun:
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { listenBun as listen } from "./listen_bun.ts";
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
 * await listener.close();
 * ```
 */
export function listenBun(
  options: ListenOptions,
  onSocket: (socket: AcceptedSocket) => void,
): Promise<Listener> {
  const Bun = (globalThis as { Bun?: BunListenNamespace }).Bun;
  if (!Bun) return Promise.reject(new TypeError("not running on Bun"));
  const secure = options.tls !== undefined;
  let listener;
  try {
    listener = Bun.listen({
      hostname: options.hostname,
      port: options.port,
      tls: secure ? { cert: options.tls!.cert, key: options.tls!.key } : undefined,
      reusePort: options.reusePort === true,
      socket: {
        open(socket) {
          const transport = new BunTransport(socket, LINGER);
          socket.data = transport;
          onSocket(new BunAcceptedSocket(transport, secure));
        },
        data: (socket, data) => socket.data?.onData(data),
        drain: (socket) => socket.data?.onDrain(),
        end: (socket) => socket.data?.onEnd(),
        close: (socket, error) => socket.data?.onEnd(error),
        error: (socket, error) => socket.data?.onEnd(error),
      },
    });
  } catch (error) {
    return Promise.reject(error);
  }
  let closed = false;
  return Promise.resolve({
    hostname: options.hostname,
    port: listener.port,
    close() {
      if (!closed) {
        closed = true;
        listener.stop(false);
      }
      return Promise.resolve();
    },
  });
}

const LINGER = { lingerMs: LINGER_MS };

/** An accepted Bun socket (methods, not closures: one small object per connection). */
class BunAcceptedSocket implements AcceptedSocket {
  constructor(readonly transport: BunTransport, readonly secure: boolean) {}
  close(): void {
    this.transport.close();
  }
  destroy(): void {
    this.transport.destroy();
  }
}
