/**
 * `connect()`: open a WebSocket client connection over the runtime's sockets.
 *
 * @module
 */

import { createPrivateKey } from "node:crypto";
import { ArgumentCheck, isEncryptedPemKey } from "../arguments.ts";
import {
  ArgumentRangeError,
  ConnectionError,
  HandshakeError,
  HttpParseError,
  InvalidArgumentError,
  SprigError,
  TimeoutError,
} from "../errors.ts";
import { checkExtensionFactories, type ExtensionFactory } from "../extensions/extension.ts";
import { formatExtensionsHeader } from "../extensions/header.ts";
import {
  checkCompressionOption,
  permessageDeflate,
  type PerMessageDeflateOptions,
  permessageDeflateWithFallback,
} from "../extensions/permessage_deflate.ts";
import { MAX_CONTROL_PAYLOAD } from "../protocol/frame.ts";
import { checkTelemetry } from "../telemetry.ts";
import {
  checkServerResponse,
  type ClientRequest,
  createClientRequest,
  HandshakeCode,
  type HandshakeResult,
} from "../protocol/handshake.ts";
import { checkHttp2Options, type Http2ClientSession, usesHttp2 } from "../http2/options.ts";
import { HeadParser, type ResponseHead } from "../protocol/http1.ts";
import { BodyDecoder, responseBodyFraming } from "../protocol/http1_body.ts";
import {
  Session,
  SESSION_DEFAULTS,
  type SessionEvents,
  type SessionOptions,
} from "../session/session.ts";
import { abortReason } from "../transport/abort.ts";
import { connectFailure } from "../transport/failure.ts";
import { connectTransport } from "../transport/connect.ts";
import {
  connectThroughProxy,
  parseProxyUrl,
  proxyFromEnvironment,
  type ProxyOption,
} from "../transport/proxy.ts";
import type { Connector, ConnectTarget, Transport } from "../transport/transport.ts";

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

/** Options of {@link connect}. */
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

/**
 * Opens a WebSocket connection and resolves once the opening handshake
 * succeeded.
 *
 * @throws {InvalidArgumentError} (a `TypeError`) when `url` or an option is
 *   malformed, naming it (`url`, `options.protocols`, …); `url` must be a
 *   `ws:`, `wss:`, `http:` or `https:` URL without a fragment, whose user
 *   information, if any, is sent as Basic credentials
 * @throws {ArgumentRangeError} (a `RangeError`) when a numeric option is
 *   out of its range (timeouts: 0 to 2^31 − 1 ms)
 * @throws {HandshakeError} when the server refused (status, headers, body) or answered wrongly
 * @throws {ConnectionError} when the transport could not be opened
 * @throws {TimeoutError} when connecting or the handshake took too long
 * @throws {AbortError} when `signal` aborted
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../mod.ts";
 * // A server that speaks chat.v1, greets with the token it was given and echoes.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0, protocols: ["chat.v1"] }, {
 *   init: (ctx) => ({ push: `token: ${ctx.headers.get("authorization")}` }),
 *   in: (message) => ({ push: message }),
 * });
 * await using ws = await connect(new URL("/chat", server.url), {
 *   protocols: ["chat.v1"],
 *   headers: { authorization: "Bearer token" },
 * });
 * assert.equal(ws.protocol, "chat.v1");
 * await ws.send("hello");
 * const received: unknown[] = [];
 * for await (const message of ws) {
 *   received.push(message);
 *   if (received.length === 2) break; // leaving the loop keeps the connection open
 * }
 * assert.deepEqual(received, ["token: Bearer token", "hello"]);
 * ```
 */
export async function connect(url: string | URL, options: ConnectOptions = {}): Promise<Session> {
  const prepared = prepareConnect("connect()", url, options);
  return await openConnection(prepared);
}

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

/**
 * Checks the arguments of `connect()` (or of `fn`, which takes the same)
 * and builds the request, synchronously: every malformed argument fails
 * here, before any I/O. @internal
 *
 * @throws {InvalidArgumentError} for a malformed argument
 * @throws {ArgumentRangeError} for a number out of its range
 */
export function prepareConnect(
  fn: string,
  url: string | URL,
  options: ConnectOptions = {},
): PreparedConnection {
  const check = new ArgumentCheck(fn);
  checkConnectOptions(check, options);
  const factories: ExtensionFactory[] = [];
  const compression = options.compression ?? true;
  if (compression) {
    const tuned = compression === true ? {} : compression;
    factories.push(
      options.compressionFallback && hasOfferParameters(tuned)
        ? permessageDeflateWithFallback(tuned)
        : permessageDeflate(tuned),
    );
  }
  if (options.extensions) factories.push(...options.extensions);
  let request: ClientRequest;
  try {
    request = createClientRequest({
      url,
      protocols: options.protocols,
      extensions: factories,
      headers: options.headers,
      origin: options.origin,
    });
  } catch (error) {
    throw renamed(error, fn);
  }
  return { fn, url, options, request, compressed: compression !== false };
}

/**
 * Opens a prepared connection: transport, handshake, session; with
 * `compressionFallback`, once more without compression when the server
 * refused the offer. @internal
 */
export async function openConnection(prepared: PreparedConnection): Promise<Session> {
  try {
    return await openOnce(prepared);
  } catch (error) {
    const { options } = prepared;
    if (!prepared.compressed || !refusedTheOffer(error)) throw error;
    if (!options.compressionFallback) throw withOfferHint(error as HandshakeError, prepared);
    if (options.signal?.aborted) throw abortReason(options.signal);
    return await openOnce(
      prepareConnect(prepared.fn, prepared.url, {
        ...options,
        compression: false,
        compressionFallback: false,
      }),
    );
  }
}

/**
 * A refusal with a status that a server that cannot parse or meet an
 * extension offer gives, reworded to say what was offered and how to do
 * without it. (A refused response already names its parameter.)
 */
function withOfferHint(error: HandshakeError, prepared: PreparedConnection): HandshakeError {
  if (error.code !== HandshakeCode.Refused) return error;
  const offer = new TextDecoder().decode(prepared.request.head)
    .match(/\r\nSec-WebSocket-Extensions: ([^\r]*)/)?.[1];
  return new HandshakeError(
    error.code,
    `${error.message} (the request offered Sec-WebSocket-Extensions: ${offer}; if the server ` +
      "refused that offer (some cannot parse or meet one and answer so), compression: false, or " +
      "compressionFallback: true, does without it; else the status is the server's reason)",
    { status: error.status, headers: error.headers, body: error.body },
    error.cause === undefined ? undefined : { cause: error.cause },
  );
}

/** Whether a failed handshake looks like a refusal of the compression offer. */
function refusedTheOffer(error: unknown): boolean {
  if (!(error instanceof HandshakeError)) return false;
  if (error.code === HandshakeCode.Refused) return [400, 500, 501].includes(error.status);
  return error.code === "EXTENSION_REJECTED" || error.code === "EXTENSIONS_HEADER_MALFORMED";
}

/** True when permessage-deflate options put parameters in the offer (beyond the browsers' one). */
function hasOfferParameters(o: PerMessageDeflateOptions): boolean {
  return o.serverNoContextTakeover === true || o.clientNoContextTakeover === true ||
    o.serverMaxWindowBits !== undefined || typeof o.clientMaxWindowBits === "number" ||
    o.clientMaxWindowBits === false;
}

/** An error of createClientRequest(), reworded with `fn`'s argument names (`options.protocols`). */
function renamed(error: unknown, fn: string): unknown {
  if (!(error instanceof InvalidArgumentError) && !(error instanceof ArgumentRangeError)) {
    return error;
  }
  const from = error.argument;
  const to = from === "url" || from.startsWith("url.") ? from : `options.${from}`;
  const message = error.message.replace(/^createClientRequest\(\): \S+/, `${fn}: ${to}`);
  const options = error.cause === undefined ? undefined : { cause: error.cause };
  return error instanceof InvalidArgumentError
    ? new InvalidArgumentError(to, message, options)
    : new ArgumentRangeError(to, message, options);
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

/** Checks every option of {@link ConnectOptions} that createClientRequest() does not. */
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

function checkConnectOptions(check: ArgumentCheck, options: unknown): void {
  const o = check.options("options", options);
  check.known("options", o, CONNECT_OPTION_NAMES, FOREIGN_CONNECT_OPTIONS);
  // createClientRequest() checks protocols, headers and origin.
  checkCompressionOption(check, "options.compression", o.compression);
  check.boolean("options.compressionFallback", o.compressionFallback);
  checkExtensionFactories(check, "options.extensions", o.extensions);
  check.milliseconds("options.connectTimeoutMs", o.connectTimeoutMs);
  check.milliseconds("options.handshakeTimeoutMs", o.handshakeTimeoutMs);
  check.signal("options.signal", o.signal);
  const tls = check.options("options.tls", o.tls);
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
  check.string("options.unixPath", o.unixPath);
  const transport = o.transport as Partial<Transport> | undefined;
  if (
    transport !== undefined && typeof transport !== "function" &&
    (typeof transport !== "object" || transport === null ||
      typeof transport.read !== "function" || typeof transport.write !== "function" ||
      typeof transport.close !== "function")
  ) {
    throw check.type("options.transport", "a Transport or a function that opens one", transport);
  }
  check.integer("options.maxHeadBytes", o.maxHeadBytes, 16, 0x7fff_ffff);
  if (o.proxy !== undefined) {
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
  check.string("options.id", o.id);
  checkTelemetry(check, "options.telemetry", o.telemetry);
  checkHttp2Options(check, o);
  if (
    o.proxy !== undefined &&
    (o.http2 !== undefined && o.http2 !== false || o.http2Session !== undefined)
  ) {
    // The HTTP/2 path dials with node:net/node:tls itself; tunnelling it is not built.
    throw check.problem(
      "options.proxy",
      "cannot be combined with options.http2 or options.http2Session",
    );
  }
  // SessionOptions.
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

/** One attempt: transport, handshake, session. */
async function openOnce(prepared: PreparedConnection): Promise<Session> {
  const { options, request } = prepared;
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  if (usesHttp2(options, request.secure)) {
    // Loaded on demand: node:http2 is not on every runtime (edge runtimes lack it).
    const { openHttp2 } = await import("../http2/client.ts");
    return await openHttp2(prepared, {
      start: startSession,
      http1: (transport) =>
        openOnce({ ...prepared, options: { ...options, http2: false, transport } }),
    });
  }

  // 1. The transport.
  const transport = await openTransport(options, {
    hostname: request.hostname,
    port: request.port,
    tls: request.secure,
    unixPath: options.unixPath,
    caCerts: options.tls?.caCerts,
    serverName: options.tls?.serverName,
    insecure: options.tls?.insecure,
    cert: options.tls?.cert,
    key: options.tls?.key,
    passphrase: options.tls?.passphrase,
  });

  // 2. The opening handshake, bounded by its timeout and the signal.
  const handshakeTimeout = options.handshakeTimeoutMs ?? CLIENT_DEFAULTS.handshakeTimeoutMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const interrupted = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new TimeoutError(
            "HANDSHAKE_TIMEOUT",
            `no handshake response within ${handshakeTimeout} ms`,
            handshakeTimeout,
          ),
        ),
      handshakeTimeout,
    );
    if (signal) {
      onAbort = () => reject(abortReason(signal));
      signal.addEventListener("abort", onAbort, { once: true });
    }
  });
  let rest: Uint8Array;
  let result: HandshakeResult;
  try {
    await Promise.race([transport.write([request.head]), interrupted]);
    let head: ResponseHead;
    ({ head, rest } = await Promise.race([
      readFinalHead(transport, options.maxHeadBytes),
      interrupted,
    ]));
    if (head.status !== 101) {
      const { body, problem } = await readRefusalBody(transport, head, rest, interrupted, signal);
      refuse(request, head, body, problem);
    }
    result = checkServerResponse(request, head);
  } catch (error) {
    transport.close();
    if (error instanceof SprigError) throw error;
    throw new ConnectionError(
      "CONNECTION_LOST",
      `the connection failed during the handshake: ${(error as Error)?.message}`,
      { cause: error },
    );
  } finally {
    clearTimeout(timer);
    if (onAbort) signal!.removeEventListener("abort", onAbort);
    interrupted.catch(() => {});
  }

  return startSession(prepared, transport, result, rest);
}

/**
 * The session over a transport whose handshake succeeded (HTTP/1.1, or a
 * stream of HTTP/2). @internal
 */
export function startSession(
  prepared: PreparedConnection,
  transport: Transport,
  result: HandshakeResult,
  rest: Uint8Array,
): Session {
  const { options, request } = prepared;
  const { signal } = options;
  const keepalive = options.keepalive ?? {
    intervalMs: SESSION_DEFAULTS.keepaliveIntervalMs,
    timeoutMs: SESSION_DEFAULTS.keepaliveTimeoutMs,
  };
  const session = new Session(
    transport,
    {
      role: "client",
      extensions: result.extensions,
      maxMessageBytes: options.maxMessageBytes,
      // A frame limit below 125 bytes would refuse the pings RFC 6455 §5.5 allows.
      maxFrameBytes: options.maxFrameBytes ??
        (options.maxMessageBytes === undefined
          ? undefined
          : Math.max(MAX_CONTROL_PAYLOAD, options.maxMessageBytes)),
      maxFragments: options.maxFragments,
      autoPong: options.autoPong,
    },
    {
      protocol: result.protocol,
      extensions: formatExtensionsHeader(
        result.extensions.map((e) => ({ name: e.name, params: e.params })),
      ),
      headers: result.headers,
      url: request.url.href,
      remoteAddress: transport.remoteAddress,
    },
    { ...options, keepalive },
    rest,
  );
  if (signal) {
    const onLateAbort = () => void session.close(1001).catch(() => session.terminate());
    signal.addEventListener("abort", onLateAbort, { once: true });
    session.closed.then(() => signal.removeEventListener("abort", onLateAbort));
  }
  return session;
}

/** Opens (or takes) the transport, within the connect timeout. */
async function openTransport(options: ConnectOptions, target: ConnectTarget): Promise<Transport> {
  const given = options.transport;
  if (given !== undefined && typeof given !== "function") return given;
  let connector = given ?? connectTransport;
  if (options.proxy !== undefined) {
    const proxy = options.proxy === "env"
      ? proxyFromEnvironment(target)
      : parseProxyUrl("options.proxy", "connect()", options.proxy);
    if (proxy) connector = (t, s) => connectThroughProxy(proxy, t, s);
  }
  const timeout = options.connectTimeoutMs ?? CLIENT_DEFAULTS.connectTimeoutMs;
  const timeoutSignal = AbortSignal.timeout(timeout);
  const signal = options.signal ? AbortSignal.any([options.signal, timeoutSignal]) : timeoutSignal;
  try {
    return await connector(target, signal);
  } catch (error) {
    if (options.signal?.aborted) throw abortReason(options.signal);
    if (timeoutSignal.aborted) {
      throw new TimeoutError("CONNECT_TIMEOUT", `could not connect within ${timeout} ms`, timeout, {
        cause: error,
      });
    }
    // An AbortError, or a proxy's refusal (ProxyError) or failure, already worded.
    if (error instanceof SprigError) throw error;
    const where = target.unixPath ?? `${target.hostname}:${target.port}`;
    const code = connectFailure(error, target.tls === true);
    const what = code === "TLS_FAILED" ? "TLS failed with" : "could not connect to";
    throw new ConnectionError(code, `${what} ${where}: ${(error as Error)?.message}`, {
      cause: error,
    });
  }
}

/**
 * Reads the final response head (RFC 9112 §4): interim 1xx responses other
 * than 101 are skipped (RFC 9110 §15.2: a client MUST be able to parse one
 * or more 1xx responses before the final one, even if it expects none);
 * they have no body (RFC 9112 §6.3), so the next head follows at once.
 */
async function readFinalHead(
  transport: Transport,
  maxHeadBytes?: number,
): Promise<{ head: ResponseHead; rest: Uint8Array }> {
  let pending: Uint8Array = new Uint8Array(0);
  for (let interim = 0;; interim++) {
    if (interim > CLIENT_DEFAULTS.maxInterimResponses) {
      throw new HttpParseError(
        "TOO_MANY_INTERIM_RESPONSES",
        `more than ${CLIENT_DEFAULTS.maxInterimResponses} interim (1xx) responses`,
        400,
      );
    }
    const parser = new HeadParser({ kind: "response", maxHeadBytes });
    let head = pending.length > 0 ? parser.push(pending) : undefined;
    while (!head) {
      const chunk = await transport.read();
      if (chunk === null) {
        throw new ConnectionError(
          "HANDSHAKE_EOF",
          "the server closed the connection during the handshake",
        );
      }
      head = parser.push(chunk);
    }
    if (head.status >= 200 || head.status === 101) return { head, rest: parser.rest };
    pending = parser.rest;
  }
}

/**
 * Reads a refusal's body as RFC 9112 §6.3 frames it: up to its
 * `Content-Length`, through the chunked coding (decoded), or to the end
 * of the connection, however many packets it takes. Keeps at most
 * {@link CLIENT_DEFAULTS.maxRefusalBodyBytes} (and stops reading there);
 * the handshake timeout bounds the time. What could not be read (a
 * malformed framing, the timeout, a lost connection) is returned as
 * `problem` beside the part that was; only an abort is thrown.
 */
async function readRefusalBody(
  transport: Transport,
  head: ResponseHead,
  first: Uint8Array,
  interrupted: Promise<never>,
  signal: AbortSignal | undefined,
): Promise<{ body: Uint8Array; problem?: Error }> {
  let decoder: BodyDecoder;
  try {
    decoder = new BodyDecoder(responseBodyFraming(head), {
      maxBodyBytes: CLIENT_DEFAULTS.maxRefusalBodyBytes,
    });
  } catch (problem) {
    return { body: new Uint8Array(0), problem: problem as Error };
  }
  try {
    if (first.length > 0) decoder.push(first);
    while (!decoder.dataComplete) {
      const chunk = await Promise.race([transport.read(), interrupted]);
      if (chunk === null) decoder.end();
      else decoder.push(chunk);
    }
  } catch (problem) {
    if (signal?.aborted || !(problem instanceof Error)) throw problem;
    // Past the cap the body is kept cut, as documented: not a problem.
    if (!(problem instanceof HttpParseError && problem.code === "BODY_TOO_LARGE")) {
      return { body: decoder.body.slice(), problem };
    }
  }
  return { body: decoder.body.slice() };
}

/** Throws the refusal (or the response's other fault) with its body. */
function refuse(
  request: Parameters<typeof checkServerResponse>[0],
  head: ResponseHead,
  body: Uint8Array,
  problem: Error | undefined,
): never {
  try {
    checkServerResponse(request, head, body);
  } catch (error) {
    if (problem === undefined || !(error instanceof HandshakeError)) throw error;
    throw new HandshakeError(
      error.code,
      `${error.message} (its body could not be read whole: ${problem.message})`,
      { status: error.status, headers: error.headers, body: error.body },
      { cause: problem },
    );
  }
  throw new TypeError("unreachable: a status other than 101 is a refusal");
}
