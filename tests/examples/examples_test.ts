// The examples run as the README says, on the runtime running this test
// (deno run -A, bun, or tsx on Node), and print what they promise.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { detectRuntime } from "../../mod.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;

/** Runs an example to its end (bounded) and returns its output. */
function run(name: string): Promise<string> {
  const file = new URL(`../../examples/${name}`, import.meta.url).pathname;
  const [cmd, args] = runtime === "deno"
    ? [bin("deno"), ["run", "-A", "--no-check", file]]
    : runtime === "bun"
    ? [bin("bun"), [file]]
    : [bin("tsx"), [file]];
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${name} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

describe(`examples (run with ${runtime === "node" ? "tsx" : runtime})`, () => {
  it("demo.ts: sprig's server and client talk, compressed, and close cleanly", async () => {
    const out = await run("demo.ts");
    assert.match(out, /client: open, extensions "permessage-deflate/);
    assert.match(out, /client: text back\s+HELLO FROM SPRIG/);
    assert.match(out, /client: closed, code 1000, clean true/);
    assert.match(out, /server: .* left \(remote, 1000\)/);
  });

  it("browser_api.ts: browser-style code runs on the WebSocket class", async () => {
    const out = await run("browser_api.ts");
    assert.match(out, /^open: readyState 1, extensions "permessage-deflate/m);
    assert.match(out, /^message: example said: hello\nmessage: example said: goodbye$/m);
    assert.match(out, /^close: code 1000, clean true, readyState 3$/m);
  });

  it("live_feed.ts: a dropped client resumes from its last position, each message once and in order", async () => {
    const out = await run("live_feed.ts");
    assert.match(out, /^client: subscribed: live, replayed 0$/m);
    assert.match(out, /^client: dropped after seq 5$/m);
    assert.match(out, /^client: subscribed: complete, replayed 10$/m);
    assert.match(out, /^client: got seq 1\.\.20, each once and in order: true$/m);
  });

  it("otel.ts: the OpenTelemetry SDK records metrics and spans of a server and a client", async () => {
    const out = await run("otel.ts");
    assert.match(out, /^metric websocket\.handshakes .*"websocket\.role":"client"\} 1$/m);
    assert.match(
      out,
      /^metric websocket\.messages .*"websocket\.role":"server","network\.io\.direction":"receive","websocket\.message\.type":"text"\} 20$/m,
    );
    assert.match(out, /^metric websocket\.closes .*"websocket\.close\.code":1000\} 1$/m);
    assert.match(out, /^span websocket handshake kind=2 .*"http\.response\.status_code":101/m);
    assert.match(out, /^span websocket connection kind=1 /m);
    assert.match(out, /^done$/m);
  });

  it("sans_io.ts: two protocol cores talk without a socket", async () => {
    const out = await run("sans_io.ts");
    assert.match(out, /client got .*HELLO/s);
    assert.match(out, /states: closed closed/);
  });
});
