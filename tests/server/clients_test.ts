// Real clients against sprig's serve() on this runtime's listener: Python's
// `websockets` (Debian's python3-websockets, its own process), headless
// Chromium loading a page that sprig serves through `fetch` and opening a
// socket back (its own process, driven by playwright-core on Node), a page
// of another origin refused by the Origin check, and the runtime's built-in
// WebSocket client where the runtime has one (Deno and Bun; Node 20 has none).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { detectRuntime } from "../../mod.ts";
import { runJson } from "../_helpers/peer.ts";
import { defineHandler, serve, type Server } from "../../lib/server/mod.ts";

const runtime = detectRuntime();
const listenerName = runtime === "deno"
  ? "Deno.listen"
  : runtime === "bun"
  ? "Bun.listen"
  : "node:net";

const echo = defineHandler({
  in(message) {
    if (message === "stop") return { stop: { code: 4001, reason: "asked to stop" } };
    return { push: message };
  },
});

const page = (socketUrl: string) =>
  `<!doctype html><meta charset="utf-8"><title>sprig</title><script>
const ws = new WebSocket(${JSON.stringify(socketUrl)}, ["chat.v1"]);
ws.binaryType = "arraybuffer";
const got = [];
ws.onopen = () => { ws.send("hello from the browser"); ws.send(new Uint8Array([1, 2, 3])); ws.send("z".repeat(5000)); };
ws.onmessage = (e) => {
  got.push(typeof e.data === "string" ? (e.data.length > 100 ? "long:" + e.data.length : e.data) : Array.from(new Uint8Array(e.data)));
  if (got.length === 3) ws.send("stop");
};
ws.onclose = (e) => { window.__result = { got, extensions: ws.extensions, protocol: ws.protocol, code: e.code, reason: e.reason, wasClean: e.wasClean }; };
</script>`;

describe(
  `real clients against sprig serve() on ${listenerName}: Python websockets, headless Chromium${
    typeof WebSocket === "function" ? `, ${runtime}'s built-in WebSocket` : ""
  }`,
  () => {
    let server: Server;
    let other: Server;
    before(async () => {
      let origin = "";
      server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        protocols: ["chat.v1"],
        upgrade: (request) => {
          // The Origin allow-list is this server's own origin, known once it listens.
          const o = request.headers.get("origin");
          if (o !== null && o !== origin) {
            return new Response("origin not allowed", { status: 403 });
          }
        },
        fetch: (request) =>
          new Response(page(`ws://${new URL(request.url).host}/echo`), {
            headers: { "content-type": "text/html" },
          }),
      }, echo);
      origin = `http://127.0.0.1:${server.port}`;
      // Another origin whose page tries to open a socket to `server`.
      other = await serve({
        hostname: "127.0.0.1",
        port: 0,
        fetch: () =>
          new Response(page(`ws://127.0.0.1:${server.port}/echo`), {
            headers: { "content-type": "text/html" },
          }),
      }, echo);
    });
    after(async () => {
      await Promise.all([
        server?.shutdown({ deadlineMs: 1000 }),
        other?.shutdown({ deadlineMs: 1000 }),
      ]);
    });

    it("Python websockets: echo, compression, subprotocol, ping, and the server's close code", async () => {
      const r = await runJson("/usr/bin/python3", [
        new URL("../_peers/python_client.py", import.meta.url).pathname,
        `ws://127.0.0.1:${server.port}/echo`,
      ]);
      assert.equal(r.text, "hello");
      assert.deepEqual(r.binary, [0, 1, 255]);
      assert.equal(r.bigEchoed, true);
      assert.match(String(r.extensions), /^permessage-deflate/);
      assert.equal(r.protocol, "chat.v1");
      assert.equal(r.closeCode, 4001);
      assert.equal(r.closeReason, "asked to stop");
    });

    it("headless Chromium loads a page served by fetch and talks to the socket on the same port", async () => {
      const r = await runJson("node", [
        new URL("../_peers/chromium_client.mjs", import.meta.url).pathname,
        `http://127.0.0.1:${server.port}/`,
        "30000",
      ]);
      assert.ok(!r.error, String(r.error));
      const result = r.result as Record<string, unknown>;
      assert.deepEqual(result.got, ["hello from the browser", [1, 2, 3], "long:5000"]);
      assert.match(String(result.extensions), /^permessage-deflate/);
      assert.equal(result.protocol, "chat.v1");
      assert.equal(result.code, 4001);
      assert.equal(result.wasClean, true);
    });

    it("headless Chromium on a page of another origin is refused by the Origin check (403 → 1006)", async () => {
      const r = await runJson("node", [
        new URL("../_peers/chromium_client.mjs", import.meta.url).pathname,
        `http://127.0.0.1:${other.port}/`,
        "30000",
      ]);
      assert.ok(!r.error, String(r.error));
      const result = r.result as Record<string, unknown>;
      assert.deepEqual(result.got, []);
      assert.equal(result.code, 1006);
    });

    if (typeof WebSocket === "function") {
      it(`${runtime}'s built-in WebSocket client: echo and the server's close code`, async () => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.port}/echo`, ["chat.v1"]);
        ws.binaryType = "arraybuffer";
        const got: unknown[] = [];
        const closed = new Promise<{ code: number; reason: string }>((resolve) => {
          ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
        });
        await new Promise<void>((resolve, reject) => {
          ws.onopen = () => resolve();
          ws.onerror = () => reject(new Error("the built-in client failed to connect"));
        });
        assert.equal(ws.protocol, "chat.v1");
        // Bun's client negotiates permessage-deflate (RFC 7692); Deno's does not offer it.
        if (runtime === "bun") assert.match(ws.extensions, /^permessage-deflate/);
        const big = "compressible ".repeat(8000);
        ws.onmessage = (e) => {
          got.push(
            typeof e.data === "string" ? e.data : [...new Uint8Array(e.data as ArrayBuffer)],
          );
          if (got.length === 3) ws.send("stop");
        };
        ws.send("native");
        ws.send(new Uint8Array([7, 8]));
        ws.send(big);
        const info = await closed;
        assert.deepEqual(got, ["native", [7, 8], big]);
        assert.deepEqual(info, { code: 4001, reason: "asked to stop" });
      });
    }
  },
);
