/**
 * An instance process of `_instance.ts` on the runtime running the test,
 * with the BrokerError lines it printed; stopped by closing its stdin, or
 * killed (SIGKILL) as a crash.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { detectRuntime } from "../../mod.ts";

export const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const INSTANCE = new URL("./_instance.ts", import.meta.url).pathname;

/** An instance process, with the BrokerError lines it printed. */
export class Instance {
  readonly reports: Array<{ code: string; lost: number }> = [];
  port = 0;
  #child: ChildProcess;
  #ready: Promise<void>;

  /** `extra`: more arguments of `_instance.ts` (`["history"]`). */
  constructor(redisUrl: string, extra: string[] = []) {
    const [cmd, args] = runtime === "deno"
      ? [bin("deno"), ["run", "-A", "--no-check", INSTANCE, redisUrl, ...extra]]
      : runtime === "bun"
      ? [bin("bun"), [INSTANCE, redisUrl, ...extra]]
      : [bin("tsx"), [INSTANCE, redisUrl, ...extra]];
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
    this.#child = child;
    this.#ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("instance not ready within 30 s")), 30_000);
      child.once("exit", (code) => reject(new Error(`instance exited early (${code})`)));
      let buffer = "";
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (text: string) => {
        buffer += text;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          const listening = /^LISTENING (\d+)/.exec(line);
          const report = /^BROKER (\S+) (\d+)/.exec(line);
          if (listening) {
            this.port = Number(listening[1]);
            clearTimeout(timer);
            resolve();
          } else if (report) this.reports.push({ code: report[1]!, lost: Number(report[2]) });
        }
      });
    });
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  lost(code = "BROKER_MESSAGES_LOST"): number {
    return this.reports.filter((r) => r.code === code).reduce((n, r) => n + r.lost, 0);
  }

  /** SIGKILL, as a crash; resolves once the process is gone. */
  kill(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
      child.stdin!.end();
    });
  }
}
