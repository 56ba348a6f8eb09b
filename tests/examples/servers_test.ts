// The server examples run as their header comments say, on the runtime
// running this test (deno run -A, bun, or tsx on Node), and do what they
// promise:
// - chat.ts, on every host this runtime has (sprig's server; Deno.serve
//   under Deno; Bun.serve under Bun; node:http everywhere): three people in
//   headless Chromium use its page; two in one room see each other's
//   messages, the one in another room sees none of them;
// - echo_server.ts: echoes with compression, and Ctrl-C closes clients with 1001.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { startExample } from "../_helpers/example_process.ts";
import { connect, detectRuntime } from "../../mod.ts";

const runtime = detectRuntime();

/** Runs the three-person Chromium session against the chat at `base`. */
function chromiumChat(base: URL): Promise<{ ada: string[]; bob: string[]; cy: string[] }> {
  return new Promise((resolve, reject) => {
    execFile(
      "node",
      [new URL("../_peers/chromium_chat.mjs", import.meta.url).pathname, base.href, "20000"],
      { timeout: 90_000 },
      (error, stdout, stderr) => {
        let parsed: { result?: { ada: string[]; bob: string[]; cy: string[] }; error?: string };
        try {
          parsed = JSON.parse(stdout.trim().split("\n").pop() ?? "");
        } catch {
          return reject(new Error(`chromium_chat.mjs: ${error?.message}\n${stdout}\n${stderr}`));
        }
        if (parsed.result) resolve(parsed.result);
        else reject(new Error(`chromium_chat.mjs: ${parsed.error}\n${stderr}`));
      },
    );
  });
}

// The hosts of this runtime (Deno.serve exists only on Deno, Bun.serve only on Bun).
const chatHosts = [
  "sprig",
  ...(runtime === "deno" ? ["deno"] : []),
  ...(runtime === "bun" ? ["bun"] : []),
  "node",
];

describe(
  `examples/chat.ts in headless Chromium (run with ${runtime === "node" ? "tsx" : runtime})`,
  () => {
    for (const host of chatHosts) {
      it(`--host ${host}: a room hears its own people and no other room`, async () => {
        const chat = await startExample("chat.ts", ["--host", host, "--port", "0"]);
        try {
          assert.equal(chat.url.hostname, "127.0.0.1");
          const page = await fetch(new URL("/", chat.url));
          assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
          assert.match(await page.text(), /<title>sprig chat<\/title>/);

          const { ada, bob, cy } = await chromiumChat(chat.url);
          assert.deepEqual(ada, [
            "ada joined",
            "bob joined",
            "ada: hello from ada",
            "bob: hi ada",
            "ada: bye",
            "bob left",
          ]);
          assert.deepEqual(bob, ["bob joined", "ada: hello from ada", "bob: hi ada", "ada: bye"]);
          assert.deepEqual(cy, [
            "cy joined",
            "cy: anyone in the kitchen?",
            "cy: guess not",
            "cy: still nobody",
          ]);
          // Ctrl-C closes every chat with 1001 ("going away").
          const ws = await connect(
            new URL("/ws?room=lobby&name=last", chat.url.href.replace("http", "ws")),
          );
          assert.equal(JSON.parse(String(await ws.receive({ timeoutMs: 5000 }))).type, "join");
          assert.equal(await chat.interrupt(), true);
          assert.equal((await ws.closed).code, 1001);
        } finally {
          await chat.interrupt();
        }
      });
    }
  },
);

describe(`examples/echo_server.ts (run with ${runtime === "node" ? "tsx" : runtime})`, () => {
  it("echoes text and binary with compression; Ctrl-C closes clients with 1001", async () => {
    const echo = await startExample("echo_server.ts", ["--port", "0"]);
    try {
      const ws = await connect(echo.url);
      assert.match(ws.extensions, /^permessage-deflate/);
      await ws.send("hello");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
      await ws.send(new Uint8Array([1, 2, 3]));
      assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array([1, 2, 3]));
      assert.equal(await echo.interrupt(), true);
      assert.equal((await ws.closed).code, 1001);
    } finally {
      await echo.interrupt();
    }
  });
});
