/**
 * sprig's `connect()` as the echo client of the HTTP/2 benchmark
 * (`bench/h2/run.mjs`):
 *
 *   deno run -A bench/h2/client.ts --url ws://127.0.0.1:PORT/ [--http2] [options]
 *   bun bench/h2/client.ts ... ; node --import tsx bench/h2/client.ts ...
 *
 * Opens `--conns` WebSockets (default 50; with `--http2`, each by extended
 * CONNECT on its own HTTP/2 connection: h2c by prior knowledge for ws:,
 * ALPN h2 for wss:), keeps `--depth` binary messages of `--size` bytes in
 * flight on each (defaults 1 and 32), and sends a new one for each echo.
 * After `--warmup` seconds it counts the echoes of `--duration` seconds
 * (defaults 2 and 5) and prints one JSON line: `{"echoes", "seconds",
 * "perSecond", "total"}` (total: every echo, warm-up included). wss: trusts the test CA of tests/_fixtures. Compression
 * and keepalive pings are off.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { connect, type Session } from "../../mod.ts";

const argv = process.argv.slice(2);
const valueOf = (name: string, fallback: string): string => {
  const at = argv.indexOf(name);
  return at >= 0 && at + 1 < argv.length ? argv[at + 1] : fallback;
};
const url = valueOf("--url", "");
if (!url) {
  console.error("usage: client.ts --url ws://127.0.0.1:PORT/ [--http2] [--conns N] ...");
  process.exit(2);
}
const http2 = argv.includes("--http2");
const conns = Number(valueOf("--conns", "50"));
const size = Number(valueOf("--size", "32"));
const depth = Number(valueOf("--depth", "1"));
const warmupMs = Number(valueOf("--warmup", "2")) * 1000;
const durationMs = Number(valueOf("--duration", "5")) * 1000;

const caCerts = [
  readFileSync(new URL("../../tests/_fixtures/ca.pem", import.meta.url), "utf8"),
];
const payload = new Uint8Array(size).fill(0x61);
let counting = false;
let echoes = 0;
let total = 0;
const ignore = () => {};

const sessions: Session[] = await Promise.all(
  Array.from({ length: conns }, () =>
    connect(url, {
      http2,
      compression: false,
      keepalive: false,
      tls: url.startsWith("wss:") ? { caCerts } : undefined,
    })),
);
for (const ws of sessions) {
  ws.on("message", () => {
    total++;
    if (counting) echoes++;
    ws.send(payload).catch(ignore);
  });
  for (let i = 0; i < depth; i++) ws.send(payload).catch(ignore);
}
await new Promise((resolve) => setTimeout(resolve, warmupMs));
counting = true;
const started = performance.now();
await new Promise((resolve) => setTimeout(resolve, durationMs));
counting = false;
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ echoes, seconds, perSecond: echoes / seconds, total }));
await Promise.all(sessions.map((ws) => ws.close(1000).catch(ignore)));
process.exit(0);
