// What the adapters give frameworks (Hono, Express, Fastify…), without any
// framework: per-call `data` and 101 headers (`UpgradeOptions`) on every
// adapter; on node:http, `attach()` routed by path (other paths left to the
// server's other listeners, or 404) and through a fetch-style app whose
// routes accept with `accept()` or refuse with any response.
// The Deno.serve suite runs under Deno only, the Bun.serve one under Bun only.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { connect, defineHandler, detectRuntime, HandshakeError } from "../../../mod.ts";
import {
  bunServeAdapter,
  type BunServerLike,
  type BunWebSocketHandlers,
  denoServeAdapter,
  type DenoServeInfo,
  nodeHttpAdapter,
  type NodeHttpRequest,
} from "../../../lib/server/adapters/mod.ts";
import type { NodeSocket } from "../../../lib/transport/node.ts";
import { rawHandshake } from "../../_helpers/handshake_head.ts";

const runtime = detectRuntime();

/** Pushes `init`'s `context.data` as JSON, then echoes. */
const showData = defineHandler({
  init: (ctx) => ({ push: JSON.stringify(ctx.data ?? null) }),
  in: (message) => ({ push: message }),
});

/** An http.Server on a free port of 127.0.0.1 answering plain requests "page". */
async function httpServer(): Promise<
  { server: http.Server; port: number; close(): Promise<void> }
> {
  const server = http.createServer((_req, res) => res.end("page"));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The status of the refusal a sprig client gets. */
async function refusedWith(url: string, headers: Record<string, string> = {}) {
  const error = await connect(url, { headers }).then(async (client) => {
    await client.close();
    return undefined;
  }, (error: unknown) => error);
  assert.ok(error instanceof HandshakeError, `${url}: expected a refusal, got ${String(error)}`);
  return error;
}

/** Connects, and returns the first message (what `init` pushed), closing after. */
async function firstMessage(url: string, headers: Record<string, string> = {}) {
  await using client = await connect(url, { headers });
  return await client.receive({ timeoutMs: 5000 });
}

describe(`node:http adapter for frameworks (on ${runtime})`, () => {
  it("attach({ path }) takes that path's upgrades; others get 404, or go to the server's other listener", async () => {
    const ws = nodeHttpAdapter(showData);
    const { server, port, close } = await httpServer();
    const stop = ws.attach(server, { path: ["/ws", "/live"] });
    try {
      assert.equal(await firstMessage(`ws://127.0.0.1:${port}/ws`), "null");
      assert.equal(await firstMessage(`ws://127.0.0.1:${port}/live?x=1`), "null");
      assert.equal((await refusedWith(`ws://127.0.0.1:${port}/other`)).status, 404);
      // Another library's listener: sprig leaves it the paths it does not take.
      const others: string[] = [];
      const other = (req: http.IncomingMessage, socket: NodeSocket) => {
        others.push(req.url ?? "");
        (socket as { end(data: string): void }).end(
          "HTTP/1.1 418 I'm a teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
      };
      server.on("upgrade", other);
      assert.equal((await refusedWith(`ws://127.0.0.1:${port}/hmr`)).status, 418);
      assert.deepEqual(others, ["/hmr"]);
      server.off("upgrade", other);
      // Plain requests are the server's own.
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/ws`)).text(), "page");
    } finally {
      stop();
      await ws.shutdown();
      await close();
    }
  });

  it("attach({ fetch }): the app refuses with any response, or accepts with data and 101 headers", async () => {
    const errors: unknown[] = [];
    const ws = nodeHttpAdapter(showData, { onError: (error) => void errors.push(error) });
    const seen: Array<{ url: string; method: string; incoming: boolean }> = [];
    const app = (request: Request, env: { incoming: NodeHttpRequest }) => {
      const url = new URL(request.url);
      seen.push({
        url: url.pathname,
        method: request.method,
        incoming: env.incoming.rawHeaders.length > 0,
      });
      if (url.pathname === "/boom") throw new Error("the app failed");
      if (url.pathname !== "/ws") return new Response("not here", { status: 404 });
      const token = request.headers.get("authorization");
      if (token !== "Bearer ok") {
        return new Response("who are you", {
          status: 401,
          headers: { "www-authenticate": "Bearer" },
        });
      }
      return ws.accept(request, {
        data: { user: "ada" },
        // Handshake-owned names are left out of the 101.
        headers: { "x-app": "yes", "content-type": "text/plain", "sec-websocket-protocol": "evil" },
      });
    };
    const { server, port, close } = await httpServer();
    ws.attach(server, { fetch: app });
    try {
      const refused = await refusedWith(`ws://127.0.0.1:${port}/ws`);
      assert.equal(refused.status, 401);
      assert.equal(refused.headers.get("www-authenticate"), "Bearer");
      assert.equal(new TextDecoder().decode(refused.body), "who are you");
      assert.equal((await refusedWith(`ws://127.0.0.1:${port}/nope`)).status, 404);
      assert.equal((await refusedWith(`ws://127.0.0.1:${port}/boom`)).status, 500);
      assert.match(String(errors[0]), /the app failed/);

      const auth = { authorization: "Bearer ok" };
      assert.equal(await firstMessage(`ws://127.0.0.1:${port}/ws`, auth), '{"user":"ada"}');
      const head = await rawHandshake(port, "/ws", auth);
      assert.equal(head.status, 101);
      assert.equal(head.headers.get("x-app"), "yes");
      assert.equal(head.headers.get("content-type"), null);
      assert.equal(head.headers.get("sec-websocket-protocol"), null);
      assert.ok(seen.every((s) => s.method === "GET" && s.incoming));

      // A method a WHATWG Request refuses: 400 (Bun's node:http answers 405 itself), and the
      // server goes on.
      assert.equal(
        (await rawHandshake(port, "/ws", auth, "TRACE")).status,
        runtime === "bun" ? 405 : 400,
      );
      assert.equal(await firstMessage(`ws://127.0.0.1:${port}/ws`, auth), '{"user":"ada"}');

      // A plain request to the same route cannot be upgraded: 426.
      const plain = ws.accept(new Request(`http://127.0.0.1:${port}/ws`));
      assert.equal(plain.status, 426);
      assert.equal(plain.headers.get("upgrade"), "websocket");
    } finally {
      await ws.shutdown();
      await close();
    }
  });

  it("handleUpgrade(…, { data }) and the upgrade hook: the hook's data wins when it returns some", async () => {
    const ws = nodeHttpAdapter(showData, {
      upgrade: (request) =>
        new URL(request.url).pathname === "/hook"
          ? { data: "from the hook" }
          : { headers: { "x-hook": "1" } },
    });
    const { server, port, close } = await httpServer();
    server.on(
      "upgrade",
      (req: http.IncomingMessage, socket: NodeSocket, head: Uint8Array) =>
        ws.handleUpgrade(req, socket, head, { data: "from the call", headers: { "x-call": "1" } }),
    );
    try {
      assert.equal(await firstMessage(`ws://127.0.0.1:${port}/call`), '"from the call"');
      assert.equal(await firstMessage(`ws://127.0.0.1:${port}/hook`), '"from the hook"');
      const head = await rawHandshake(port, "/call", {});
      assert.equal(head.headers.get("x-call"), "1");
      assert.equal(head.headers.get("x-hook"), "1");
    } finally {
      await ws.shutdown();
      await close();
    }
  });
});

interface DenoServe {
  serve(
    options: { hostname: string; port: number; onListen?: () => void },
    handler: (request: Request, info: DenoServeInfo) => Response | Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

if (runtime === "deno") {
  describe("Deno.serve adapter for frameworks (Deno only)", () => {
    it("upgrade(request, info, { data, headers }): init sees the data, the 101 has the headers", async () => {
      const Deno = (globalThis as unknown as { Deno: DenoServe }).Deno;
      const ws = denoServeAdapter(showData);
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        (request, info) =>
          ws.upgrade(request, info, { data: { user: "ada" }, headers: { "x-app": "yes" } }),
      );
      const port = server.addr.port;
      try {
        assert.equal(await firstMessage(`ws://127.0.0.1:${port}/`), '{"user":"ada"}');
        const head = await rawHandshake(port, "/", {});
        assert.equal(head.status, 101);
        assert.equal(head.headers.get("x-app"), "yes");
      } finally {
        await ws.shutdown();
        await server.shutdown();
      }
    });
  });
}

interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    websocket: BunWebSocketHandlers;
    fetch(request: Request, server: BunServerLike): Promise<Response | undefined>;
  }): { port: number; stop(closeActive?: boolean): unknown };
}

if (runtime === "bun") {
  describe("Bun.serve adapter for frameworks (Bun only)", () => {
    it("upgrade(request, server, { data, headers }): init sees the data, the 101 has the headers", async () => {
      const Bun = (globalThis as unknown as { Bun: BunServe }).Bun;
      const ws = bunServeAdapter(showData);
      const server = Bun.serve({
        hostname: "127.0.0.1",
        port: 0,
        websocket: ws.websocket,
        fetch: (request, bunServer) =>
          ws.upgrade(request, bunServer, { data: { user: "ada" }, headers: { "x-app": "yes" } }),
      });
      try {
        assert.equal(await firstMessage(`ws://127.0.0.1:${server.port}/`), '{"user":"ada"}');
        const head = await rawHandshake(server.port, "/", {});
        assert.equal(head.status, 101);
        assert.equal(head.headers.get("x-app"), "yes");
      } finally {
        await ws.shutdown();
        await server.stop(true);
      }
    });
  });
}
