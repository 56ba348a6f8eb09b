#!/usr/bin/env node
// Generates the API reference from the JSDoc with `deno doc --html`: every
// entry point of deno.json's "exports" (the module paths users import; the
// `sprig` command's entry is a program, not an API, and is left out), one
// site with a page per symbol and per module.
//   npm run docs:api                  writes docs/api/ (ignored by git)
//   node scripts/docs_api.mjs --output DIR
//   node scripts/docs_api.mjs --check  builds into a temporary directory, then removes it
// The reference is generated, never committed: CI builds it from the same
// sources, so it cannot drift from the code; `npm test` builds it into a
// temporary directory to keep it building.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const at = args.indexOf("--output");
const check = args.includes("--check");
const output = check
  ? mkdtempSync(join(tmpdir(), "sprig-api-"))
  : resolve(at === -1 ? join(root, "docs", "api") : args[at + 1]);
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const entries = Object.entries(deno.exports)
  .filter(([path]) => path !== "./cli")
  .map(([, file]) => file);

if (existsSync(output)) rmSync(output, { recursive: true });
const r = spawnSync(join(root, "node_modules", ".bin", "deno"), [
  "doc",
  "--html",
  `--name=${deno.name}`,
  `--output=${output}`,
  ...entries,
], { cwd: root, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
// deno doc warns about @types/node's references it does not follow; only a failure matters.
if (r.status !== 0) {
  process.stderr.write(r.stdout + r.stderr);
  process.exit(r.status ?? 1);
}
if (!existsSync(join(output, "index.html"))) {
  console.error(`deno doc wrote no index.html into ${output}`);
  process.exit(1);
}
if (check) rmSync(output, { recursive: true });
console.log(`API reference of ${entries.join(", ")}: ${check ? "builds" : `${output}/index.html`}`);
