/**
 * sprig's sans-I/O protocol core: frames, masking, UTF-8, close codes,
 * the connection state machine, the opening handshake, HTTP/1.1 heads and
 * bodies. No sockets, no timers, no runtime globals: drive it by hand, test it with
 * byte vectors, or build your own I/O on it.
 *
 * @example
 * ```ts
 * import { Connection } from "@sprig/websocket/protocol";
 * const conn = new Connection({ role: "server" });
 * for (const event of conn.receive(bytesFromSocket)) {
 *   if (event.type === "text") conn.send(event.data);
 * }
 * writeToSocket(conn.takeOutput());
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
export * from "../errors.ts";
export type {
  EncodedMessage,
  Extension,
  ExtensionFactory,
  ExtensionOffer,
} from "../extensions/extension.ts";
export { ExtensionChain } from "../extensions/extension.ts";
export * from "../extensions/header.ts";
export * from "../extensions/negotiate.ts";
