/**
 * The server's options and their defaults, in one place.
 *
 * @module
 */

import { ArgumentCheck, isEncryptedPemKey } from "../../arguments.ts";
import { checkTelemetry, type Telemetry } from "../../telemetry.ts";
import { checkExtensionFactories, type ExtensionFactory } from "../../extensions/extension.ts";
import {
  checkCompressionOption,
  type PerMessageDeflateOptions,
} from "../../extensions/permessage_deflate.ts";
import { MAX_CONTROL_PAYLOAD } from "../../protocol/frame.ts";
import { isToken } from "../../protocol/http1.ts";
import {
  DEFAULT_LIMITS,
  DEFAULT_MAX_HEAD_BYTES,
  DEFAULT_MAX_HEADERS,
} from "../../protocol/limits.ts";
import type { KeepaliveOptions } from "../../session/session.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import { detectRuntime } from "../../transport/connect.ts";
import type { Awaitable, ConnectionRef, TlsInfo } from "./handler.ts";
import type { Broker, TopicOptions } from "./pubsub.ts";

/**
 * The defaults of {@link WebSocketHostOptions} and {@link ServeOptions}.
 * Each limit is no stricter than the servers users already run (Bun, `ws`,
 * Node's `http`), so ordinary traffic passes and waste is stopped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SERVER_DEFAULTS } from "./options.ts";
 * assert.equal(SERVER_DEFAULTS.maxSendBufferBytes, 16 * 1024 * 1024);
 * assert.equal(SERVER_DEFAULTS.maxMessageBytes, 64 * 1024 * 1024);
 * ```
 */
export const SERVER_DEFAULTS = {
  /** `0.0.0.0`, as Deno and Bun: every IPv4 interface. */
  hostname: "0.0.0.0",
  /** 0: a free port, read back from `server.port`. */
  port: 0,
  /** Open WebSocket connections; the next upgrade gets 503. */
  maxConnections: 10_000,
  /** 120 s without a frame from the peer (Bun's default); 0 turns it off. */
  idleTimeoutMs: 120_000,
  /** 64 MiB after decompression, as the client (Bun 16 MiB, `ws` 100 MiB). */
  maxMessageBytes: DEFAULT_LIMITS.maxMessageBytes,
  /** 16 MiB waiting to be sent to one peer (Bun's `backpressureLimit`). */
  maxSendBufferBytes: 16 * 1024 * 1024,
  /** Messages queued for a busy handler before the socket stops being read. */
  maxQueuedMessages: 16,
  /**
   * 30 s: a peer that takes none of what is sent to it for this long is
   * dropped (it stopped reading; its connection would otherwise be held
   * forever). 0 turns it off.
   */
  writeTimeoutMs: 30_000,
  /** Server pings every 30 s and waits 10 s for the pong; healthy idle peers stay within the idle timeout. */
  keepalive: { intervalMs: 30_000, timeoutMs: 10_000 } as const,
  /** The closing handshake, bounded. */
  closeTimeoutMs: 10_000,
  /** The request head, in bytes (Node's `http` allows 16 KiB too). */
  maxHeadBytes: DEFAULT_MAX_HEAD_BYTES,
  /** Header lines in the request head. */
  maxHeaders: DEFAULT_MAX_HEADERS,
  /** From accepting a socket (TLS included) to the complete request head. */
  handshakeTimeoutMs: 10_000,
  /** Between keep-alive requests to `fetch` (Node's `keepAliveTimeout` is 5 s). */
  keepAliveTimeoutMs: 5_000,
  /** A plain request's body, for `fetch`; larger gets 413. */
  maxBodyBytes: 1024 * 1024,
  /** How long `shutdown()` lets connections finish their closing handshake. */
  shutdownDeadlineMs: 10_000,
  /** The close reason sent on shutdown. */
  shutdownReason: "server shutting down",
} as const;

/** What the `upgrade` hook learns besides the request. */
export interface UpgradeInfo {
  /** The subprotocols the client offered, in its order. */
  protocols: string[];
  /** The subprotocol the `protocols` option picked, if any. */
  protocol: string | undefined;
  /** The `Origin` header, if sent (browsers always send it). */
  origin: string | undefined;
  /** The peer's address, when known. */
  remoteAddress: TransportAddress | undefined;
  /**
   * The TLS session: the client's certificate (mutual TLS), SNI name, ALPN;
   * as `init`'s `ctx.tls` (present on the `node:tls` listener only), so the
   * hook can refuse (e.g. 403) by certificate.
   */
  tls?: TlsInfo;
}

/** The `upgrade` hook's consent, with what to change. */
export interface UpgradeAccept<D = unknown> {
  /** The subprotocol to choose (must be one offered); `null` for none. Default: the `protocols` option's pick. */
  protocol?: string | null;
  /** Extra headers for the 101 response (not the handshake's own). */
  headers?: HeadersInit;
  /** Attached to the connection: the handler's `init` sees it as `context.data`. */
  data?: D;
}

/**
 * What one call to an adapter's upgrade brings for that connection, where a
 * framework's route (Hono, Express…) has already decided: `data` for
 * `init`, and headers for the 101 (e.g. what the framework's middleware
 * set). Headers the handshake owns (`Connection`, `Upgrade`,
 * `Sec-WebSocket-*`, `Content-Length`, `Content-Type`, `Transfer-Encoding`,
 * `Keep-Alive`) are left out.
 */
export interface UpgradeOptions<D = unknown> {
  /** `init` sees it as `context.data`; an `upgrade` hook that returns `data` replaces it. */
  data?: D;
  /** Extra headers for the 101 response; the `upgrade` hook's are added after these. */
  headers?: HeadersInit;
}

/**
 * Decides an upgrade: return a `Response` to refuse (its status and body go
 * to the client, e.g. 401 or 403), or accept with nothing or an
 * {@link UpgradeAccept}. Throwing refuses with 500 and reports the error.
 */
export type UpgradeHook<D = unknown> = (
  request: Request,
  info: UpgradeInfo,
) => Awaitable<Response | UpgradeAccept<D> | void | undefined>;

/** Options every host shares: sprig's server and the adapters. */
export interface WebSocketHostOptions<D = unknown> {
  /**
   * Subprotocols the server speaks, or a function picking one from the
   * client's offer. With a list, the choice is the client's first that the
   * list has. Default none.
   */
  protocols?: readonly string[] | ((offered: string[]) => string | undefined);
  /**
   * Allowed `Origin` values (e.g. `"https://app.example"`), compared
   * ASCII case-insensitively; `"*"` allows any. A request whose `Origin` is
   * not listed gets 403: this stops cross-site WebSocket hijacking, where a
   * page on another site opens a socket with the user's cookies. Requests
   * without `Origin` (non-browser clients) pass, and so does the server's own
   * origin (an `Origin` whose host is the request's `Host`: a page this
   * server serves). Each refused origin is reported once through `onError`.
   * Default: no check.
   */
  origins?: readonly string[];
  /** Decides each upgrade after the checks above. Default: accept. */
  upgrade?: UpgradeHook<D>;
  /** Open WebSocket connections; more get 503. Default 10,000; range ≥ 1. */
  maxConnections?: number;
  /**
   * Milliseconds without a frame from the peer (pongs count) while the
   * handler is idle, before the server closes with 1001 "idle timeout" and
   * `terminate` sees `timeout`. With `keepalive` on (the default) a live
   * peer answers the server's pings, so this closes only peers that went
   * silent at the TCP level; with `keepalive: false` it also closes quiet
   * ones (as Bun's `idleTimeout` without `sendPings`). Default 120,000;
   * 0 turns it off.
   */
  idleTimeoutMs?: number;
  /** Largest message in bytes, after decompression; larger closes with 1009. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Largest frame in bytes. Default: `maxMessageBytes`. */
  maxFrameBytes?: number;
  /** Most fragments in one message. Default 4,194,304. */
  maxFragments?: number;
  /**
   * Bytes waiting to be sent to one peer before it counts as a slow reader.
   * When a write finds more than this already waiting, the TCP connection
   * is dropped at once (no close frame: it would queue behind the data the
   * peer is not reading); the peer sees 1006 and `terminate` gets an
   * `error` with code `SEND_BUFFER_FULL` and close code 1008. A handler's
   * own pushes wait for the socket instead, so this is reached through
   * `publish` or a handler that pushes very much at once. Default 16 MiB.
   */
  maxSendBufferBytes?: number;
  /**
   * A peer that takes none of what is sent to it for this long, in
   * milliseconds, is dropped, and `terminate` gets a `timeout` reason with
   * a `TimeoutError` of code `WRITE_TIMEOUT`. Default 30,000; 0 turns it
   * off. (Where the host hides its socket — `Deno.serve` — it cannot apply.)
   * On sprig's own HTTP/2 endpoint it also bounds a whole connection whose
   * socket the client does not read (dropped), and a plain response whose
   * DATA waits on a stream window the client never opens (RST_STREAM CANCEL).
   */
  writeTimeoutMs?: number;
  /** Messages kept for a busy handler before the socket stops being read. Default 16; range ≥ 1. */
  maxQueuedMessages?: number;
  /** How long the closing handshake may take, in ms. Default 10,000. */
  closeTimeoutMs?: number;
  /** Server pings; a missing pong ends the connection (`timeout`). Default `{ intervalMs: 30000, timeoutMs: 10000 }`; `false` turns them off. */
  keepalive?: KeepaliveOptions | false;
  /**
   * permessage-deflate (RFC 7692): `true` accepts it with the defaults, an
   * object tunes it, `false` turns it off. Default true.
   */
  compression?: boolean | PerMessageDeflateOptions;
  /** Further extensions, after permessage-deflate. Default none. */
  extensions?: ExtensionFactory[];
  /**
   * Errors nobody awaits: a callback that threw, a failing `fetch`, an
   * upgrade refused for its `Origin` (once per origin, code
   * `ORIGIN_REFUSED`). Default: printed with `console.error`, with the
   * connection's id and URL; pass a function to send them elsewhere (or
   * `() => {}` to drop them).
   */
  onError?: (error: unknown, ref?: ConnectionRef<never>) => void;
  /**
   * Logs every frame of every connection, one readable line each
   * (`<< fin=1 rsv=0 op=1 len=5 text "hello"`), for debugging. sprig's own
   * server and the `node:http` adapter only (the others' hosts parse frames
   * themselves). Default none.
   */
  trace?: (line: string) => void;
  /**
   * Publishes each connection's life cycle on the channels of
   * `TelemetryChannels` (`connected`, `disconnected`, `terminated`, with
   * role `"server"` and id `s<n>`, `n` being `ConnectionRef.id`), and its
   * frames where sprig parses them (its own server and the `node:http`
   * adapter): pass `node:diagnostics_channel` itself, or any object with
   * `channel(name)`. Default none; without it a message costs one check.
   */
  telemetry?: Telemetry;
  /**
   * Carries `publish()` to the other instances of the application and
   * delivers what they publish to the subscribers here (`redisBroker()` in
   * `@sprig/websocket/scale`). Local subscribers get local messages at
   * once either way; remote failures go to `onError` as `BrokerError`. A
   * broker serves one server at a time. Default: none (topics stay in this
   * process).
   */
  broker?: Broker;
  /**
   * Decides each topic's options when it is first used: history
   * (`retain: { messages?, ms? }`, or `true` for the last 1,000 messages),
   * positions on the wire (`envelope`), and the slow-subscriber policy
   * (`slow`). Called with the topic's name; return undefined for a plain
   * topic (no history, no policy). It is called again for a plain topic
   * after it lost its last subscriber, and on each publish to a topic nobody
   * subscribes to, so keep it cheap (a prefix test, a map lookup). A topic
   * with history keeps it for the server's life, with or without
   * subscribers. Default: every topic is plain.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { serve } from "../../../mod.ts";
   * await using server = await serve({
   *   hostname: "127.0.0.1",
   *   port: 0,
   *   topics: (topic) => topic.startsWith("feed:") ? { retain: { messages: 500, ms: 60_000 } } : undefined,
   * }, { in: () => {} });
   * server.publish("feed:prices", "1.0");
   * assert.equal(server.lastPosition("feed:prices")?.seq, 1);
   * assert.equal(server.lastPosition("chat"), undefined); // plain: no positions
   * ```
   */
  topics?: (topic: string) => TopicOptions | undefined;
  /**
   * Closes each connection with 1001 ("going away"; `terminate` gets the
   * reason `lifetime`) this long after it opened, in ms, plus a random
   * jitter up to `lifetimeJitterMs`, so that long-lived clients reconnect
   * and spread again over the instances behind a load balancer. Checked on
   * a shared timer ticking every tenth of the lifetime (10 ms to 60 s), so a
   * close comes up to one tick late. Default 0 (never).
   */
  maxLifetimeMs?: number;
  /** The random extra time added to `maxLifetimeMs` per connection, 0 to this many ms. Default: a tenth of `maxLifetimeMs`. */
  lifetimeJitterMs?: number;
}

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

// ---------------------------------------------------------------------------
// Checking the arguments of serve() and the adapters

const MAX = Number.MAX_SAFE_INTEGER;

/**
 * Checks a handler and the options every host shares, as `fn` received
 * them (`serve()`, `nodeHttpAdapter()`, …), so a malformed one fails at the
 * call, naming the argument.
 *
 * @throws {InvalidArgumentError} (a `TypeError`) for a value of the wrong
 *   type: a handler without an `in` function, a callback that is not a
 *   function, a subprotocol that is not a token, …
 * @throws {ArgumentRangeError} (a `RangeError`) for a number out of the
 *   range its option states
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHostArguments } from "./options.ts";
 * checkHostArguments("myAdapter()", { in: () => {} }, { maxConnections: 10 }); // fine
 * assert.throws(
 *   () => checkHostArguments("myAdapter()", { in: () => {} }, { maxConnections: 0 }),
 *   (error) => error instanceof RangeError && error.message.startsWith("myAdapter(): options.maxConnections"),
 * );
 * assert.throws(() => checkHostArguments("myAdapter()", {}, {}), TypeError); // no `in`
 * ```
 */
export function checkHostArguments(fn: string, handler: unknown, options: unknown): void {
  const check = new ArgumentCheck(fn);
  checkHandler(check, handler);
  checkHostOptions(check, options);
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
function checkIdentity(check: ArgumentCheck, at: string, id: Record<string, unknown>): void {
  if (typeof id.cert !== "string") throw check.type(`${at}.cert`, "a PEM string", id.cert);
  if (typeof id.key !== "string") throw check.type(`${at}.key`, "a PEM string", id.key);
  check.string(`${at}.passphrase`, id.passphrase);
  if (id.passphrase === undefined && isEncryptedPemKey(id.key)) {
    throw check.problem(`${at}.passphrase`, `is missing: ${at}.key is encrypted`);
  }
}

export function checkServeArguments(options: unknown, handler: unknown): void {
  const check = new ArgumentCheck("serve()");
  const o = checkHostOptions(check, options, true);
  check.string("options.hostname", o.hostname);
  check.integer("options.port", o.port, 0, 65535);
  if (o.tls !== undefined) {
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

/** Every option of {@link WebSocketHostOptions}; the type makes the list complete. */
const HOST_OPTIONS: { [K in keyof Required<WebSocketHostOptions>]: true } = {
  protocols: true,
  origins: true,
  upgrade: true,
  maxConnections: true,
  idleTimeoutMs: true,
  maxMessageBytes: true,
  maxFrameBytes: true,
  maxFragments: true,
  maxSendBufferBytes: true,
  writeTimeoutMs: true,
  maxQueuedMessages: true,
  closeTimeoutMs: true,
  keepalive: true,
  compression: true,
  extensions: true,
  onError: true,
  trace: true,
  telemetry: true,
  broker: true,
  topics: true,
  maxLifetimeMs: true,
  lifetimeJitterMs: true,
};

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

const ROUTING = "upgrades are accepted on any path: refuse the others in " +
  "options.upgrade (return new Response(null, { status: 404 }) when " +
  "new URL(request.url).pathname is not yours), or route in your own server through an adapter " +
  "(on node:http, nodeHttpAdapter(handler).attach(server, { path }))";

/**
 * Options of other servers (ws's WebSocketServer, Bun.serve, Deno.serve,
 * Node's http), with what sprig has instead. Those of the listening
 * server are refused by the adapters with the same words.
 */
const FOREIGN_HOST_OPTIONS: Readonly<Record<string, string>> = {
  perMessageDeflate: "use options.compression (ws's and Bun's perMessageDeflate: true, false " +
    "or options)",
  maxPayload: "use options.maxMessageBytes (ws's maxPayload)",
  maxPayloadLength: "use options.maxMessageBytes (Bun's maxPayloadLength)",
  path: ROUTING,
  verifyClient: "use options.origins for the Origin check, and options.upgrade to decide " +
    "each upgrade (return a Response to refuse)",
  handleProtocols: "use options.protocols (a list, or a function picking one of the offered)",
  clientTracking: "the server always tracks its connections (shutdown() closes them)",
  skipUTF8Validation: "text messages are always validated (RFC 6455 §8.1)",
  idleTimeout: "use options.idleTimeoutMs (in milliseconds; Bun's idleTimeout is in seconds)",
  backpressureLimit: "use options.maxSendBufferBytes (Bun's backpressureLimit)",
  closeOnBackpressureLimit: "a peer past options.maxSendBufferBytes is always dropped",
  sendPings: "use options.keepalive: { intervalMs, timeoutMs } (false turns pings off)",
  publishToSelf: "ctx.ref.publish() reaches every subscriber but the sender; server.publish() " +
    "reaches them all",
  websocket: "the handler is serve()'s second argument (init, in, control, info, terminate)",
  error: "use options.onError",
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
 * Options of the listening server given to an adapter: they belong to the
 * host server the adapter is attached to.
 */
const LISTENER_OPTIONS = [
  "port",
  "hostname",
  "host",
  "tls",
  "fetch",
  "signal",
  "reusePort",
  "http2",
  "listener",
  "maxBodyBytes",
  "maxHeadBytes",
  "maxHeaders",
  "handshakeTimeoutMs",
  "keepAliveTimeoutMs",
];

const HANDLER_CALLBACKS = ["init", "in", "control", "info", "terminate"] as const;

/** Callback names of ws, Bun.serve's `websocket` and the browser API, with sprig's for each. */
const FOREIGN_CALLBACKS: Record<string, string> = {
  message: "in",
  onMessage: "in",
  onmessage: "in",
  open: "init",
  onOpen: "init",
  onopen: "init",
  onConnection: "init",
  connection: "init",
  close: "terminate",
  onClose: "terminate",
  onclose: "terminate",
  ping: "control",
  pong: "control",
  onPing: "control",
  onPong: "control",
};

function checkHandler(check: ArgumentCheck, handler: unknown): void {
  if (typeof handler === "function") {
    throw check.problem(
      "handler",
      "must be an object with in(message, state) and optionally init, control, info and " +
        "terminate, not a function (a callback per message, as some servers take, is " +
        "{ in: (message) => … })",
    );
  }
  const h = check.options("handler", handler);
  if (handler === undefined) {
    throw check.type("handler", "an object with an in() function", handler);
  }
  if (typeof h.in !== "function") {
    const foreign = Object.keys(FOREIGN_CALLBACKS).filter((name) => typeof h[name] === "function");
    if (foreign.length > 0) {
      const renames = foreign.map((name) => `${name} → ${FOREIGN_CALLBACKS[name]}`).join(", ");
      throw check.problem(
        "handler",
        `has ${foreign.join(", ")} but no in(): that is the shape of a ws, Bun.serve or browser ` +
          `handler. sprig's handler has init(ctx), in(message, state), control, info and ` +
          `terminate(reason, state), each returning what to do: rename ${renames}`,
      );
    }
    throw check.type(
      "handler.in",
      "a function (a handler has in(message, state) and optionally init, control, info, terminate)",
      h.in,
    );
  }
  for (const name of HANDLER_CALLBACKS) check.function(`handler.${name}`, h[name]);
}

function checkHostOptions(
  check: ArgumentCheck,
  options: unknown,
  serve = false,
): Record<string, unknown> {
  const o = check.options("options", options);
  if (serve) check.known("options", o, Object.keys(SERVE_OPTIONS), FOREIGN_SERVE_OPTIONS);
  else {
    const listening: Record<string, string> = {};
    for (const name of LISTENER_OPTIONS) {
      listening[name] = "that is an option of the server the adapter is attached to " +
        "(Deno.serve, Bun.serve, node:http), not of the adapter";
    }
    check.known("options", o, Object.keys(HOST_OPTIONS), { ...FOREIGN_HOST_OPTIONS, ...listening });
  }
  if (typeof o.protocols !== "function") {
    check.strings("options.protocols", o.protocols)?.forEach((p, i) => {
      if (!isToken(p)) throw check.type(`options.protocols[${i}]`, "a token (RFC 9110 §5.6.2)", p);
    });
  }
  check.strings("options.origins", o.origins);
  check.function("options.upgrade", o.upgrade);
  check.integer("options.maxConnections", o.maxConnections, 1, MAX);
  check.milliseconds("options.idleTimeoutMs", o.idleTimeoutMs);
  check.integer("options.maxMessageBytes", o.maxMessageBytes, 0, MAX);
  // RFC 6455 §5.5: a control frame may carry 125 bytes, so no frame limit is lower.
  check.integer("options.maxFrameBytes", o.maxFrameBytes, MAX_CONTROL_PAYLOAD, MAX);
  check.integer("options.maxFragments", o.maxFragments, 1, MAX);
  check.integer("options.maxSendBufferBytes", o.maxSendBufferBytes, 0, MAX);
  check.integer("options.maxQueuedMessages", o.maxQueuedMessages, 1, MAX);
  check.milliseconds("options.closeTimeoutMs", o.closeTimeoutMs);
  check.milliseconds("options.writeTimeoutMs", o.writeTimeoutMs);
  check.keepalive("options.keepalive", o.keepalive);
  checkCompressionOption(check, "options.compression", o.compression);
  checkExtensionFactories(check, "options.extensions", o.extensions);
  check.function("options.onError", o.onError);
  check.function("options.trace", o.trace);
  checkTelemetry(check, "options.telemetry", o.telemetry);
  check.function("options.topics", o.topics);
  check.milliseconds("options.maxLifetimeMs", o.maxLifetimeMs);
  check.milliseconds("options.lifetimeJitterMs", o.lifetimeJitterMs);
  if (o.broker !== undefined) {
    const b = check.options("options.broker", o.broker);
    for (const name of ["attach", "detach", "subscribe", "unsubscribe", "publish"]) {
      if (typeof b[name] !== "function") {
        throw check.type("options.broker", `a Broker (with a ${name}() method)`, o.broker);
      }
    }
  }
  return o;
}

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
