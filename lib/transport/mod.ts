/**
 * Transports: one byte-stream interface over every runtime's sockets
 * (`Deno.connect`, `Bun.connect`, `node:net`, an edge runtime's
 * `connect()`). Most users never import this: `connect()` and `serve()`
 * pick the runtime's own. It is for those who open the socket themselves
 * (a proxy tunnel, a Unix socket, an edge socket) and hand it to sprig.
 *
 * @example
 * ```ts
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { connect } from "@sprig/websocket";
 * import { fromNodeSocket } from "@sprig/websocket/transport";
 * const socket = net.connect({ host: "127.0.0.1", port: 8080 });
 * await once(socket, "connect");
 * await using ws = await connect("ws://127.0.0.1:8080/", { transport: fromNodeSocket(socket) });
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
export { connectNode, fromNodeSocket } from "./node.ts";
export { connectDeno, type DenoConn, fromDenoConn } from "./deno.ts";
export { type BunSocket, BunTransport, type BunTransportOptions, connectBun } from "./bun.ts";
export { fromWebSocketLikeSocket, type WebSocketLikeSocket } from "./web.ts";
export { connectThroughProxy, proxyFromEnvironment, type ProxyOption } from "./proxy.ts";
