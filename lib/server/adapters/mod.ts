/**
 * Adapters: run a sprig handler on the runtime's own HTTP server —
 * `Deno.serve`, `Bun.serve`, or `node:http` — instead of sprig's `serve()`.
 * The handler is the same object on every host.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as http from "node:http";
 * import type { AddressInfo } from "node:net";
 * import { connect } from "@sprig/websocket";
 * import { nodeHttpAdapter } from "@sprig/websocket/adapters";
 * const ws = nodeHttpAdapter({ in: (message) => ({ push: message }) }); // echo
 * const server = http.createServer((_req, res) => res.end("a page"));
 * server.on("upgrade", ws.handleUpgrade);
 * await once(server.listen(0, "127.0.0.1"), "listening");
 * const { port } = server.address() as AddressInfo;
 * await using client = await connect(`ws://127.0.0.1:${port}/`);
 * await client.send("hello");
 * assert.equal(await client.receive({ timeoutMs: 5000 }), "hello");
 * await ws.shutdown(); // closes every connection with 1001
 * await new Promise((closed) => server.close(closed));
 * ```
 *
 * @module
 */

export {
  type NodeAttachOptions,
  type NodeHttpAdapter,
  nodeHttpAdapter,
  type NodeHttpRequest,
  type NodeHttpServer,
  type NodeUpgradeFetch,
  type NodeUpgradeListener,
} from "./node_http.ts";
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
export type { UpgradeOptions } from "../handler/options.ts";
