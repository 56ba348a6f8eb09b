/**
 * A program run by runCluster for the cluster test:
 *   <runtime> tests/scale/_cluster_app.ts PORT WORKERS
 * Each worker serves an echo that says which worker answered; the primary
 * prints `READY <workers>` once all listen, then `STOPPED` when all stopped
 * after SIGTERM.
 */
import { serve } from "../../mod.ts";
import { runCluster } from "../../lib/scale/mod.ts";

const g = globalThis as { Deno?: { args: string[] }; process?: { argv: string[] } };
const [port, workers] = (g.Deno ? g.Deno.args : g.process!.argv.slice(2)).map(Number);

const cluster = await runCluster(
  ({ index }) =>
    serve({ hostname: "127.0.0.1", port, reusePort: true, keepalive: false }, {
      in: (message) => ({ push: `worker ${index}: ${message}` }),
    }),
  { workers, shutdownDeadlineMs: 5000 },
);
if (cluster.role === "primary") {
  await cluster.ready;
  console.log(`READY ${cluster.workers}`);
  await cluster.finished;
  console.log("STOPPED");
}
