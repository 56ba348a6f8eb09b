// One server per core: serve({ reusePort: true }) shares a port where the
// runtime can, and runCluster() starts workers on one port and shuts them
// all down with 1001.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { connect, ConnectionError, detectRuntime, serve } from "../../mod.ts";
import { freePort } from "./_redis.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const APP = new URL("./_cluster_app.ts", import.meta.url).pathname;

const nodeVersion = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions
  ?.node ?? "0.0";
const [major = 0, minor = 0] = nodeVersion.split(".").map(Number);
const nodeHasReusePort = major > 22 || (major === 22 && minor >= 12);

describe(`reusePort and runCluster (${runtime})`, () => {
  if (runtime !== "node" || nodeHasReusePort) {
    // Defined where the runtime can share a port: Deno, Bun, Node ≥ 22.12.
    it("two servers with reusePort listen on one port, and both answer", async () => {
      const port = await freePort();
      const one = await serve({ hostname: "127.0.0.1", port, reusePort: true }, {
        in: () => ({ push: "one" }),
      });
      const two = await serve({ hostname: "127.0.0.1", port, reusePort: true }, {
        in: () => ({ push: "two" }),
      });
      try {
        assert.equal(one.port, port);
        assert.equal(two.port, port);
        const seen = new Set<unknown>();
        // The kernel spreads connections; bounded tries until both answered.
        for (let i = 0; i < 200 && seen.size < 2; i++) {
          await using ws = await connect(`ws://127.0.0.1:${port}/`, { compression: false });
          await ws.send("who");
          seen.add(await ws.receive({ timeoutMs: 5000 }));
        }
        assert.deepEqual([...seen].sort(), ["one", "two"]);
      } finally {
        await Promise.all([one.shutdown(), two.shutdown()]);
      }
    });
  } else {
    // Node before 22.12 ignores reusePort: serve() says so rather than fail later.
    it("reusePort outside node:cluster on Node < 22.12 fails with REUSE_PORT_UNSUPPORTED", async () => {
      await assert.rejects(
        serve({ hostname: "127.0.0.1", port: 0, reusePort: true }, { in: () => {} }),
        (e: unknown) => e instanceof ConnectionError && e.code === "REUSE_PORT_UNSUPPORTED",
      );
    });
  }

  it("without reusePort a port in use still fails with ADDRESS_IN_USE", async () => {
    const one = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
    try {
      await assert.rejects(
        serve({ hostname: "127.0.0.1", port: one.port }, { in: () => {} }),
        (e: unknown) => e instanceof ConnectionError && e.code === "ADDRESS_IN_USE",
      );
    } finally {
      await one.shutdown();
    }
  });

  it("runCluster: two workers on one port answer, and SIGTERM closes every client with 1001", async () => {
    const port = await freePort();
    const [cmd, args] = runtime === "deno"
      ? [bin("deno"), ["run", "-A", "--no-check", APP, String(port), "2"]]
      : runtime === "bun"
      ? [bin("bun"), [APP, String(port), "2"]]
      : [bin("tsx"), [APP, String(port), "2"]];
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => (out += t));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      for (let i = 0; i < 3000 && !out.includes("READY"); i++) {
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.match(out, /READY 2/);
      const answered = new Set<string>();
      const sessions = [];
      for (let i = 0; i < 200 && answered.size < 2; i++) {
        const ws = await connect(`ws://127.0.0.1:${port}/`, { compression: false });
        sessions.push(ws);
        await ws.send("hi");
        const reply = await ws.receive({ timeoutMs: 5000 });
        answered.add(String(reply).split(":")[0]!);
      }
      assert.deepEqual([...answered].sort(), ["worker 0", "worker 1"]);
      child.kill("SIGTERM");
      const closes = await Promise.all(sessions.map((ws) => ws.closed));
      for (const info of closes) assert.equal(info.code, 1001);
      const code = await Promise.race([
        exited,
        new Promise<string>((r) => setTimeout(() => r("still running"), 20_000)),
      ]);
      assert.match(out, /STOPPED/, "the primary saw every worker stop");
      // Deno's node:child_process reports a child it sent a signal to as (null, signal) even
      // when the child handled it and exited 0; elsewhere the exit code is checked.
      if (runtime === "deno") assert.notEqual(code, "still running");
      else assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
