/**
 * `connect()`: open a WebSocket client connection over the runtime's sockets.
 *
 * @module
 */

import { ArgumentCheck } from "../arguments.ts";
import {
  ArgumentRangeError,
  ConnectionError,
  HandshakeError,
  HttpParseError,
  InvalidArgumentError,
  SprigError,
  TimeoutError,
} from "../errors.ts";
import type { ExtensionFactory } from "../protocol/extension.ts";
import { formatExtensionsHeader } from "../protocol/extension_header.ts";
import {
  permessageDeflate,
  type PerMessageDeflateOptions,
  permessageDeflateWithFallback,
} from "../extensions/permessage_deflate.ts";
import {
  checkServerResponse,
  type ClientRequest,
  createClientRequest,
  HandshakeCode,
  type HandshakeResult,
} from "../protocol/handshake.ts";
import { MAX_CONTROL_PAYLOAD } from "../protocol/frame.ts";
import { HeadParser, type ResponseHead } from "../protocol/http1.ts";
import { BodyDecoder, responseBodyFraming } from "../protocol/http1_body.ts";
import { Session, SESSION_DEFAULTS } from "../session/session.ts";
import { abortReason } from "../transport/abort.ts";
import { connectFailure } from "../transport/failure.ts";
import { connectTransport } from "../transport/connect.ts";
import { connectThroughProxy, parseProxyUrl, proxyFromEnvironment } from "../transport/proxy.ts";
import type { ConnectTarget, Transport } from "../transport/transport.ts";
import { HandshakeBound } from "./handshake_bound.ts";
import {
  checkConnectOptions,
  CLIENT_DEFAULTS,
  type ConnectOptions,
  type PreparedConnection,
  usesHttp2,
} from "./options.ts";

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

/** One attempt: transport, handshake, session. */
async function openOnce(prepared: PreparedConnection): Promise<Session> {
  const { options, request } = prepared;
  const { signal } = options;
  if (signal?.aborted) throw abortReason(signal);
  if (usesHttp2(options, request.secure)) return await openOverHttp2(prepared);
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
  const { result, rest } = await handshake(prepared, transport);
  return startSession(prepared, transport, result, rest);
}

/** One attempt over HTTP/2 (RFC 8441), or over HTTP/1.1 where `http2: "auto"` falls back. */
async function openOverHttp2(prepared: PreparedConnection): Promise<Session> {
  // Loaded on demand: node:http2 is not on every runtime (edge runtimes lack it).
  const { openHttp2 } = await import("./http2.ts");
  const { options } = prepared;
  return await openHttp2(prepared, {
    start: startSession,
    http1: (transport) =>
      openOnce({ ...prepared, options: { ...options, http2: false, transport } }),
  });
}

/**
 * The opening handshake over an open transport (RFC 6455 §4.1): the
 * request, the final response head (a refusal's body read, then thrown),
 * its checks. The transport is closed when it fails.
 */
async function handshake(
  prepared: PreparedConnection,
  transport: Transport,
): Promise<{ result: HandshakeResult; rest: Uint8Array }> {
  const { options, request } = prepared;
  const { signal } = options;
  const bound = new HandshakeBound(
    options.handshakeTimeoutMs ?? CLIENT_DEFAULTS.handshakeTimeoutMs,
    signal,
  );
  try {
    await bound.race(transport.write([request.head]));
    const { head, rest } = await bound.race(readFinalHead(transport, options.maxHeadBytes));
    if (head.status !== 101) {
      const { body, problem } = await readRefusalBody(transport, head, rest, bound, signal);
      refuse(request, head, body, problem);
    }
    return { result: checkServerResponse(request, head), rest };
  } catch (error) {
    transport.close();
    if (error instanceof SprigError) throw error;
    throw new ConnectionError(
      "CONNECTION_LOST",
      `the connection failed during the handshake: ${(error as Error)?.message}`,
      { cause: error },
    );
  } finally {
    bound.clear();
  }
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
  bound: HandshakeBound,
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
      const chunk = await bound.race(transport.read());
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
