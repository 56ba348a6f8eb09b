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
 * import assert from "node:assert/strict";
 * import { detectRuntime } from "./connect.ts";
 * const runtime = detectRuntime();
 * assert.ok(["deno", "bun", "node"].includes(runtime));
 * assert.equal(runtime === "deno", "Deno" in globalThis);
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
 * `serverName`, a key `passphrase`) go through `node:tls` instead.
 *
 * This is what `connect()` uses when no `transport` is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../../mod.ts";
 * import { connectTransport } from "./connect.ts";
 * // sprig's server answers a plain GET with 426 Upgrade Required.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const transport = await connectTransport(
 *   { hostname: "127.0.0.1", port: server.port },
 *   AbortSignal.timeout(5000),
 * );
 * await transport.write([new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]);
 * const response = new TextDecoder().decode((await transport.read())!);
 * assert.ok(response.startsWith("HTTP/1.1 426 "));
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
        (target.insecure || (target.serverName && target.serverName !== target.hostname) ||
          target.passphrase !== undefined);
      return needsNode ? connectNode(target, signal) : connectDeno(target, signal);
    }
    case "bun":
      return connectBun(target, signal);
    default:
      return connectNode(target, signal);
  }
};
