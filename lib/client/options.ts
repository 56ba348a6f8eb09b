/**
 * The options of `connect()`: their types, their defaults and their checks
 * (HTTP/2's `http2` and `http2Session` included), in one place. Kept apart
 * from the HTTP/2 client (`http2.ts`) so that importing `connect()` does not
 * load `node:http2` (edge runtimes lack it): the client is imported when a
 * connection asks for HTTP/2.
 *
 * @module
 */

import { createPrivateKey } from "node:crypto";
import { type ArgumentCheck, isEncryptedPemKey } from "../arguments.ts";
import { InvalidArgumentError } from "../errors.ts";
import { checkExtensionFactories, type ExtensionFactory } from "../protocol/extension.ts";
import {
  checkCompressionOption,
  type PerMessageDeflateOptions,
} from "../extensions/permessage_deflate.ts";
import { MAX_CONTROL_PAYLOAD } from "../protocol/frame.ts";
import type { ClientRequest } from "../protocol/handshake.ts";
import type { SessionEvents, SessionOptions } from "../session/session.ts";
import { checkTelemetry } from "../telemetry.ts";
import { parseProxyUrl, type ProxyOption } from "../transport/proxy.ts";
import type { Connector, Transport } from "../transport/transport.ts";

/** TLS settings of a `wss:` connection. */
export interface ClientTlsOptions {
  /** Extra trusted CA certificates, PEM. Default: the runtime's trust store only. */
  caCerts?: string[];
  /** The name to verify and send as SNI. Default: the URL's host. */
  serverName?: string;
  /**
   * A client certificate chain to present when the server asks for one
   * (mutual TLS), PEM. Needs `key`. Default none. Every runtime: Deno's
   * `Deno.connectTls`, Bun's `Bun.connect`, `node:tls`.
   */
  cert?: string;
  /** The private key of `cert`, PEM (PKCS#8, PKCS#1 or SEC1; encrypted with `passphrase`). */
  key?: string;
  /**
   * The passphrase of an encrypted `key`. On Deno the connection then goes
   * through `node:tls` (Deno.connectTls reads no encrypted key). Checked at
   * the call: an encrypted `key` without it, or one it does not open, is an
   * `InvalidArgumentError` (`options.tls.passphrase`).
   */
  passphrase?: string;
  /**
   * Accept any certificate. Default false. For tests against self-signed
   * servers only: anyone on the path can then read and change the traffic.
   */
  insecure?: boolean;
}

/** Options of `connect()`. */
export interface ConnectOptions extends SessionOptions {
  /** Subprotocols to offer, most preferred first. Default none. */
  protocols?: string[];
  /** Extra request headers (e.g. `authorization`). The handshake's own fields cannot be set. */
  headers?: HeadersInit;
  /** The `Origin` to send. Default none. */
  origin?: string;
  /**
   * permessage-deflate (RFC 7692): `true` offers it as browsers do
   * (`permessage-deflate; client_max_window_bits`, which every mainstream
   * server accepts), an object tunes it, `false` turns it off. Default
   * true. A server that declines it gives an uncompressed connection; one
   * whose response the offer does not allow fails the handshake with a
   * {@link HandshakeError} (`EXTENSION_REJECTED`) naming the parameter.
   */
  compression?: boolean | PerMessageDeflateOptions;
  /**
   * Compression "if available". Default false. When true:
   * - a tuned `compression` offer is followed by the plain offer browsers
   *   send, as a second choice (RFC 7692 §5: offers in order of preference),
   *   for servers that cannot meet the tuned one but would decline rather
   *   than answer it;
   * - a server that refuses the handshake over the offer (it answers a
   *   request that offered compression with 400, 500 or 501, or with
   *   parameters the offer does not allow) is asked once more, on a new
   *   connection, without permessage-deflate. Each attempt has the full
   *   `connectTimeoutMs` and `handshakeTimeoutMs`; `signal` covers both.
   */
  compressionFallback?: boolean;
  /** Further extensions to offer, after permessage-deflate. Default none. */
  extensions?: ExtensionFactory[];
  /** Time to open the TCP (and TLS) connection, in milliseconds. Default 10,000. */
  connectTimeoutMs?: number;
  /**
   * Time for the server to answer the upgrade request, in milliseconds,
   * interim 1xx responses and a refusal's body included. Default 10,000.
   */
  handshakeTimeoutMs?: number;
  /** Cancels the connection attempt at any stage; after opening, it closes the connection with 1001. */
  signal?: AbortSignal;
  /** TLS settings for `wss:`. */
  tls?: ClientTlsOptions;
  /** Connect to this Unix domain socket instead of the URL's host and port. */
  unixPath?: string;
  /** A transport already connected, or a function that opens one. Default: the runtime's sockets. */
  transport?: Transport | Connector;
  /** Largest response head in bytes. Default 16 KiB. */
  maxHeadBytes?: number;
  /**
   * Connect through a proxy. Default none.
   * - `"http://[user:password@]host[:port]"`: an HTTP `CONNECT` tunnel
   *   (RFC 9110 §9.3.6), credentials sent as `Proxy-Authorization: Basic`;
   * - `"socks5://[user:password@]host[:port]"` (or `socks5h://`): SOCKS5
   *   (RFC 1928), with username/password authentication (RFC 1929); the
   *   proxy resolves the target's host name;
   * - `"env"`: the proxy the environment names for the URL's scheme, as
   *   curl reads it: `https_proxy`/`HTTPS_PROXY` for `wss:`,
   *   `http_proxy`/`HTTP_PROXY` for `ws:` (then `all_proxy`/`ALL_PROXY`),
   *   none for hosts `no_proxy`/`NO_PROXY` lists (on Deno this needs
   *   `--allow-env`).
   *
   * For `wss:`, TLS runs end to end inside the tunnel, verified as without
   * a proxy. A refusal is a {@link ProxyError} with the proxy's status
   * (`PROXY_AUTH_REQUIRED` for 407); an unreachable proxy a
   * {@link ConnectionError}. `connectTimeoutMs` covers reaching the proxy,
   * its answer and TLS. Cannot be combined with `transport` or `unixPath`.
   */
  proxy?: ProxyOption;
  /**
   * WebSocket over HTTP/2 (RFC 8441, extended CONNECT). Default false
   * (HTTP/1.1).
   * - `true`: `wss:` offers only `h2` by ALPN; `ws:` speaks cleartext
   *   HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3). The server must
   *   advertise `SETTINGS_ENABLE_CONNECT_PROTOCOL`, else {@link Http2Error}
   *   `EXTENDED_CONNECT_DISABLED`; a TLS server that does not choose `h2`
   *   gives `HTTP2_NOT_NEGOTIATED`.
   * - `"auto"`: `wss:` offers `h2` and `http/1.1` by ALPN and uses what the
   *   server picks; an h2 server without extended CONNECT is asked again
   *   over HTTP/1.1 on a new connection. `ws:` uses HTTP/1.1 (there is no
   *   ALPN to ask with, and h2c by Upgrade is not offered).
   *
   * A connection opened this way carries this one WebSocket and closes with
   * it; to share one HTTP/2 connection, pass {@link http2Session}. Not
   * combinable with `transport` or `unixPath`.
   */
  http2?: boolean | "auto";
  /**
   * An HTTP/2 connection of the application's (`node:http2`'s
   * `http2.connect()`): the WebSocket becomes one more stream on it, beside
   * its other requests and WebSockets. It must lead to the URL's origin;
   * implies `http2: true`; it stays open when the WebSocket closes.
   */
  http2Session?: Http2ClientSession;
}

/** The client's defaults, in one place. */
export const CLIENT_DEFAULTS = {
  connectTimeoutMs: 10_000,
  handshakeTimeoutMs: 10_000,
  /** A refusal's body is kept up to this many bytes; the rest is not read. */
  maxRefusalBodyBytes: 64 * 1024,
  /** Interim (1xx) responses skipped before the final one; more fail the handshake. */
  maxInterimResponses: 32,
} as const;

/** A connection attempt whose arguments were checked and whose request is built. @internal */
export interface PreparedConnection {
  /** The entry point, for messages. */
  readonly fn: string;
  readonly url: string | URL;
  readonly options: ConnectOptions;
  readonly request: ClientRequest;
  /** Whether the offer included permessage-deflate. */
  readonly compressed: boolean;
}

const SESSION_EVENTS = [
  "open",
  "message",
  "ping",
  "pong",
  "close",
  "error",
  "frame",
] as const satisfies ReadonlyArray<keyof SessionEvents>;
// Fails to compile when SessionEvents gains an event this list lacks.
const _allSessionEvents: Exclude<keyof SessionEvents, (typeof SESSION_EVENTS)[number]> extends never
  ? true
  : never = true;

/** Every option of {@link ConnectOptions}; the type makes the list complete. */
const CONNECT_OPTIONS: { [K in keyof Required<ConnectOptions>]: true } = {
  protocols: true,
  headers: true,
  origin: true,
  compression: true,
  compressionFallback: true,
  extensions: true,
  connectTimeoutMs: true,
  handshakeTimeoutMs: true,
  signal: true,
  tls: true,
  unixPath: true,
  transport: true,
  maxHeadBytes: true,
  proxy: true,
  http2: true,
  http2Session: true,
  maxMessageBytes: true,
  maxFrameBytes: true,
  maxFragments: true,
  autoPong: true,
  keepalive: true,
  closeTimeoutMs: true,
  writeTimeoutMs: true,
  maxQueuedMessages: true,
  trace: true,
  telemetry: true,
  id: true,
  telemetryContext: true,
  on: true,
};

/** The names of {@link ConnectOptions}. @internal */
export const CONNECT_OPTION_NAMES: readonly string[] = Object.keys(CONNECT_OPTIONS);

/**
 * Options of other clients (ws, Bun's and Deno's WebSocket, undici,
 * socket.io-style heartbeats), with what sprig has instead. @internal
 */
export const FOREIGN_CONNECT_OPTIONS: Readonly<Record<string, string>> = {
  perMessageDeflate: "use options.compression (ws's perMessageDeflate: true, false or options)",
  handshakeTimeout: "use options.handshakeTimeoutMs (and options.connectTimeoutMs for TCP and TLS)",
  timeout: "use options.connectTimeoutMs (TCP and TLS) and options.handshakeTimeoutMs",
  maxPayload: "use options.maxMessageBytes (ws's maxPayload)",
  maxPayloadLength: "use options.maxMessageBytes (Bun's maxPayloadLength)",
  maxReceivedMessageSize: "use options.maxMessageBytes",
  maxReceivedFrameSize: "use options.maxFrameBytes",
  rejectUnauthorized: "use options.tls: { insecure: true } to skip certificate checks (tests only)",
  ca: "use options.tls: { caCerts: [pem] }",
  servername: "use options.tls: { serverName }",
  serverName: "use options.tls: { serverName }",
  socketPath: "use options.unixPath",
  createConnection: "use options.transport (a function that opens a Transport)",
  agent: "use options.proxy for a proxy, or options.transport for your own sockets",
  dispatcher: "use options.proxy for a proxy, or options.transport for your own sockets",
  followRedirects: "redirects are not followed: a 3xx answer is a HandshakeError " +
    "(HANDSHAKE_REFUSED) with the status and the Location header",
  maxRedirects: "redirects are not followed: a 3xx answer is a HandshakeError " +
    "(HANDSHAKE_REFUSED) with the status and the Location header",
  protocolVersion: "sprig speaks WebSocket version 13 (RFC 6455) only",
  protocol: "use options.protocols (an array of subprotocols, most preferred first)",
  subprotocols: "use options.protocols (an array of subprotocols, most preferred first)",
  skipUTF8Validation: "text messages are always validated (RFC 6455 §8.1)",
  pingInterval: "use options.keepalive: { intervalMs, timeoutMs }",
  pingTimeout: "use options.keepalive: { intervalMs, timeoutMs }",
  heartbeat: "use options.keepalive: { intervalMs, timeoutMs }",
  closeTimeout: "use options.closeTimeoutMs",
  binaryType: "messages arrive as Uint8Array (binary) or string (text); the WebSocket class " +
    "has binaryType",
};

/**
 * Checks every option of {@link ConnectOptions} that createClientRequest()
 * does not (it checks protocols, headers and origin), in the order the
 * options are documented: the first malformed one is the one reported.
 * @internal
 */
export function checkConnectOptions(check: ArgumentCheck, options: unknown): void {
  const o = check.options("options", options);
  check.known("options", o, CONNECT_OPTION_NAMES, FOREIGN_CONNECT_OPTIONS);
  checkCompressionOption(check, "options.compression", o.compression);
  check.boolean("options.compressionFallback", o.compressionFallback);
  checkExtensionFactories(check, "options.extensions", o.extensions);
  check.milliseconds("options.connectTimeoutMs", o.connectTimeoutMs);
  check.milliseconds("options.handshakeTimeoutMs", o.handshakeTimeoutMs);
  check.signal("options.signal", o.signal);
  checkTlsOption(check, o.tls);
  check.string("options.unixPath", o.unixPath);
  checkTransportOption(check, o.transport);
  check.integer("options.maxHeadBytes", o.maxHeadBytes, 16, 0x7fff_ffff);
  checkProxyOption(check, o);
  check.string("options.id", o.id);
  checkTelemetry(check, "options.telemetry", o.telemetry);
  checkHttp2Options(check, o);
  checkSessionOptions(check, o);
}

function checkTlsOption(check: ArgumentCheck, value: unknown): void {
  const tls = check.options("options.tls", value);
  check.known("options.tls", tls, [
    "caCerts",
    "serverName",
    "insecure",
    "cert",
    "key",
    "passphrase",
  ], {
    rejectUnauthorized: "use options.tls.insecure: true to skip certificate checks (tests only)",
    ca: "use options.tls.caCerts (an array of PEM certificates)",
    servername: "use options.tls.serverName",
  });
  check.strings("options.tls.caCerts", tls.caCerts);
  check.string("options.tls.serverName", tls.serverName);
  check.boolean("options.tls.insecure", tls.insecure);
  check.string("options.tls.cert", tls.cert);
  check.string("options.tls.key", tls.key);
  check.string("options.tls.passphrase", tls.passphrase);
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new InvalidArgumentError(
      tls.cert === undefined ? "options.tls.cert" : "options.tls.key",
      "options.tls.cert and options.tls.key go together (a client certificate and its key, PEM)",
    );
  }
  if (tls.passphrase !== undefined && tls.key === undefined) {
    throw new InvalidArgumentError(
      "options.tls.passphrase",
      "options.tls.passphrase is the passphrase of options.tls.key, which is missing",
    );
  }
  if (typeof tls.key === "string") {
    checkClientKey(check, tls.key, tls.passphrase as string | undefined);
  }
}

/**
 * An encrypted client `key` needs its `passphrase`, and the passphrase must
 * open it: checked at the call, as `serve()` does for its key, because the
 * runtimes' TLS would otherwise fail later with only "bad decrypt", or (Deno's
 * `node:tls`) connect without the certificate, refused as "certificate required".
 */
function checkClientKey(check: ArgumentCheck, key: string, passphrase: string | undefined): void {
  if (passphrase === undefined) {
    if (isEncryptedPemKey(key)) {
      throw check.problem("options.tls.passphrase", "is missing: options.tls.key is encrypted");
    }
    return;
  }
  try {
    createPrivateKey({ key, format: "pem", passphrase });
  } catch (cause) {
    throw new InvalidArgumentError(
      "options.tls.passphrase",
      `${check.fn}: options.tls.passphrase does not open options.tls.key (${
        (cause as Error).message
      })`,
      { cause },
    );
  }
}

function checkTransportOption(check: ArgumentCheck, value: unknown): void {
  const transport = value as Partial<Transport> | undefined;
  if (
    transport !== undefined && typeof transport !== "function" &&
    (typeof transport !== "object" || transport === null ||
      typeof transport.read !== "function" || typeof transport.write !== "function" ||
      typeof transport.close !== "function")
  ) {
    throw check.type("options.transport", "a Transport or a function that opens one", transport);
  }
}

function checkProxyOption(check: ArgumentCheck, o: Record<string, unknown>): void {
  if (o.proxy === undefined) return;
  if (typeof o.proxy !== "string" && !(o.proxy instanceof URL)) {
    throw check.type("options.proxy", '"env" or a proxy URL', o.proxy);
  }
  if (o.proxy !== "env") parseProxyUrl("options.proxy", check.fn, o.proxy);
  if (o.transport !== undefined || o.unixPath !== undefined) {
    throw check.problem(
      "options.proxy",
      "cannot be combined with options.transport or options.unixPath",
    );
  }
}

/** The options of {@link SessionOptions}, as `connect()` takes them. */
function checkSessionOptions(check: ArgumentCheck, o: Record<string, unknown>): void {
  check.integer("options.maxMessageBytes", o.maxMessageBytes, 0, Number.MAX_SAFE_INTEGER);
  // RFC 6455 §5.5: a control frame may carry 125 bytes, so no frame limit is lower.
  check.integer(
    "options.maxFrameBytes",
    o.maxFrameBytes,
    MAX_CONTROL_PAYLOAD,
    Number.MAX_SAFE_INTEGER,
  );
  check.integer("options.maxFragments", o.maxFragments, 1, Number.MAX_SAFE_INTEGER);
  check.boolean("options.autoPong", o.autoPong);
  check.keepalive("options.keepalive", o.keepalive);
  check.milliseconds("options.closeTimeoutMs", o.closeTimeoutMs);
  check.milliseconds("options.writeTimeoutMs", o.writeTimeoutMs);
  check.integer("options.maxQueuedMessages", o.maxQueuedMessages, 1, Number.MAX_SAFE_INTEGER);
  check.function("options.trace", o.trace);
  const on = check.options("options.on", o.on);
  for (const [type, listener] of Object.entries(on)) {
    check.oneOf("options.on", type, SESSION_EVENTS as readonly string[]);
    check.function(`options.on.${type}`, listener);
  }
}

/**
 * A `node:http2` `ClientHttp2Session` (from `http2.connect()`), by the
 * members that tell it apart: written out so that sprig's type declarations
 * need no `@types/node` (a `ClientHttp2Session` fits as it is). sprig uses
 * the rest of its API as Node documents it.
 */
export interface Http2ClientSession {
  /** True once the session was closed. */
  readonly closed: boolean;
  /** True once the session was destroyed. */
  readonly destroyed: boolean;
  /** The peer's SETTINGS (RFC 9113 §6.5; `enableConnectProtocol` is RFC 8441's). */
  readonly remoteSettings: { enableConnectProtocol?: boolean | undefined };
  /** Opens a stream (sprig calls it with the extended CONNECT's headers). */
  request(headers: never, options?: never): unknown;
}

/** True when `connect()` is to go over HTTP/2 for a URL that is (or is not) secure. @internal */
export function usesHttp2(options: ConnectOptions, secure: boolean): boolean {
  if (options.http2Session !== undefined) return true;
  return options.http2 === true || (options.http2 === "auto" && secure);
}

/** Checks `http2` and `http2Session`, and what they cannot be combined with. @internal */
export function checkHttp2Options(check: ArgumentCheck, o: Record<string, unknown>): void {
  if (o.http2 !== undefined && o.http2 !== true && o.http2 !== false && o.http2 !== "auto") {
    throw check.type("options.http2", 'true, false or "auto"', o.http2);
  }
  const session = o.http2Session as { request?: unknown } | undefined;
  if (
    session !== undefined &&
    (typeof session !== "object" || session === null || typeof session.request !== "function")
  ) {
    throw check.type("options.http2Session", "a ClientHttp2Session of node:http2", session);
  }
  if ((o.http2 || session !== undefined) && o.transport !== undefined) {
    throw check.problem("options.transport", "cannot be combined with http2 or http2Session");
  }
  if ((o.http2 || session !== undefined) && o.unixPath !== undefined) {
    throw check.problem("options.unixPath", "cannot be combined with http2 or http2Session");
  }
  if (
    o.proxy !== undefined && (o.http2 !== undefined && o.http2 !== false || session !== undefined)
  ) {
    // The HTTP/2 path dials with node:net/node:tls itself; tunnelling it is not built.
    throw check.problem(
      "options.proxy",
      "cannot be combined with options.http2 or options.http2Session",
    );
  }
}
