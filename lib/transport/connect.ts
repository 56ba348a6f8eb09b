/**
 * Picks the fastest native socket API of the runtime sprig runs on.
 *
 * @module
 */

import { bunNamespace, connectBun } from "./bun.ts";
import { connectDeno, denoNamespace } from "./deno.ts";
import { connectNode } from "./node.ts";
import type { Connector, ConnectTarget, Transport } from "./transport.ts";

/** The runtime sprig is running on. */
export type RuntimeName = "deno" | "bun" | "node";

/**
 * Detects the runtime from its globals: `Deno`, then `Bun`; anything else
 * counts as Node.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "./connect.ts";
 * console.log(`running on ${detectRuntime()}`); // "deno", "bun" or "node"
 * ```
 */
export function detectRuntime(): RuntimeName {
  if (denoNamespace() !== undefined) return "deno";
  if (bunNamespace() !== undefined) return "bun";
  return "node";
}

/**
 * Connects with the runtime's own sockets: `Deno.connect`/`connectTls` on
 * Deno, `Bun.connect` on Bun, `node:net`/`node:tls` elsewhere. On Deno, TLS
 * options that `Deno.connectTls` lacks (`insecure`, a different
 * `serverName`) go through `node:tls` instead.
 *
 * This is what `connect()` uses when no `transport` is given.
 *
 * @example
 * ```ts
 * import { connectTransport } from "./connect.ts";
 * const transport = await connectTransport(
 *   { hostname: "127.0.0.1", port: 8080 },
 *   AbortSignal.timeout(5000),
 * );
 * await transport.write([new TextEncoder().encode("GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")]);
 * transport.close();
 * ```
 */
export const connectTransport: Connector = (
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Transport> => {
  switch (detectRuntime()) {
    case "deno": {
      const needsNode = target.tls &&
        (target.insecure || (target.serverName && target.serverName !== target.hostname));
      return needsNode ? connectNode(target, signal) : connectDeno(target, signal);
    }
    case "bun":
      return connectBun(target, signal);
    default:
      return connectNode(target, signal);
  }
};
