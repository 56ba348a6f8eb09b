#!/usr/bin/env node
// The HTTP/2 benchmark (issue 28): WebSocket echo through sprig's client and
// sprig's server over HTTP/2 (RFC 8441; h2c and TLS) beside the same over
// HTTP/1.1, on Deno, Bun and Node; and, with --h2load, plain requests to
// serve({ http2 }) measured with h2load (Debian's nghttp2-client). On Node
// and Bun both HTTP/2 servers are measured: sprig's own endpoint and
// node:http2. Not part of `npm test`.
//
//   npm run bench:h2 -- [options]        (node bench/h2/run.mjs [options])
//
// Every entry of a round runs once before any runs again (server, client, then
// the server stopped), the order reversed every other round, so that load
// from elsewhere on the machine falls on all of them alike; the figure of an
// entry is the median of its rounds. See bench/h2/README.md.
import { spawnSync } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  CLK_TCK,
  cpuTicks,
  killAll,
  lastLines,
  run,
  start,
  stop,
  waitReady,
  wrapCommand,
} from "../echo/procs.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");
const SERVER = join(HERE, "server.ts");
const CLIENT = join(HERE, "client.ts");

const USAGE = `npm run bench:h2 -- [options]      (or: node bench/h2/run.mjs [options])

  --runtime LIST   deno,bun,node (default: all three)
  --servers LIST   HTTP/2 servers on Node and Bun: sprig,node:http2 (default both;
                   Deno has sprig's only)
  --only LIST      echo,h2load (default: echo; h2load needs h2load on PATH)
  --runs N         rounds, medians reported (default 3)
  --warmup S       unmeasured seconds before each window (default 2)
  --duration S     measured seconds (default 5)
  --conns N        WebSockets of the echo client (default 50)
  --depth N        messages in flight on each (default 1)
  --size N         message bytes (default 32)
  --h2load-streams N  h2load: -c 10 -m N (default 10), for --duration seconds
  --subject-cpu N  core of the server (default 0)
  --load-cpu N     core of the client or h2load (default 1)
  --no-pin         do not pin with taskset
  --json           print the results as JSON too
  -h, --help`;

const { values: opt } = parseArgs({
  options: {
    runtime: { type: "string", default: "deno,bun,node" },
    servers: { type: "string", default: "sprig,node:http2" },
    only: { type: "string", default: "echo" },
    runs: { type: "string", default: "3" },
    warmup: { type: "string", default: "2" },
    duration: { type: "string", default: "5" },
    conns: { type: "string", default: "50" },
    depth: { type: "string", default: "1" },
    size: { type: "string", default: "32" },
    "h2load-streams": { type: "string", default: "10" },
    "subject-cpu": { type: "string", default: "0" },
    "load-cpu": { type: "string", default: "1" },
    "no-pin": { type: "boolean", default: false },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (opt.help) {
  console.log(USAGE);
  process.exit(0);
}

const runtimes = opt.runtime.split(",").filter(Boolean);
const servers = opt.servers.split(",").filter(Boolean);
const parts = opt.only.split(",").filter(Boolean);
const rounds = Number(opt.runs);
const pin = !opt["no-pin"] && spawnSync("taskset", ["-V"]).status === 0;
const subjectCpu = pin ? Number(opt["subject-cpu"]) : undefined;
const loadCpu = pin ? Number(opt["load-cpu"]) : undefined;
const TSX = join(REPO, "node_modules", "tsx", "dist", "loader.mjs");
const BIN = (name) => join(REPO, "node_modules", ".bin", name);

/** The command that runs a TypeScript file on `runtime`. */
function command(runtime, file, args) {
  if (runtime === "deno") return [BIN("deno"), "run", "-A", file, ...args];
  if (runtime === "bun") return [BIN("bun"), file, ...args];
  return [process.execPath, "--import", TSX, file, ...args];
}

/**
 * The entries: [label, runtime, server arguments, then how to load it].
 * Echo: HTTP/1.1 and HTTP/2, cleartext and TLS; on Node and Bun, HTTP/2 on
 * each server of --servers. h2load: plain GETs over h2c and TLS.
 */
const entries = [];
for (const runtime of runtimes) {
  const h2servers = runtime === "deno" ? ["sprig"] : servers;
  if (parts.includes("echo")) {
    for (const tls of [false, true]) {
      const scheme = tls ? "wss" : "ws";
      const t = tls ? ["--tls"] : [];
      entries.push({ runtime, kind: "echo", proto: tls ? "h1 tls" : "h1", server: "-", args: t });
      for (const s of h2servers) {
        entries.push({
          runtime,
          kind: "echo",
          proto: tls ? "h2 tls" : "h2c",
          server: s,
          args: [...t, "--http2", s],
          scheme,
        });
      }
    }
  }
  if (parts.includes("h2load")) {
    for (const tls of [false, true]) {
      for (const s of h2servers) {
        entries.push({
          runtime,
          kind: "h2load",
          proto: tls ? "h2 tls" : "h2c",
          server: s,
          args: [...(tls ? ["--tls"] : []), "--http2", s],
        });
      }
    }
  }
}
for (const e of entries) e.label = `${e.runtime} ${e.kind} ${e.proto} ${e.server}`;

process.on("exit", killAll);
process.on("SIGINT", () => {
  killAll();
  process.exit(130);
});

/**
 * Runs one entry once; returns its figures: echoes (or requests) per second
 * in the measured window, and the server's CPU time per echo (or request)
 * over the client's whole run, in µs. The first falls with load from
 * elsewhere on the machine; the second much less.
 */
async function measure(e) {
  const server = start(wrapCommand(command(e.runtime, SERVER, e.args), { cpu: subjectCpu }), {
    cwd: REPO,
  });
  try {
    const { port } = await waitReady(server);
    const tls = e.args.includes("--tls");
    const ticks0 = cpuTicks(server.pid);
    const cpuUs = (ops) => ((cpuTicks(server.pid) - ticks0) / CLK_TCK) * 1e6 / ops;
    if (e.kind === "echo") {
      const url = `${tls ? "wss" : "ws"}://127.0.0.1:${port}/`;
      const args = [
        "--url",
        url,
        ...(e.proto.startsWith("h2") ? ["--http2"] : []),
        "--conns",
        opt.conns,
        "--depth",
        opt.depth,
        "--size",
        opt.size,
        "--warmup",
        opt.warmup,
        "--duration",
        opt.duration,
      ];
      const seconds = Number(opt.warmup) + Number(opt.duration);
      const r = await run(wrapCommand(command(e.runtime, CLIENT, args), { cpu: loadCpu }), {
        cwd: REPO,
        timeoutMs: (seconds + 60) * 1000,
      });
      const line = r.stdout.trim().split("\n").findLast((l) => l.startsWith("{"));
      if (!line) throw new Error(`client: ${r.stderr.slice(-600) || r.stdout.slice(-600)}`);
      const out = JSON.parse(line);
      return { rate: out.perSecond, cpu: cpuUs(out.total) };
    }
    // h2load: ten connections, --h2load-streams streams each, for --duration seconds.
    const url = `${tls ? "https" : "http"}://127.0.0.1:${port}/`;
    const args = [
      "-c",
      "10",
      "-m",
      opt["h2load-streams"],
      "-D",
      opt.duration,
      url,
    ];
    const r = await run(wrapCommand(["h2load", ...args], { cpu: loadCpu }), {
      timeoutMs: (Number(opt.warmup) + Number(opt.duration) + 60) * 1000,
    });
    const m = /finished in [^,]+, ([\d.]+) req\/s/.exec(r.stdout);
    const ok = /requests: .* (\d+) succeeded, (\d+) failed/.exec(r.stdout);
    if (!m || !ok || Number(ok[1]) === 0 || Number(ok[2]) > 0) {
      throw new Error(`h2load: ${r.stdout.slice(-600)} ${r.stderr.slice(-300)}`);
    }
    return { rate: Number(m[1]), cpu: cpuUs(Number(ok[1])) };
  } catch (error) {
    throw new Error(`${e.label}: ${error.message} | server: ${lastLines(server)}`);
  } finally {
    await stop(server);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

console.log(
  `bench:h2: ${entries.length} entries × ${rounds} rounds, ${opt.warmup} s warm-up + ` +
    `${opt.duration} s each; echo ${opt.conns} WebSockets × ${opt.depth} in flight × ` +
    `${opt.size} B; ${
      pin ? `server on core ${subjectCpu}, load on core ${loadCpu}` : "not pinned"
    }`,
);
const figures = new Map(entries.map((e) => [e.label, { rate: [], cpu: [] }]));
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? entries : [...entries].reverse();
  for (const e of order) {
    try {
      const x = await measure(e);
      figures.get(e.label).rate.push(x.rate);
      figures.get(e.label).cpu.push(x.cpu);
      console.log(
        `  round ${round + 1}: ${e.label}: ${Math.round(x.rate)}/s, server ${
          x.cpu.toFixed(1)
        } µs each`,
      );
    } catch (error) {
      console.log(`  round ${round + 1}: ${e.label}: FAILED ${error.message}`);
    }
  }
}

// The table: median per entry, and its ratio to the reference of its row
// (echo: HTTP/1.1 on the same runtime and the same security; h2load: sprig's
// endpoint on the same runtime and protocol).
const results = entries.map((e) => ({
  ...e,
  median: median(figures.get(e.label).rate),
  cpu: median(figures.get(e.label).cpu),
}));
const find = (runtime, kind, proto, server) =>
  results.find((r) =>
    r.runtime === runtime && r.kind === kind && r.proto === proto && r.server === server
  );
console.log(
  "\nruntime  what     protocol  HTTP/2 server  median/s   ratio   server µs each  ratio",
);
for (const r of results) {
  const ref = r.kind === "echo"
    ? find(r.runtime, "echo", r.proto.endsWith("tls") ? "h1 tls" : "h1", "-")
    : find(r.runtime, "h2load", r.proto, "sprig");
  const ratio = ref && ref !== r ? (r.median / ref.median).toFixed(2) + "×" : "";
  const cpuRatio = ref && ref !== r ? (r.cpu / ref.cpu).toFixed(2) + "×" : "";
  console.log(
    `${r.runtime.padEnd(8)} ${r.kind.padEnd(8)} ${r.proto.padEnd(9)} ${r.server.padEnd(14)} ${
      String(Math.round(r.median)).padStart(8)
    }   ${ratio.padEnd(6)}  ${r.cpu.toFixed(1).padStart(14)}  ${cpuRatio}`,
  );
}
console.log(
  "\nratios: echo over HTTP/2 ÷ echo over HTTP/1.1 (same runtime, same security); " +
    "h2load: node:http2 ÷ sprig's endpoint. median/s: echoes (requests) per second; " +
    "server µs each: the server's CPU time per echo (request), lower is better",
);
if (opt.json) {
  console.log(JSON.stringify(
    results.map(({ label, median, cpu, runtime, kind, proto, server }) => ({
      label,
      runtime,
      kind,
      proto,
      server,
      median,
      cpuUs: cpu,
      runs: figures.get(label),
    })),
  ));
}
