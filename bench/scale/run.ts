/**
 * Scaling-out bench (issue 19), ratios in one run:
 *   node_modules/.bin/tsx bench/scale/run.ts [--runtime node|deno|bun] [--messages N]
 * (or deno run -A / bun). Servers run on --runtime (default: the one running this).
 *
 * 1. Fan-out: 1 publisher, 1,000 subscribers split across 2 instances sharing
 *    the topic through redis-server, 64-byte messages; against the same 1,000
 *    subscribers on one instance with in-process topics. Rate = deliveries/s
 *    (messages × subscribers reached ÷ time from the first send to the last
 *    delivery). The subscribers are sprig clients in this process.
 * 2. Echo: wsload (C) against one server per core (runCluster, reusePort) and
 *    against one process, `-c 100 -s 32 -d 10`, 2 s warm-up, 5 s measured.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { existsSync } from "node:fs";
import { connect, detectRuntime, type Session } from "../../mod.ts";
import { freePort, RedisServer } from "../../tests/scale/_redis.ts";

const argv = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv.slice(2);
const opt = (name: string, fallback: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1]! : fallback;
};
const runtime = opt("runtime", detectRuntime());
const MESSAGES = Number(opt("messages", "2000"));
const SUBSCRIBERS = 1000;
const root = new URL("../../", import.meta.url).pathname;
const bin = (name: string) => `${root}node_modules/.bin/${name}`;
const INSTANCE = new URL("./instance.ts", import.meta.url).pathname;

function start(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const [cmd, pre] = runtime === "deno"
    ? [bin("deno"), ["run", "-A", "--no-check", "--unstable-net"]]
    : runtime === "bun"
    ? [bin("bun"), []]
    : [bin("tsx"), []];
  const child = spawn(cmd, [...pre, INSTANCE, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")}: not ready`)), 60_000);
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => {
      out += t;
      const m = /LISTENING (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.once("exit", (c) => reject(new Error(`${args.join(" ")} exited ${c}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 10_000).unref?.();
  });
}

/** Delivers MESSAGES 64-byte messages from one publisher to the subscribers on `ports`. */
async function fanout(ports: number[]): Promise<number> {
  const subs: Session[] = [];
  let received = 0;
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const ws = await connect(`ws://127.0.0.1:${ports[i % ports.length]}/?sub`, {
      compression: false,
      keepalive: false,
    });
    ws.on("message", () => void received++);
    subs.push(ws);
  }
  const pub = await connect(`ws://127.0.0.1:${ports[0]}/`, {
    compression: false,
    keepalive: false,
  });
  const payload = "x".repeat(64);
  // Until every subscriber gets a warm-up message (the Redis subscriptions are in place).
  for (let i = 0; i < 200 && received < SUBSCRIBERS; i++) {
    received = 0;
    await pub.send(payload);
    const t = Date.now();
    while (Date.now() - t < 100 && received < SUBSCRIBERS) {
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  await new Promise((r) => setTimeout(r, 300));
  received = 0;
  const target = MESSAGES * SUBSCRIBERS;
  const started = performance.now();
  for (let i = 0; i < MESSAGES; i++) {
    const sent = pub.send(payload);
    if (i % 50 === 49) await sent;
  }
  const deadline = Date.now() + 120_000;
  while (received < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  const elapsed = (performance.now() - started) / 1000;
  const rate = received / elapsed;
  if (received < target) console.log(`  (only ${received} of ${target} deliveries within 120 s)`);
  await Promise.all([...subs, pub].map((s) => s.close().catch(() => {})));
  return rate;
}

function wsload(port: number): number {
  const build = "/tmp/wsload-build";
  if (!existsSync(`${build}/wsload`)) {
    execFileSync("make", ["-C", `${root}bench/wsload`, `BUILD=${build}`], {
      stdio: "inherit",
    });
  }
  const out = execFileSync(`${build}/wsload`, [
    "-q",
    "-c",
    "100",
    "-s",
    "32",
    "-d",
    "10",
    "-w",
    "2",
    "-t",
    "5",
    `ws://127.0.0.1:${port}/`,
  ], { encoding: "utf8" });
  const result = JSON.parse(out.trim().split("\n").pop()!);
  if (result.mismatches || result.errors) throw new Error(`wsload: ${out}`);
  return result.msgs_per_s;
}

const fmt = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0);
console.log(`scale bench: servers on ${runtime}; cores: ${availableParallelism()}`);

// 1. Fan-out
const redis = await RedisServer.start();
try {
  const inProcess = await start(["fanout", String(await freePort())]);
  const local = await fanout([inProcess.port]);
  await stop(inProcess.child);
  const a = await start(["fanout", String(await freePort()), redis.url]);
  const b = await start(["fanout", String(await freePort()), redis.url]);
  const viaRedis = await fanout([a.port, b.port]);
  await Promise.all([stop(a.child), stop(b.child)]);
  console.log(`fan-out, 1 publisher → ${SUBSCRIBERS} subscribers, 64 B, ${MESSAGES} messages:`);
  console.log(`  in-process, 1 instance:        ${fmt(local)} deliveries/s`);
  console.log(`  through Redis, 2 instances:    ${fmt(viaRedis)} deliveries/s`);
  console.log(`  ratio Redis / in-process:      ${(viaRedis / local).toFixed(2)}×`);
} finally {
  await redis.stop();
}

// 2. Echo: one worker per core vs one process
const single = await start(["echo", String(await freePort())]);
const one = wsload(single.port);
await stop(single.child);
const clusterPort = await freePort();
const cluster = await start(["echo-cluster", String(clusterPort)]);
const many = wsload(clusterPort);
await stop(cluster.child);
console.log(`echo, wsload -c 100 -s 32 -d 10 (2 s warm-up, 5 s):`);
console.log(`  one process:                   ${fmt(one)} msg/s`);
console.log(`  one worker per core (${availableParallelism()}):       ${fmt(many)} msg/s`);
console.log(`  ratio per-core / one process:  ${(many / one).toFixed(2)}×`);
