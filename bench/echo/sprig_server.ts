/**
 * sprig's echo server for the echo benchmark (`bench/echo/run.mjs`), on the
 * runtime that runs this file:
 *
 *   deno run -A bench/echo/sprig_server.ts [--host serve|native] [--deflate]
 *   bun bench/echo/sprig_server.ts [--host serve|native] [--deflate]
 *   node --import tsx bench/echo/sprig_server.ts [--host serve|native] [--deflate]
 *
 * `--handler sync|async` (default sync) picks the echo handler's form, below;
 * `--handler broadcast|broadcast-async` serves wsload's `--broadcast` room instead;
 * `--retain N` gives the room a history of its last N messages (positions,
 * an in-memory ring; the messages on the wire are unchanged).
 * `--redis URL` shares the room through that Redis (`redisBroker`; with
 * `--retain`, the history in a Redis Stream, `history: true`), and
 * `--reuse-port` lets several such servers listen on one `--port` (the
 * kernel spreads the connections), as the fan-out benchmark's two instances.
 * `--host serve` (the default) is sprig's own server, `serve()`, on the
 * runtime's sockets (Deno.listen, Bun.listen, node:net). `--host native` runs
 * the same handler on the runtime's native server through sprig's adapters:
 * Deno.serve, Bun.serve, node:http. `--deflate` accepts permessage-deflate
 * (without it, compression is off). `--port P` (default 0: a free port).
 *
 * Listens on 127.0.0.1 only, prints one line ending in
 * `listening on 127.0.0.1:PORT` when ready, and exits on SIGTERM or SIGINT.
 * Only sprig's public API is used, so it keeps working across rewrites of
 * sprig's internals.
 */
import * as http from "node:http";
import type * as net from "node:net";
import process from "node:process";
import {
  type ConnectionRef,
  detectRuntime,
  type Handler,
  type MessageData,
  serve,
} from "../../mod.ts";
import {
  bunServeAdapter,
  type BunServerLike,
  type BunWebSocketHandlers,
  denoServeAdapter,
  type DenoServeInfo,
  nodeHttpAdapter,
} from "../../lib/server/adapters/mod.ts";
import { redisBroker as makeBroker, type RedisPubSubClient } from "../../lib/scale/mod.ts";

interface DenoServeNamespace {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): { addr: { port: number } };
}

interface BunServeNamespace {
  serve(options: {
    hostname: string;
    port: number;
    websocket: BunWebSocketHandlers;
    fetch(
      request: Request,
      server: BunServerLike,
    ): Response | undefined | Promise<Response | undefined>;
  }): { port: number };
}

const HOSTNAME = "127.0.0.1";

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const hostKind = argValue("--host", "serve");
const handlerKind = argValue("--handler", "sync");
const deflate = process.argv.includes("--deflate");
const wantedPort = Number(argValue("--port", "0"));
const retain = Number(argValue("--retain", "0"));
const redisUrl = argValue("--redis", "");
const reusePort = process.argv.includes("--reuse-port");
const runtime = detectRuntime();
if (!["sync", "async", "broadcast", "broadcast-async"].includes(handlerKind)) {
  console.error(`--handler must be sync, async, broadcast or broadcast-async, not ${handlerKind}`);
  process.exit(2);
}
if (hostKind !== "serve" && hostKind !== "native") {
  console.error(`--host must be serve or native, not ${hostKind}`);
  process.exit(2);
}

/**
 * The echo handler: every message goes back as it came, text as text, binary
 * as binary. `--handler async` is the same handler written as an `async`
 * function (what an application that awaits a database or a queue looks
 * like): every message then resumes the handler from a settled promise.
 */
const echoHandler: Handler<undefined> = handlerKind === "async"
  ? {
    // deno-lint-ignore require-await
    async in(message) {
      return { push: message };
    },
  }
  : { in: (message) => ({ push: message }) };

/**
 * `--handler broadcast` (or `broadcast-async`): a chat room for wsload's
 * `--broadcast` mode, the shape of Bun's chat benchmark: every connection
 * joins "room" and each message goes to every member, the sender included
 * (published to the others, pushed back to the sender).
 */
type Member = ConnectionRef<Member>;
// With the history in Redis every copy comes back through Redis, the sender's included.
const viaBroker = redisUrl !== "" && retain > 0;
const broadcast: Handler<Member> = {
  init: (ctx) => {
    ctx.ref.subscribe("room");
    return { state: ctx.ref as Member };
  },
  ...(viaBroker
    ? { in: (message: MessageData, ref: Member) => void ref.publish("room", message) }
    : handlerKind === "broadcast-async"
    ? {
      // deno-lint-ignore require-await
      async in(message: MessageData, ref: Member) {
        ref.publish("room", message);
        return { push: message };
      },
    }
    : {
      in(message: MessageData, ref: Member) {
        ref.publish("room", message);
        return { push: message };
      },
    }),
};
const echo = (handlerKind.startsWith("broadcast") ? broadcast : echoHandler) as Handler<undefined>;

/**
 * The options every host gets: compression as asked; the connection cap
 * lifted, as the reference servers have none (the idle-memory run opens
 * 10,000 connections); everything else is sprig's default.
 */
const options = {
  compression: deflate,
  maxConnections: 1_000_000,
  ...(retain > 0 ? { topics: () => ({ retain: { messages: retain } }) } : {}),
  ...(redisUrl ? { broker: await redisBroker(redisUrl, retain > 0) } : {}),
};

/** A broker on two Redis connections: Bun's RedisClient on Bun, node-redis elsewhere. */
async function redisBroker(url: string, history: boolean) {
  const g = globalThis as {
    Bun?: { RedisClient: new (url: string) => RedisPubSubClient & { connect(): Promise<void> } };
  };
  if (g.Bun) {
    const p = new g.Bun.RedisClient(url), s = new g.Bun.RedisClient(url);
    await Promise.all([p.connect(), s.connect()]);
    return makeBroker({ publisher: p, subscriber: s, history });
  }
  const { createClient } = await import("redis");
  const p = createClient({ url });
  const s = p.duplicate();
  p.on("error", () => {});
  s.on("error", () => {});
  await Promise.all([p.connect(), s.connect()]);
  return makeBroker({ publisher: p, subscriber: s, history });
}

function nativeHostName(): string {
  return runtime === "deno" ? "Deno.serve" : runtime === "bun" ? "Bun.serve" : "node:http";
}

async function start(): Promise<number> {
  if (hostKind === "serve") {
    const server = await serve({
      hostname: HOSTNAME,
      port: wantedPort,
      ...(reusePort ? { reusePort: true } : {}),
      ...options,
    }, echo);
    return server.port;
  }
  if (runtime === "deno") {
    const Deno = (globalThis as { Deno?: DenoServeNamespace }).Deno!;
    const adapter = denoServeAdapter(echo, options);
    const server = Deno.serve(
      { hostname: HOSTNAME, port: wantedPort, onListen() {} },
      (req, info) =>
        adapter.isUpgrade(req) ? adapter.upgrade(req, info) : new Response("WebSocket only\n"),
    );
    return server.addr.port;
  }
  if (runtime === "bun") {
    const Bun = (globalThis as { Bun?: BunServeNamespace }).Bun!;
    const adapter = bunServeAdapter(echo, options);
    const server = Bun.serve({
      hostname: HOSTNAME,
      port: wantedPort,
      websocket: adapter.websocket,
      fetch: (req, srv) =>
        adapter.isUpgrade(req) ? adapter.upgrade(req, srv) : new Response("WebSocket only\n"),
    });
    return server.port;
  }
  const adapter = nodeHttpAdapter(echo, options);
  const server = http.createServer((_req, res) => res.end("WebSocket only\n"));
  adapter.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(wantedPort, HOSTNAME, () => resolve());
  });
  return (server.address() as net.AddressInfo).port;
}

const port = await start();
const where = (hostKind === "serve" ? "serve()" : `${nativeHostName()} adapter`) +
  (handlerKind === "async" ? ", async handler," : "");
console.log(
  `sprig ${where} on ${runtime} ${runtimeVersion()} (deflate: ${deflate}) echo listening on ${HOSTNAME}:${port}`,
);
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => process.exit(0));

function runtimeVersion(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  return g.Deno ? g.Deno.version.deno : g.Bun ? g.Bun.version : process.version;
}
