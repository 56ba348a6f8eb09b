/**
 * The options of `serve()`, sprig's own server, beyond those every host
 * shares (`../handler/options.ts`): where to listen, TLS, plain HTTP
 * (`fetch`), HTTP/1.1's limits and timeouts, the listener, HTTP/2; and
 * their checks.
 *
 * @module
 */

import { ArgumentCheck, isEncryptedPemKey } from "../../arguments.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import { detectRuntime } from "../../transport/connect.ts";
import type { Awaitable } from "../handler/handler.ts";
import {
  checkHandler,
  checkHostOptionValues,
  FOREIGN_HOST_OPTIONS,
  HOST_OPTIONS,
  type WebSocketHostOptions,
} from "../handler/options.ts";

const MAX = Number.MAX_SAFE_INTEGER;

/** A certificate and its key, for {@link ServeTlsOptions.sni}. */
export interface TlsIdentity {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
}

/**
 * TLS for {@link ServeOptions}. `cert` and `key` alone run on the runtime's
 * own listener (`Deno.listenTls`, `Bun.listen`, `node:tls`); any other
 * option runs on the `node:tls` listener, on every runtime (Deno's and
 * Bun's Node compatibility): `Deno.listenTls` cannot ask for or verify
 * client certificates; `Bun.listen` (Bun 1.4) takes no certificate per
 * host name, and opens the socket of a client whose certificate failed
 * verification even with `rejectUnauthorized` (reporting `authorized:
 * false`), where `node:tls` refuses it in the handshake.
 * `listener: "deno"` or `"bun"` with one of them is refused
 * (`InvalidArgumentError` naming the option).
 */
export interface ServeTlsOptions extends TlsIdentity {
  /**
   * CA certificates (PEM) that client certificates are verified against
   * (mutual TLS). Default: the runtime's trust store.
   */
  ca?: string | string[];
  /**
   * Ask every client for a certificate (mutual TLS); the verified one is in
   * `init`'s `ctx.tls.peerCertificate`. Default false.
   */
  requestCert?: boolean;
  /**
   * With `requestCert`: refuse, during the TLS handshake, a client with no
   * certificate or one `ca` does not verify. Default true. False lets such
   * clients in, with `ctx.tls.authorized` false (and the certificate they
   * sent, if any, unverified, in `peerCertificate`).
   */
  rejectUnauthorized?: boolean;
  /**
   * A certificate per host name (SNI, RFC 6066 §3): the name the client
   * asks for picks it, exactly (case-insensitive) or by a `"*.example.com"`
   * entry for one label; other names get `cert`/`key`. Default none.
   */
  sni?: Record<string, TlsIdentity>;
  /**
   * The ALPN protocols offered (RFC 7301), the server's preference first:
   * `"http/1.1"`, and `"h2"` with the `http2` option. A client that offers
   * none of them fails the handshake (`no_application_protocol`). Default:
   * `["h2", "http/1.1"]` with `http2`, none otherwise.
   */
  alpnProtocols?: string[];
}

/** The ServeTlsOptions that only the `node:tls` listener takes. @internal */
export const NODE_TLS_ONLY = [
  "passphrase",
  "ca",
  "requestCert",
  "rejectUnauthorized",
  "sni",
  "alpnProtocols",
] as const;

/** The first option of `tls` that needs the `node:tls` listener, if any. @internal */
export function nodeOnlyTlsOption(tls: ServeTlsOptions | undefined): string | undefined {
  if (tls === undefined) return undefined;
  return NODE_TLS_ONLY.find((name) => tls[name] !== undefined);
}

/** What `fetch` learns besides the request. */
export interface FetchInfo {
  /** The peer's address, when known. */
  remoteAddress: TransportAddress | undefined;
}

/** Options of `serve()`. */
export interface ServeOptions<D = unknown> extends WebSocketHostOptions<D> {
  /** The address to listen on. Default `"0.0.0.0"`. */
  hostname?: string;
  /** The port; 0 picks a free one. Default 0. */
  port?: number;
  /**
   * Serve TLS (`wss:`) with this certificate and key; also client
   * certificates (mutual TLS), a key passphrase, a certificate per host
   * name (SNI) and the ALPN list (see {@link ServeTlsOptions}: these run on
   * the `node:tls` listener). Default: plain TCP.
   *
   * @throws {InvalidArgumentError} (from `serve()`) for such an option with
   *   `listener: "deno"` or `"bun"`, or a passphrase that does not open the key
   */
  tls?: ServeTlsOptions;
  /**
   * Answers plain HTTP requests on the same port (a page and its socket
   * served together). Without it, plain requests get 426 Upgrade Required.
   * Request bodies may come with `Content-Length` or chunked, and
   * `Expect: 100-continue` is answered; they are read whole (up to
   * `maxBodyBytes`) before `fetch` runs. Responses are sent with
   * `Content-Length`; keep-alive is supported.
   */
  fetch?: (request: Request, info: FetchInfo) => Awaitable<Response>;
  /** Largest request head in bytes; larger gets 431. Default 16 KiB. */
  maxHeadBytes?: number;
  /** Most header lines; more get 431. Default 100. */
  maxHeaders?: number;
  /** From accept (TLS included) to a complete request head, in ms; then 408 and close. Default 10,000. */
  handshakeTimeoutMs?: number;
  /**
   * Idle time between keep-alive requests, in ms; then the connection is
   * closed. Announced to the client as `Keep-Alive: timeout=N` (seconds,
   * rounded down), so that clients stop reusing the connection first.
   * Default 5,000.
   */
  keepAliveTimeoutMs?: number;
  /**
   * Largest request body for `fetch`, in bytes, after removing chunked
   * framing; larger gets 413 (at once when `Content-Length` says so, and
   * then without 100 Continue). Default 1 MiB.
   */
  maxBodyBytes?: number;
  /**
   * The socket API: `"node"` (`node:net`/`node:tls`, on every runtime),
   * `"deno"` (`Deno.listen`/`listenTls`) or `"bun"` (`Bun.listen`). Default:
   * the runtime's own.
   */
  listener?: "node" | "deno" | "bun";
  /**
   * Accept HTTP/2 too (RFC 9113), with WebSockets over it (RFC 8441:
   * `SETTINGS_ENABLE_CONNECT_PROTOCOL` is advertised and each extended
   * CONNECT runs `handler`; other requests go to `fetch`). Default false.
   * With `tls`, ALPN offers `h2` beside `http/1.1` on the same port; without
   * it, a connection that opens with the HTTP/2 preface is cleartext HTTP/2
   * by prior knowledge (h2c, RFC 9113 §3.3) and any other is HTTP/1.1.
   * `true` runs sprig's own HTTP/2 endpoint (lib/protocol/http2/) over the
   * runtime's listener on Deno and Node, and `node:http2` over the `"node"`
   * listener on Bun (Bun's native `node:http2` carried WebSocket echoes
   * faster; sprig's endpoint answers plain requests faster and passes more
   * conformance checks: see docs/http2.md). `"sprig"` or
   * `"node:http2"` picks one; `"node:http2"` needs the `"node"` listener and
   * is not offered on Deno, whose `node:http2` server can abort the process
   * when a client goes away. On sprig's own endpoint, a connection holds at most
   * 4 × `maxBodyBytes` of request bodies at once (the stream that would
   * pass it is reset with REFUSED_STREAM), and a client that does not
   * acknowledge the server's SETTINGS within `handshakeTimeoutMs` gets
   * GOAWAY SETTINGS_TIMEOUT (RFC 9113 §6.5.3); `writeTimeoutMs` bounds a
   * client that takes none of the output.
   */
  http2?: boolean | "sprig" | "node:http2";
  /**
   * Share the port with other servers that ask for it too (`SO_REUSEPORT`,
   * Linux and the BSDs): start one per core, each in its own process or
   * worker, and the kernel spreads connections over them. Share topics
   * through a `broker`. Bun: `Bun.listen`'s `reusePort`. Deno:
   * `Deno.listen`'s, which needs `--unstable-net`; without it (and with TLS)
   * Deno's `node:net` listens instead. Node: 22.12 and later; before, serve()
   * throws `ConnectionError` `REUSE_PORT_UNSUPPORTED`, except in a
   * `node:cluster` worker, where the port is shared through the primary
   * anyway (`runCluster()` in `@sprig/websocket/scale` uses that). Default
   * false: a port in use fails with `ADDRESS_IN_USE`.
   */
  reusePort?: boolean;
  /** Aborting it shuts the server down (as `shutdown()`). */
  signal?: AbortSignal;
}

/**
 * Checks the arguments of `serve()`: the handler, the host options and the
 * options of sprig's own HTTP server.
 *
 * @throws {InvalidArgumentError} or {ArgumentRangeError} as {@link checkHostArguments}
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkServeArguments } from "./options.ts";
 * assert.throws(
 *   () => checkServeArguments({ port: 70000 }, { in: () => {} }),
 *   (error) =>
 *     error instanceof RangeError &&
 *     error.message === "serve(): options.port must be an integer from 0 to 65535, got 70000",
 * );
 * ```
 */
export function checkServeArguments(options: unknown, handler: unknown): void {
  const check = new ArgumentCheck("serve()");
  const o = check.options("options", options);
  check.known("options", o, Object.keys(SERVE_OPTIONS), FOREIGN_SERVE_OPTIONS);
  checkHostOptionValues(check, o);
  check.string("options.hostname", o.hostname);
  check.integer("options.port", o.port, 0, 65535);
  checkServeTls(check, o);
  check.function("options.fetch", o.fetch);
  check.integer("options.maxHeadBytes", o.maxHeadBytes, 16, 0x7fff_ffff);
  check.integer("options.maxHeaders", o.maxHeaders, 0, 0x7fff_ffff);
  check.milliseconds("options.handshakeTimeoutMs", o.handshakeTimeoutMs);
  check.milliseconds("options.keepAliveTimeoutMs", o.keepAliveTimeoutMs);
  check.integer("options.maxBodyBytes", o.maxBodyBytes, 0, MAX);
  check.oneOf("options.listener", o.listener, ["node", "deno", "bun"]);
  if (
    o.http2 !== undefined && typeof o.http2 !== "boolean" && o.http2 !== "sprig" &&
    o.http2 !== "node:http2"
  ) {
    throw check.type("options.http2", 'a boolean, "sprig" or "node:http2"', o.http2);
  }
  if (o.http2 === "node:http2" && detectRuntime() === "deno") {
    // Deno's node:http2 server can abort the process when a client leaves.
    throw check.problem("options.http2", `"node:http2" is not offered on Deno; use true`);
  }
  if (
    o.http2 && http2Server(o.http2) === "node:http2" && o.listener !== undefined &&
    o.listener !== "node"
  ) {
    throw check.problem(
      "options.listener",
      `must be "node" (or absent) with node:http2, which runs on node:net`,
    );
  }
  check.boolean("options.reusePort", o.reusePort);
  check.signal("options.signal", o.signal);
  checkHandler(check, handler);
}

/** Checks `options.tls` of `serve()`; the options only `node:tls` takes need the "node" listener. */
function checkServeTls(check: ArgumentCheck, o: Record<string, unknown>): void {
  if (o.tls === undefined) return;
  const tls = check.options("options.tls", o.tls);
  check.known("options.tls", tls, ["cert", "key", ...NODE_TLS_ONLY], {
    certFile: "read the file and pass its PEM text as options.tls.cert",
    keyFile: "read the file and pass its PEM text as options.tls.key",
    caCerts: "use options.tls.ca (PEM, a string or an array)",
    ALPNProtocols: "use options.tls.alpnProtocols",
    SNICallback: "use options.tls.sni: { [hostName]: { cert, key } }",
  });
  checkIdentity(check, "options.tls", tls);
  if (tls.ca !== undefined && typeof tls.ca !== "string") {
    check.strings("options.tls.ca", tls.ca);
  }
  check.boolean("options.tls.requestCert", tls.requestCert);
  check.boolean("options.tls.rejectUnauthorized", tls.rejectUnauthorized);
  if (tls.sni !== undefined) {
    const sni = check.options("options.tls.sni", tls.sni);
    for (const [name, identity] of Object.entries(sni)) {
      const at = `options.tls.sni[${JSON.stringify(name)}]`;
      if (!/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(name)) {
        throw check.problem(at, 'must be keyed by a host name, or "*." and one');
      }
      const id = check.options(at, identity);
      check.known(at, id, ["cert", "key", "passphrase"]);
      checkIdentity(check, at, id);
    }
  }
  const alpn = check.strings("options.tls.alpnProtocols", tls.alpnProtocols);
  if (alpn !== undefined) {
    const http2 = o.http2 !== undefined && o.http2 !== false;
    for (const p of alpn) {
      if (p !== "http/1.1" && !(p === "h2" && http2)) {
        throw check.problem(
          "options.tls.alpnProtocols",
          `may list what sprig speaks, "http/1.1"${
            http2 ? ' and "h2"' : ' (and "h2" with options.http2)'
          }, got ${JSON.stringify(p)}`,
        );
      }
    }
    if (alpn.length === 0) {
      throw check.problem("options.tls.alpnProtocols", "must not be empty");
    }
  }
  const nodeOnly = nodeOnlyTlsOption(tls as unknown as ServeTlsOptions);
  if (nodeOnly !== undefined && (o.listener === "deno" || o.listener === "bun")) {
    throw check.problem(
      `options.tls.${nodeOnly}`,
      `needs the "node" listener (node:tls), not listener ` +
        `${JSON.stringify(o.listener)}: ${
          o.listener === "deno"
            ? "Deno.listenTls takes only a certificate, a key and ALPN, and cannot ask for " +
              "client certificates"
            : "Bun.listen takes no certificate per host name and does not refuse an " +
              "unverified client certificate in the handshake"
        }; leave options.listener unset`,
    );
  }
}

function checkIdentity(check: ArgumentCheck, at: string, id: Record<string, unknown>): void {
  if (typeof id.cert !== "string") throw check.type(`${at}.cert`, "a PEM string", id.cert);
  if (typeof id.key !== "string") throw check.type(`${at}.key`, "a PEM string", id.key);
  check.string(`${at}.passphrase`, id.passphrase);
  if (id.passphrase === undefined && isEncryptedPemKey(id.key)) {
    throw check.problem(`${at}.passphrase`, `is missing: ${at}.key is encrypted`);
  }
}

/** Every option of {@link ServeOptions}; the type makes the list complete. */
const SERVE_OPTIONS: { [K in keyof Required<ServeOptions>]: true } = {
  ...HOST_OPTIONS,
  hostname: true,
  port: true,
  tls: true,
  fetch: true,
  maxHeadBytes: true,
  maxHeaders: true,
  handshakeTimeoutMs: true,
  keepAliveTimeoutMs: true,
  maxBodyBytes: true,
  listener: true,
  http2: true,
  reusePort: true,
  signal: true,
};

/** {@link FOREIGN_HOST_OPTIONS}, and those naming the listening server's settings, for serve(). */
const FOREIGN_SERVE_OPTIONS: Readonly<Record<string, string>> = {
  ...FOREIGN_HOST_OPTIONS,
  host: "use options.hostname",
  noServer: "host sprig's handler on a server of yours with nodeHttpAdapter(), " +
    "denoServeAdapter() or bunServeAdapter()",
  server: "host sprig's handler on a server of yours with nodeHttpAdapter(), " +
    "denoServeAdapter() or bunServeAdapter()",
  handler: "use options.fetch for plain HTTP requests; the WebSocket handler is serve()'s " +
    "second argument",
  routes: "use options.fetch for plain HTTP requests (route there)",
  onListen: "serve() resolves once listening: read server.url and server.port",
  cert: "use options.tls: { cert, key } (PEM strings)",
  key: "use options.tls: { cert, key } (PEM strings)",
  keepAliveTimeout: "use options.keepAliveTimeoutMs",
  headersTimeout: "use options.handshakeTimeoutMs (accept to a complete request head)",
  requestTimeout: "use options.handshakeTimeoutMs (accept to a complete request head)",
  maxHeaderSize: "use options.maxHeadBytes",
  backlog: "the listen backlog is the runtime's default",
  unix: "serve() listens on TCP; for a Unix socket, host the handler with an adapter",
};

/**
 * Which HTTP/2 server `options.http2` runs: the one named, or for `true`
 * the runtime's default: sprig's own endpoint, but on Bun, whose native
 * `node:http2` carried WebSocket echoes faster in bench/h2 (the README's
 * HTTP/2 section has the figures). @internal
 */
export function http2Server(http2: true | "sprig" | "node:http2"): "sprig" | "node:http2" {
  if (http2 !== true) return http2;
  return detectRuntime() === "bun" ? "node:http2" : "sprig";
}
