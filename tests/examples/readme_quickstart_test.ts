// The README's quick start runs as written, on the runtime running this
// test (deno run, bun, or tsx on Node): its server block is started as a
// program (on a free port instead of 8080), its client block is run against
// it, and each prints what the README says. Only the import specifier
// (the package's name, here the sources) and the port are changed.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectRuntime } from "../../mod.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const modTs = new URL("../../mod.ts", import.meta.url).pathname;
const command = (file: string): [string, string[]] =>
  runtime === "deno"
    ? [bin("deno"), ["run", "-A", "--no-check", file]]
    : runtime === "bun"
    ? [bin("bun"), [file]]
    : [bin("tsx"), [file]];

/** The ```ts blocks of the README's "## Quick start" section, in order. */
function quickStartBlocks(): string[] {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("\n## Quick start\n");
  assert.ok(start !== -1, "the README has a Quick start section");
  const end = readme.indexOf("\n## ", start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

const work = mkdtempSync(join(tmpdir(), "sprig-quickstart-"));
// As in the user's project the README assumes: ES modules (top-level await).
writeFileSync(join(work, "package.json"), JSON.stringify({ type: "module" }));
after(() => rmSync(work, { recursive: true, force: true }));

/** Writes a README block as a program that imports the sources. */
function program(name: string, code: string): string {
  const file = join(work, name);
  writeFileSync(file, code.replaceAll('from "@sprig/websocket"', `from ${JSON.stringify(modTs)}`));
  return file;
}

/** Collects a child's stdout; `until(re)` resolves with the first match, bounded. */
function output(child: ChildProcess) {
  let text = "";
  let waiting: (() => void) | undefined;
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    text += chunk;
    waiting?.();
  });
  return {
    get text() {
      return text;
    },
    async until(re: RegExp, timeoutMs = 30_000): Promise<RegExpExecArray> {
      const deadline = Date.now() + timeoutMs;
      for (let m = re.exec(text);; m = re.exec(text)) {
        if (m) return m;
        const left = deadline - Date.now();
        if (left <= 0 || child.exitCode !== null) {
          throw new Error(`no ${re} in the output within ${timeoutMs} ms: ${text}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 1000));
          waiting = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
  };
}

/**
 * Ends the server: SIGTERM, which tsx passes on to the Node it started (a
 * SIGKILL would leave that one running, holding the pipe open), then
 * SIGKILL if it is still there after 10 s.
 */
function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      child.stdout?.destroy();
      resolve();
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      done();
    }, 10_000);
    if (child.exitCode !== null || child.signalCode !== null) return done();
    child.once("exit", done);
    child.kill("SIGTERM");
  });
}

describe(`README quick start (run with ${runtime === "node" ? "tsx" : runtime})`, () => {
  it("the server block serves, the client block prints welcome and the echo, the server logs the leave", async () => {
    const [serverCode, clientCode] = quickStartBlocks();
    assert.ok(serverCode && clientCode, "two blocks: the server, then the client");
    assert.match(serverCode, /port: 8080/);
    assert.match(clientCode, /ws:\/\/127\.0\.0\.1:8080\//);
    const serverFile = program("server.ts", serverCode.replace("port: 8080", "port: 0"));
    const [cmd, args] = command(serverFile);
    const server = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    const out = output(server);
    try {
      const url = (await out.until(/listening on (ws:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
      const clientFile = program("client.ts", clientCode.replace("ws://127.0.0.1:8080/", url));
      const printed = await new Promise<string>((resolve, reject) => {
        const [c, a] = command(clientFile);
        execFile(c, a, { timeout: 60_000 }, (error, stdout, stderr) => {
          if (error) reject(new Error(`the client failed: ${error.message}\n${stdout}\n${stderr}`));
          else resolve(stdout);
        });
      });
      assert.deepEqual(printed.trim().split("\n"), ["welcome", "echo: hello"]);
      await out.until(/a client left: remote 1000/);
    } finally {
      await stop(server);
    }
  });
});
