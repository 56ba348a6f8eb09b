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

/** Detects the runtime. */
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
