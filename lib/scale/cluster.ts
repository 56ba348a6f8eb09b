/**
 * `runCluster()`: one server per core, each in its own process (Node and
 * Bun, through `node:cluster`) or worker (Deno, whose `node:cluster` cannot
 * fork), all on one port, with graceful shutdown of every one.
 *
 * How the port is shared: a `node:cluster` worker's listen goes through the
 * primary, which hands connections out (Node 20 has no `reusePort`; Bun's
 * `node:cluster` uses `SO_REUSEPORT` itself); Deno workers listen with
 * `reusePort: true`, so start them with `serve({ reusePort: true })`, which
 * is right on every runtime. Topics are shared through a broker
 * (`redisBroker()`), one per worker, since workers share no memory.
 *
 * @module
 */

import { ArgumentCheck } from "../arguments.ts";
import type { ShutdownOptions } from "../server/handler/host.ts";
import type { Awaitable } from "../server/handler/handler.ts";
import { detectRuntime } from "../transport/connect.ts";

/** What a worker learns about itself. */
export interface ClusterWorkerInfo {
  /** 0 to `count − 1`. */
  index: number;
  /** How many workers the cluster has. */
  count: number;
}

/** What a worker's `start` returns: its server (or anything that shuts down like one). */
export interface ClusterServer {
  /** Closes every WebSocket with 1001 and stops; resolves when done. */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** Options of {@link runCluster}. */
export interface ClusterOptions {
  /** How many workers. Default: the machine's cores (`navigator.hardwareConcurrency`); range 1 to 1024. */
  workers?: number;
  /** How long each worker's connections get to finish their closing handshake (1001) on shutdown, in ms. Default 10,000. */
  shutdownDeadlineMs?: number;
  /** Aborting it shuts every worker down (in the primary). SIGINT and SIGTERM do too. */
  signal?: AbortSignal;
}

/** The primary's view of the cluster. */
export interface ClusterPrimary {
  /** This is the primary: it started the workers and serves nothing itself. */
  readonly role: "primary";
  /** How many workers were started. */
  readonly workers: number;
  /** Resolves once every worker's server listens; rejects when a worker failed to start. */
  readonly ready: Promise<void>;
  /**
   * Asks every worker to shut its server down (1001 to every client, within
   * `shutdownDeadlineMs`) and resolves once all have stopped. Idempotent.
   */
  shutdown(): Promise<void>;
  /** Resolves once every worker has stopped (after a shutdown, or by themselves). */
  readonly finished: Promise<void>;
}

/** A worker's view of the cluster: its own server. */
export interface ClusterWorker<S extends ClusterServer> extends ClusterWorkerInfo {
  /** This is a worker, running `start`'s server. */
  readonly role: "worker";
  /** What `start` returned. */
  readonly server: S;
}

/** Messages between the primary and the workers. */
type ClusterMessage =
  | { sprigCluster: "ready"; index: number }
  | { sprigCluster: "failed"; index: number; error: string }
  | { sprigCluster: "shutdown"; deadlineMs: number }
  | { sprigCluster: "stopped"; index: number };

const ENV_INDEX = "SPRIG_CLUSTER_INDEX";
const ENV_COUNT = "SPRIG_CLUSTER_COUNT";
const DENO_WORKER_NAME = "sprig-cluster";

/**
 * Runs `start` once per worker, in as many processes (Node, Bun) or
 * workers (Deno) as there are cores. Call it at the top of the program:
 * the program runs again in each worker, where `runCluster` calls `start`
 * and returns the worker's view; in the primary, it starts the workers and
 * returns the primary's view. The primary serves nothing itself.
 *
 * Shutdown: `shutdown()`, the `signal`, or SIGINT/SIGTERM to the primary
 * asks every worker to shut its server down (each client gets 1001), and the
 * primary's `finished` resolves when all have stopped. A worker that gets
 * SIGINT or SIGTERM itself (Ctrl-C reaches the whole process group) shuts
 * down the same way. A worker that stops by itself is not restarted.
 *
 * Deno runs the workers as Web Workers of the main module, with its
 * permissions; `Deno.args` is the same there.
 *
 * @throws {InvalidArgumentError} (a `TypeError`) when `start` is not a function
 * @throws {ArgumentRangeError} (a `RangeError`) for `workers` or `shutdownDeadlineMs` out of range
 *
 * @example
 * ```ts ignore
 * // Not run: it forks one worker process per core (tests/scale/cluster_test.ts runs one).
 * import { serve } from "@sprig/websocket";
 * import { runCluster } from "@sprig/websocket/scale";
 *
 * const cluster = await runCluster(({ index }) =>
 *   serve({ port: 8080, reusePort: true }, { in: (m) => ({ push: `${index}: ${m}` }) })
 * );
 * if (cluster.role === "primary") {
 *   await cluster.ready;
 *   console.log(`${cluster.workers} workers on port 8080`);
 * }
 * ```
 */
export async function runCluster<S extends ClusterServer>(
  start: (worker: ClusterWorkerInfo) => Awaitable<S>,
  options: ClusterOptions = {},
): Promise<ClusterPrimary | ClusterWorker<S>> {
  const check = new ArgumentCheck("runCluster()");
  if (typeof start !== "function") throw check.type("start", "a function", start);
  const o = check.options("options", options);
  check.integer("options.workers", o.workers, 1, 1024);
  check.milliseconds("options.shutdownDeadlineMs", o.shutdownDeadlineMs);
  check.signal("options.signal", o.signal);
  const deadlineMs = options.shutdownDeadlineMs ?? 10_000;
  const runtime = detectRuntime();
  if (runtime === "deno") {
    const name = (globalThis as { name?: string }).name ?? "";
    if (name.startsWith(`${DENO_WORKER_NAME}:`)) {
      const [, index, count] = name.split(":").map(Number);
      return await runDenoWorker(start, { index: index!, count: count! }, deadlineMs);
    }
    return startDenoWorkers(workerCount(options), deadlineMs, options.signal);
  }
  const env = processEnv();
  if (env[ENV_INDEX] !== undefined) {
    const info = { index: Number(env[ENV_INDEX]), count: Number(env[ENV_COUNT]) };
    return await runProcessWorker(start, info, deadlineMs);
  }
  return await startProcessWorkers(workerCount(options), deadlineMs, options.signal);
}

function workerCount(options: ClusterOptions): number {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
    ?.hardwareConcurrency;
  return options.workers ?? Math.max(1, Math.min(1024, cores ?? 1));
}

// ---------------------------------------------------------------------------
// Node and Bun: node:cluster

interface NodeProcess {
  env: Record<string, string | undefined>;
  send?(message: unknown): boolean;
  on(event: string, listener: (...args: never[]) => void): unknown;
  once(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
  exit(code?: number): never;
  disconnect?(): void;
}

function nodeProcess(): NodeProcess {
  return (globalThis as unknown as { process: NodeProcess }).process;
}

function processEnv(): Record<string, string | undefined> {
  return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ??
    {};
}

async function runProcessWorker<S extends ClusterServer>(
  start: (worker: ClusterWorkerInfo) => Awaitable<S>,
  info: ClusterWorkerInfo,
  deadlineMs: number,
): Promise<ClusterWorker<S>> {
  const proc = nodeProcess();
  const send = (message: ClusterMessage) => {
    try {
      proc.send?.(message);
    } catch {
      // The primary is gone; the worker stops on its own below.
    }
  };
  let server: S;
  try {
    server = await start(info);
  } catch (error) {
    send({ sprigCluster: "failed", index: info.index, error: String(error) });
    throw error;
  }
  let stopping = false;
  const stop = (ms: number) => {
    if (stopping) return;
    stopping = true;
    void server.shutdown({ deadlineMs: ms }).catch(() => {}).finally(() => {
      send({ sprigCluster: "stopped", index: info.index });
      proc.disconnect?.();
      proc.exit(0);
    });
  };
  proc.on(
    "message",
    ((message: ClusterMessage) => {
      if (message?.sprigCluster === "shutdown") stop(message.deadlineMs);
    }) as (...args: never[]) => void,
  );
  // Ctrl-C reaches the whole process group; a primary that died leaves the worker alone.
  proc.on("SIGINT", () => stop(deadlineMs));
  proc.on("SIGTERM", () => stop(deadlineMs));
  proc.on("disconnect", () => stop(deadlineMs));
  send({ sprigCluster: "ready", index: info.index });
  return { role: "worker", ...info, server };
}

interface ClusterModule {
  fork(env: Record<string, string>): ForkedWorker;
}

interface ForkedWorker {
  send(message: unknown): boolean;
  on(event: "message", listener: (message: ClusterMessage) => void): unknown;
  on(event: "exit", listener: (code: number | null, signal: string | null) => void): unknown;
  kill(signal?: string): void;
  isDead(): boolean;
}

async function startProcessWorkers(
  count: number,
  deadlineMs: number,
  signal: AbortSignal | undefined,
): Promise<ClusterPrimary> {
  const cluster = ((await import("node:cluster")) as unknown as { default: ClusterModule })
    .default;
  const workers: ForkedWorker[] = [];
  const primary = new Primary(count, deadlineMs, signal, (i) => {
    const w = workers[i]!;
    if (!w.isDead()) w.send({ sprigCluster: "shutdown", deadlineMs } satisfies ClusterMessage);
  }, (i) => {
    const w = workers[i]!;
    if (!w.isDead()) w.kill("SIGKILL");
  });
  for (let i = 0; i < count; i++) {
    const w = cluster.fork({ [ENV_INDEX]: String(i), [ENV_COUNT]: String(count) });
    workers.push(w);
    w.on("message", (message) => primary.message(message));
    w.on("exit", (code) => primary.exited(i, code ?? 0));
  }
  primary.listenForSignals();
  return primary;
}

// ---------------------------------------------------------------------------
// Deno: Web Workers of the main module

interface DenoGlobal {
  mainModule: string;
  addSignalListener?(signal: string, listener: () => void): void;
  removeSignalListener?(signal: string, listener: () => void): void;
}

interface WorkerScope {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  close(): void;
}

async function runDenoWorker<S extends ClusterServer>(
  start: (worker: ClusterWorkerInfo) => Awaitable<S>,
  info: ClusterWorkerInfo,
  deadlineMs: number,
): Promise<ClusterWorker<S>> {
  const scope = globalThis as unknown as WorkerScope;
  let server: S;
  try {
    server = await start(info);
  } catch (error) {
    scope.postMessage({ sprigCluster: "failed", index: info.index, error: String(error) });
    throw error;
  }
  let stopping = false;
  scope.addEventListener("message", (event) => {
    const message = event.data as ClusterMessage;
    if (message?.sprigCluster !== "shutdown" || stopping) return;
    stopping = true;
    void server.shutdown({ deadlineMs: message.deadlineMs ?? deadlineMs }).catch(() => {})
      .finally(() => {
        scope.postMessage({ sprigCluster: "stopped", index: info.index });
      });
  });
  scope.postMessage({ sprigCluster: "ready", index: info.index });
  return { role: "worker", ...info, server };
}

function startDenoWorkers(
  count: number,
  deadlineMs: number,
  signal: AbortSignal | undefined,
): ClusterPrimary {
  const Deno = (globalThis as unknown as { Deno: DenoGlobal }).Deno;
  const workers: Worker[] = [];
  const primary = new Primary(count, deadlineMs, signal, (i) => {
    workers[i]!.postMessage({ sprigCluster: "shutdown", deadlineMs } satisfies ClusterMessage);
  }, (i) => workers[i]!.terminate());
  for (let i = 0; i < count; i++) {
    const w = new Worker(Deno.mainModule, {
      type: "module",
      name: `${DENO_WORKER_NAME}:${i}:${count}`,
    });
    workers.push(w);
    w.addEventListener("message", (event) => {
      const message = (event as MessageEvent).data as ClusterMessage;
      primary.message(message);
      if (message?.sprigCluster === "stopped" || message?.sprigCluster === "failed") {
        w.terminate();
        primary.exited(i, message.sprigCluster === "failed" ? 1 : 0);
      }
    });
    w.addEventListener("error", (event) => {
      (event as Event).preventDefault();
      primary.message({
        sprigCluster: "failed",
        index: i,
        error: String((event as ErrorEvent).message),
      });
      w.terminate();
      primary.exited(i, 1);
    });
  }
  primary.listenForSignals();
  return primary;
}

// ---------------------------------------------------------------------------
// The primary, on every runtime

class Primary implements ClusterPrimary {
  readonly role = "primary";
  readonly workers: number;
  readonly ready: Promise<void>;
  readonly finished: Promise<void>;
  readonly #deadlineMs: number;
  readonly #ask: (index: number) => void;
  readonly #kill: (index: number) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #ready = new Set<number>();
  readonly #running = new Set<number>();
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #resolveFinished!: () => void;
  #shutdown: Promise<void> | undefined;
  #unlisten: (() => void) | undefined;

  constructor(
    count: number,
    deadlineMs: number,
    signal: AbortSignal | undefined,
    ask: (index: number) => void,
    kill: (index: number) => void,
  ) {
    this.workers = count;
    this.#deadlineMs = deadlineMs;
    this.#ask = ask;
    this.#kill = kill;
    this.#signal = signal;
    for (let i = 0; i < count; i++) this.#running.add(i);
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed through `ready` by whoever awaits it
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
  }

  message(message: ClusterMessage): void {
    if (message?.sprigCluster === "ready") {
      this.#ready.add(message.index);
      if (this.#ready.size === this.workers) this.#resolveReady();
    } else if (message?.sprigCluster === "failed") {
      this.#rejectReady(new Error(`cluster worker ${message.index} failed: ${message.error}`));
    }
  }

  exited(index: number, code: number): void {
    if (!this.#running.delete(index)) return;
    if (!this.#ready.has(index)) {
      this.#rejectReady(new Error(`cluster worker ${index} exited (${code}) before it listened`));
    }
    if (this.#running.size === 0) {
      this.#unlisten?.();
      this.#resolveFinished();
    }
  }

  shutdown(): Promise<void> {
    return this.#shutdown ??= this.#shutdownNow();
  }

  async #shutdownNow(): Promise<void> {
    for (const i of this.#running) this.#ask(i);
    // Each worker bounds its own shutdown by the deadline; a margin, then the rest are killed.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#deadlineMs + 5_000);
    });
    await Promise.race([this.finished, late]);
    clearTimeout(timer);
    for (const i of [...this.#running]) {
      this.#kill(i);
      this.exited(i, 1);
    }
  }

  listenForSignals(): void {
    const stop = () => void this.shutdown();
    const signal = this.#signal;
    if (signal) {
      if (signal.aborted) stop();
      else signal.addEventListener("abort", stop, { once: true });
    }
    const Deno = (globalThis as { Deno?: DenoGlobal }).Deno;
    if (Deno?.addSignalListener) {
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
      this.#unlisten = () => {
        Deno.removeSignalListener?.("SIGINT", stop);
        Deno.removeSignalListener?.("SIGTERM", stop);
      };
    } else {
      const proc = nodeProcess();
      proc.on("SIGINT", stop);
      proc.on("SIGTERM", stop);
      this.#unlisten = () => {
        proc.off("SIGINT", stop);
        proc.off("SIGTERM", stop);
      };
    }
  }
}
