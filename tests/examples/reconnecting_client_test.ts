// examples/reconnecting_client.ts as a subprocess (on the runtime running
// this test: deno run -A, bun, or node --import tsx) against examples/echo_server.ts,
// which the test kills (SIGKILL) midway and starts again on the same port:
// the client reconnects and carries on, and no message is echoed twice.
// Once direct, once through an HTTP CONNECT proxy written in the test.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { detectRuntime } from "../../mod.ts";
import { startHttpProxy, type TestProxy } from "../_helpers/proxies.ts";

const runtime = detectRuntime();
const root = new URL("../../", import.meta.url).pathname;
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const example = (name: string) => new URL(`../../examples/${name}`, import.meta.url).pathname;

function command(file: string, args: string[]): [string, string[]] {
  if (runtime === "deno") return [bin("deno"), ["run", "-A", "--no-check", example(file), ...args]];
  if (runtime === "bun") return [bin("bun"), [example(file), ...args]];
  // node --import tsx rather than the tsx CLI, whose wrapper process would
  // survive a SIGKILL meant for the server (and keep its port).
  return [process.execPath, ["--import", "tsx", example(file), ...args]];
}

const children = new Set<ChildProcess>();
const proxies: TestProxy[] = [];
afterEach(async () => {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  for (const p of proxies.splice(0)) await p.close();
});

function run(file: string, args: string[]): ChildProcess {
  const [cmd, argv] = command(file, args);
  const child = spawn(cmd, argv, {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  return child;
}

/** Calls `onLine` for each line of the child's stdout. */
function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let buffer = "";
  child.stdout!.on("data", (text: string) => {
    buffer += text;
    let at: number;
    while ((at = buffer.indexOf("\n")) !== -1) {
      onLine(buffer.slice(0, at));
      buffer = buffer.slice(at + 1);
    }
  });
}

/** Starts the echo server on `port` (0: a free one) and resolves with its port once it listens. */
function startEcho(port: number): Promise<{ child: ChildProcess; port: number }> {
  const child = run("echo_server.ts", ["--port", String(port), "--no-compression"]);
  let stderr = "";
  child.stderr!.on("data", (t: string) => (stderr += t));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the echo server did not start within 60 s: ${stderr}`));
    }, 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the echo server exited with ${code}: ${stderr}`));
    });
    lines(child, (line) => {
      const m = /listening on ws:\/\/[^:]+:(\d+)\//.exec(line);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({ child, port: Number(m[1]) });
    });
  });
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

async function runAcrossRestart(proxy?: string): Promise<void> {
  const count = 100;
  const first = await startEcho(0);
  const port = first.port;
  const args = ["--url", `ws://127.0.0.1:${port}/`, "--count", String(count)];
  if (proxy) args.push("--proxy", proxy);
  const client = run("reconnecting_client.ts", args);
  let stderr = "";
  client.stderr!.on("data", (t: string) => (stderr += t));
  const out: string[] = [];
  let restarting: Promise<unknown> | undefined;
  const exited = new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the client did not finish within 90 s`)),
      90_000,
    );
    client.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  lines(client, (line) => {
    out.push(line);
    if (line === "echo msg-10" && restarting === undefined) {
      // Midway: the server dies without a closing handshake and comes back on the same port.
      restarting = killed(first.child).then(() => startEcho(port));
    }
  });
  const code = await exited;
  await restarting;
  const text = `${out.join("\n")}\n${stderr}`;
  assert.equal(code, 0, text);
  const last = /^sent=(\d+) echoed=(\d+) connects=(\d+)$/.exec(out.at(-1) ?? "");
  assert.ok(last, text);
  const [, sent, echoed, connects] = last.map(Number);
  assert.equal(sent, count);
  assert.ok(restarting !== undefined, text);
  assert.ok(connects >= 2, text);
  assert.equal(out.filter((l) => /^connected attempt=\d+$/.test(l)).length, connects, text);
  const echoes = out.filter((l) => l.startsWith("echo ")).map((l) => Number(l.slice(9)));
  assert.equal(out.some((l) => l.startsWith("duplicate")), false, text);
  assert.equal(new Set(echoes).size, echoes.length, "no message echoed twice");
  assert.equal(echoes.length, echoed, text);
  // In order (a message lost with the dead server leaves a gap, never a repeat).
  assert.deepEqual(echoes, [...echoes].sort((a, b) => a - b), text);
  // Everything sent after the restart came back, the last one included.
  assert.equal(echoes.at(-1), count, text);
}

describe(`examples/reconnecting_client.ts (run with ${runtime})`, () => {
  it("survives its server being killed and restarted on the same port", async () => {
    await runAcrossRestart();
  });

  it("does the same through an HTTP CONNECT proxy", async () => {
    const proxy = await startHttpProxy();
    proxies.push(proxy);
    await runAcrossRestart(`http://127.0.0.1:${proxy.port}`);
    assert.ok(proxy.targets.length >= 2, "each connection went through the proxy");
  });
});
