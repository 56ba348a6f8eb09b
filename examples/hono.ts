/**
 * sprig on a Hono route, on Deno (`Deno.serve`), Bun (`Bun.serve`) and Node
 * (`@hono/node-server`): Hono's middleware runs before the upgrade (CORS, and
 * a bearer-token check that answers 401 without upgrading), and the user it
 * found reaches the handler's `init` as `context.data`. Plain routes answer
 * beside the WebSocket route.
 *
 *   deno run -A examples/hono.ts --port 8080
 *   bun examples/hono.ts --port 8080
 *   npx tsx examples/hono.ts --port 8080
 *
 * Then `GET /hello` answers, and a WebSocket to `/ws` with
 * `Authorization: Bearer token-ada` is greeted "hello, ada" and echoes as
 * "ada: …". Options: --port N (default 8080; 0 picks a free port), --host
 * ADDRESS (default 127.0.0.1). Prints one line with its URL once it listens;
 * Ctrl-C closes the WebSockets with 1001, then the server.
 */
import process from "node:process";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import { serve as nodeServe } from "@hono/node-server";
import { defineHandler, detectRuntime, type WebSocketHub } from "../mod.ts";
import {
  bunServeAdapter,
  type BunServerLike,
  type BunWebSocketHandlers,
  denoServeAdapter,
  type DenoServeInfo,
  nodeHttpAdapter,
  type NodeHttpServer,
  type UpgradeOptions,
} from "../lib/server/adapters/mod.ts";

// ---------------------------------------------------------------- the app

/** What the auth middleware found, for the routes (`c.get("user")`) and for `init`. */
interface User {
  name: string;
}

type AppEnv = { Variables: { user: User } };

/** A sprig handler: greets the user its `init` learns from Hono's context, then echoes. */
const echo = defineHandler({
  init: (ctx: { data: User }) => ({ state: ctx.data, push: `hello, ${ctx.data.name}` }),
  in: (message, user: User) => ({ push: `${user.name}: ${message}` }),
});

// A stand-in for a real token check (a session store, a JWT verification…).
const tokens = new Map([["token-ada", "ada"], ["token-bob", "bob"]]);

/** Hono middleware: the bearer token's user, or 401 (the upgrade never happens). */
const auth: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = /^Bearer (.+)$/.exec(c.req.header("authorization") ?? "")?.[1];
  const name = token === undefined ? undefined : tokens.get(token);
  if (name === undefined) {
    return c.text("unauthorized\n", 401, { "www-authenticate": 'Bearer realm="example"' });
  }
  c.set("user", { name });
  await next();
};

/**
 * This runtime's way to hand one request to sprig: the adapter's upgrade,
 * with `data` for `init` and the headers Hono's middleware set (CORS…) for
 * the 101. Set once the server is chosen, below.
 */
let upgrade: (c: Context<AppEnv>, options: UpgradeOptions<User>) => Promise<Response>;

// CORS does not protect a WebSocket (browsers open one to any site, with its
// cookies): the adapters check the Origin themselves, and refuse others with 403.
const origins = ["https://app.example"];
const app = new Hono<AppEnv>();
app.use("*", cors({ origin: origins }));
app.get("/hello", (c) => c.text("hello from Hono\n"));
app.use("/ws", auth);
app.get("/ws", (c) => upgrade(c, { data: c.get("user"), headers: c.res.headers }));

// ---------------------------------------------------------------- the servers

interface Running {
  port: number;
  hub: WebSocketHub;
  /** Stops the HTTP server (after the hub's shutdown closed the WebSockets). */
  close(): Promise<void>;
}

interface DenoServe {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    websocket: BunWebSocketHandlers;
    fetch(request: Request, server: BunServerLike): Response | Promise<Response>;
  }): { port: number; stop(closeActive?: boolean): unknown };
}

function startDeno(hostname: string, port: number): Running {
  const Deno = (globalThis as unknown as { Deno: DenoServe }).Deno;
  const ws = denoServeAdapter(echo, { origins });
  // Hono passes Deno.serve's second argument (the client's address) as c.env.
  upgrade = (c, options) => ws.upgrade(c.req.raw, c.env as DenoServeInfo, options);
  const server = Deno.serve({ hostname, port, onListen: () => {} }, app.fetch);
  return { port: server.addr.port, hub: ws, close: () => server.shutdown() };
}

function startBun(hostname: string, port: number): Running {
  const Bun = (globalThis as unknown as { Bun: BunServe }).Bun;
  const ws = bunServeAdapter(echo, { origins });
  // Hono passes Bun's server as c.env; once upgraded, Bun ignores the response.
  upgrade = async (c, options) =>
    await ws.upgrade(c.req.raw, c.env as BunServerLike, options) ?? new Response(null);
  const server = Bun.serve({ hostname, port, fetch: app.fetch, websocket: ws.websocket });
  return { port: server.port, hub: ws, close: async () => void await server.stop(true) };
}

async function startNode(hostname: string, port: number): Promise<Running> {
  const ws = nodeHttpAdapter(echo, { origins });
  // Node's upgrades do not reach the request handler: sprig runs them
  // through app.fetch (middleware, routing), and upgrades what /ws accepts.
  upgrade = (c, options) => Promise.resolve(ws.accept(c.req.raw, options));
  const server = await new Promise<ReturnType<typeof nodeServe>>((resolve) => {
    const s = nodeServe({ fetch: app.fetch, hostname, port }, () => resolve(s));
  });
  ws.attach(server as NodeHttpServer, { fetch: app.fetch });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    hub: ws,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------- main

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at === -1 || at + 1 >= args.length ? fallback : args[at + 1]!;
};
const port = Number(option("--port", "8080"));
const hostname = option("--host", "127.0.0.1");
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port takes a port number, not ${option("--port", "")}`);
  process.exit(2);
}

const runtime = detectRuntime();
const running = runtime === "deno"
  ? startDeno(hostname, port)
  : runtime === "bun"
  ? startBun(hostname, port)
  : await startNode(hostname, port);
const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
console.log(`sprig on Hono (${runtime}) on http://${shown}:${running.port}/`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await running.hub.shutdown({ deadlineMs: 5000 }); // every WebSocket closes with 1001
  await running.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
