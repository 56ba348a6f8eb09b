#!/usr/bin/env node
// Turns an echo-benchmark results JSON (bench/results/*.json, written by
// bench/echo/run.mjs) into Markdown tables for the README.
//
//   node bench/echo/report.mjs [FILE.json]     (default: the newest full run in bench/results/)
//   node bench/echo/report.mjs --text FILE     (the plain-text table run.mjs prints)
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { renderMarkdown, renderText } from "./format.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, "../..");

const { values, positionals } = parseArgs({
  options: { text: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  allowPositionals: true,
});
if (values.help) {
  console.log("usage: node bench/echo/report.mjs [--text] [results.json]");
  process.exit(0);
}

let file = positionals[0];
if (!file) {
  const dir = join(REPO, "bench", "results");
  let names = [];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
  } catch {
    // no results yet
  }
  const full = names.filter((n) => !n.endsWith("-quick.json"));
  const pick = (full.length ? full : names).at(-1);
  if (!pick) {
    console.error("no results in bench/results/: run `npm run bench:echo` first");
    process.exit(1);
  }
  file = join(dir, pick);
}

const results = JSON.parse(readFileSync(file, "utf8"));
if (results.schema !== "sprig-bench-echo/1") {
  console.error(`${file}: not an echo-benchmark results file (schema ${results.schema})`);
  process.exit(1);
}
const rel = relative(REPO, resolve(file));
const source = rel.startsWith("..") ? resolve(file) : rel;
console.log(values.text ? renderText(results) : renderMarkdown(results, { source }));
