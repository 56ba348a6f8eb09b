/**
 * sprig's sans-I/O protocol core: frames, masking, UTF-8, close codes,
 * the connection state machine, the opening handshake, HTTP/1.1 heads and
 * bodies. No sockets, no timers, no runtime globals: drive it by hand, test it with
 * byte vectors, or build your own I/O on it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "@sprig/websocket/protocol";
 * // A client and a server with no socket between them: the bytes one owes
 * // (takeOutput) are what the other receives.
 * const client = new Connection({ role: "client" });
 * const server = new Connection({ role: "server" });
 * client.send("hello");
 * for (const chunk of client.takeOutput()) {
 *   for (const event of server.receive(chunk)) {
 *     if (event.type === "text") server.send(event.data.toUpperCase()); // an echo, louder
 *   }
 * }
 * const events = server.takeOutput().flatMap((chunk) => client.receive(chunk));
 * assert.deepEqual(events, [{ type: "text", data: "HELLO" }]);
 * ```
 *
 * @module
 */

export * from "./frame.ts";
export * from "./frame_parser.ts";
export * from "./mask.ts";
export * from "./utf8.ts";
export * from "./close.ts";
export * from "./limits.ts";
export * from "./assembler.ts";
export * from "./connection.ts";
export * from "./handshake.ts";
export * from "./http1.ts";
export * from "./http1_body.ts";
export { sha1 } from "./sha1.ts";
export { decodeBase64, encodeBase64 } from "./base64.ts";
// The error hierarchy, as this entry point has always carried it (the
// session's ConnectionClosedError, ConnectionClosedOK and CloseInfo are the
// root entry point's: this one has the core's CloseInfo, from close.ts).
export {
  AbortError,
  ArgumentRangeError,
  BrokerError,
  CloseCode,
  ConnectionError,
  type CustomErrorCode,
  ERROR_CODES,
  type ErrorCode,
  type ErrorCodeInfo,
  ExtensionError,
  HandshakeError,
  Http2Error,
  HttpParseError,
  InvalidArgumentError,
  InvalidDataError,
  MessageTooBigError,
  NotConnectedError,
  NotOpenError,
  ProtocolError,
  ProxyError,
  SendQueueFullError,
  SprigError,
  type SprigErrorOptions,
  TimeoutError,
} from "../errors.ts";
export type { EncodedMessage, Extension, ExtensionFactory, ExtensionOffer } from "./extension.ts";
export { ExtensionChain } from "./extension.ts";
export * from "./extension_header.ts";
export * from "./extension_negotiate.ts";
