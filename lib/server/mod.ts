/**
 * sprig's server side: the handler specification, `serve()` and pub/sub.
 * The adapters that run the same handler on `Deno.serve`, `Bun.serve` and
 * `node:http` are in `./adapters/mod.ts`.
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
export type { WebSocketHub } from "./host.ts";
