/**
 * sprig: WebSockets for Deno, Bun and Node over raw sockets.
 *
 * - {@link connect}: a client with headers, subprotocols, TLS,
 *   permessage-deflate, keepalive, timeouts and clean closing;
 * - {@link WebSocket}: the browser's `WebSocket` class (WHATWG), for code
 *   and libraries written for it;
 * - {@link Session}: the live connection — async iteration, awaited sends,
 *   `ping()`, `close()`, web streams, `await using`;
 * - {@link serve} and the handler specification (`init`, `in`, `control`,
 *   `info`, `terminate`), with pub/sub, limits, graceful shutdown, and
 *   adapters for `Deno.serve`, `Bun.serve` and `node:http`;
 * Beyond the daily API, subpaths: `@sprig/websocket/protocol` (the sans-I/O
 * core), `@sprig/websocket/adapters` (`Deno.serve`, `Bun.serve`,
 * `node:http`), `@sprig/websocket/transport` (sockets you open yourself) and
 * `@sprig/websocket/streams` (frame codecs as web streams).
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
  type BinaryType,
  CloseEvent,
  type CloseEventInit,
  type EventHandler,
  WebSocket,
  WebSocketErrorEvent,
  type WebSocketOptions,
} from "./lib/client/websocket.ts";
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
} from "./lib/session/session.ts";
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
  TransportSink,
} from "./lib/transport/transport.ts";
export { detectRuntime, type RuntimeName } from "./lib/transport/connect.ts";
export type { Frame } from "./lib/protocol/frame.ts";
export * from "./lib/server/mod.ts";
