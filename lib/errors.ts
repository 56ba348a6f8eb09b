/**
 * One rooted error hierarchy for all of sprig.
 *
 * Every error has a stable `code` string (safe to match on, never reworded)
 * and, where the error ends a WebSocket connection, the close code that goes
 * to the peer. The `message` is for humans and may change; the close reason
 * sent to the peer is {@link SprigError.closeReason}, which never carries
 * internals.
 *
 * @module
 */

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
 * import { SprigError, ProtocolError } from "./errors.ts";
 * const e = new ProtocolError("RSV2_SET", "reserved bit RSV2 set without an extension");
 * console.assert(e instanceof SprigError && e.closeCode === 1002);
 * ```
 */
export class SprigError extends Error {
  /** A stable identifier such as `"PROTOCOL_MASK_MISSING"`. */
  readonly code: string;
  /** The close code this error maps to, when it ends a connection. */
  readonly closeCode: number | undefined;

  constructor(code: string, message: string, closeCode?: number, options?: SprigErrorOptions) {
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

/** The peer broke RFC 6455 framing or sequencing rules (close code 1002). */
export class ProtocolError extends SprigError {
  constructor(code: string, message: string, options?: SprigErrorOptions) {
    super(code, message, CloseCode.ProtocolError, options);
  }
}

/** A text message or close reason was not valid UTF-8, or data was inconsistent (1007). */
export class InvalidDataError extends SprigError {
  constructor(code: string, message: string, options?: SprigErrorOptions) {
    super(code, message, CloseCode.InvalidData, options);
  }
}

/** A frame, message or inflated payload exceeded a configured limit (1009). */
export class MessageTooBigError extends SprigError {
  /** The limit that was exceeded, in bytes or parts as the message says. */
  readonly limit: number;
  constructor(code: string, message: string, limit: number, options?: SprigErrorOptions) {
    super(code, message, CloseCode.TooBig, options);
    this.limit = limit;
  }
}

/** An operation needs an open connection, and this one is closing or closed. */
export class NotOpenError extends SprigError {
  constructor(message = "the WebSocket connection is not open") {
    super("NOT_OPEN", message);
  }
}

/**
 * An HTTP/1.1 head could not be parsed, or broke a limit. `status` is the
 * response a server should give (400, 431, …).
 */
export class HttpParseError extends SprigError {
  readonly status: number;
  constructor(code: string, message: string, status: number, options?: SprigErrorOptions) {
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
 */
export class HandshakeError extends SprigError {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
  constructor(
    code: string,
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

/** An extension refused a negotiation or failed while transforming a message. */
export class ExtensionError extends SprigError {
  constructor(code: string, message: string, closeCode?: number, options?: SprigErrorOptions) {
    super(code, message, closeCode, options);
  }
}

/** The operation was cancelled through an `AbortSignal`. */
export class AbortError extends SprigError {
  constructor(message = "the operation was aborted", options?: SprigErrorOptions) {
    super("ABORTED", message, undefined, options);
  }
}

/** An operation did not finish within its time limit (connect, handshake, close, pong). */
export class TimeoutError extends SprigError {
  /** The limit that passed, in milliseconds. */
  readonly timeoutMs: number;
  constructor(code: string, message: string, timeoutMs: number, options?: SprigErrorOptions) {
    super(code, message, undefined, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The transport could not be opened, or failed while in use. */
export class ConnectionError extends SprigError {
  constructor(code: string, message: string, options?: SprigErrorOptions) {
    super(code, message, undefined, options);
  }
}
