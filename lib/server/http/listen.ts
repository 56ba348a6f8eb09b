/**
 * Listening for TCP (and TLS) connections on each runtime's own socket API,
 * behind one small interface. `serve()` picks the runtime's listener; the
 * `node:net` one runs everywhere.
 *
 * @module
 */

import { detectRuntime } from "../../transport/connect.ts";
import { listenBun } from "./listen_bun.ts";
import { listenDeno } from "./listen_deno.ts";
import { listenNode } from "./listen_node.ts";
import type { Listen, ListenerName } from "./listener.ts";

/**
 * The listener for `name`, or the runtime's own: `Deno.listen` on Deno,
 * `Bun.listen` on Bun, `node:net` elsewhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { listenerFor } from "./listen.ts";
 * const listen = listenerFor(); // Deno.listen on Deno, Bun.listen on Bun, node:net on Node
 * // Each accepted socket gets a greeting, then a graceful close.
 * const greeting = new TextEncoder().encode("hello\n");
 * const listener = await listen(
 *   { hostname: "127.0.0.1", port: 0, handshakeTimeoutMs: 10_000 },
 *   (socket) => void socket.transport.write([greeting]).then(() => socket.close()),
 * );
 * const client = net.connect(listener.port, "127.0.0.1");
 * const [data] = await once(client, "data");
 * assert.equal(String(data), "hello\n");
 * client.end();
 * await once(client, "close");
 * await listener.close();
 * ```
 */
export function listenerFor(name: ListenerName = detectRuntime()): Listen {
  switch (name) {
    case "deno":
      return listenDeno;
    case "bun":
      return listenBun;
    default:
      return listenNode;
  }
}
