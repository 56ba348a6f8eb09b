/**
 * The catalogue of every `code` a sprig error can carry, with the error
 * class that carries it and the close code it maps to, as `ws` lists its
 * `WS_ERR_*` codes. {@link ErrorCode} is the union of these names, and
 * `SprigError.code` has that type, so a `switch` over it is checked.
 *
 * @module
 */

/** One entry of {@link ERROR_CODES}. */
export interface ErrorCodeInfo {
  /** The classes that carry the code (most codes have one). */
  readonly errors: readonly string[];
  /**
   * The close code the error's `closeCode` holds: what sprig sends when the
   * error ends a WebSocket connection (RFC 6455 §7.4.1). `null` when it does
   * not end one with a code of its own (HTTP-phase errors, timeouts: see
   * `description`).
   */
  readonly closeCode: number | null;
  /** What happened, in one sentence. */
  readonly description: string;
}

const P = ["ProtocolError"] as const;
const D = ["InvalidDataError"] as const;
const B = ["MessageTooBigError"] as const;
const X = ["ExtensionError"] as const;
const XH = ["ExtensionError", "HandshakeError"] as const;
const H = ["HandshakeError"] as const;
const HP = ["HttpParseError"] as const;
const T = ["TimeoutError"] as const;
const C = ["ConnectionError"] as const;
const S = ["SprigError"] as const;
const H2 = ["Http2Error"] as const;
const BR = ["BrokerError"] as const;

/**
 * Every error code, by name. Stable: a code is never reworded or reused.
 *
 * @example
 * ```ts
 * import { ERROR_CODES } from "./error_codes.ts";
 * import assert from "node:assert/strict";
 * assert.equal(ERROR_CODES.MASK_MISSING.closeCode, 1002);
 * assert.deepEqual(ERROR_CODES.CONNECT_REFUSED.errors, ["ConnectionError"]);
 * ```
 */
export const ERROR_CODES = {
  // RFC 6455 framing and sequencing (ProtocolError, 1002).
  MASK_MISSING: {
    errors: P,
    closeCode: 1002,
    description: "A client frame was not masked (§5.1).",
  },
  MASK_UNEXPECTED: { errors: P, closeCode: 1002, description: "A server frame was masked (§5.1)." },
  RSV_SET: {
    errors: P,
    closeCode: 1002,
    description: "An RSV bit no extension negotiated (§5.2).",
  },
  RSV2_SET: {
    errors: P,
    closeCode: 1002,
    description: "RSV2 set: no extension defines it (§5.2).",
  },
  RSV_ON_CONTINUATION: {
    errors: P,
    closeCode: 1002,
    description: "RSV1 set on a continuation frame (RFC 7692 §6.1).",
  },
  RSV_ON_CONTROL: { errors: P, closeCode: 1002, description: "RSV1 set on a control frame." },
  OPCODE_RESERVED: { errors: P, closeCode: 1002, description: "A reserved opcode (§5.2)." },
  LENGTH_MSB_SET: {
    errors: P,
    closeCode: 1002,
    description: "A 64-bit payload length with its most significant bit set (§5.2).",
  },
  CONTROL_FRAGMENTED: {
    errors: P,
    closeCode: 1002,
    description: "A control frame without FIN (§5.5).",
  },
  CONTROL_TOO_LONG: {
    errors: P,
    closeCode: 1002,
    description: "A control frame over 125 bytes (§5.5).",
  },
  CONTINUATION_UNEXPECTED: {
    errors: P,
    closeCode: 1002,
    description: "A continuation frame with no message in progress (§5.4).",
  },
  MESSAGE_INTERLEAVED: {
    errors: P,
    closeCode: 1002,
    description: "A new data frame while a fragmented message was in progress (§5.4).",
  },
  CLOSE_PAYLOAD_1_BYTE: {
    errors: P,
    closeCode: 1002,
    description: "A close frame with a 1-byte payload (§5.5.1).",
  },
  CLOSE_CODE_INVALID: {
    errors: P,
    closeCode: 1002,
    description: "A close code that may not be sent (§7.4).",
  },
  STREAM_TRUNCATED: {
    errors: P,
    closeCode: 1002,
    description: "A byte stream ended inside a frame (the stream codecs).",
  },
  // Invalid data (InvalidDataError, 1007).
  INVALID_UTF8: { errors: D, closeCode: 1007, description: "A text message is not UTF-8 (§8.1)." },
  CLOSE_REASON_INVALID_UTF8: {
    errors: D,
    closeCode: 1007,
    description: "A close reason is not UTF-8 (§5.5.1).",
  },
  // Limits (MessageTooBigError, 1009).
  FRAME_TOO_BIG: { errors: B, closeCode: 1009, description: "A frame over `maxFrameBytes`." },
  MESSAGE_TOO_BIG: { errors: B, closeCode: 1009, description: "A message over `maxMessageBytes`." },
  TOO_MANY_FRAGMENTS: {
    errors: B,
    closeCode: 1009,
    description: "A message in more frames than `maxFragments`.",
  },
  INFLATE_TOO_BIG: {
    errors: B,
    closeCode: 1009,
    description: "A message over `maxMessageBytes` once decompressed.",
  },
  // permessage-deflate (RFC 7692).
  INFLATE_FAILED: {
    errors: X,
    closeCode: 1007,
    description: "Compressed data that does not inflate.",
  },
  INFLATE_TRAILING_DATA: {
    errors: X,
    closeCode: 1007,
    description: "Bytes after the final DEFLATE block of a message.",
  },
  INFLATE_TRUNCATED: {
    errors: X,
    closeCode: 1007,
    description: "A compressed message that ends inside a DEFLATE block.",
  },
  DEFLATE_FAILED: {
    errors: X,
    closeCode: 1011,
    description: "Compressing a message failed (zlib).",
  },
  DEFLATE_WRONG_EXTENSION: {
    errors: XH,
    closeCode: null,
    description: "Negotiation: a response for another extension was given to permessage-deflate.",
  },
  DEFLATE_PARAM_UNKNOWN: {
    errors: XH,
    closeCode: null,
    description: "Negotiation: an unknown permessage-deflate parameter (RFC 7692 §7.1).",
  },
  DEFLATE_PARAM_DUPLICATE: {
    errors: XH,
    closeCode: null,
    description: "Negotiation: a permessage-deflate parameter given twice.",
  },
  DEFLATE_PARAM_INVALID: {
    errors: XH,
    closeCode: null,
    description: "Negotiation: a permessage-deflate parameter with an invalid value.",
  },
  DEFLATE_PARAM_MISSING: {
    errors: XH,
    closeCode: null,
    description: "Negotiation: the server left out a parameter the offer required.",
  },
  DEFLATE_PARAM_UNEXPECTED: {
    errors: XH,
    closeCode: null,
    description: "Negotiation: the server sent a parameter the offer did not allow.",
  },
  DEFLATE_PARAM_UNSUPPORTED: {
    errors: XH,
    closeCode: null,
    description: "Negotiation: a window size beyond the one offered.",
  },
  // Extension negotiation (RFC 6455 §9.1).
  EXTENSIONS_HEADER_MALFORMED: {
    errors: XH,
    closeCode: null,
    description: "A Sec-WebSocket-Extensions header that does not parse (server: 400).",
  },
  EXTENSION_NOT_OFFERED: {
    errors: H,
    closeCode: null,
    description: "The server accepted an extension the client did not offer.",
  },
  EXTENSION_DUPLICATE: {
    errors: H,
    closeCode: null,
    description: "The server accepted one extension twice.",
  },
  EXTENSION_RSV_CONFLICT: {
    errors: H,
    closeCode: null,
    description: "Two accepted extensions need the same RSV bit.",
  },
  EXTENSION_REJECTED: {
    errors: H,
    closeCode: null,
    description: "The server's extension response is not one the offer allows.",
  },
  // The opening handshake (RFC 6455 §4).
  HANDSHAKE_REFUSED: {
    errors: H,
    closeCode: null,
    description: "Client: the response was not 101; `status`, `headers` and `body` say why.",
  },
  HANDSHAKE_UPGRADE: {
    errors: H,
    closeCode: null,
    description: "`Upgrade` missing or not `websocket`.",
  },
  HANDSHAKE_CONNECTION: {
    errors: H,
    closeCode: null,
    description: "`Connection` lacks the `upgrade` option.",
  },
  ACCEPT_MISMATCH: {
    errors: H,
    closeCode: null,
    description: "Client: `Sec-WebSocket-Accept` missing or wrong.",
  },
  PROTOCOL_NOT_OFFERED: {
    errors: H,
    closeCode: null,
    description: "Client: the server chose a subprotocol that was not offered.",
  },
  HANDSHAKE_METHOD: { errors: H, closeCode: null, description: "Server: not GET (405)." },
  HANDSHAKE_HTTP_VERSION: {
    errors: H,
    closeCode: null,
    description: "Server: HTTP older than 1.1 (400).",
  },
  HANDSHAKE_TARGET: {
    errors: H,
    closeCode: null,
    description: "Server: a bad request target (400).",
  },
  HANDSHAKE_HOST: {
    errors: H,
    closeCode: null,
    description: "Server: `Host` missing, empty or repeated (400).",
  },
  HANDSHAKE_KEY_INVALID: {
    errors: H,
    closeCode: null,
    description: "Server: `Sec-WebSocket-Key` is not 16 bytes of base64 (400).",
  },
  HANDSHAKE_VERSION: {
    errors: H,
    closeCode: null,
    description: "Server: `Sec-WebSocket-Version` is not 13 (426).",
  },
  HANDSHAKE_PROTOCOL_INVALID: {
    errors: H,
    closeCode: null,
    description: "A `Sec-WebSocket-Protocol` that is not a list of tokens.",
  },
  // HTTP/1.1 parsing (RFC 9112).
  HEAD_TOO_LARGE: { errors: HP, closeCode: null, description: "The head is over its limit (431)." },
  HEAD_TOO_MANY_HEADERS: {
    errors: HP,
    closeCode: null,
    description: "More header fields than the limit (431).",
  },
  HEAD_BAD_START_LINE: {
    errors: HP,
    closeCode: null,
    description: "A malformed request or status line (400).",
  },
  HEAD_BAD_HEADER: { errors: HP, closeCode: null, description: "A malformed header field (400)." },
  HEAD_BARE_LF: {
    errors: HP,
    closeCode: null,
    description: "A line ending in LF without CR (400).",
  },
  HEAD_OBS_FOLD: { errors: HP, closeCode: null, description: "Obsolete line folding (400)." },
  HEAD_VERSION_UNSUPPORTED: {
    errors: HP,
    closeCode: null,
    description: "Not HTTP/1.x (505).",
  },
  BODY_BAD_LENGTH: { errors: HP, closeCode: null, description: "An invalid Content-Length (400)." },
  BODY_BAD_FRAMING: {
    errors: HP,
    closeCode: null,
    description: "Conflicting or invalid body framing (400).",
  },
  BODY_CODING_UNSUPPORTED: {
    errors: HP,
    closeCode: null,
    description: "A transfer coding other than chunked (501).",
  },
  BODY_BAD_CHUNK: { errors: HP, closeCode: null, description: "Malformed chunked data (400)." },
  BODY_INCOMPLETE: {
    errors: HP,
    closeCode: null,
    description: "The connection ended inside a body.",
  },
  BODY_METADATA_TOO_LARGE: {
    errors: HP,
    closeCode: null,
    description: "Chunk extensions or trailers over their limit (431).",
  },
  BODY_TOO_LARGE: { errors: HP, closeCode: null, description: "A body over its limit (413)." },
  TOO_MANY_INTERIM_RESPONSES: {
    errors: HP,
    closeCode: null,
    description: "Client: more 1xx responses than allowed before the final one.",
  },
  // Timeouts (TimeoutError; `timeoutMs` says the bound).
  CONNECT_TIMEOUT: {
    errors: T,
    closeCode: null,
    description: "Client: the TCP/TLS connection took longer than `connectTimeoutMs`.",
  },
  HANDSHAKE_TIMEOUT: {
    errors: T,
    closeCode: null,
    description: "The opening handshake took longer than `handshakeTimeoutMs`.",
  },
  RECEIVE_TIMEOUT: {
    errors: T,
    closeCode: null,
    description: "`receive({ timeoutMs })` got no message in time; the session stays open.",
  },
  KEEPALIVE_TIMEOUT: {
    errors: T,
    closeCode: null,
    description: "No pong to a keepalive ping in time; the connection is dropped (1006).",
  },
  IDLE_TIMEOUT: {
    errors: T,
    closeCode: null,
    description: "Server: nothing received for `idleTimeoutMs`; closed with 1001.",
  },
  CLOSE_TIMEOUT: {
    errors: T,
    closeCode: null,
    description: "No closing handshake within `closeTimeoutMs`; the connection is dropped (1006).",
  },
  WRITE_TIMEOUT: {
    errors: T,
    closeCode: null,
    description: "The peer read none of our output for `writeTimeoutMs`; dropped (1006).",
  },
  // Sockets (ConnectionError; `cause` is the runtime's error).
  CONNECT_REFUSED: { errors: C, closeCode: null, description: "Nothing listens there." },
  HOST_NOT_FOUND: { errors: C, closeCode: null, description: "The host name did not resolve." },
  HOST_UNREACHABLE: { errors: C, closeCode: null, description: "No route to the host." },
  TLS_FAILED: {
    errors: C,
    closeCode: null,
    description: "The TLS handshake failed (certificate, protocol, or not a TLS server).",
  },
  CONNECT_FAILED: { errors: C, closeCode: null, description: "Connecting failed otherwise." },
  CONNECTION_LOST: {
    errors: C,
    closeCode: null,
    description: "Client: the connection ended during the opening handshake.",
  },
  HANDSHAKE_EOF: {
    errors: C,
    closeCode: null,
    description: "Client: the server closed before a complete response head.",
  },
  ADDRESS_IN_USE: {
    errors: C,
    closeCode: null,
    description: "`serve()`: the port is taken.",
  },
  ADDRESS_NOT_AVAILABLE: {
    errors: C,
    closeCode: null,
    description: "`serve()`: the host is not an address of this machine.",
  },
  LISTEN_FAILED: {
    errors: C,
    closeCode: null,
    description: "`serve()`: listening failed otherwise.",
  },
  // WebSockets over HTTP/2 (RFC 8441).
  EXTENDED_CONNECT_DISABLED: {
    errors: H2,
    closeCode: null,
    description: "Client: the HTTP/2 server did not send SETTINGS_ENABLE_CONNECT_PROTOCOL (§3).",
  },
  HTTP2_NOT_NEGOTIATED: {
    errors: H2,
    closeCode: null,
    description: "Client: `http2: true` over TLS, and the server did not choose h2 by ALPN.",
  },
  HTTP2_STREAM_FAILED: {
    errors: H2,
    closeCode: null,
    description: "Client: the extended CONNECT's stream or connection failed before a response.",
  },
  EXTENDED_CONNECT_PROTOCOL: {
    errors: H,
    closeCode: null,
    description: "Server: an extended CONNECT whose `:protocol` is not websocket (501).",
  },
  EXTENDED_CONNECT_PSEUDO_HEADER: {
    errors: H,
    closeCode: null,
    description: "Server: `:scheme`, `:path` or `:authority` missing or malformed (400, §4).",
  },
  REUSE_PORT_UNSUPPORTED: {
    errors: C,
    closeCode: null,
    description:
      "`serve({ reusePort })` where the runtime cannot share a port (Node before 22.12).",
  },
  // Scaling out (BrokerError; reported through onError, never thrown at publish()).
  BROKER_UNAVAILABLE: {
    errors: BR,
    closeCode: null,
    description: "Redis is unreachable: what is published here reaches local subscribers only.",
  },
  BROKER_PUBLISH_FAILED: {
    errors: BR,
    closeCode: null,
    description: "The Redis client rejected a publish; `cause` holds its error.",
  },
  BROKER_MESSAGES_LOST: {
    errors: BR,
    closeCode: null,
    description: "Messages that did not cross between instances; `lost` counts them.",
  },
  BROKER_SUBSCRIBE_FAILED: {
    errors: BR,
    closeCode: null,
    description: "Redis refused a (un)subscription; it is tried again on reconnection.",
  },
  BROKER_MESSAGE_INVALID: {
    errors: BR,
    closeCode: null,
    description: "A message on a broker channel was not in sprig's format; dropped.",
  },
  BROKER_HISTORY_RESET: {
    errors: BR,
    closeCode: null,
    description:
      "A topic's Redis Stream history was lost (a restart without persistence): new epoch.",
  },
  // The live connection.
  CONNECTION_CLOSED: {
    errors: ["ConnectionClosedError"],
    closeCode: null,
    description:
      "Reading ended by an abnormal close (not a clean 1000/1001/1005): see `closeCode`.",
  },
  CONNECTION_CLOSED_OK: {
    errors: ["ConnectionClosedOK"],
    closeCode: null,
    description: "`receive()` after a normal close: 1000, 1001, 1005, or the application's own.",
  },
  NOT_OPEN: {
    errors: ["NotOpenError"],
    closeCode: null,
    description: "A send, ping or close after closing began (or before opening).",
  },
  ABORTED: { errors: ["AbortError"], closeCode: null, description: "An `AbortSignal` fired." },
  SEND_BUFFER_FULL: {
    errors: S,
    closeCode: 1008,
    description: "The peer did not read: more than `maxSendBufferBytes` waited to be sent.",
  },
  SLOW_SUBSCRIBER: {
    errors: S,
    closeCode: 1013,
    description: "A topic's `close` policy: the subscriber's pending output passed its bound.",
  },
  ORIGIN_REFUSED: {
    errors: S,
    closeCode: null,
    description: "Server: an `Origin` not allowed got 403 (reported once per origin).",
  },
  INTERNAL: {
    errors: S,
    closeCode: 1011,
    description: "An unexpected failure inside sprig while receiving (a bug: please report it).",
  },
  // The reconnecting client.
  NOT_CONNECTED: {
    errors: ["NotConnectedError"],
    closeCode: null,
    description: "A reconnecting client's send found no live connection and no send queue.",
  },
  SEND_QUEUE_FULL: {
    errors: ["SendQueueFullError"],
    closeCode: null,
    description: "A reconnecting client's send queue was full (`limit` says which bound).",
  },
  // Proxies (ProxyError; `status` is the proxy's answer).
  PROXY_AUTH_REQUIRED: {
    errors: ["ProxyError"],
    closeCode: null,
    description: "The proxy wants credentials: HTTP 407, or SOCKS5 accepting no offered method.",
  },
  PROXY_AUTH_FAILED: {
    errors: ["ProxyError"],
    closeCode: null,
    description: "A SOCKS5 proxy refused the username and password (RFC 1929).",
  },
  PROXY_REFUSED: {
    errors: ["ProxyError"],
    closeCode: null,
    description: "The proxy refused the tunnel (an HTTP status other than 2xx, a SOCKS5 failure).",
  },
  PROXY_PROTOCOL_ERROR: {
    errors: ["ProxyError"],
    closeCode: null,
    description: "The proxy's answer could not be parsed.",
  },
  // Arguments (thrown synchronously by the call given them).
  INVALID_ARGUMENT: {
    errors: ["InvalidArgumentError"],
    closeCode: null,
    description: "An argument of the wrong type or shape (a `TypeError`); `argument` names it.",
  },
  ARGUMENT_OUT_OF_RANGE: {
    errors: ["ArgumentRangeError"],
    closeCode: null,
    description: "A number or string out of its documented range (a `RangeError`).",
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** Every error code sprig uses: the names of {@link ERROR_CODES}. */
export type ErrorCode = keyof typeof ERROR_CODES;
