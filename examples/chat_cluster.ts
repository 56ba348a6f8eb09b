/**
 * A chat whose rooms span every instance: start two (or more) on different
 * ports with one redis-server, and they behave as one chat.
 *
 *   deno run -A examples/chat_cluster.ts --port 8080 --redis redis://127.0.0.1:6379
 *   bun examples/chat_cluster.ts --port 8081 --redis redis://127.0.0.1:6379
 *   npx tsx examples/chat_cluster.ts --port 8082 --redis redis://127.0.0.1:6379
 *
 * Clients join a room with `ws://host:PORT/?room=NAME` (and optionally
 * `&name=…`); every text message goes to every client of that room on every
 * instance, the sender included, exactly once and in the sender's order.
 * `http://host:PORT/` serves a small page. `--workers N` runs N servers on
 * the port (one per core with `--workers 0`), sharing rooms the same way.
 * Binary messages are refused (1003). SIGINT or SIGTERM closes every client
 * with 1001.
 *
 * The Redis client: Bun's built-in `RedisClient` on Bun, node-redis on Deno
 * and Node (both satisfy the broker's interface as they are).
 */

import { serve, type Server } from "../mod.ts";
import { redisBroker, type RedisPubSubClient, runCluster } from "../lib/scale/mod.ts";

interface Args {
  port: number;
  hostname: string;
  redis: string;
  workers: number | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    port: 8080,
    hostname: "0.0.0.0",
    redis: "redis://127.0.0.1:6379",
    workers: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i], value = argv[i + 1];
    if (flag === "--port" && value !== undefined) args.port = Number(argv[++i]);
    else if (flag === "--hostname" && value !== undefined) args.hostname = argv[++i]!;
    else if (flag === "--redis" && value !== undefined) args.redis = argv[++i]!;
    else if (flag === "--workers" && value !== undefined) args.workers = Number(argv[++i]);
    else {
      console.error(
        "usage: chat_cluster.ts --port P --redis redis://HOST:PORT [--hostname H] [--workers N]",
      );
      throw new Error(`unknown argument ${flag}`);
    }
  }
  return args;
}

const g = globalThis as {
  Deno?: { args: string[] };
  Bun?: {
    RedisClient: new (
      url: string,
    ) => RedisPubSubClient & { connect(): Promise<void>; close(): void };
  };
  process?: { argv: string[] };
};
const args = parseArgs(g.Deno ? g.Deno.args : g.process!.argv.slice(2));

/** Two connections to Redis: one publishes, one subscribes. */
async function redisConnections(url: string) {
  if (g.Bun) {
    const publisher = new g.Bun.RedisClient(url);
    const subscriber = new g.Bun.RedisClient(url);
    await Promise.all([publisher.connect(), subscriber.connect()]);
    return { publisher, subscriber, close: () => (publisher.close(), subscriber.close()) };
  }
  const { createClient } = await import("redis");
  const publisher = createClient({ url });
  const subscriber = publisher.duplicate();
  // node-redis reports connection errors as events: without a listener they would end the process.
  publisher.on("error", () => {});
  subscriber.on("error", () => {});
  await Promise.all([publisher.connect(), subscriber.connect()]);
  return {
    publisher,
    subscriber,
    close: () => Promise.all([publisher.close(), subscriber.close()]).catch(() => {}),
  };
}

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>sprig chat</title>
<style>body{font:15px system-ui;margin:2em}#log{border:1px solid #ccc;height:20em;overflow:auto;padding:.5em}</style>
<h1>sprig chat</h1>
<p>Room <input id="room" value="lobby"> Name <input id="name" value="guest"> <button id="join">Join</button></p>
<div id="log"></div>
<form id="form"><input id="text" size="60" autocomplete="off"> <button>Send</button></form>
<script>
let ws;
const log = (t) => { const p = document.createElement("div"); p.textContent = t; const l = document.getElementById("log"); l.append(p); l.scrollTop = l.scrollHeight; };
document.getElementById("join").onclick = () => {
  ws?.close();
  const q = new URLSearchParams({ room: room.value, name: document.getElementById("name").value });
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/?" + q);
  ws.onopen = () => log("joined " + room.value);
  ws.onmessage = (e) => log(e.data);
  ws.onclose = (e) => log("closed " + e.code);
};
document.getElementById("form").onsubmit = (e) => { e.preventDefault(); ws?.send(text.value); text.value = ""; };
document.getElementById("join").click();
</script>`;

interface ChatState {
  topic: string;
}

/** One instance: a server on the port, its rooms shared through Redis. */
async function startInstance(): Promise<Server & { closeRedis(): unknown }> {
  const redis = await redisConnections(args.redis);
  const broker = redisBroker({ publisher: redis.publisher, subscriber: redis.subscriber });
  const server: Server = await serve<ChatState>({
    hostname: args.hostname,
    port: args.port,
    reusePort: args.workers !== undefined,
    broker,
    fetch: () => new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } }),
  }, {
    init: (ctx) => {
      const room = ctx.url.searchParams.get("room") || "lobby";
      if (room.length > 100) return { stop: { code: 1008, reason: "room name too long" } };
      const topic = `room:${room}`;
      ctx.ref.subscribe(topic);
      return { state: { topic } };
    },
    in: (message, state) => {
      if (typeof message !== "string") {
        return { stop: { code: 1003, reason: "text messages only" } };
      }
      // To every client of the room on every instance, this one included.
      server.publish(state.topic, message);
    },
  });
  return Object.assign(server, { closeRedis: redis.close });
}

if (args.workers === undefined) {
  const server = await startInstance();
  console.log(
    `chat_cluster: listening on ${server.url.href.replace(/^ws/, "http")} (Redis ${args.redis})`,
  );
  const stop = async () => {
    await server.shutdown({ deadlineMs: 5000 });
    await server.closeRedis();
    console.log("chat_cluster: stopped");
    // Exit even if a Redis client still holds the event loop.
    (globalThis as { Deno?: { exit(code: number): never } }).Deno?.exit(0) ??
      (globalThis as unknown as { process: { exit(code: number): never } }).process.exit(0);
  };
  if (g.Deno) {
    const D = g.Deno as unknown as { addSignalListener(s: string, f: () => void): void };
    D.addSignalListener("SIGINT", stop);
    D.addSignalListener("SIGTERM", stop);
  } else {
    const p = g.process as unknown as { on(s: string, f: () => void): void };
    p.on("SIGINT", stop);
    p.on("SIGTERM", stop);
  }
} else {
  const cluster = await runCluster(async ({ index }) => {
    const server = await startInstance();
    return {
      shutdown: async (options?: { deadlineMs?: number }) => {
        await server.shutdown(options);
        await server.closeRedis();
        console.log(`chat_cluster: worker ${index} stopped`);
      },
    };
  }, args.workers > 0 ? { workers: args.workers } : {});
  if (cluster.role === "primary") {
    await cluster.ready;
    console.log(
      `chat_cluster: listening on http://${args.hostname}:${args.port}/ with ${cluster.workers} workers (Redis ${args.redis})`,
    );
    await cluster.finished;
    console.log("chat_cluster: stopped");
  }
}
