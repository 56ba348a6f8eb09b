/**
 * The listener over Bun's native sockets (`Bun.listen`).
 *
 * @module
 */

import { concatBytes } from "../../protocol/bytes.ts";
import { matchPreface } from "../../protocol/http2/frame.ts";
import { type BunSocket, BunTransport } from "../../transport/bun.ts";
import type { Listener, ListenOptions } from "./listener.ts";
import { type AcceptedSocket, LINGER_MS } from "./listener.ts";
import { EMPTY } from "../../protocol/bytes.ts";

type Socket = BunSocket & { data: BunTransport | undefined; alpnProtocol?: string | false | null };

/**
 * A cleartext connection not yet known to be HTTP/1.1 or h2c: its first
 * bytes, and the timer that bounds the wait for them.
 */
interface Sniffing {
  seen: Uint8Array;
  timer: ReturnType<typeof setTimeout>;
}

interface BunListenNamespace {
  listen(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string; ALPNProtocols?: Uint8Array };
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
 * With `acceptHttp2`, TLS offers ALPN `h2` before `http/1.1` (RFC 9113
 * §3.2) and the choice sorts the connection; on cleartext its first bytes
 * do (the HTTP/2 preface, h2c with prior knowledge, RFC 9113 §3.3, or an
 * HTTP/1.1 request), within `handshakeTimeoutMs`. The bytes read to decide
 * stay in the transport for whoever takes it.
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
  const h2 = options.acceptHttp2;
  /** Cleartext connections whose protocol their first bytes have not told yet. */
  const sniffing = new Map<BunTransport, Sniffing>();
  const sorted = (transport: BunTransport, isH2: boolean) => {
    const s = sniffing.get(transport);
    if (s) {
      clearTimeout(s.timer);
      sniffing.delete(transport);
    }
    (isH2 ? h2! : onSocket)(new BunAcceptedSocket(transport, secure));
  };
  let listener;
  try {
    listener = Bun.listen({
      hostname: options.hostname,
      port: options.port,
      tls: secure
        ? {
          cert: options.tls!.cert,
          key: options.tls!.key,
          // RFC 9113 §3.2: h2 is chosen by ALPN; the server's order wins.
          ...(h2 ? { ALPNProtocols: ALPN_H2_HTTP1 } : {}),
        }
        : undefined,
      reusePort: options.reusePort === true,
      socket: {
        open(socket) {
          const transport = new BunTransport(socket, LINGER);
          socket.data = transport;
          if (!h2) onSocket(new BunAcceptedSocket(transport, secure));
          else if (secure) sorted(transport, socket.alpnProtocol === "h2");
          else {
            const timer = setTimeout(() => {
              sniffing.delete(transport);
              transport.destroy();
            }, options.handshakeTimeoutMs);
            sniffing.set(transport, { seen: EMPTY, timer });
          }
        },
        data(socket, data) {
          const transport = socket.data;
          if (!transport) return;
          transport.onData(data);
          const s = sniffing.get(transport);
          if (s) {
            s.seen = concatBytes([s.seen, data]);
            const isH2 = matchPreface(s.seen);
            if (isH2 !== undefined) sorted(transport, isH2);
          }
        },
        drain: (socket) => socket.data?.onDrain(),
        end(socket) {
          const transport = socket.data;
          if (transport && sniffing.has(transport)) sorted(transport, false);
          transport?.onEnd();
        },
        close(socket, error) {
          const transport = socket.data;
          const s = transport && sniffing.get(transport);
          if (s) {
            clearTimeout(s.timer);
            sniffing.delete(transport!);
          }
          transport?.onEnd(error);
        },
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
/** ALPN's wire form (RFC 7301 §3.1): each name after its length. */
const ALPN_H2_HTTP1 = new TextEncoder().encode("\x02h2\x08http/1.1");

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
