#!/usr/bin/env node
// `npm ci` refuses a package-lock.json that misses any optional dependency,
// including the platform packages of deno and bun for other systems. npm
// drops those from the lock when it re-locks over a node_modules that lacks
// them (a known npm bug), after which `npm ci` fails on a fresh clone.
//   node scripts/check_lock.mjs          checks the lock (part of npm test)
//   node scripts/check_lock.mjs --fix    re-locks in a clean temporary copy
//                                        (no node_modules): the missing entries
//                                        are added, locked versions are kept
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The optional dependencies that the lock does not record, as "parent → name". */
export function missingOptional(lock) {
  const packages = lock.packages ?? {};
  const missing = [];
  for (const [path, entry] of Object.entries(packages)) {
    for (const name of Object.keys(entry.optionalDependencies ?? {})) {
      // Node's lookup: <path>/node_modules/<name>, then each enclosing node_modules.
      let found = false;
      for (let dir = path;; dir = dir.slice(0, Math.max(0, dir.lastIndexOf("/node_modules/")))) {
        if (packages[(dir ? `${dir}/` : "") + `node_modules/${name}`]) {
          found = true;
          break;
        }
        if (dir === "") break;
      }
      if (!found) missing.push(`${path || "(root)"} → ${name}`);
    }
  }
  return missing;
}

function fix() {
  const work = mkdtempSync(join(tmpdir(), "sprig-lock-"));
  try {
    for (const file of ["package.json", "package-lock.json"]) {
      copyFileSync(join(root, file), join(work, file));
    }
    const r = spawnSync("npm", ["install", "--package-lock-only", "--no-audit", "--no-fund"], {
      cwd: work,
      stdio: "inherit",
    });
    if (r.status !== 0) {
      throw new Error(`npm install --package-lock-only failed (exit ${r.status})`);
    }
    copyFileSync(join(work, "package-lock.json"), join(root, "package-lock.json"));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  if (process.argv.includes("--fix")) fix();
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
  const missing = missingOptional(lock);
  if (missing.length > 0) {
    console.log(`package-lock.json misses optional dependencies (npm ci would fail):`);
    for (const m of missing) console.log(`  ${m}`);
    console.log("fix: node scripts/check_lock.mjs --fix");
    process.exit(1);
  }
  console.log("package-lock.json records every optional dependency");
}
