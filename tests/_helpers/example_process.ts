// Runs a server example of examples/ in its own process, on the runtime
// running the test (deno run -A, bun, or tsx on Node), and waits (bounded)
// for the line with its URL.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { detectRuntime } from "../../mod.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;

/** A server example running in its own process. */
export interface RunningExample {
  /** The URL it printed. */
  url: URL;
  /**
   * Interrupts it (Ctrl-C) and resolves with whether it exited with 0. (Deno's
   * node:child_process reports the signal it sent instead of the child's
   * exit code, so under Deno an exit by that signal is all it can tell.)
   */
  interrupt(): Promise<boolean>;
}

/** Starts `examples/<name> args…`; rejects if no http(s)/ws(s) URL is printed within 30 s. */
export function startExample(name: string, args: readonly string[]): Promise<RunningExample> {
  const file = new URL(`../../examples/${name}`, import.meta.url).pathname;
  const [cmd, runArgs] = runtime === "deno"
    ? [bin("deno"), ["run", "-A", "--no-check", file]]
    : runtime === "bun"
    ? [bin("bun"), [file]]
    : [bin("tsx"), [file]];
  const child: ChildProcess = spawn(cmd, [...runArgs, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let output = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => (output += text));
  const exited = new Promise<boolean>((resolve) =>
    child.once(
      "exit",
      (code, signal) => resolve(code === 0 || (runtime === "deno" && signal === "SIGINT")),
    )
  );
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new Error(`${name} ${args.join(" ")}: ${why}\n${output}`));
    };
    const timer = setTimeout(() => fail("printed no URL within 30 s"), 30_000);
    const early = (code: number | null) => fail(`exited early with ${code}`);
    child.once("exit", early);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      output += text;
      const m = /(?:http|ws)s?:\/\/\S+/.exec(output);
      if (!m) return;
      clearTimeout(timer);
      child.off("exit", early);
      // Keep draining what it prints, so a full pipe never blocks it.
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      resolve({
        url: new URL(m[0]),
        interrupt() {
          if (child.exitCode !== null || child.signalCode !== null) return exited;
          const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
          child.kill("SIGINT");
          return exited.finally(() => clearTimeout(force));
        },
      });
    });
  });
}
