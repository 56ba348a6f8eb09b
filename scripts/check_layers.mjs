#!/usr/bin/env node
// Checks lib/'s import graph: no import cycle, and no import from a lower layer into a higher one.
//
// The layers, lowest first (a file may import its own layer and any layer below it):
//
//   base        errors.ts, error_codes.ts, arguments.ts, util/   (what every layer may use)
//   protocol    protocol/ (the sans-I/O core, HTTP/1.1 and HTTP/2 included)
//   extensions  extensions/
//   transport   transport/, streams/ (the byte movers, and the TransformStream codecs)
//   session     session/, telemetry.ts (the live connection and its events)
//   client      client/          } siblings: neither imports the other
//   server      server/          }
//   scale       scale/
//   otel        otel/            (telemetry to OpenTelemetry)
//   testing     testing/         (the test kit: handlers driven in memory, raw peers)
//   cli         cli/
//
// The package's entry points (lib/*/mod.ts, lib/server/adapters/mod.ts) are facades: they re-export
// what their subpath always exported, from whichever layer defines it, so they are checked for
// cycles but not for direction; nothing in lib/ may import an entry point but another entry point.
//
// Folders are checked for cycles too (server/http and server/http2 may not need each other).
//
// Every relative import is counted: `import`, `import type`, `export … from` and `import("…")`,
// outside comments. A file under lib/ that no layer claims is an error too, so a new folder says
// where it sits. Prints the cycles and the upward imports it finds; exits 1 if there is any.
//
// Usage: node scripts/check_layers.mjs [--graph] [--lib DIR]
//   --graph prints every import with its layers; --lib checks another tree (the tests use one).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Layers, lowest first: [name, path prefixes under lib/, siblings it must not import]. */
export const LAYERS = [
  ["base", ["errors.ts", "error_codes.ts", "arguments.ts", "util/"]],
  ["protocol", ["protocol/"]],
  ["extensions", ["extensions/"]],
  ["transport", ["transport/", "streams/"]],
  ["session", ["session/", "telemetry.ts"]],
  ["client", ["client/"], ["server"]],
  ["server", ["server/"], ["client"]],
  ["scale", ["scale/"]],
  ["otel", ["otel/"]],
  ["testing", ["testing/"]],
  ["cli", ["cli/"]],
];

/** The package's entry points under lib/ (facades over the layers). */
const ENTRY = /^(?:[a-z0-9_]+\/mod\.ts|server\/adapters\/mod\.ts)$/;

function layerOf(file) {
  for (let i = 0; i < LAYERS.length; i++) {
    const [name, prefixes, siblings = []] = LAYERS[i];
    for (const prefix of prefixes) {
      if (prefix.endsWith("/") ? file.startsWith(prefix) : file === prefix) {
        return { name, rank: siblingRank(i), siblings };
      }
    }
  }
  return undefined;
}

/** Siblings share a rank: client and server are one level. */
function siblingRank(index) {
  let rank = 0;
  for (let i = 1; i <= index; i++) {
    const [, , siblings = []] = LAYERS[i];
    if (!siblings.includes(LAYERS[i - 1][0])) rank++;
  }
  return rank;
}

function listTs(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listTs(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Relative specifiers a source imports, comments left out. */
export function importsOf(source) {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const specifiers = [];
  const statement = /^\s*(?:import|export)\s[^;]*?\sfrom\s*"([^"]+)"/gm;
  const bare = /^\s*import\s*"([^"]+)"/gm;
  const dynamic = /\bimport\(\s*"([^"]+)"\s*\)/g;
  for (const pattern of [statement, bare, dynamic]) {
    for (const match of code.matchAll(pattern)) {
      if (match[1].startsWith(".")) specifiers.push(match[1]);
    }
  }
  return specifiers;
}

/** The graph of lib/: file (relative to lib/) → the lib files it imports. */
export function libGraph(libDir = join(root, "lib")) {
  const graph = new Map();
  for (const path of listTs(libDir).sort()) {
    const file = relative(libDir, path).replaceAll("\\", "/");
    const targets = new Set();
    for (const specifier of importsOf(readFileSync(path, "utf8"))) {
      const target = relative(libDir, normalize(join(dirname(path), specifier))).replaceAll(
        "\\",
        "/",
      );
      if (!target.startsWith("..")) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Strongly connected components of more than one file (or a file importing itself). */
export function cycles(graph) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indices.get(w)));
    }
    if (low.get(v) === indices.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  return found;
}

/**
 * The graph of folders (a file at lib/'s top is its own node), entry points
 * left out: a cycle here is two folders that need each other, even when no
 * two files do.
 */
export function folderGraph(graph) {
  const folderOf = (file) => file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : file;
  const folders = new Map();
  for (const [file, targets] of graph) {
    if (ENTRY.test(file)) continue;
    const from = folderOf(file);
    if (!folders.has(from)) folders.set(from, []);
    for (const target of targets) {
      const to = folderOf(target);
      if (to !== from && !ENTRY.test(target) && !folders.get(from).includes(to)) {
        folders.get(from).push(to);
      }
    }
  }
  return folders;
}

/** Imports that go against the layers, and files no layer claims. */
export function violations(graph) {
  const problems = [];
  for (const [file, targets] of graph) {
    if (ENTRY.test(file)) {
      for (const target of targets) {
        if (!graph.has(target)) problems.push(`${file} imports ${target}, which does not exist`);
      }
      continue;
    }
    const from = layerOf(file);
    if (!from) {
      problems.push(
        `lib/${file}: no layer claims it (add it to LAYERS in scripts/check_layers.mjs)`,
      );
      continue;
    }
    for (const target of targets) {
      if (!graph.has(target)) {
        problems.push(`lib/${file} imports lib/${target}, which does not exist`);
        continue;
      }
      if (ENTRY.test(target)) {
        problems.push(`lib/${file} imports the entry point lib/${target} (import its source)`);
        continue;
      }
      const to = layerOf(target);
      if (!to) continue; // reported as unclaimed on its own
      if (to.rank > from.rank || from.siblings.includes(to.name)) {
        problems.push(`lib/${file} (${from.name}) imports lib/${target} (${to.name}): upward`);
      }
    }
  }
  return problems;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === normalize(process.argv[1])) {
  const at = process.argv.indexOf("--lib");
  const graph = libGraph(at > 0 ? process.argv[at + 1] : undefined);
  if (process.argv.includes("--graph")) {
    for (const [file, targets] of graph) {
      for (const target of targets) {
        console.log(
          `${file} (${layerOf(file)?.name ?? "entry"}) -> ${target} (${
            layerOf(target)?.name ?? "entry"
          })`,
        );
      }
    }
  }
  const loops = cycles(graph);
  const folderLoops = cycles(folderGraph(graph));
  const problems = violations(graph);
  for (const loop of loops) console.log(`cycle: ${loop.map((f) => `lib/${f}`).join(" <-> ")}`);
  for (const loop of folderLoops) {
    console.log(`folder cycle: ${loop.map((f) => `lib/${f}`).join(" <-> ")}`);
  }
  for (const problem of problems) console.log(problem);
  const edges = [...graph.values()].reduce((n, targets) => n + targets.length, 0);
  console.log(
    `layers: ${graph.size} files, ${edges} imports, ${loops.length} cycles, ` +
      `${folderLoops.length} folder cycles, ${problems.length} layer violations`,
  );
  process.exit(loops.length + folderLoops.length + problems.length === 0 ? 0 : 1);
}
