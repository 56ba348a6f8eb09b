/**
 * sprig: WebSockets for Deno, Bun and Node over raw sockets.
 *
 * - {@link connect}: a client with headers, subprotocols, TLS,
 *   permessage-deflate, keepalive, timeouts and clean closing;
 * - {@link Session}: the live connection — async iteration, awaited sends,
 *   `ping()`, `close()`, web streams, `await using`;
 * - {@link serve} and the handler specification (`init`, `in`, `control`,
 *   `info`, `terminate`), with pub/sub, limits, graceful shutdown, and
 *   adapters for `Deno.serve`, `Bun.serve` and `node:http`;
 * - the sans-I/O protocol core, re-exported from `./lib/protocol/mod.ts`
 *   (also published as `@sprig/websocket/protocol`).
 *
 * @example
 * ```ts
 * import { connect } from "@sprig/websocket";
 * await using ws = await connect("ws://127.0.0.1:8080/");
 * await ws.send("hello");
 * console.log(await ws.receive({ timeoutMs: 5000 }));
 * ```
 *
 * @module
 */

export {
  CLIENT_DEFAULTS,
  type ClientTlsOptions,
  connect,
  type ConnectOptions,
} from "./lib/client/connect.ts";
export {
  type WebSocketCloseInfo,
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamOptions,
  withWebSocket,
} from "./lib/client/websocket_stream.ts";
export {
  type CloseInfo,
  ConnectionClosedError,
  type KeepaliveOptions,
  type MessageData,
  type SendData,
  Session,
  SESSION_DEFAULTS,
  type SessionEvents,
  type SessionInfo,
  type SessionOptions,
} from "./lib/session.ts";
export * from "./lib/errors.ts";
export type {
  EncodedMessage,
  Extension,
  ExtensionFactory,
  ExtensionOffer,
} from "./lib/extensions/extension.ts";
export {
  permessageDeflate,
  type PerMessageDeflateOptions,
} from "./lib/extensions/permessage_deflate.ts";
export type {
  Connector,
  ConnectTarget,
  Transport,
  TransportAddress,
} from "./lib/transport/transport.ts";
export { connectTransport, detectRuntime, type RuntimeName } from "./lib/transport/connect.ts";
export { connectNode, fromNodeSocket } from "./lib/transport/node.ts";
export { connectDeno, type DenoConn, fromDenoConn } from "./lib/transport/deno.ts";
export {
  type BunSocket,
  BunTransport,
  type BunTransportOptions,
  connectBun,
} from "./lib/transport/bun.ts";
export { fromWebSocketLikeSocket, type WebSocketLikeSocket } from "./lib/transport/web.ts";
export type { Frame } from "./lib/protocol/frame.ts";
export type { FrameParserOptions, MaskPolicy } from "./lib/protocol/frame_parser.ts";
export type { Message } from "./lib/protocol/assembler.ts";
export { FrameDecoderStream } from "./lib/streams/frame_decoder_stream.ts";
export {
  type FrameEncoderOptions,
  FrameEncoderStream,
} from "./lib/streams/frame_encoder_stream.ts";
export { type MessageOrControl, MessageStream } from "./lib/streams/message_stream.ts";
export * from "./lib/server/mod.ts";
