/**
 * Which socket API is fastest on this runtime? Runs sprig's client over each
 * transport the runtime has (its native sockets and node:net) against the
 * `ws` package's echo server (a Node process on 127.0.0.1), and reports
 * messages per second for small and large messages.
 *
 *   npx tsx bench/transport_bench.ts [--peer bun]
 *   deno run -A bench/transport_bench.ts [--peer bun]
 *   bun bench/transport_bench.ts [--peer bun]
 */
import { connect, type Connector, detectRuntime } from "../mod.ts";
import { connectBun, connectDeno, connectNode } from "../lib/transport/mod.ts";
import { startBunPeer, startWsPeer } from "../tests/_helpers/peer.ts";

const runtime = detectRuntime();
const connectors: Array<[string, Connector]> = [["node:net", connectNode]];
if (runtime === "deno") connectors.unshift(["Deno.connect", connectDeno]);
if (runtime === "bun") connectors.unshift(["Bun.connect", connectBun]);

// The echo peer: `ws` on Node by default, or Bun's server (`--peer bun`), which is faster.
const argv = (globalThis as { process?: { argv: string[] } }).process?.argv ?? [];
const usePeer = argv[argv.indexOf("--peer") + 1] === "bun" && argv.includes("--peer")
  ? "bun"
  : "ws";
const peer = usePeer === "bun" ? await startBunPeer() : await startWsPeer();
const url = `ws://127.0.0.1:${peer.port}/echo`;

/** Sends `count` messages of `size` bytes with `window` in flight and waits for every echo. */
async function run(
  connector: Connector,
  size: number,
  count: number,
  window: number,
): Promise<number> {
  const ws = await connect(url, {
    transport: connector,
    compression: false,
    keepalive: false,
    maxQueuedMessages: 64,
  });
  const payload = new Uint8Array(size).fill(120);
  const started = performance.now();
  let sent = 0;
  let received = 0;
  const reader = (async () => {
    for await (const _ of ws) if (++received === count) break;
  })();
  while (sent < count) {
    while (sent - received < window && sent < count) {
      void ws.send(payload);
      sent++;
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  await reader;
  const seconds = (performance.now() - started) / 1000;
  await ws.close();
  return count / seconds;
}

const cases = [
  { name: "64 B", size: 64, count: 50_000, window: 256 },
  { name: "16 KiB", size: 16 * 1024, count: 10_000, window: 64 },
  { name: "1 MiB", size: 1024 * 1024, count: 200, window: 8 },
];
console.log(`runtime: ${runtime}, echo peer: ${usePeer === "bun" ? "Bun.serve" : "ws on Node"}`);
for (const c of cases) {
  for (const [name, connector] of connectors) {
    await run(connector, c.size, Math.min(c.count, 1000), c.window); // warm-up
    const rate = await run(connector, c.size, c.count, c.window);
    const mbps = (rate * c.size) / (1024 * 1024);
    console.log(
      `${c.name.padEnd(7)} ${name.padEnd(13)} ${rate.toFixed(0).padStart(8)} msg/s ${
        mbps.toFixed(1).padStart(8)
      } MiB/s`,
    );
  }
}
await peer.stop();
