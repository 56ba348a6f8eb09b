// Helpers for the server tests: one handler whose behaviour is chosen by
// the request path, and starters for every host that can run it. On each
// runtime, `hostsOfRuntime()` lists the hosts that runtime has:
//   sprig serve() on the runtime's own listener (Deno.listen, Bun.listen, node:net)
//   sprig serve() on node:net through the runtime's Node compatibility (Deno, Bun)
//   node:http adapter (every runtime)
//   Deno.serve adapter (Deno only), Bun.serve adapter (Bun only)
import * as http from "node:http";
import type * as net from "node:net";
import assert from "node:assert/strict";
import { detectRuntime } from "../../mod.ts";
import {
  bunServeAdapter,
  type BunServerLike,
  type BunWebSocketHandlers,
  denoServeAdapter,
  type DenoServeInfo,
  nodeHttpAdapter,
} from "../../lib/server/adapters/mod.ts";
import {
  defineHandler,
  type Handler,
  serve,
  type ServeOptions,
  type TerminateReason,
  type WebSocketHostOptions,
  type WebSocketHub,
} from "../../lib/server/mod.ts";

/** The hosts a handler can run on. */
export type HostKind = "serve" | "serve/node:net" | "node:http" | "Deno.serve" | "Bun.serve";

/** A running host, as the tests see it. */
export interface TestHost {
  kind: HostKind;
  /** The test name's label, saying where it runs. */
  label: string;
  port: number;
  hub: WebSocketHub<string>;
  /** Pings and pongs reach `control`. */
  control: boolean;
  /** sprig negotiates compression itself (so `context.extensions` is known). */
  sprigProtocol: boolean;
  url(path: string): string;
  stop(): Promise<void>;
}

/** The hosts this runtime has, in the order the suites run them. */
export function hostsOfRuntime(): HostKind[] {
  const runtime = detectRuntime();
  const kinds: HostKind[] = ["serve"];
  if (runtime !== "node") kinds.push("serve/node:net");
  kinds.push("node:http");
  if (runtime === "deno") kinds.push("Deno.serve");
  if (runtime === "bun") kinds.push("Bun.serve");
  return kinds;
}

/** A label for test names: the host, and that it runs on this runtime. */
export function labelOf(kind: HostKind): string {
  const runtime = detectRuntime();
  switch (kind) {
    case "serve":
      return `sprig serve() on ${
        runtime === "deno" ? "Deno.listen" : runtime === "bun" ? "Bun.listen" : "node:net"
      }`;
    case "serve/node:net":
      return `sprig serve() on node:net (${runtime}'s Node compatibility)`;
    case "node:http":
      return `node:http adapter (on ${runtime})`;
    case "Deno.serve":
      return "Deno.serve adapter (Deno only)";
    case "Bun.serve":
      return "Bun.serve adapter (Bun only)";
  }
}

interface DenoServeNamespace {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
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
  }): { port: number; stop(closeActive?: boolean): Promise<void> | void };
}

/** Starts `handler` on a host of `kind`, on 127.0.0.1 and a free port. */
export async function startHost<S>(
  kind: HostKind,
  handler: Handler<S, string, unknown>,
  options: ServeOptions<unknown> = {},
): Promise<TestHost> {
  const base = { kind, label: labelOf(kind) };
  const url = (port: number) => (path: string) => `ws://127.0.0.1:${port}${path}`;
  switch (kind) {
    case "serve":
    case "serve/node:net": {
      const server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        listener: kind === "serve/node:net" ? "node" : undefined,
        ...options,
      }, handler);
      return {
        ...base,
        port: server.port,
        hub: server,
        control: true,
        sprigProtocol: true,
        url: url(server.port),
        stop: () => server.shutdown({ deadlineMs: 2000 }),
      };
    }
    case "node:http": {
      const adapter = nodeHttpAdapter(handler, options as WebSocketHostOptions<unknown>);
      const server = http.createServer((_req, res) => res.end("a page"));
      adapter.attach(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as net.AddressInfo).port;
      return {
        ...base,
        port,
        hub: adapter,
        control: true,
        sprigProtocol: true,
        url: url(port),
        async stop() {
          await adapter.shutdown({ deadlineMs: 2000 });
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections?.();
          });
        },
      };
    }
    case "Deno.serve": {
      const Deno = (globalThis as { Deno?: DenoServeNamespace }).Deno!;
      const adapter = denoServeAdapter(handler, options as WebSocketHostOptions<unknown>);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        (req, info) => adapter.isUpgrade(req) ? adapter.upgrade(req, info) : new Response("a page"),
      );
      return {
        ...base,
        port: server.addr.port,
        hub: adapter,
        control: adapter.capabilities.control,
        sprigProtocol: false,
        url: url(server.addr.port),
        async stop() {
          await adapter.shutdown({ deadlineMs: 2000 });
          await server.shutdown();
        },
      };
    }
    case "Bun.serve": {
      const Bun = (globalThis as { Bun?: BunServeNamespace }).Bun!;
      const adapter = bunServeAdapter(handler, options as WebSocketHostOptions<unknown>);
      const server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        websocket: adapter.websocket,
        fetch: async (req, srv) =>
          adapter.isUpgrade(req) ? await adapter.upgrade(req, srv) : new Response("a page"),
      });
      return {
        ...base,
        port: server.port,
        hub: adapter,
        control: adapter.capabilities.control,
        sprigProtocol: false,
        url: url(server.port),
        async stop() {
          await adapter.shutdown({ deadlineMs: 2000 });
          await server.stop(true);
        },
      };
    }
  }
}

/** What the suite handler records. */
export interface SuiteLog {
  terminated: Array<{ path: string; reason: TerminateReason }>;
  maxActive: number;
}

interface SuiteState {
  path: string;
  n: number;
  publish: (topic: string, message: string) => number;
}

let active = 0;

/**
 * The handler every host runs. Paths choose behaviours:
 *   /echo (and anything else)  echoes, text as text, binary as binary
 *   /hello         pushes a JSON description of its context first, then echoes
 *   /slow          async: waits 0–2 ms per message, replies "<n>:<message>"
 *   /throw         throws on "boom" (1011), echoes otherwise
 *   /stop          replies "bye" and stops with 4001 "asked"
 *   /init-stop     stops from init with 4002
 *   /sub/<topic>   subscribes to <topic>; "pub:<text>" publishes <text> to it (not to itself)
 *   /control       pushes "ping:<bytes>" / "pong:<bytes>" for each control frame
 *   info messages are pushed back as "info:<message>"
 */
export function suiteHandler(log: SuiteLog): Handler<SuiteState, string, unknown> {
  return defineHandler<SuiteState, string, unknown>({
    init(ctx) {
      const path = ctx.url.pathname;
      const state: SuiteState = {
        path,
        n: 0,
        publish: (topic, message) => ctx.ref.publish(topic, message),
      };
      if (path.startsWith("/sub/")) ctx.ref.subscribe(path.slice(5));
      if (path === "/init-stop") return { state, stop: { code: 4002, reason: "not today" } };
      if (path === "/hello") {
        return {
          state,
          push: JSON.stringify({
            path,
            search: ctx.url.search,
            protocol: ctx.protocol,
            extensions: ctx.extensions,
            header: ctx.headers.get("x-test"),
            data: ctx.data ?? null,
            remote: ctx.remoteAddress?.hostname ?? null,
          }),
        };
      }
      return { state };
    },
    async in(message, state) {
      switch (state.path) {
        case "/slow": {
          active++;
          log.maxActive = Math.max(log.maxActive, active);
          await new Promise((resolve) => setTimeout(resolve, state.n % 3));
          active--;
          return { state: { ...state, n: state.n + 1 }, push: `${state.n}:${message}` };
        }
        case "/throw":
          if (message === "boom") throw new Error("boom");
          return { push: message };
        case "/stop":
          return { push: "bye", stop: { code: 4001, reason: "asked" } };
        default:
          if (
            state.path.startsWith("/sub/") && typeof message === "string" &&
            message.startsWith("pub:")
          ) {
            state.publish(state.path.slice(5), message.slice(4));
            return;
          }
          return { push: message };
      }
    },
    info: (message) => ({ push: `info:${message}` }),
    control(frame, state) {
      if (state.path === "/control") return { push: `${frame.type}:${frame.data.length}` };
    },
    terminate(reason, state) {
      log.terminated.push({ path: state.path, reason });
    },
  });
}

/** Bounded wait for a condition, one macrotask per turn, at most `timeoutMs`. */
export async function until(
  condition: () => boolean,
  label: string,
  timeoutMs = 10_000,
): Promise<void> {
  const started = Date.now();
  for (let i = 0; i < 100_000; i++) {
    if (condition()) return;
    if (Date.now() - started > timeoutMs) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  assert.fail(`timed out waiting for ${label}`);
}
