/**
 * The listener over Deno's native sockets (`Deno.listen`,
 * `Deno.listenTls`), with no Node compatibility layer in between.
 *
 * @module
 */

import { type DenoConn, DenoTransport } from "../../transport/deno.ts";
import type { Listener, ListenOptions } from "./listen.ts";
import { type AcceptedSocket, LINGER_MS } from "./socket_channel.ts";
import { listenNode } from "./listen_node.ts";

/** An accepted `Deno.Conn` as an {@link AcceptedSocket}. @internal */
export function denoAcceptedSocket(conn: DenoConn, secure: boolean): AcceptedSocket {
  return new DenoAcceptedSocket(new DenoTransport(conn), secure);
}

/** An accepted `Deno.Conn` (methods, not closures: one small object per connection). */
class DenoAcceptedSocket implements AcceptedSocket {
  constructor(readonly transport: DenoTransport, readonly secure: boolean) {}
  close(): void {
    this.transport.linger(LINGER_MS);
  }
  destroy(): void {
    this.transport.destroy();
  }
}

interface DenoListener {
  readonly addr: { hostname?: string; port?: number };
  accept(): Promise<DenoConn>;
  close(): void;
}

interface DenoListenNamespace {
  listen(
    options: { hostname?: string; port: number; transport?: "tcp"; reusePort?: boolean },
  ): DenoListener;
  /** Present only with `--unstable-net`, which `Deno.listen({ reusePort })` needs. */
  listenDatagram?: unknown;
  listenTls(options: { hostname?: string; port: number; cert: string; key: string }): DenoListener;
}

/**
 * Listens with `Deno.listen`, or `Deno.listenTls` when `tls` is given (the
 * TLS handshake then runs on the first read, within the server's handshake
 * timeout).
 *
 * `reusePort` needs `--unstable-net` for `Deno.listen` (without it Deno
 * ends the process rather than throw), and `Deno.listenTls` has no such
 * option: without the flag, or with TLS, a shared port is listened on with
 * Deno's `node:net`, which has it.
 *
 * @example
 * ```ts
 * // On Deno:
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { listenDeno as listen } from "./listen_deno.ts";
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
export function listenDeno(
  options: ListenOptions,
  onSocket: (socket: AcceptedSocket) => void,
): Promise<Listener> {
  const Deno = (globalThis as { Deno?: DenoListenNamespace }).Deno;
  if (!Deno) return Promise.reject(new TypeError("not running on Deno"));
  const secure = options.tls !== undefined;
  if (options.reusePort && (secure || typeof Deno.listenDatagram !== "function")) {
    return listenNode(options, onSocket);
  }
  let listener: DenoListener;
  try {
    listener = secure
      ? Deno.listenTls({
        hostname: options.hostname,
        port: options.port,
        cert: options.tls!.cert,
        key: options.tls!.key,
      })
      : Deno.listen({
        hostname: options.hostname,
        port: options.port,
        ...(options.reusePort ? { reusePort: true } : {}),
      });
  } catch (error) {
    return Promise.reject(error);
  }
  let closed = false;
  // The listening socket is released only when the pending accept() has
  // settled: close() waits for this loop to end.
  const ended = (async () => {
    while (!closed) {
      let conn: DenoConn;
      try {
        conn = await listener.accept();
      } catch {
        if (closed) break;
        continue; // a connection that failed before it was accepted
      }
      conn.setNoDelay?.(true);
      onSocket(denoAcceptedSocket(conn, secure));
    }
  })();
  return Promise.resolve({
    hostname: options.hostname,
    port: listener.addr.port ?? options.port,
    close() {
      if (!closed) {
        closed = true;
        try {
          listener.close();
        } catch {
          // already closed
        }
      }
      return ended;
    },
  });
}
