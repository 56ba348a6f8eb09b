/**
 * A chat with rooms and a browser page. Each room is a pub/sub topic; the
 * same handler runs on sprig's own server or, through the adapters, on
 * Deno.serve, Bun.serve or node:http, which also serve the page.
 *
 *   deno run -A examples/chat.ts                  (sprig's server, on Deno.listen)
 *   deno run -A examples/chat.ts --host deno      (Deno.serve + denoServeAdapter)
 *   bun examples/chat.ts --host bun               (Bun.serve + bunServeAdapter)
 *   npx tsx examples/chat.ts --host node          (node:http + nodeHttpAdapter; any runtime)
 *
 * Then open http://127.0.0.1:8080/?room=lobby&name=ada in two browser tabs
 * (a third with ?room=kitchen hears nothing of the lobby). The page's
 * WebSocket is ws://127.0.0.1:8080/ws?room=lobby&name=ada (other paths get
 * 404); it receives JSON: {"type":"join"|"leave","name"} and
 * {"type":"message","name","text"}, and sends plain text.
 *
 * Options: --host sprig|deno|bun|node (default sprig), --port N (default
 * 8080; 0 picks a free port), --hostname ADDRESS (default 127.0.0.1). Prints
 * one line with the page's URL once it listens; Ctrl-C (or SIGTERM) closes
 * every chat with 1001 and exits.
 */
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { type ConnectionRef, defineHandler, serve, type WebSocketHub } from "../mod.ts";
import {
  bunServeAdapter,
  type BunServerLike,
  type BunWebSocketHandlers,
  denoServeAdapter,
  type DenoServeInfo,
  nodeHttpAdapter,
} from "../lib/server/adapters/mod.ts";
import type { UpgradeHook } from "../lib/server/handler/options.ts";
import { CHAT_PAGE } from "./chat_page.ts";

// ---------------------------------------------------------------- the chat

/** What each connection keeps: its room's topic, its name, its address. */
interface Member {
  topic: string;
  name: string;
  ref: ConnectionRef;
}

const MAX_TEXT = 1000;

/** A room name: letters, digits, "-" and "_", at most 32; anything else is the lobby. */
function roomOf(url: URL): string {
  const room = url.searchParams.get("room") ?? "";
  return /^[\w-]{1,32}$/.test(room) ? room : "lobby";
}

/** A display name, trimmed to 32 characters. */
function nameOf(url: URL): string {
  return (url.searchParams.get("name") ?? "").trim().slice(0, 32) || "guest";
}

/**
 * The chat handler: joining subscribes to the room's topic and tells the
 * room; each text message goes to everyone in the room (the sender too);
 * leaving tells the room.
 */
export const chat = defineHandler<Member>({
  init: (ctx) => {
    const topic = `room:${roomOf(ctx.url)}`;
    const name = nameOf(ctx.url);
    ctx.ref.subscribe(topic);
    const joined = JSON.stringify({ type: "join", name });
    ctx.ref.publish(topic, joined); // the others
    return { state: { topic, name, ref: ctx.ref as ConnectionRef }, push: joined };
  },
  in: (message, member) => {
    if (typeof message !== "string") return; // the page sends text only
    const line = JSON.stringify({
      type: "message",
      name: member.name,
      text: message.slice(0, MAX_TEXT),
    });
    member.ref.publish(member.topic, line); // everyone else in the room…
    return { push: line }; // …and the sender, in the same order
  },
  terminate: (_reason, member) => {
    member.ref.publish(member.topic, JSON.stringify({ type: "leave", name: member.name }));
  },
});

/** WebSocket upgrades are for /ws only. */
const upgrade: UpgradeHook = (request) =>
  new URL(request.url).pathname === "/ws"
    ? undefined
    : new Response("WebSockets are at /ws\n", { status: 404 });

/** The page at `/`, 404 elsewhere. */
function page(request: Request | { url?: string }): Response {
  const path = new URL(request.url ?? "/", "http://x").pathname;
  return path === "/"
    ? new Response(CHAT_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } })
    : new Response("not found\n", { status: 404 });
}

// ---------------------------------------------------------------- the hosts

/** A running chat server. */
interface Running {
  port: number;
  hub: WebSocketHub;
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
    fetch(request: Request, server: BunServerLike): Promise<Response | undefined>;
  }): { port: number; stop(closeActive?: boolean): unknown };
}

const hosts: Record<string, (hostname: string, port: number) => Promise<Running>> = {
  async sprig(hostname, port) {
    const server = await serve({ hostname, port, upgrade, fetch: page }, chat);
    return { port: server.port, hub: server, close: () => server.shutdown() };
  },

  deno(hostname, port) {
    const Deno = (globalThis as { Deno?: DenoServe }).Deno;
    if (!Deno) throw new Error("--host deno needs Deno: deno run -A examples/chat.ts --host deno");
    const ws = denoServeAdapter(chat, { upgrade });
    const server = Deno.serve(
      { hostname, port, onListen: () => {} },
      (request, info) => ws.isUpgrade(request) ? ws.upgrade(request, info) : page(request),
    );
    return Promise.resolve({ port: server.addr.port, hub: ws, close: () => server.shutdown() });
  },

  bun(hostname, port) {
    const Bun = (globalThis as { Bun?: BunServe }).Bun;
    if (!Bun) throw new Error("--host bun needs Bun: bun examples/chat.ts --host bun");
    const ws = bunServeAdapter(chat, { upgrade });
    const server = Bun.serve({
      hostname,
      port,
      websocket: ws.websocket,
      fetch: async (request, bunServer) =>
        ws.isUpgrade(request) ? await ws.upgrade(request, bunServer) : page(request),
    });
    return Promise.resolve({
      port: server.port,
      hub: ws,
      close: async () => void await server.stop(true),
    });
  },

  async node(hostname, port) {
    const ws = nodeHttpAdapter(chat, { upgrade });
    const server = http.createServer(async (req, res) => {
      const response = page(req);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(await response.text());
    });
    ws.attach(server);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, hostname, resolve);
    });
    return {
      port: (server.address() as AddressInfo).port,
      hub: ws,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
};

// ---------------------------------------------------------------- main

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at === -1 || at + 1 >= args.length ? fallback : args[at + 1]!;
};
const hostName = option("--host", "sprig");
const port = Number(option("--port", "8080"));
const hostname = option("--hostname", "127.0.0.1");
const start = hosts[hostName];
if (!start) {
  console.error(`--host takes sprig, deno, bun or node, not ${hostName}`);
  process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port takes a port number, not ${option("--port", "")}`);
  process.exit(2);
}

let running: Running;
try {
  running = await start(hostname, port);
} catch (error) {
  console.error(`chat: ${(error as Error).message}`);
  process.exit(1);
}
const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
console.log(`sprig chat (${hostName}) on http://${shown}:${running.port}/?room=lobby`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await running.hub.shutdown({ deadlineMs: 5000 }); // every chat closes with 1001
  await running.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
