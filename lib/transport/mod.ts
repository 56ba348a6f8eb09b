/**
 * Transports: one byte-stream interface over every runtime's sockets
 * (`Deno.connect`, `Bun.connect`, `node:net`, an edge runtime's
 * `connect()`). Most users never import this: `connect()` and `serve()`
 * pick the runtime's own. It is for those who open the socket themselves
 * (a proxy tunnel, a Unix socket, an edge socket) and hand it to sprig.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { connect, serve } from "@sprig/websocket";
 * import { fromNodeSocket } from "@sprig/websocket/transport";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * // A socket the application opened itself, then handed to the client.
 * const socket = net.connect({ host: "127.0.0.1", port: server.port });
 * await once(socket, "connect");
 * await using ws = await connect(server.url, { transport: fromNodeSocket(socket) });
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * ```
 *
 * @module
 */

export type {
  Connector,
  ConnectTarget,
  Transport,
  TransportAddress,
  TransportSink,
} from "./transport.ts";
export { connectTransport, detectRuntime, type RuntimeName } from "./connect.ts";
export { connectNode, fromNodeSocket, type NodeSocket } from "./node.ts";
export { connectDeno, type DenoConn, fromDenoConn } from "./deno.ts";
export { type BunSocket, BunTransport, type BunTransportOptions, connectBun } from "./bun.ts";
export { fromWebSocketLikeSocket, type WebSocketLikeSocket } from "./web.ts";
export { connectThroughProxy, proxyFromEnvironment, type ProxyOption } from "./proxy.ts";
