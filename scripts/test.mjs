#!/usr/bin/env node
// Runs the whole test suite under Deno, Bun and Node (in that order), then
// prints one summary line. Exits non-zero if any runtime failed.
//   node scripts/test.mjs [--only node|deno|bun] [--node-from-source] [files...]
// Deno and Bun run the TypeScript sources; Node runs the suite against the
// built package (dist/, built first), as npm users get it — with
// --node-from-source, against the sources (tsx) instead.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ensurePeers } from "./peers.mjs";

const bin = (name) => join("node_modules", ".bin", name);
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

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
let only;
const onlyAt = args.indexOf("--only");
if (onlyAt !== -1) only = args.splice(onlyAt, 2)[1];
const fromSourceAt = args.indexOf("--node-from-source");
const nodeFromSource = fromSourceAt !== -1;
if (nodeFromSource) args.splice(fromSourceAt, 1);
const files = args.length > 0 ? args : findTests("tests");

const runtimes = {
  deno: [bin("deno"), ["test", "-A", "--no-check", ...files]],
  bun: [bin("bun"), ["test", "--timeout", "120000", ...files.map((f) => "./" + f)]],
  node: [bin("tsx"), [
    ...(nodeFromSource ? [] : ["--import", "./scripts/use_dist.mjs"]),
    "--test",
    "--test-timeout=120000",
    ...files,
  ]],
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
const failedRuntimes = [];

// Interop peers that npm does not bring (Python's websockets) must be there.
if (!ensurePeers()) failedRuntimes.push("interop peers");

// The npm package's build (dist/): Node's pass runs against it.
if ((!only || only === "node") && !nodeFromSource) {
  const r = spawnSync(process.execPath, ["scripts/build.mjs"], { encoding: "utf8" });
  const ok = r.status === 0;
  if (!ok) process.stdout.write((r.stdout ?? "") + (r.stderr ?? ""));
  console.log(`=== build (dist/): ${ok ? "ok" : "FAILED"} ===`);
  if (!ok) failedRuntimes.push("build");
}

// Static checks first: strict tsc, deno check, deno lint, deno fmt --check (skipped with
// --only or explicit files).
if (!only && args.length === 0) {
  const checks = [
    ["tsc (strict)", bin("tsc"), ["-p", "tsconfig.json"]],
    ["deno check", bin("deno"), [
      "check",
      "--quiet",
      ...["mod.ts", "cli.ts", "lib/", "tests/", "examples/", "bench/"].filter((p) => existsSync(p)),
    ]],
    ["README examples type-check", bin("deno"), ["check", "--quiet", "--doc-only", "README.md"]],
    [
      "doc examples type-check and run (deno check --doc, deno test --doc; Bun's on bun)",
      process.execPath,
      ["scripts/doc_examples.mjs"],
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
    ]],
    ["deno fmt --check", bin("deno"), ["fmt", "--check", "--quiet"]],
    ["package-lock complete (npm ci)", process.execPath, ["scripts/check_lock.mjs"]],
    [
      "packages (npm pack, installed and run on node, bun, deno; strict consumer tsc; deno publish --dry-run)",
      process.execPath,
      ["scripts/package_test.mjs"],
      { verbose: true },
    ],
  ];
  for (const [name, cmd, argv, { verbose = false } = {}] of checks) {
    const r = spawnSync(cmd, argv, { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    const ok = r.status === 0;
    if (!ok || verbose) process.stdout.write((r.stdout ?? "") + (r.stderr ?? ""));
    console.log(`=== ${name}: ${ok ? "ok" : "FAILED"} ===`);
    if (!ok) failedRuntimes.push(name);
  }
}
for (const [name, [cmd, argv]] of Object.entries(runtimes)) {
  if (only && only !== name) continue;
  console.log(`\n=== ${name}: ${files.length} test files ===`);
  const started = Date.now();
  const r = spawnSync(cmd, argv, {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
    maxBuffer: 256 * 1024 * 1024,
  });
  // deno and bun may still colour some lines; counts are read without escapes.
  const output = ((r.stdout ?? "") + (r.stderr ?? "")).replace(ANSI, "");
  process.stdout.write(output);
  const counts = counters[name](output);
  const ok = r.status === 0 && counts !== null && counts[1] === 0;
  if (counts) {
    passed += counts[0];
    failed += counts[1];
  }
  if (!ok) failedRuntimes.push(name);
  console.log(
    `=== ${name}: ${ok ? "ok" : "FAILED"} (exit ${r.status ?? r.signal}, ${
      counts ? `${counts[0]} passed, ${counts[1]} failed` : "no counts"
    }, ${((Date.now() - started) / 1000).toFixed(1)} s) ===`,
  );
}

if (failedRuntimes.length > 0) console.log(`\nFailed on: ${failedRuntimes.join(", ")}`);
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failedRuntimes.length > 0 ? 1 : 0);
