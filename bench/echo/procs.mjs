// Child processes for the echo benchmark: every one is tracked, started in
// its own process group, bounded in time, and killed at the end (also on
// error and SIGINT). Linux only (/proc for CPU time and RSS).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";

/** Every child still alive, by pid (each leads its own process group). */
const live = new Map();

/** Clock ticks per second for /proc/PID/stat (USER_HZ; 100 on Linux). */
export const CLK_TCK = 100;

/** Keeps the last `max` characters of a stream's text. */
function tailBuffer(max) {
  let text = "";
  return {
    push(chunk) {
      text += chunk;
      if (text.length > max) text = text.slice(text.length - max);
    },
    get text() {
      return text;
    },
  };
}

/**
 * Wraps a command so that its soft file-descriptor limit is raised to the
 * hard one and, when `cpu` is a number, it is pinned to that core. `exec`
 * keeps the pid: it is the process under test itself.
 */
export function wrapCommand(cmd, { cpu } = {}) {
  const pin = typeof cpu === "number" ? ["taskset", "-c", String(cpu)] : [];
  return [
    "bash",
    "-c",
    'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"',
    "bash",
    ...pin,
    ...cmd,
  ];
}

/**
 * Starts a tracked child. Returns { pid, child, out, err, exited } where
 * `exited` resolves with { code, signal } and `out`/`err` keep the tail of
 * its output.
 */
export function start(cmd, { cwd, env, onOutput } = {}) {
  const [file, ...args] = cmd;
  const child = spawn(file, args, {
    cwd,
    env: env ?? process.env,
    detached: true, // its own process group, killed as one
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = tailBuffer(256 * 1024);
  const err = tailBuffer(64 * 1024);
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (s) => {
    out.push(s);
    onOutput?.(s);
  });
  child.stderr.on("data", (s) => {
    err.push(s);
    onOutput?.(s);
  });
  const exited = new Promise((resolve) => {
    child.on("error", (e) => {
      err.push(`spawn failed: ${e.message}\n`);
      resolve({ code: null, signal: null, error: e.message });
    });
    child.on("close", (code, signal) => resolve({ code, signal }));
  });
  let done = false;
  exited.then(() => {
    done = true;
    if (child.pid) live.delete(child.pid);
  });
  if (child.pid) live.set(child.pid, child);
  return {
    pid: child.pid,
    child,
    out,
    err,
    exited,
    get done() {
      return done;
    },
  };
}

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** Stops a started child: SIGTERM to its group, SIGKILL after `graceMs`. */
export async function stop(proc, graceMs = 2000) {
  if (!proc?.pid) return { code: null, signal: null };
  if (proc.done) return await proc.exited;
  killGroup(proc.pid, "SIGTERM");
  const timer = sleep(graceMs).then(() => "timeout");
  if (await Promise.race([proc.exited, timer]) === "timeout") {
    killGroup(proc.pid, "SIGKILL");
  }
  return await Promise.race([proc.exited, sleep(2000).then(() => ({ code: null, signal: "?" }))]);
}

/** Kills every tracked child at once (synchronous: usable in an exit handler). */
export function killAll() {
  for (const pid of live.keys()) killGroup(pid, "SIGKILL");
  live.clear();
}

/**
 * Waits until the child prints a line matching /listening on ADDR:PORT/ and
 * returns { port, line }; throws when it exits first or after `timeoutMs`.
 */
export async function waitReady(proc, timeoutMs = 30_000) {
  const re = /listening on [0-9.]+:(\d+)/;
  const started = Date.now();
  for (let i = 0; i < 100_000; i++) {
    const m = re.exec(proc.out.text) ?? re.exec(proc.err.text);
    if (m) {
      const line = (proc.out.text + proc.err.text).split("\n").find((l) => re.test(l)) ?? "";
      return { port: Number(m[1]), line: line.trim() };
    }
    if (proc.done) {
      throw new Error(`exited before it was ready: ${lastLines(proc)}`);
    }
    if (Date.now() - started > timeoutMs) {
      throw new Error(`not ready after ${timeoutMs} ms: ${lastLines(proc)}`);
    }
    await sleep(20);
  }
  throw new Error("not ready");
}

/** The last few lines of a child's output, for error messages. */
export function lastLines(proc, n = 6) {
  const text = `${proc.out.text}\n${proc.err.text}`.trim();
  return text.split("\n").slice(-n).join(" | ").slice(0, 800);
}

/**
 * Runs a command to its end, bounded by `timeoutMs` (then killed).
 * Returns { code, signal, stdout, stderr, timedOut, ms }.
 */
export async function run(cmd, { cwd, env, timeoutMs = 60_000 } = {}) {
  const t0 = Date.now();
  const proc = start(cmd, { cwd, env });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(proc.pid, "SIGKILL");
  }, timeoutMs);
  const exit = await proc.exited;
  clearTimeout(timer);
  return {
    code: exit.code,
    signal: exit.signal,
    stdout: proc.out.text,
    stderr: proc.err.text,
    timedOut,
    ms: Date.now() - t0,
  };
}

/** A process's user + system CPU time, in clock ticks (NaN if unknown). */
export function cpuTicks(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the ")" that ends the command name: state is field 3, utime 14, stime 15
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return NaN;
  }
}

/** A process's resident set size in KiB (VmRSS), or NaN. */
export function rssKiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Samples a process's CPU time every `intervalMs` until stopped. `stop()`
 * returns `{ mean(fromMs, toMs), peak(spanMs) }`: CPU use in percent of one
 * core between two times (milliseconds since the sampler started), or over
 * its busiest stretch of at least `spanMs`; null when too little was sampled.
 */
export function cpuSampler(pid, intervalMs = 250) {
  const t0 = performance.now();
  const samples = [[0, cpuTicks(pid)]];
  const timer = setInterval(() => {
    if (samples.length < 100_000) samples.push([performance.now() - t0, cpuTicks(pid)]);
  }, intervalMs);
  const pct = (a, b) =>
    b[0] - a[0] > 0
      ? Math.round(((100 * (b[1] - a[1])) / CLK_TCK / ((b[0] - a[0]) / 1000)) * 10) / 10
      : null;
  return {
    stop() {
      clearInterval(timer);
      samples.push([performance.now() - t0, cpuTicks(pid)]);
      const ok = samples.filter(([, ticks]) => Number.isFinite(ticks));
      return {
        mean(fromMs = 0, toMs = Infinity) {
          const a = ok.find(([t]) => t >= fromMs);
          const b = ok.findLast(([t]) => t <= toMs);
          if (!a || !b || b[0] - a[0] < intervalMs) return null;
          return pct(a, b);
        },
        peak(spanMs = 1000) {
          let best = null;
          for (let i = 0, j = 0; i < ok.length; i++) {
            while (j < ok.length && ok[j][0] - ok[i][0] < spanMs) j++;
            if (j >= ok.length) break;
            const p = pct(ok[i], ok[j]);
            if (p !== null && (best === null || p > best)) best = p;
          }
          return best;
        },
      };
    },
  };
}

function statOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pgrp: Number(rest[2]), ticks: Number(rest[11]) + Number(rest[12]) };
}

/** The CPU time of every process on the machine, for {@link otherCpuPct}. */
export function cpuSnapshot() {
  const procs = new Map();
  let names = [];
  try {
    names = readdirSync("/proc");
  } catch {
    // not Linux
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    try {
      procs.set(Number(name), statOf(name));
    } catch {
      // gone meanwhile
    }
  }
  return { t: performance.now(), procs };
}

let ownPgrp = NaN;
try {
  ownPgrp = statOf(process.pid).pgrp;
} catch {
  // not Linux
}

/**
 * CPU used between two snapshots by processes that are not the benchmark's
 * (neither this process, its process group, nor a tracked child's group),
 * in percent of one core: how quiet the machine was. Processes that ended
 * in between are not counted.
 */
export function otherCpuPct(a, b) {
  const ours = new Set([process.pid, ownPgrp, ...live.keys()]);
  let ticks = 0;
  for (const [pid, s] of b.procs) {
    if (ours.has(pid) || ours.has(s.pgrp)) continue;
    ticks += Math.max(0, s.ticks - (a.procs.get(pid)?.ticks ?? 0));
  }
  const secs = (b.t - a.t) / 1000;
  return secs > 0 ? Math.round(((100 * ticks) / CLK_TCK / secs) * 10) / 10 : null;
}

/** Waits (bounded) for a file to exist and hold text; returns the text or null. */
export async function waitForFile(path, timeoutMs, isAlive = () => true) {
  const started = Date.now();
  for (let i = 0; i < 1_000_000; i++) {
    if (existsSync(path)) {
      const text = readFileSync(path, "utf8");
      if (text.trim()) return text.trim();
    }
    if (!isAlive() || Date.now() - started > timeoutMs) return null;
    await sleep(50);
  }
  return null;
}

export { sleep };
