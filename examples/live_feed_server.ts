/**
 * The live feed of `live_feed.ts` as a server a browser uses: it publishes a
 * price every `--every` milliseconds on the topic `prices` and serves, at
 * `/`, a page that shows them and reconnects by itself, carrying the last
 * position it received (`sprig-from`), so that it gets what it missed, each
 * message once and in order. With `--redis`, the history lives in a Redis
 * Stream (`redisBroker({ history: true })`) rather than in this process: the
 * server can be killed and started again on the same port, and the page
 * loses nothing (without it, a restart starts a new history, and the page
 * says so).
 *
 *   deno run -A examples/live_feed_server.ts --port 8080 --redis redis://127.0.0.1:6379
 *   bun examples/live_feed_server.ts --port 8080 --redis redis://127.0.0.1:6379
 *   npx tsx examples/live_feed_server.ts --port 8080 --redis redis://127.0.0.1:6379
 *
 * Then open http://127.0.0.1:8080/ and kill and restart the server. The
 * Redis client: Bun's built-in `RedisClient` on Bun, node-redis elsewhere.
 */
import { resumeFrom, serve } from "../mod.ts";
import { redisBroker, type RedisPubSubClient } from "../lib/scale/mod.ts";

const g = globalThis as {
  Deno?: { args: string[]; exit(code: number): never };
  Bun?: {
    RedisClient: new (
      url: string,
    ) => RedisPubSubClient & { connect(): Promise<void>; close(): void };
  };
  process?: { argv: string[]; exit(code: number): never; on(s: string, f: () => void): void };
};

const argv = g.Deno ? g.Deno.args : g.process!.argv.slice(2);
const flag = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const port = Number(flag("--port") ?? 8080);
const hostname = flag("--hostname") ?? "127.0.0.1";
const redisUrl = flag("--redis");
const every = Number(flag("--every") ?? 250);

/** Two connections to Redis (a subscribed one can only subscribe). */
async function redisConnections(url: string) {
  if (g.Bun) {
    const publisher = new g.Bun.RedisClient(url);
    const subscriber = new g.Bun.RedisClient(url);
    await Promise.all([publisher.connect(), subscriber.connect()]);
    return { publisher, subscriber };
  }
  const { createClient } = await import("redis");
  const publisher = createClient({ url });
  const subscriber = publisher.duplicate();
  // node-redis reports connection errors as events: without a listener they would end the process.
  publisher.on("error", () => {});
  subscriber.on("error", () => {});
  await Promise.all([publisher.connect(), subscriber.connect()]);
  return { publisher, subscriber };
}

// The page: a browser's own WebSocket, reconnecting with the last position.
// `?want=N` sets globalThis.__result once N prices arrived (what a test reads).
const PAGE = `<!doctype html>
<meta charset="utf-8"><title>sprig live feed</title>
<style>body{font:15px system-ui;margin:2em}#log{font-family:monospace;height:20em;overflow:auto}</style>
<h1>SPRG <span id="price">…</span></h1>
<p id="state">connecting</p>
<div id="log"></div>
<script>
const want = Number(new URLSearchParams(location.search).get("want") ?? 0);
const got = [], reports = [];
let last, connections = 0, delay = 100;
const log = (t) => { const d = document.createElement("div"); d.textContent = t; document.getElementById("log").prepend(d); };
function open() {
  const url = new URL("/", location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  if (last) url.searchParams.set("sprig-from", JSON.stringify({ prices: last }));
  const ws = new WebSocket(url);
  ws.onopen = () => { connections++; delay = 100; document.getElementById("state").textContent = "live"; };
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.report) {
      reports.push(m.report);
      return log("subscribed: " + m.report.status + ", replayed " + m.report.replayed +
        (m.report.missed ? ", missed " + m.report.missed.from + ".." + m.report.missed.to : ""));
    }
    last = [m.epoch, m.seq]; // sprig's envelope: {"topic","epoch","seq","data"}
    got.push([m.epoch, m.seq, m.data]);
    document.getElementById("price").textContent = m.data.split(" ")[1];
    if (want > 0 && got.length >= want && !globalThis.__result) {
      globalThis.__result = { got, reports, connections };
    }
  };
  ws.onclose = () => {
    document.getElementById("state").textContent = "reconnecting";
    setTimeout(open, delay);
    delay = Math.min(delay * 2, 2000);
  };
}
open();
</script>`;

const redis = redisUrl ? await redisConnections(redisUrl) : undefined;
const server = await serve({
  hostname,
  port,
  ...(redis ? { broker: redisBroker({ ...redis, history: true }) } : {}),
  topics: (topic) =>
    topic === "prices" ? { retain: { messages: 10_000 }, envelope: true } : undefined,
  fetch: (request) =>
    new URL(request.url).pathname === "/"
      ? new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } })
      : new Response("not found", { status: 404 }),
}, {
  async init(ctx) {
    // Replays what the client missed after the position it carried, then live.
    const report = await ctx.ref.resume("prices", resumeFrom(ctx.url, "prices"));
    const { status, replayed, missed } = report;
    console.log(`live_feed_server: a client subscribed: ${status}, replayed ${replayed}`);
    return { push: JSON.stringify({ report: { status, replayed, missed } }) };
  },
  in: () => {},
});

let price = 100;
const timer = setInterval(() => {
  price = Math.max(1, price + (Math.random() - 0.5) / 10);
  server.publish("prices", `SPRG ${price.toFixed(2)}`);
}, every);
console.log(
  `live_feed_server: listening on ${server.url.href.replace(/^ws/, "http")}` +
    (redisUrl ? ` (history in Redis ${redisUrl})` : " (history in this process)"),
);

const stop = async () => {
  clearInterval(timer);
  await server.shutdown({ deadlineMs: 5000 });
  console.log("live_feed_server: stopped");
  // Exit even if a Redis client still holds the event loop.
  g.Deno ? g.Deno.exit(0) : g.process!.exit(0);
};
if (g.Deno) {
  const D = g.Deno as unknown as { addSignalListener(s: string, f: () => void): void };
  D.addSignalListener("SIGINT", stop);
  D.addSignalListener("SIGTERM", stop);
} else {
  g.process!.on("SIGINT", stop);
  g.process!.on("SIGTERM", stop);
}
