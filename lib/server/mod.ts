/**
 * sprig's server side: the handler specification, `serve()`, pub/sub, and
 * adapters that run the same handler on `Deno.serve`, `Bun.serve` and
 * `node:http`.
 *
 * @example
 * ```ts
 * import { serve } from "./mod.ts";
 * const server = await serve({ hostname: "127.0.0.1", port: 8080 }, {
 *   in: (message) => ({ push: message }), // echo
 * });
 * console.log(`listening on ${server.url}`);
 * await server.shutdown();
 * ```
 *
 * @module
 */

export {
  type Awaitable,
  type ConnectionContext,
  type ConnectionRef,
  type ControlFrame,
  type ControlMessage,
  defineHandler,
  type Handler,
  type HandlerResult,
  type OutgoingMessage,
  type Push,
  type Reply,
  type Stop,
  type TerminateReason,
  type TestContext,
  testContext,
} from "./handler.ts";
export { serve, type Server } from "./serve.ts";
export type { ShutdownOptions } from "./host.ts";
export {
  type FetchInfo,
  type ServeOptions,
  SERVER_DEFAULTS,
  type ServeTlsOptions,
  type UpgradeAccept,
  type UpgradeHook,
  type UpgradeInfo,
  type WebSocketHostOptions,
} from "./options.ts";
export { PublishedMessage, type Subscriber, Topics } from "./pubsub.ts";
export type { ChannelCapabilities } from "./channel.ts";
export type { AcceptedSocket } from "./session_channel.ts";
export {
  type Listen,
  type Listener,
  listenerFor,
  type ListenerName,
  type ListenOptions,
} from "./listen.ts";
export type { WebSocketHub } from "./host.ts";
export { type NodeHttpAdapter, nodeHttpAdapter } from "./adapters/node_http.ts";
export {
  type DenoServeAdapter,
  denoServeAdapter,
  type DenoServeInfo,
} from "./adapters/deno_serve.ts";
export {
  type BunServeAdapter,
  bunServeAdapter,
  type BunServerLike,
  type BunServerWebSocket,
  type BunSocketData,
  type BunWebSocketHandlers,
} from "./adapters/bun_serve.ts";
