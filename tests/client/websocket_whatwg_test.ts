// sprig's WebSocket class against a real browser's: the scenarios of
// tests/_peers/whatwg_scenarios.js run in headless Chromium (its own
// WebSocket, on a page this server serves) and in-process (sprig's class),
// against the same sprig server, and the two logs of each scenario must be
// the same: event order, readyState in each event, codes, reasons,
// wasClean, data types, and the exceptions thrown.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { serve, type Server, WebSocket, WebSocketError, WebSocketStream } from "../../mod.ts";
import { scenarios } from "../_peers/whatwg_scenarios.js";
import { scenarios as streamScenarios } from "../_peers/whatwg_stream_scenarios.js";
import { runJson } from "../_helpers/peer.ts";

const scenarioSource = readFileSync(
  new URL("../_peers/whatwg_scenarios.js", import.meta.url),
  "utf8",
);
const streamScenarioSource = readFileSync(
  new URL("../_peers/whatwg_stream_scenarios.js", import.meta.url),
  "utf8",
);

const PAGE = `<!doctype html><meta charset="utf-8"><title>WHATWG scenarios</title>
<script type="module">
import { scenarios } from "/whatwg_scenarios.js";
import { scenarios as streamScenarios } from "/whatwg_stream_scenarios.js";
const base = "ws://" + location.host;
const results = {};
const all = [
  ...Object.entries(scenarios).map(([name, run]) => [name, () => run(WebSocket, base)]),
  ...Object.entries(streamScenarios).map(([name, run]) => [
    name,
    () => typeof WebSocketStream === "undefined"
      ? Promise.resolve(["no WebSocketStream in this browser"])
      : run(WebSocketStream, WebSocketError, base),
  ]),
];
for (const [name, run] of all) {
  try {
    results[name] = await Promise.race([
      run(),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timed out")), 10000)),
    ]);
  } catch (e) {
    results[name] = ["failed: " + e];
  }
}
globalThis.__result = results;
</script>`;

let server: Server;

before(async () => {
  server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    protocols: ["chat.v1"],
    onError: () => {},
    upgrade: (request) => {
      if (new URL(request.url).pathname === "/refuse") {
        return new Response("not here", { status: 403 });
      }
    },
    fetch: (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/whatwg_scenarios.js") {
        return new Response(scenarioSource, { headers: { "content-type": "text/javascript" } });
      }
      if (path === "/whatwg_stream_scenarios.js") {
        return new Response(streamScenarioSource, {
          headers: { "content-type": "text/javascript" },
        });
      }
      if (path === "/") return new Response(PAGE, { headers: { "content-type": "text/html" } });
      return new Response("not found", { status: 404 });
    },
  }, {
    init: (ctx) => {
      if (ctx.url.pathname === "/greet") {
        return { push: ["hello", "world"], stop: { code: 4001, reason: "bye" } };
      }
    },
    in: (message) => {
      if (message === "burst") return { push: ["one", "two", "three"] };
      if (message === "close-me") return { stop: { code: 4002, reason: "asked" } };
      return { push: message };
    },
  });
});
after(async () => {
  await server.shutdown();
});

/** Runs the scenarios in headless Chromium (driven from Node by playwright-core). */
async function inChromium(url: string): Promise<Record<string, string[]>> {
  const script = new URL("../_peers/chromium_client.mjs", import.meta.url).pathname;
  const r = await runJson("node", [script, url, "60000"], 90_000);
  if (r.error) throw new Error(`Chromium: ${r.error}`);
  return r.result as Record<string, string[]>;
}

describe("sprig's WebSocket class behaves as Chromium's", () => {
  let browser: Record<string, string[]>;
  before(async () => {
    browser = await inChromium(`http://127.0.0.1:${server.port}/`);
  });

  for (const [name, run] of Object.entries(scenarios)) {
    it(name, async () => {
      // The page's base URL, as the browser has it (for relative URLs).
      const saved = Object.getOwnPropertyDescriptor(globalThis, "location");
      Object.defineProperty(globalThis, "location", {
        value: { href: `http://127.0.0.1:${server.port}/` },
        configurable: true,
        writable: true,
      });
      let ours: string[];
      try {
        ours = await run(WebSocket, `ws://127.0.0.1:${server.port}`);
      } finally {
        if (saved) Object.defineProperty(globalThis, "location", saved);
        else delete (globalThis as { location?: unknown }).location;
      }
      assert.deepEqual(ours, browser[name], `Chromium: ${JSON.stringify(browser[name])}`);
    });
  }

  // Issue 28: WebSocketStream and WebSocketError, against Chromium's own.
  for (const [name, run] of Object.entries(streamScenarios)) {
    it(name, async () => {
      const ours = await run(WebSocketStream, WebSocketError, `ws://127.0.0.1:${server.port}`);
      assert.deepEqual(ours, browser[name], `Chromium: ${JSON.stringify(browser[name])}`);
    });
  }
});
