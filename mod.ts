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
 * import assert from "node:assert/strict";
 * import { connect, serve } from "@sprig/websocket";
 *
 * // An echo server on a free port of 127.0.0.1, and a client talking to it.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * await using ws = await connect(server.url);
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * ```
 *
 * @module
 */

export { connect } from "./lib/client/connect.ts";
export {
  CLIENT_DEFAULTS,
  type ClientTlsOptions,
  type ConnectOptions,
  type Http2ClientSession,
} from "./lib/client/options.ts";
export {
  type BinaryType,
  CloseEvent,
  type CloseEventInit,
  type EventHandler,
  WebSocket,
  WebSocketErrorEvent,
  type WebSocketEventMap,
  type WebSocketOptions,
} from "./lib/client/websocket.ts";
export {
  type WebSocketCloseInfo,
  WebSocketError,
  type WebSocketOpenInfo,
  WebSocketStream,
  type WebSocketStreamOptions,
  withWebSocket,
} from "./lib/client/websocket_stream.ts";
export {
  type KeepaliveOptions,
  type MessageData,
  type SendData,
  type SendOptions,
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
} from "./lib/protocol/extension.ts";
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
export {
  type AttemptInfo,
  type BackoffOptions,
  type ConnectedEvent,
  type DisconnectedEvent,
  RECONNECT_DEFAULTS,
  type ReconnectDecision,
  reconnecting,
  ReconnectingClient,
  type ReconnectingEnd,
  type ReconnectingOptions,
  type ResendOptions,
  type SendQueueOptions,
} from "./lib/client/reconnecting.ts";
export {
  formatFrame,
  type Telemetry,
  type TelemetryChannel,
  TelemetryChannels,
  type TelemetryEventBase,
  type TelemetryEvents,
} from "./lib/telemetry.ts";
export { proxyFromEnvironment, type ProxyOption } from "./lib/transport/proxy.ts";
