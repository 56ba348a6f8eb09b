/**
 * Runs a Worker module in workerd (Cloudflare's Workers runtime, the npm
 * package `workerd`) on 127.0.0.1, from Deno, Bun or Node:
 *
 * 1. `bundleWorker()` bundles the TypeScript entry into one ES module with
 *    `bun build --target=node` (`cloudflare:` and `node:` imports stay
 *    external; workerd provides them);
 * 2. `workerdConfig()` writes the Cap'n Proto config: the worker with the
 *    `nodejs_compat` flag (permessage-deflate uses `node:zlib`), an HTTP
 *    socket on 127.0.0.1 port 0, and a network service that lets the
 *    worker's `connect()` reach loopback addresses only (`allow = ["local"]`;
 *    workerd's default "internet" service allows public addresses only);
 * 3. `startWorkerd()` starts `workerd serve` and learns the port it listens
 *    on from its control descriptor (`--control-fd`), so nothing is guessed
 *    or polled.
 *
 * examples/edge_worker.ts and tests/edge/workerd_test.ts use it.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;

/** A running workerd. */
export interface Workerd {
  /** `http://127.0.0.1:<port>/`, where the worker answers. */
  url: URL;
  /** What workerd wrote to stderr so far (its errors and the worker's logs). */
  readonly log: string;
  /** Stops workerd and removes its files. */
  stop(): Promise<void>;
}

/** Options of {@link startWorkerd}. */
export interface WorkerdOptions {
  /** The Worker's entry module (TypeScript or JavaScript). */
  entry: string;
  /** Compatibility date of the worker. Default "2025-09-01". */
  compatibilityDate?: string;
  /** How long bundling and starting may take, in milliseconds. Default 60,000. */
  timeoutMs?: number;
}

/** Bundles `entry` into `outFile` (one ES module) with Bun's bundler. */
export function bundleWorker(entry: string, outFile: string, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      bin("bun"),
      [
        "build",
        entry,
        "--target=node",
        "--format=esm",
        "--external",
        "cloudflare:*",
        "--outfile",
        outFile,
      ],
      { timeout: timeoutMs },
      (error, _stdout, stderr) =>
        error ? reject(new Error(`bun build failed: ${error.message}\n${stderr}`)) : resolve(),
    );
  });
}

/** The Cap'n Proto text config for one worker module `moduleFile` (a path relative to the config). */
export function workerdConfig(moduleFile: string, compatibilityDate = "2025-09-01"): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    # connect() and fetch() of the worker go here: loopback addresses only.
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed ${JSON.stringify(moduleFile)})],
  compatibilityDate = ${JSON.stringify(compatibilityDate)},
  compatibilityFlags = ["nodejs_compat"],
  globalOutbound = "loopback",
);
`;
}

/** Bundles `options.entry`, starts workerd with it, and resolves once it listens. */
export async function startWorkerd(options: WorkerdOptions): Promise<Workerd> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const dir = mkdtempSync(join(tmpdir(), "sprig-workerd-"));
  try {
    await bundleWorker(options.entry, join(dir, "worker.js"), timeoutMs);
    writeFileSync(
      join(dir, "config.capnp"),
      workerdConfig("worker.js", options.compatibilityDate),
    );
    return await spawnWorkerd(dir, timeoutMs);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function spawnWorkerd(dir: string, timeoutMs: number): Promise<Workerd> {
  // --control-fd=1: workerd reports {"event":"listen","socket":"http","port":N}
  // on stdout once the socket listens.
  const child: ChildProcess = spawn(
    bin("workerd"),
    ["serve", join(dir, "config.capnp"), "--control-fd=1"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let log = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => (log += text));
  const stop = () =>
    new Promise<void>((done) => {
      const finish = () => {
        rmSync(dir, { recursive: true, force: true });
        done();
      };
      if (child.exitCode !== null || child.signalCode !== null) return finish();
      const force = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", () => {
        clearTimeout(force);
        finish();
      });
      child.kill("SIGINT");
    });
  return new Promise((resolve, reject) => {
    let buffer = "";
    const fail = (message: string) => {
      clearTimeout(timer);
      void stop().then(() => reject(new Error(`${message}\n${log}`)));
    };
    const timer = setTimeout(
      () => fail(`workerd did not listen within ${timeoutMs} ms`),
      timeoutMs,
    );
    child.once("error", (error) => fail(`workerd could not start: ${error.message}`));
    child.once("exit", (code, signal) => fail(`workerd exited early (${code ?? signal})`));
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      buffer += text;
      for (const line of buffer.split("\n")) {
        let event: { event?: string; socket?: string; port?: number };
        try {
          event = JSON.parse(line);
        } catch {
          continue;
        }
        if (event.event !== "listen" || event.socket !== "http") continue;
        clearTimeout(timer);
        child.removeAllListeners("exit");
        child.removeAllListeners("error");
        resolve({
          url: new URL(`http://127.0.0.1:${event.port}/`),
          get log() {
            return log;
          },
          stop,
        });
        return;
      }
    });
  });
}
