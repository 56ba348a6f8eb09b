/**
 * The listener over `node:net` and `node:tls`. Runs on Node, and on Deno
 * and Bun through their Node compatibility.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { concatBytes } from "../../protocol/bytes.ts";
import { matchPreface } from "../../protocol/http2/frame.ts";
import { fromNodeSocket } from "../../transport/node.ts";
import type { Transport } from "../../transport/transport.ts";
import type { Listener, ListenOptions } from "./listener.ts";
import { type AcceptedSocket, LINGER_MS } from "./listener.ts";
import { createPrivateKey } from "node:crypto";
import { ConnectionError, InvalidArgumentError } from "../../errors.ts";
import type { PeerCertificate, TlsInfo } from "../handler/handler.ts";
import type { ServeTlsOptions, TlsIdentity } from "./options.ts";
import { noop } from "../../util/noop.ts";

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

  tlsInfo(): TlsInfo | undefined {
    return this.secure ? nodeTlsInfo(this.socket) : undefined;
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

/** The TLS session of a `node:tls` socket, in sprig's shape; undefined for another socket. @internal */
export function nodeTlsInfo(s: net.Socket | undefined): TlsInfo | undefined {
  const socket = s as tls.TLSSocket | undefined;
  if (socket === undefined || typeof socket.getPeerCertificate !== "function") return undefined;
  const error = socket.authorizationError as unknown;
  const servername = (socket as { servername?: unknown }).servername;
  return {
    alpnProtocol: typeof socket.alpnProtocol === "string" ? socket.alpnProtocol : undefined,
    serverName: typeof servername === "string" && servername !== "" ? servername : undefined,
    authorized: socket.authorized === true,
    authorizationError: error === null || error === undefined
      ? undefined
      : String((error as { code?: unknown }).code ?? (error as Error).message ?? error),
    peerCertificate: peerCertificate(socket.getPeerCertificate()),
  };
}

/** A `node:tls` peer certificate in sprig's shape; undefined when the peer sent none. */
function peerCertificate(
  c: tls.PeerCertificate | Record<string, never>,
): PeerCertificate | undefined {
  if (c === null || typeof c !== "object" || !("raw" in c) || !c.raw) return undefined;
  const names = (n: unknown): Record<string, string | string[]> => {
    const out: Record<string, string | string[]> = {};
    if (n && typeof n === "object") {
      for (const [k, v] of Object.entries(n)) {
        out[k] = Array.isArray(v) ? v.map(String) : String(v);
      }
    }
    return out;
  };
  const raw = c.raw as Uint8Array;
  return {
    subject: names(c.subject),
    issuer: names(c.issuer),
    subjectAltName: typeof c.subjectaltname === "string" ? c.subjectaltname : undefined,
    serialNumber: String(c.serialNumber ?? ""),
    validFrom: String(c.valid_from ?? ""),
    validTo: String(c.valid_to ?? ""),
    fingerprint256: String(c.fingerprint256 ?? ""),
    raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice(),
  };
}

/** `node:tls` server options for `tls`: certificates, client verification, SNI and ALPN. */
function tlsServerOptions(
  o: ServeTlsOptions,
  handshakeTimeoutMs: number,
  http2: boolean,
): tls.TlsOptions {
  const ca = o.ca === undefined ? undefined : typeof o.ca === "string" ? [o.ca] : [...o.ca];
  const identity = (id: TlsIdentity, at: string) => {
    // An encrypted key is opened now, so that a wrong passphrase fails serve()
    // on every runtime (some node:tls servers read the key on the first handshake).
    if (id.passphrase !== undefined) {
      try {
        createPrivateKey({ key: id.key, format: "pem", passphrase: id.passphrase });
      } catch (cause) {
        throw new InvalidArgumentError(
          `${at}.passphrase`,
          `serve(): ${at}.passphrase does not open ${at}.key (${(cause as Error).message})`,
          { cause },
        );
      }
    }
    return {
      cert: id.cert,
      key: id.key,
      ...(id.passphrase !== undefined ? { passphrase: id.passphrase } : {}),
    };
  };
  const options: tls.TlsOptions = {
    ...identity(o, "options.tls"),
    handshakeTimeout: handshakeTimeoutMs,
    // RFC 9113 §3.2: h2 is chosen by ALPN; the server's order wins.
    ALPNProtocols: o.alpnProtocols ?? (http2 ? ["h2", "http/1.1"] : undefined),
  };
  if (ca !== undefined) options.ca = ca;
  if (o.requestCert) {
    options.requestCert = true;
    options.rejectUnauthorized = o.rejectUnauthorized ?? true;
  }
  if (o.sni !== undefined) {
    // One context per name, made once; a wildcard matches one label.
    const contexts = new Map<string, tls.SecureContext>();
    for (const [name, id] of Object.entries(o.sni)) {
      contexts.set(
        name.toLowerCase(),
        tls.createSecureContext({
          ...identity(id, `options.tls.sni[${JSON.stringify(name)}]`),
          ...(ca !== undefined ? { ca } : {}),
        }),
      );
    }
    options.SNICallback = (servername, callback) => {
      const name = servername.toLowerCase();
      const dot = name.indexOf(".");
      const context = contexts.get(name) ??
        (dot > 0 ? contexts.get(`*${name.slice(dot)}`) : undefined);
      // No match: the default certificate (`cert`/`key`).
      callback(null, context);
    };
  }
  return options;
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
 * await listener.close();
 * ```
 */
export function listenNode(
  options: ListenOptions,
  onSocket: (socket: AcceptedSocket) => void,
): Promise<Listener> {
  const secure = options.tls !== undefined;
  const acceptHttp2 = options.acceptHttp2;
  const h2 = options.http2 ??
    (acceptHttp2 && ((socket: net.Socket) => acceptHttp2(nodeAcceptedSocket(socket, secure))));
  const reusePort = options.reusePort === true && nodeHasReusePort();
  if (options.reusePort === true && !reusePort) {
    return isClusterWorker().then((worker) => {
      // A node:cluster worker shares the primary's socket: the port is shared already.
      if (worker) return listenNode({ ...options, reusePort: false }, onSocket);
      throw new ConnectionError(
        "REUSE_PORT_UNSUPPORTED",
        `Node ${nodeVersion()} cannot share a port (reusePort came in Node 22.12 and ` +
          "23.1); run one server per core under node:cluster instead (runCluster() in " +
          "@sprig/websocket/scale does)",
      );
    });
  }
  const server: net.Server = secure
    ? tls.createServer(tlsServerOptions(options.tls!, options.handshakeTimeoutMs, h2 !== undefined))
    : net.createServer();
  const accept = (socket: net.Socket) => {
    socket.setNoDelay(true);
    if (h2 === undefined) onSocket(nodeAcceptedSocket(socket, secure));
    else if (secure) {
      if ((socket as tls.TLSSocket).alpnProtocol === "h2") h2(socket);
      else onSocket(nodeAcceptedSocket(socket, secure));
    } else {
      sniffPreface(socket, options.handshakeTimeoutMs, (isH2) => {
        if (isH2) h2(socket);
        else onSocket(nodeAcceptedSocket(socket, false));
      });
    }
  };
  server.on(secure ? "secureConnection" : "connection", accept);
  // A failed TLS handshake drops that socket only.
  server.on("tlsClientError", (_error: Error, socket: net.Socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const listenOptions: net.ListenOptions & { reusePort?: boolean } = {
      port: options.port,
      host: options.hostname,
    };
    if (reusePort) listenOptions.reusePort = true;
    server.listen(listenOptions, () => {
      server.off("error", reject);
      server.on("error", noop);
      const address = server.address() as net.AddressInfo;
      let closed: Promise<void> | undefined;
      resolve({
        hostname: options.hostname,
        port: address.port,
        close() {
          // The listening handle closes at once; server.close()'s callback
          // would also wait for the accepted sockets, which stay open.
          closed ??= new Promise<void>((resolve) => {
            server.close(noop);
            setImmediate(resolve);
          });
          return closed;
        },
      });
    });
  });
}

/**
 * Tells h2c by prior knowledge from HTTP/1.1 by the first bytes: the
 * HTTP/2 preface is not a valid HTTP/1.1 request line. What was read goes
 * back into the socket for whoever takes it. An HTTP/1.1 request differs
 * from the preface within its first bytes, so it waits for one read only.
 */
function sniffPreface(
  socket: net.Socket,
  timeoutMs: number,
  then: (isH2: boolean) => void,
): void {
  let seen: Uint8Array = new Uint8Array(0);
  let done = false;
  const finish = (isH2: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off("readable", onReadable);
    socket.off("end", onEnd);
    socket.off("error", onError);
    if (seen.length > 0) socket.unshift(seen);
    then(isH2);
  };
  const onReadable = () => {
    for (let i = 0; i < 64; i++) {
      const chunk = socket.read() as Uint8Array | null;
      if (chunk === null) break;
      seen = concatBytes([seen, chunk]);
    }
    const isH2 = matchPreface(seen);
    if (isH2 !== undefined) finish(isH2);
  };
  const onEnd = () => finish(false);
  const onError = () => {
    done = true;
    clearTimeout(timer);
    socket.destroy();
  };
  const timer = setTimeout(onError, timeoutMs);
  socket.on("readable", onReadable);
  socket.once("end", onEnd);
  socket.once("error", onError);
}

/**
 * True where `net.Server.listen` knows `reusePort`: Node 22.12 and later
 * (Node 20 ignores the option), and the `node:net` of Deno and Bun.
 */
function nodeHasReusePort(): boolean {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } })
    .process?.versions;
  if (!versions || versions.bun !== undefined || versions.deno !== undefined) return true;
  const [major = 0, minor = 0] = (versions.node ?? "0.0").split(".").map(Number);
  return major > 22 || (major === 22 && minor >= 12);
}

/** True in a worker of `node:cluster` (imported only here: edge runtimes lack it). */
async function isClusterWorker(): Promise<boolean> {
  try {
    const cluster = (await import("node:cluster")) as unknown as {
      default?: { isWorker?: boolean };
    };
    return cluster.default?.isWorker === true;
  } catch {
    return false;
  }
}

function nodeVersion(): string {
  return (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node ??
    "?";
}
