/**
 * The listener over Deno's native sockets (`Deno.listen`,
 * `Deno.listenTls`), with no Node compatibility layer in between.
 *
 * @module
 */

import { concatBytes } from "../../protocol/bytes.ts";
import { CLIENT_PREFACE, matchPreface } from "../../protocol/http2/frame.ts";
import { type DenoConn, DenoTransport } from "../../transport/deno.ts";
import type { Listener, ListenOptions } from "./listener.ts";
import { type AcceptedSocket, LINGER_MS } from "./listener.ts";
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
  listenTls(
    options: {
      hostname?: string;
      port: number;
      cert: string;
      key: string;
      alpnProtocols?: string[];
    },
  ): DenoListener;
}

/**
 * Listens with `Deno.listen`, or `Deno.listenTls` when `tls` is given (the
 * TLS handshake then runs on the first read, within the server's handshake
 * timeout).
 *
 * With `acceptHttp2`, TLS offers ALPN `h2` before `http/1.1` (RFC 9113
 * §3.2) and the handshake is completed first to learn the choice; on
 * cleartext the first bytes tell the HTTP/2 preface (h2c with prior
 * knowledge, RFC 9113 §3.3) from an HTTP/1.1 request.
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
        // RFC 9113 §3.2: h2 is chosen by ALPN; the server's order wins.
        ...(options.acceptHttp2 ? { alpnProtocols: ["h2", "http/1.1"] } : {}),
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
      const h2 = options.acceptHttp2;
      if (h2) void sortHttp2(conn, secure, options.handshakeTimeoutMs, h2, onSocket);
      else onSocket(denoAcceptedSocket(conn, secure));
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

/**
 * Hands a connection to `h2` or `h1`: by the ALPN choice over TLS, by the
 * first bytes on cleartext (an HTTP/1.1 request differs from the preface
 * within its first bytes). Bounded by `timeoutMs`; a connection that
 * fails or times out first is dropped.
 */
async function sortHttp2(
  conn: DenoConn,
  secure: boolean,
  timeoutMs: number,
  h2: (socket: AcceptedSocket) => void,
  h1: (socket: AcceptedSocket) => void,
): Promise<void> {
  const socket = denoAcceptedSocket(conn, secure);
  const transport = socket.transport as DenoTransport;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((
    resolve,
  ) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
  try {
    if (secure) {
      const info = await Promise.race([conn.handshake!(), timeout]);
      if (info === "timeout") return socket.destroy();
      const alpn = (info as { alpnProtocol?: string | null } | undefined)?.alpnProtocol;
      return alpn === "h2" ? h2(socket) : h1(socket);
    }
    let seen: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < CLIENT_PREFACE.length; i++) {
      const chunk = await Promise.race([transport.read(), timeout]);
      if (chunk === "timeout") return socket.destroy();
      if (chunk === null) break;
      seen = concatBytes([seen, chunk]);
      const isH2 = matchPreface(seen);
      if (isH2 !== undefined) {
        transport.unread(seen);
        return isH2 ? h2(socket) : h1(socket);
      }
    }
    transport.unread(seen);
    h1(socket);
  } catch {
    socket.destroy();
  } finally {
    clearTimeout(timer);
  }
}
