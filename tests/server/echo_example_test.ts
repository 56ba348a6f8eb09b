// examples/echo_server.ts, started the way the README says on the runtime
// running this test (deno run -A, bun, or tsx on Node), on a free port:
// it prints its URL, echoes text as text and binary as binary, compresses
// by default, and --no-compression turns that off.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
import { connect, detectRuntime } from "../../mod.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const example = new URL("../../examples/echo_server.ts", import.meta.url).pathname;
const command: [string, string[]] = runtime === "deno"
  ? [bin("deno"), ["run", "-A", "--no-check", example]]
  : runtime === "bun"
  ? [bin("bun"), [example]]
  : [bin("tsx"), [example]];

/** Starts the example and waits (bounded) for its URL line. */
function start(...flags: string[]): Promise<{ url: string; line: string; child: ChildProcess }> {
  const child = spawn(command[0], [...command[1], "--port", "0", ...flags], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no URL line within 30 s: ${out}`));
    }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the example exited early with ${code}: ${out}`));
    });
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      out += text;
      const m = /(wss?:\/\/\S+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({ url: m[1], line: out.trim(), child });
    });
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill("SIGINT");
  });
}

describe(`examples/echo_server.ts (started with ${runtime === "node" ? "tsx" : runtime})`, () => {
  it("prints its URL, echoes text and binary, with compression on by default", async () => {
    const { url, line, child } = await start();
    try {
      assert.match(line, /compression on/);
      const ws = await connect(url);
      assert.match(ws.extensions, /^permessage-deflate/);
      await ws.send("hello");
      await ws.send(new Uint8Array([1, 2, 3]));
      const long = "echo ".repeat(2000); // above the compression threshold
      await ws.send(long);
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
      assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array([1, 2, 3]));
      assert.equal(await ws.receive({ timeoutMs: 5000 }), long);
      const closing = ws.closed;
      const code = await stop(child);
      // Graceful: Ctrl-C closes the connection with 1001. (Deno's node:child_process
      // reports the signal it sent instead of the child's exit code, so the code is
      // checked where it is reported.)
      assert.equal((await closing).code, 1001);
      if (runtime !== "deno") assert.equal(code, 0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("--no-compression turns permessage-deflate off", async () => {
    const { url, line, child } = await start("--no-compression");
    try {
      assert.match(line, /compression off/);
      const ws = await connect(url);
      assert.equal(ws.extensions, "");
      await ws.send("plain");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "plain");
      await ws.close();
    } finally {
      await stop(child);
    }
  });

  const fixture = (name: string) => new URL(`../_fixtures/${name}`, import.meta.url).pathname;

  if (runtime === "deno") {
    // Deno's node:http2 server is not used (see the README): --h2c says so.
    it("--h2c exits with a message on Deno", async () => {
      const child = spawn(command[0], [...command[1], "--port", "0", "--h2c"], {
        stdio: ["ignore", "ignore", "pipe"],
      });
      let err = "";
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (t: string) => (err += t));
      await new Promise((resolve) => child.once("close", resolve));
      assert.match(err, /HTTP\/2 serving needs Node or Bun/);
    });
  } else {
    it("--h2c serves WebSockets over cleartext HTTP/2, several per connection, and a plain GET", async () => {
      const { url, line, child } = await start("--h2c");
      try {
        assert.match(line, /HTTP\/2 too/);
        const session = http2.connect(url.replace(/^ws/, "http"));
        session.on("error", () => {});
        const [a, b] = await Promise.all([
          connect(url, { http2Session: session }),
          connect(url, { http2Session: session }),
        ]);
        await a.send("a");
        await b.send("b");
        assert.equal(await a.receive({ timeoutMs: 5000 }), "a");
        assert.equal(await b.receive({ timeoutMs: 5000 }), "b");
        const page = await new Promise<string>((resolve, reject) => {
          const s = session.request({ ":path": "/" });
          let body = "";
          s.setEncoding("utf8");
          s.on("data", (c: string) => (body += c));
          s.on("end", () => resolve(body));
          s.on("error", reject);
        });
        assert.match(page, /sprig echo server/);
        await Promise.all([a.close(), b.close()]);
        session.close();
      } finally {
        await stop(child);
      }
    });
  }

  it("--tls-cert/--tls-key serves wss:, with h2 beside HTTP/1.1 where the runtime serves HTTP/2", async () => {
    const { url, child } = await start(
      "--tls-cert",
      fixture("server.pem"),
      "--tls-key",
      fixture("server.key"),
    );
    const ca = readFileSync(fixture("ca.pem"), "utf8");
    try {
      assert.match(url, /^wss:/);
      const h1 = await connect(url, { tls: { caCerts: [ca] } });
      await h1.send("h1");
      assert.equal(await h1.receive({ timeoutMs: 5000 }), "h1");
      await h1.close();
      if (runtime !== "deno") {
        const h2 = await connect(url, { http2: true, tls: { caCerts: [ca] } });
        assert.equal(h2.headers.get("upgrade"), null); // a 200 to an extended CONNECT
        await h2.send("h2");
        assert.equal(await h2.receive({ timeoutMs: 5000 }), "h2");
        await h2.close();
      }
    } finally {
      await stop(child);
    }
  });
});
