/** Starts a peer process for interop tests and waits until it is ready. */

import { type ChildProcess, spawn } from "node:child_process";

/** A running peer. */
export interface Peer {
  port: number;
  stop(): Promise<void>;
}

/**
 * Runs `command args…`, waits for a line `LISTENING <port>` on its stdout
 * (up to `readyTimeoutMs`), and returns the port. The peer exits when its
 * stdin closes, so it never outlives the test run.
 */
export function startPeer(command: string, args: string[], readyTimeoutMs = 20_000): Promise<Peer> {
  const child: ChildProcess = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} ${args.join(" ")} was not ready within ${readyTimeoutMs} ms`));
    }, readyTimeoutMs);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`peer exited early with ${code}`));
    });
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      buffer += text;
      const m = /LISTENING (\d+)/.exec(buffer);
      if (!m) return;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      resolve({
        port: Number(m[1]),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.stdin!.end();
            setTimeout(() => child.kill("SIGKILL"), 2000).unref?.();
          }),
      });
    });
  });
}

/** The `ws` package's server on Node, with the given flags. */
export function startWsPeer(...flags: string[]): Promise<Peer> {
  return startPeer("node", [
    new URL("../_peers/ws_server.mjs", import.meta.url).pathname,
    ...flags,
  ]);
}

const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;

/** Deno's built-in server (Deno.serve + upgradeWebSocket), in a Deno process. */
export function startDenoPeer(): Promise<Peer> {
  return startPeer(bin("deno"), [
    "run",
    "-A",
    "--no-check",
    new URL("../_peers/deno_server.ts", import.meta.url).pathname,
  ]);
}

/** Bun's built-in server (Bun.serve), in a Bun process. */
export function startBunPeer(): Promise<Peer> {
  return startPeer(bin("bun"), [new URL("../_peers/bun_server.ts", import.meta.url).pathname]);
}

/** Python's `websockets` server (Debian's python3-websockets, run by /usr/bin/python3). */
export function startPythonPeer(...flags: string[]): Promise<Peer> {
  return startPeer("/usr/bin/python3", [
    new URL("../_peers/python_server.py", import.meta.url).pathname,
    ...flags,
  ]);
}

/** Runs a command, returns its stdout's last line parsed as JSON (bounded by `timeoutMs`). */
export function runJson(
  command: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${command} did not finish within ${timeoutMs} ms: ${out} ${err}`));
    }, timeoutMs);
    child.stdout!.setEncoding("utf8");
    child.stderr!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => (out += t));
    child.stderr!.on("data", (t: string) => (err += t));
    child.once("error", reject);
    child.once("close", () => {
      clearTimeout(timer);
      const line = out.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`no JSON from ${command}: ${out} ${err}`));
      }
    });
  });
}
