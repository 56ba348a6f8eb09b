/**
 * One rooted error hierarchy for all of sprig.
 *
 * Every error has a stable `code` string (safe to match on, never reworded)
 * and, where the error ends a WebSocket connection, the close code that goes
 * to the peer. The `message` is for humans and may change; the close reason
 * sent to the peer is {@link SprigError.closeReason}, which never carries
 * internals.
 *
 * A malformed argument to a public function is a programmer's error, not
 * an event of the connection: it is thrown as JavaScript APIs throw it, an
 * {@link InvalidArgumentError} (a `TypeError`) or an
 * {@link ArgumentRangeError} (a `RangeError`), each with a stable `code`
 * and the `argument` it concerns.
 *
 * Every code is listed in {@link ERROR_CODES} with the class that carries it
 * and its close code; {@link ErrorCode} is their union.
 *
 * @module
 */

import { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from "./error_codes.ts";

export { ERROR_CODES, type ErrorCode, type ErrorCodeInfo };

/** A code an extension or application defines for its own errors: `X_` then its name. */
export type CustomErrorCode = `X_${string}`;

/** Close codes of RFC 6455 §7.4.1 that sprig sends on its own. */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  UnsupportedData: 1003,
  NoStatus: 1005,
  Abnormal: 1006,
  InvalidData: 1007,
  PolicyViolation: 1008,
  TooBig: 1009,
  MandatoryExtension: 1010,
  InternalError: 1011,
  ServiceRestart: 1012,
  TryAgainLater: 1013,
  BadGateway: 1014,
  TlsHandshake: 1015,
} as const;

/** Options shared by every sprig error. */
export interface SprigErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
}

/**
 * The root of every error sprig throws or reports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError, SprigError } from "./errors.ts";
 * const e = new ProtocolError("RSV2_SET", "reserved bit RSV2 set without an extension");
 * assert.ok(e instanceof SprigError);
 * assert.equal(e.closeCode, 1002);
 * ```
 */
export class SprigError extends Error {
  /**
   * A stable identifier such as `"MASK_MISSING"`: one of {@link ERROR_CODES}
   * (the catalogue gives its class and close code), or `X_…` for an error an
   * extension or application defines itself.
   */
  readonly code: ErrorCode | CustomErrorCode;
  /** The close code this error maps to, when it ends a connection. */
  readonly closeCode: number | undefined;

  /**
   * For subclasses, and for errors an extension or host raises itself.
   *
   * @param code a stable identifier, never reworded once published: one of
   *   {@link ERROR_CODES}, or `X_…` for your own
   * @param closeCode the close code to send when this error ends a connection
   */
  constructor(
    code: ErrorCode | CustomErrorCode,
    message: string,
    closeCode?: number,
    options?: SprigErrorOptions,
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.closeCode = closeCode;
  }

  /** The close reason sent to the peer: short, and free of internals. */
  get closeReason(): string {
    switch (this.closeCode) {
      case CloseCode.ProtocolError:
        return "protocol error";
      case CloseCode.InvalidData:
        return "invalid data";
      case CloseCode.TooBig:
        return "message too big";
      case CloseCode.PolicyViolation:
        return "policy violation";
      case CloseCode.MandatoryExtension:
        return "extension required";
      case CloseCode.InternalError:
        return "internal error";
      default:
        return "";
    }
  }
}

/**
 * The peer broke RFC 6455 framing or sequencing rules (close code 1002).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProtocolError } from "./errors.ts";
 * import { FrameParser } from "./protocol/frame_parser.ts";
 * // A server must refuse an unmasked frame (RFC 6455 §5.1).
 * const { error } = new FrameParser({ mask: "required" }).parse(new Uint8Array([0x81, 0x00]));
 * assert.ok(error instanceof ProtocolError);
 * assert.equal(error.code, "MASK_MISSING");
 * ```
 */
export class ProtocolError extends SprigError {
  /** `code` names the rule broken, such as `"MASK_MISSING"`; the close code is 1002. */
  constructor(code: ErrorCode | CustomErrorCode, message: string, options?: SprigErrorOptions) {
    super(code, message, CloseCode.ProtocolError, options);
  }
}

/**
 * A text message or close reason was not valid UTF-8, or data was inconsistent (1007).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InvalidDataError } from "./errors.ts";
 * import { decodeUtf8 } from "./protocol/utf8.ts";
 * assert.throws(
 *   () => decodeUtf8(new Uint8Array([0xc3, 0x28])), // a lead byte without its continuation
 *   (error) => error instanceof InvalidDataError && error.code === "INVALID_UTF8",
 * );
 * ```
 */
export class InvalidDataError extends SprigError {
  /** `code` names the problem, such as `"INVALID_UTF8"`; the close code is 1007. */
  constructor(code: ErrorCode | CustomErrorCode, message: string, options?: SprigErrorOptions) {
    super(code, message, CloseCode.InvalidData, options);
  }
}

/**
 * A frame, message or inflated payload exceeded a configured limit (1009).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageTooBigError } from "./errors.ts";
 * import { MessageAssembler } from "./protocol/assembler.ts";
 * const assembler = new MessageAssembler({ maxMessageBytes: 4 });
 * const hello = { fin: true, rsv: 0, opcode: 1, payload: new TextEncoder().encode("Hello") };
 * assert.throws(
 *   () => assembler.push(hello),
 *   (error) => error instanceof MessageTooBigError && error.limit === 4 && error.closeCode === 1009,
 * );
 * ```
 */
export class MessageTooBigError extends SprigError {
  /** The limit that was exceeded, in bytes or parts as the message says. */
  readonly limit: number;
  /** `limit` is the configured limit that was passed; the close code is 1009. */
  constructor(
    code: ErrorCode | CustomErrorCode,
    message: string,
    limit: number,
    options?: SprigErrorOptions,
  ) {
    super(code, message, CloseCode.TooBig, options);
    this.limit = limit;
  }
}

/**
 * An operation needs an open connection, and this one is closing or closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, NotOpenError, serve } from "../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const ws = await connect(server.url);
 * await ws.close();
 * await assert.rejects(ws.send("too late"), NotOpenError);
 * ```
 */
export class NotOpenError extends SprigError {
  /** The code is always `"NOT_OPEN"`; `message` may say which operation came too late. */
  constructor(message = "the WebSocket connection is not open") {
    super("NOT_OPEN", message);
  }
}

/**
 * An HTTP/1.1 head could not be parsed, or broke a limit. `status` is the
 * response a server should give (400, 431, …).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpParseError } from "./errors.ts";
 * import { HeadParser } from "./protocol/http1.ts";
 * const parser = new HeadParser({ kind: "request" });
 * assert.throws(
 *   () => parser.push(new TextEncoder().encode("GET / HTTP/2.0\r\n\r\n")),
 *   (error) => error instanceof HttpParseError && error.status === 505,
 * );
 * ```
 */
export class HttpParseError extends SprigError {
  /**
   * The status to answer with: 400 for a malformed head, 431 when too large,
   * 505 for another HTTP version.
   */
  readonly status: number;
  /** No close code: the head comes before any WebSocket connection exists. */
  constructor(
    code: ErrorCode | CustomErrorCode,
    message: string,
    status: number,
    options?: SprigErrorOptions,
  ) {
    super(code, message, undefined, options);
    this.status = status;
  }
}

/**
 * The opening handshake failed.
 *
 * On the client, `status`, `headers` and `body` are the server's response
 * (for instance a 401 with its body). On the server, `status` and `headers`
 * are the response to send back (for instance 426 with
 * `Sec-WebSocket-Version: 13`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, HandshakeError, serve } from "../mod.ts";
 * // A server that refuses /private without credentials.
 * await using server = await serve({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   upgrade: (request) =>
 *     new URL(request.url).pathname === "/private"
 *       ? new Response("log in first", { status: 401, headers: { "www-authenticate": "Bearer" } })
 *       : undefined,
 * }, { in: () => {} });
 * try {
 *   await connect(new URL("/private", server.url));
 *   assert.fail("the handshake should have been refused");
 * } catch (error) {
 *   if (!(error instanceof HandshakeError) || error.status !== 401) throw error;
 *   assert.equal(error.headers.get("www-authenticate"), "Bearer");
 *   assert.equal(error.bodyText, "log in first");
 * }
 * ```
 */
export class HandshakeError extends SprigError {
  /**
   * Client: the server's status (for instance 401). Server: the status to
   * answer with (400, 426, …).
   */
  readonly status: number;
  /** Client: the server's response headers. Server: headers to send with the refusal. */
  readonly headers: Headers;
  /**
   * Client: the response body, decoded from its framing (Content-Length,
   * chunked, or up to the end of the connection; RFC 9112 §6.3), at most
   * its first 64 KiB. When it could not be read whole (malformed framing,
   * the handshake timeout, a lost connection), the part that came is here
   * and the error's `cause` says why. Server: usually empty.
   */
  readonly body: Uint8Array;
  /**
   * `init.headers` is copied; `init.body` defaults to empty. No close code:
   * no connection exists yet.
   */
  constructor(
    code: ErrorCode | CustomErrorCode,
    message: string,
    init: { status: number; headers?: HeadersInit; body?: Uint8Array },
    options?: SprigErrorOptions,
  ) {
    super(code, message, undefined, options);
    this.status = init.status;
    this.headers = new Headers(init.headers);
    this.body = init.body ?? new Uint8Array(0);
  }

  /** The body decoded as UTF-8 (lossy), for messages and logs. */
  get bodyText(): string {
    return new TextDecoder().decode(this.body);
  }
}

/**
 * An extension refused a negotiation or failed while transforming a message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExtensionError } from "./errors.ts";
 * import { permessageDeflate } from "./extensions/permessage_deflate.ts";
 * // A client refuses a response with a parameter it did not offer.
 * const response = { name: "permessage-deflate", params: [["x-unknown", true]] as [string, true][] };
 * assert.throws(
 *   () => permessageDeflate().accept(response),
 *   (error) => error instanceof ExtensionError && error.code === "DEFLATE_PARAM_UNKNOWN",
 * );
 * ```
 */
export class ExtensionError extends SprigError {
  /**
   * For extensions, sprig's own and custom ones alike.
   *
   * @param closeCode the close code when the error ends a connection:
   *   permessage-deflate uses 1007 for data that does not inflate and 1011 for
   *   its own failure, and none for a refused negotiation
   */
  constructor(
    code: ErrorCode | CustomErrorCode,
    message: string,
    closeCode?: number,
    options?: SprigErrorOptions,
  ) {
    super(code, message, closeCode, options);
  }
}

/**
 * The operation was cancelled through an `AbortSignal`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AbortError, connect, serve } from "../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const controller = new AbortController();
 * const opening = connect(server.url, { signal: controller.signal });
 * controller.abort();
 * await assert.rejects(opening, AbortError);
 * ```
 */
export class AbortError extends SprigError {
  /** The code is always `"ABORTED"`; `options.cause` carries the signal's reason. */
  constructor(message = "the operation was aborted", options?: SprigErrorOptions) {
    super("ABORTED", message, undefined, options);
  }
}

/**
 * An operation did not finish within its time limit (connect, handshake, close, pong).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve, TimeoutError } from "../mod.ts";
 * // A server that never says anything.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * await using ws = await connect(server.url);
 * try {
 *   await ws.receive({ timeoutMs: 100 });
 *   assert.fail("the server said something");
 * } catch (error) {
 *   if (!(error instanceof TimeoutError)) throw error;
 *   assert.equal(error.code, "RECEIVE_TIMEOUT");
 *   assert.equal(error.timeoutMs, 100);
 * }
 * ```
 */
export class TimeoutError extends SprigError {
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;
  /** `code` names what timed out, such as `"CONNECT_TIMEOUT"` or `"KEEPALIVE_TIMEOUT"`. */
  constructor(
    code: ErrorCode | CustomErrorCode,
    message: string,
    timeoutMs: number,
    options?: SprigErrorOptions,
  ) {
    super(code, message, undefined, options);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The transport could not be opened, or failed while in use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { connect, ConnectionError } from "../mod.ts";
 * // A port that nothing listens on: one the system gave us, closed again.
 * const listener = net.createServer().listen(0, "127.0.0.1");
 * await once(listener, "listening");
 * const { port } = listener.address() as net.AddressInfo;
 * await new Promise((closed) => listener.close(closed));
 * try {
 *   await connect(`ws://127.0.0.1:${port}/`);
 *   assert.fail("nothing should have answered");
 * } catch (error) {
 *   if (!(error instanceof ConnectionError)) throw error;
 *   assert.equal(error.code, "CONNECT_REFUSED"); // error.cause: the runtime's own error
 * }
 * ```
 */
export class ConnectionError extends SprigError {
  /**
   * `code` says what failed, the same on every runtime: connecting gives
   * `"CONNECT_REFUSED"`, `"HOST_NOT_FOUND"`, `"HOST_UNREACHABLE"`,
   * `"TLS_FAILED"` or `"CONNECT_FAILED"` (anything else); listening
   * (`serve()`) gives `"ADDRESS_IN_USE"`, `"ADDRESS_NOT_AVAILABLE"` or
   * `"LISTEN_FAILED"`, and `"REUSE_PORT_UNSUPPORTED"` where the runtime
   * cannot share a port. `cause` holds the runtime's own error.
   */
  constructor(code: ErrorCode | CustomErrorCode, message: string, options?: SprigErrorOptions) {
    super(code, message, undefined, options);
  }
}

/**
 * HTTP/2 could not carry the WebSocket (RFC 8441). `code` says why:
 * - `"EXTENDED_CONNECT_DISABLED"`: the server's SETTINGS lack
 *   `SETTINGS_ENABLE_CONNECT_PROTOCOL` (RFC 8441 §3), so it cannot take a
 *   WebSocket over HTTP/2 (`connect()` with `http2: "auto"` falls back to
 *   HTTP/1.1 instead of failing);
 * - `"HTTP2_NOT_NEGOTIATED"`: `http2: true` over TLS, and the server did not
 *   choose `h2` by ALPN;
 * - `"HTTP2_STREAM_FAILED"`: the stream of the extended CONNECT was reset
 *   or the HTTP/2 connection failed before the response.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as http2 from "node:http2";
 * import type { AddressInfo } from "node:net";
 * import { connect, Http2Error } from "../mod.ts";
 * // An HTTP/2 server without SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3).
 * const server = http2.createServer();
 * await once(server.listen(0, "127.0.0.1"), "listening");
 * const { port } = server.address() as AddressInfo;
 * try {
 *   await connect(`ws://127.0.0.1:${port}/chat`, { http2: true });
 *   assert.fail("the server cannot take a WebSocket over HTTP/2");
 * } catch (error) {
 *   if (!(error instanceof Http2Error)) throw error;
 *   assert.equal(error.code, "EXTENDED_CONNECT_DISABLED");
 * } finally {
 *   await new Promise((closed) => server.close(closed));
 * }
 * ```
 */
export class Http2Error extends SprigError {
  /** No close code: no WebSocket exists yet. */
  constructor(code: ErrorCode, message: string, options?: SprigErrorOptions) {
    super(code, message, undefined, options);
  }
}

/**
 * Pub/sub across instances (a `Broker` such as `redisBroker()`) could
 * not carry messages, or found that some were lost. Local subscribers are
 * never affected: what is reported here is remote delivery only. Reported
 * through the server's `onError` (or the broker's own), never thrown at
 * `publish()`.
 *
 * Codes: `"BROKER_UNAVAILABLE"` (the engine is unreachable: messages
 * published here reach this instance's subscribers only, until it is back;
 * reported once per outage), `"BROKER_PUBLISH_FAILED"` (the client rejected
 * a publish; `cause` holds its error), `"BROKER_MESSAGES_LOST"` (a count of
 * messages that did not cross: on the publishing side, those published
 * during an outage, reported when it ends; on the receiving side, gaps in a
 * publisher's sequence of a topic), `"BROKER_SUBSCRIBE_FAILED"` (the
 * engine refused a subscription), `"BROKER_MESSAGE_INVALID"` (a message on
 * the channel was not in sprig's format; it is dropped).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BrokerError } from "./errors.ts";
 * const e = new BrokerError("BROKER_MESSAGES_LOST", "3 messages lost on topic room-1", {
 *   lost: 3,
 *   topics: ["room-1"],
 * });
 * assert.equal(e.lost, 3);
 * assert.deepEqual(e.topics, ["room-1"]);
 * assert.equal(e.closeCode, undefined); // no connection ends
 * ```
 */
export class BrokerError extends SprigError {
  /** How many messages did not cross, where the code counts them (`BROKER_MESSAGES_LOST`); else 0. */
  readonly lost: number;
  /** The topics concerned, where known (at most the first 100). */
  readonly topics: readonly string[];
  /** `code` says what failed (see the class); no close code: no connection ends. */
  constructor(
    code: ErrorCode | CustomErrorCode,
    message: string,
    details: { lost?: number; topics?: readonly string[] } = {},
    options?: SprigErrorOptions,
  ) {
    super(code, message, undefined, options);
    this.lost = details.lost ?? 0;
    this.topics = details.topics ?? [];
  }
}

/**
 * A public function was given an argument of the wrong type or form: a
 * `TypeError`, as JavaScript APIs throw for such calls, with a stable
 * `code` and the name of the argument. Thrown synchronously by the call
 * (or as the rejection of the promise it returns), before any I/O.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, InvalidArgumentError } from "../mod.ts";
 * // Refused at the call, before any I/O: "%ZZ" is not a percent-encoding.
 * await assert.rejects(
 *   connect("ws://a%ZZ:b@127.0.0.1:8080/"),
 *   (error) =>
 *     error instanceof TypeError && error instanceof InvalidArgumentError &&
 *     error.code === "INVALID_ARGUMENT" && error.argument === "url",
 * );
 * ```
 */
export class InvalidArgumentError extends TypeError {
  /** Always `"INVALID_ARGUMENT"`. */
  readonly code = "INVALID_ARGUMENT";
  /** The argument, as the caller wrote it: `"url"`, `"options.protocols"`, `"options.tls.caCerts"`. */
  readonly argument: string;
  /** `message` says what was expected and what was given, and names `argument`. */
  constructor(argument: string, message: string, options?: SprigErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "InvalidArgumentError";
    this.argument = argument;
  }
}

/**
 * A public function was given a number (or other value) outside the range
 * its documentation states: a `RangeError` with a stable `code` and the
 * name of the argument.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ArgumentRangeError, connect } from "../mod.ts";
 * // Refused at the call, before any I/O.
 * await assert.rejects(
 *   connect("ws://127.0.0.1:8080/", { handshakeTimeoutMs: -1 }),
 *   (error) =>
 *     error instanceof RangeError && error instanceof ArgumentRangeError &&
 *     error.argument === "options.handshakeTimeoutMs",
 * );
 * ```
 */
export class ArgumentRangeError extends RangeError {
  /** Always `"ARGUMENT_OUT_OF_RANGE"`. */
  readonly code = "ARGUMENT_OUT_OF_RANGE";
  /** The argument, as the caller wrote it, such as `"options.port"`. */
  readonly argument: string;
  /** `message` states the range and the value given, and names `argument`. */
  constructor(argument: string, message: string, options?: SprigErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ArgumentRangeError";
    this.argument = argument;
  }
}

/**
 * A send on a reconnecting client found no live connection: the client is
 * between connections (it will reconnect) or has stopped, and no send queue
 * was asked for (or the client stopped before it could flush the queue).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NotConnectedError, reconnecting, serve } from "../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const client = reconnecting(server.url); // no send queue
 * await assert.rejects(
 *   client.send("too early"), // before the first connection is open
 *   (error) => error instanceof NotConnectedError && error.code === "NOT_CONNECTED",
 * );
 * await client.close();
 * ```
 */
export class NotConnectedError extends SprigError {
  /** The code is always `"NOT_CONNECTED"`; `message` says whether the client will reconnect. */
  constructor(message = "the client is not connected", options?: SprigErrorOptions) {
    super("NOT_CONNECTED", message, undefined, options);
  }
}

/**
 * A reconnecting client's send queue was full: the send was refused
 * (`whenFull: "reject"`) or the oldest queued send was dropped to make room
 * (`whenFull: "drop-oldest"`; the dropped send's promise rejects with it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reconnecting, SendQueueFullError, serve } from "../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const client = reconnecting(server.url, { sendQueue: { maxMessages: 1 } });
 * const queued = client.send("queued"); // waits for the connection
 * await assert.rejects(
 *   client.send("one too many"),
 *   (error) => error instanceof SendQueueFullError && error.limit === 1,
 * );
 * await queued; // sent once connected
 * await client.close();
 * ```
 */
export class SendQueueFullError extends SprigError {
  /** The limit that was reached: `maxMessages`, or `maxBytes` (the message says which). */
  readonly limit: number;
  /** The code is always `"SEND_QUEUE_FULL"`. */
  constructor(message: string, limit: number, options?: SprigErrorOptions) {
    super("SEND_QUEUE_FULL", message, undefined, options);
    this.limit = limit;
  }
}

/**
 * A proxy (HTTP CONNECT or SOCKS5) refused to open the tunnel, or answered
 * in a way that is not its protocol. Failing to reach the proxy at all is a
 * {@link ConnectionError}, as for any host.
 *
 * Codes: `"PROXY_AUTH_REQUIRED"` (HTTP 407, or a SOCKS5 proxy that accepts
 * none of the offered authentication methods), `"PROXY_AUTH_FAILED"` (a
 * SOCKS5 proxy refused the username and password, RFC 1929 §2),
 * `"PROXY_REFUSED"` (any other refusal: an HTTP status other than 2xx, a
 * SOCKS5 reply other than "succeeded", RFC 1928 §6) and
 * `"PROXY_PROTOCOL_ERROR"` (an answer that could not be parsed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as http from "node:http";
 * import type { AddressInfo } from "node:net";
 * import { connect, ProxyError } from "../mod.ts";
 * // An HTTP proxy on 127.0.0.1 that wants credentials for every tunnel.
 * const proxy = http.createServer().on("connect", (_request, socket) => {
 *   socket.end("HTTP/1.1 407 Proxy Authentication Required\r\n" +
 *     "Proxy-Authenticate: Basic\r\nContent-Length: 0\r\n\r\n");
 * });
 * await once(proxy.listen(0, "127.0.0.1"), "listening");
 * const { port } = proxy.address() as AddressInfo;
 * try {
 *   // The proxy would resolve and reach the target; it refuses first.
 *   await connect("wss://example.test/", { proxy: `http://127.0.0.1:${port}` });
 *   assert.fail("the proxy should have refused");
 * } catch (error) {
 *   if (!(error instanceof ProxyError)) throw error;
 *   assert.equal(error.code, "PROXY_AUTH_REQUIRED");
 *   assert.equal(error.status, 407);
 * } finally {
 *   await new Promise((closed) => proxy.close(closed));
 * }
 * ```
 */
export class ProxyError extends SprigError {
  /** Which kind of proxy answered: `"http"` (CONNECT) or `"socks5"`. */
  readonly protocol: "http" | "socks5";
  /**
   * The proxy's answer: the HTTP status for an HTTP proxy (407, 403, 502…),
   * the SOCKS5 reply code for a SOCKS5 proxy (RFC 1928 §6: 1 general
   * failure, 2 not allowed by ruleset, 3 network unreachable, 4 host
   * unreachable, 5 connection refused, …; 255 when no authentication method
   * was acceptable; the RFC 1929 status for a refused login); 0 when it
   * answered nothing usable.
   */
  readonly status: number;
  /** An HTTP proxy's response headers (empty for SOCKS5). */
  readonly headers: Headers;
  /** `code` is one of the codes listed on the class. */
  constructor(
    code: "PROXY_AUTH_REQUIRED" | "PROXY_AUTH_FAILED" | "PROXY_REFUSED" | "PROXY_PROTOCOL_ERROR",
    message: string,
    init: { protocol: "http" | "socks5"; status: number; headers?: HeadersInit },
    options?: SprigErrorOptions,
  ) {
    super(code, message, undefined, options);
    this.protocol = init.protocol;
    this.status = init.status;
    this.headers = new Headers(init.headers);
  }
}

/** How a session ended. */
export interface CloseInfo {
  /** The close code: the peer's, the one sent on failure, or 1006 when the transport just ended. */
  code: number;
  /** The close reason. */
  reason: string;
  /** True when both close frames were exchanged. */
  wasClean: boolean;
  /** What went wrong, for a close that was not clean. */
  error?: SprigError | Error;
}

/**
 * The session ended abnormally: thrown (as a rejection) by iteration,
 * `receive()` and `readable` once the messages that arrived are taken, when
 * the close was not the application's own and was not a clean close with
 * 1000 (normal), 1001 (going away) or no code (1005). That is: the peer
 * closed with any other code (1008 policy, 1009 too big, 1011 internal
 * error, 1012 restart, 3000–4999 application codes, …), sprig failed the
 * connection (a protocol error, a message over `maxMessageBytes`, a
 * keepalive or write timeout), or the connection dropped without a closing
 * handshake (1006). The model is Python websockets' `ConnectionClosedError`;
 * see {@link ConnectionClosedOK} for the normal end of `receive()`.
 *
 * `closeCode` and `reason` are the close code and reason (as `info.code`
 * and `info.reason`); `code` is the catalogue's `"CONNECTION_CLOSED"`, as
 * on every {@link SprigError}. The WHATWG `WebSocket` class and
 * `WebSocketStream` keep their standards' behaviour and never throw it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, ConnectionClosedError, serve } from "../mod.ts";
 * // A server that ends every connection with an application close code.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ push: "bye", stop: { code: 4001, reason: "session expired" } }),
 *   in: () => {},
 * });
 * const ws = await connect(server.url);
 * const received: unknown[] = [];
 * await assert.rejects(
 *   async () => {
 *     for await (const message of ws) received.push(message);
 *   },
 *   (error) => {
 *     assert.ok(error instanceof ConnectionClosedError);
 *     assert.equal(error.closeCode, 4001);
 *     assert.equal(error.reason, "session expired");
 *     assert.equal(error.info.wasClean, true);
 *     return true;
 *   },
 * );
 * assert.deepEqual(received, ["bye"]); // what came before the close, first
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, ConnectionClosedError, MessageTooBigError, serve } from "../mod.ts";
 * // A server whose first message is larger than this client accepts.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ push: "far too long" }),
 *   in: () => {},
 * });
 * const ws = await connect(server.url, { maxMessageBytes: 4 });
 * try {
 *   for await (const message of ws) assert.fail(`unexpected ${message}`);
 *   assert.fail("iteration should not end normally");
 * } catch (error) {
 *   if (!(error instanceof ConnectionClosedError)) throw error;
 *   assert.equal(error.closeCode, 1009);
 *   assert.ok(error.info.error instanceof MessageTooBigError);
 * }
 * ```
 */
export class ConnectionClosedError extends SprigError {
  /** How it ended. */
  readonly info: CloseInfo;
  /** The close reason (`info.reason`); `closeCode` is `info.code`. */
  readonly reason: string;
  /** The message names the close code, the reason and the underlying error, if any. */
  constructor(info: CloseInfo) {
    super(
      "CONNECTION_CLOSED",
      `the WebSocket connection closed (${info.code}${info.reason ? ` ${info.reason}` : ""})` +
        (info.error ? `: ${info.error.message}` : ""),
      info.code,
      { cause: info.error },
    );
    this.info = info;
    this.reason = info.reason;
  }
}

/**
 * The session ended normally, thrown (as a rejection) by `receive()` only:
 * after the application's own close, or a clean close with 1000, 1001 or no
 * code (1005), once every message that arrived was taken. Iteration and
 * `readable` just end there. The model is Python websockets'
 * `ConnectionClosedOK`; it is not a {@link ConnectionClosedError}, so a
 * `catch` for that one sees only abnormal ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, ConnectionClosedOK, serve } from "../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ push: "one", stop: { code: 1000, reason: "done" } }),
 *   in: () => {},
 * });
 * const ws = await connect(server.url);
 * const received: unknown[] = [];
 * while (true) {
 *   try {
 *     received.push(await ws.receive());
 *   } catch (error) {
 *     if (error instanceof ConnectionClosedOK) break; // anything else is thrown on
 *     throw error;
 *   }
 * }
 * assert.deepEqual(received, ["one"]);
 * ```
 */
export class ConnectionClosedOK extends SprigError {
  /** How it ended. */
  readonly info: CloseInfo;
  /** The close reason (`info.reason`); `closeCode` is `info.code`. */
  readonly reason: string;
  /** The message names the close code and the reason. */
  constructor(info: CloseInfo) {
    super(
      "CONNECTION_CLOSED_OK",
      `the WebSocket connection closed normally (${info.code}${
        info.reason ? ` ${info.reason}` : ""
      })`,
      info.code,
    );
    this.info = info;
    this.reason = info.reason;
  }
}
