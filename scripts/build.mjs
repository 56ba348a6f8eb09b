#!/usr/bin/env node
// Builds the npm package into dist/: ESM JavaScript and .d.ts from the same
// TypeScript sources that Deno and JSR use as they are.
//   node scripts/build.mjs        (npm run build)
//
// 1. `tsc -p tsconfig.build.json`: its "files" list names the root-level
//    entry files (mod.ts, and later cli.ts), "include" takes lib/. Relative
//    `.ts` imports become `.js` (rewriteRelativeImportExtensions).
// 2. The declaration files are then made to stand on their own in a consumer
//    project whatever its settings (checked by scripts/package_test.mjs):
//    - relative `.ts` specifiers in .d.ts become `.js` (tsc keeps `.ts` there,
//      which TypeScript before 5.x and other tools do not resolve);
//    - `HeadersInit` is a DOM-library name that @types/node does not declare:
//      each .d.ts that uses it imports it from dist/lib/headers_init.d.ts,
//      which spells out the DOM's definition over the global `Headers` that
//      @types/node, Deno, Bun and the DOM library all declare;
//    - an optional property `name?: T` becomes `name?: T | undefined`. sprig
//      is compiled without exactOptionalPropertyTypes, where the two are the
//      same type: its code is written and checked to accept an explicit
//      `undefined` wherever a property is optional. The declaration files say
//      so to a consumer who turns the flag on (and classes that declare
//      `prop: T | undefined` for an interface's `prop?: T` still implement it
//      there, as they do in sprig's own compile).
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = join(root, "dist");

/** Relative `.ts` specifiers in declaration files become `.js`. */
export function rewriteSpecifiers(text) {
  return text.replace(
    /(\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']*?)\.ts\2/g,
    (_m, lead, quote, path) => `${lead}${quote}${path}.js${quote}`,
  );
}

/**
 * `name?: T` → `name?: T | undefined` for every optional property of an
 * interface, type literal or class in a declaration file. Parameters
 * (`(x?: T)`), tuple members and optional methods (`m?(): T`) are left alone.
 * A small scanner over tsc's own output: it skips comments and string and
 * template literals and tracks brackets, so a property is a `?:` whose
 * innermost open bracket is `{`, and its type runs to the `;`, `,` or `}` that
 * closes it at that depth.
 */
export function widenOptionalProperties(text) {
  const inserts = []; // [position, text]
  const stack = []; // open brackets
  const opens = []; // optional properties whose type is being read: { start, depth, loose }
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      i = text.indexOf("\n", i);
      if (i === -1) break;
      continue;
    }
    if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end === -1 ? text.length : end + 2;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      i++;
      while (i < text.length && text[i] !== c) i += text[i] === "\\" ? 2 : 1;
      i++;
      continue;
    }
    const open = opens.at(-1);
    if (open && stack.length === open.depth) {
      if (c === ";" || c === "," || c === "}") {
        opens.pop();
        let end = i;
        while (/\s/.test(text[end - 1])) end--;
        const type = text.slice(open.start, end);
        if (open.loose) inserts.push([open.start, "("], [end, ") | undefined"]);
        else if (!/\|\s*undefined$/.test(type)) inserts.push([end, " | undefined"]);
      } else if ((c === "=" && next === ">") || c === "?") {
        open.loose = true; // a function or conditional type: `| undefined` needs parentheses
      }
    }
    if (c === "{" || c === "(" || c === "[" || c === "<") stack.push(c);
    else if (c === "}" || c === ")" || c === "]" || (c === ">" && text[i - 1] !== "=")) stack.pop();
    else if (c === "?" && next === ":" && stack.at(-1) === "{") {
      i += 2;
      while (/\s/.test(text[i])) i++;
      opens.push({ start: i, depth: stack.length, loose: false });
      continue;
    }
    i++;
  }
  let out = text;
  inserts.sort((a, b) => b[0] - a[0]);
  for (const [at, piece] of inserts) out = out.slice(0, at) + piece + out.slice(at);
  return out;
}

const HEADERS_INIT = `/**
 * What a \`Headers\` constructor accepts: name/value pairs, a record or a
 * \`Headers\`. The DOM library's \`HeadersInit\`, spelled out so that the
 * package's types need no DOM library: \`Headers\` is declared by
 * \`@types/node\`, Deno, Bun and the DOM library alike.
 */
export type HeadersInit = [string, string][] | Record<string, string> | Headers;
`;

/** Declaration files that use `HeadersInit` import it from headers_init.d.ts. */
export function importHeadersInit(text, file) {
  if (!/\bHeadersInit\b/.test(text.replace(/\/\*[\s\S]*?\*\//g, ""))) return text;
  let spec = relative(dirname(file), join(outDir, "lib", "headers_init.js")).split(sep).join("/");
  if (!spec.startsWith(".")) spec = "./" + spec;
  return `import type { HeadersInit } from "${spec}";\n` + text;
}

function walk(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else out.push(path);
  }
  return out;
}

export function build() {
  rmSync(outDir, { recursive: true, force: true });
  const tsc = join(root, "node_modules", ".bin", "tsc");
  const r = spawnSync(tsc, ["-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.status})`);
  const files = walk(outDir);
  for (const file of files) {
    const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
    if (
      file.endsWith(".js") && /(?:\bfrom\s+|\bimport\s*\(\s*)["']\.{1,2}\/[^"']*\.ts["']/.test(code)
    ) {
      throw new Error(`${file}: a relative .ts import survived the build`);
    }
    if (!file.endsWith(".d.ts")) continue;
    let text = readFileSync(file, "utf8");
    text = rewriteSpecifiers(text);
    text = widenOptionalProperties(text);
    text = importHeadersInit(text, file);
    writeFileSync(file, text);
  }
  writeFileSync(join(outDir, "lib", "headers_init.d.ts"), HEADERS_INIT);
  return files.length + 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const count = build();
  console.error(`dist/: ${count} files`); // stderr: keeps `npm pack --json` parseable
}
