/**
 * sprig's client on the edge, for real: examples/edge/worker.ts runs inside
 * workerd (Cloudflare's Workers runtime, from npm) and talks to a sprig
 * server on 127.0.0.1 through `connect()` from `cloudflare:sockets`, with
 * permessage-deflate, then closes cleanly and reports what happened.
 *
 *   deno run -A examples/edge_worker.ts
 *   bun examples/edge_worker.ts
 *   npx tsx examples/edge_worker.ts
 *
 * It bundles the worker with `bun build`, writes workerd's config (see
 * examples/edge/workerd.ts) and starts workerd on a free port; everything
 * stays on 127.0.0.1 and stops at the end.
 */
import process from "node:process";
import { serve } from "../mod.ts";
import { startWorkerd } from "./edge/workerd.ts";
import type { EdgeReport } from "./edge/worker.ts";

await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
  in: (message) => ({ push: message }), // echo
});
console.log(`sprig server: ${server.url}`);

const workerd = await startWorkerd({
  entry: new URL("./edge/worker.ts", import.meta.url).pathname,
});
try {
  console.log(`workerd: ${workerd.url}`);
  const response = await fetch(new URL(`/?url=${server.url}`, workerd.url), {
    signal: AbortSignal.timeout(30_000),
  });
  const report = await response.json() as EdgeReport;
  console.log("the worker reports:", JSON.stringify(report, null, 2));
  if (!report.ok) process.exitCode = 1;
} finally {
  await workerd.stop();
}
