/**
 * Adapters: run a sprig handler on the runtime's own HTTP server —
 * `Deno.serve`, `Bun.serve`, or `node:http` — instead of sprig's `serve()`.
 * The handler is the same object on every host.
 *
 * @example
 * ```ts
 * import { nodeHttpAdapter } from "@sprig/websocket/adapters";
 * import * as http from "node:http";
 * const ws = nodeHttpAdapter({ in: (message) => ({ push: message }) });
 * const server = http.createServer((_req, res) => res.end("a page"));
 * server.on("upgrade", ws.handleUpgrade);
 * ```
 *
 * @module
 */

export { type NodeHttpAdapter, nodeHttpAdapter } from "./node_http.ts";
export { type DenoServeAdapter, denoServeAdapter, type DenoServeInfo } from "./deno_serve.ts";
export {
  type BunServeAdapter,
  bunServeAdapter,
  type BunServerLike,
  type BunServerWebSocket,
  type BunSocketData,
  type BunWebSocketHandlers,
} from "./bun_serve.ts";
export type { ChannelCapabilities } from "../handler/channel.ts";
export type { WebSocketHub } from "../handler/host.ts";
