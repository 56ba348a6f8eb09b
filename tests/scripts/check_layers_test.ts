// scripts/check_layers.mjs, the layer check `npm test` runs: clean on lib/,
// and on small trees written for the test it names a cycle between two
// files, a cycle between two folders, an import up the layers, an import
// between the client and the server, and a file no layer claims.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const root = new URL("../../", import.meta.url).pathname;
const trees: string[] = [];

after(() => {
  for (const dir of trees) rmSync(dir, { recursive: true, force: true });
});

/** Runs the check (on `lib`, a tree's folder, or lib/ itself) to its end, bounded. */
function check(lib?: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const args = ["scripts/check_layers.mjs", ...(lib ? ["--lib", lib] : [])];
    const child = spawn("node", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => (stdout += text));
    child.stderr!.resume();
    const killer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`check_layers.mjs did not end within 60 s:\n${stdout}`));
    }, 60_000);
    child.once("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout });
    });
  });
}

/** A tree of files (path under lib/ → source), written to a new temporary folder. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "sprig-layers-"));
  trees.push(dir);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  return dir;
}

describe("scripts/check_layers.mjs", () => {
  it("lib/ has no cycle and no import against the layers", async () => {
    const { code, stdout } = await check();
    assert.equal(code, 0, stdout);
    assert.match(stdout, /0 cycles, 0 folder cycles, 0 layer violations/);
  });

  it("a clean tree passes: imports go down, type imports and comments included", async () => {
    const { code, stdout } = await check(tree({
      "errors.ts": "export class E extends Error {}\n",
      "protocol/frame.ts": 'import { E } from "../errors.ts";\nexport const f = E;\n',
      "session/live.ts": '// import { x } from "../client/connect.ts";\n' +
        'import type { f } from "../protocol/frame.ts";\nexport type L = typeof f;\n',
      "client/connect.ts": 'export { type L } from "../session/live.ts";\n',
    }));
    assert.equal(code, 0, stdout);
  });

  it("names a cycle between two files, and fails", async () => {
    const { code, stdout } = await check(tree({
      "server/http/listen.ts": 'import { b } from "./listen_node.ts";\nexport const a = b;\n',
      "server/http/listen_node.ts": 'import type { a } from "./listen.ts";\nexport const b = 1;\n',
    }));
    assert.equal(code, 1);
    assert.match(
      stdout,
      /^cycle: lib\/server\/http\/listen\.ts <-> lib\/server\/http\/listen_node\.ts$/m,
    );
  });

  it("names a cycle between two folders whose files do not import each other", async () => {
    const { code, stdout } = await check(tree({
      "server/http/serve.ts": 'const m = await import("../http2/front.ts");\nexport { m };\n',
      "server/http2/front.ts": 'import type { H } from "../http/loop.ts";\nexport type F = H;\n',
      "server/http/loop.ts": "export type H = number;\n",
    }));
    assert.equal(code, 1);
    assert.match(stdout, /^folder cycle: lib\/server\/http <-> lib\/server\/http2$/m);
  });

  it("names an import up the layers, one between client and server, and an unclaimed file", async () => {
    const { code, stdout } = await check(tree({
      "protocol/connection.ts": 'import { x } from "../extensions/deflate.ts";\nexport { x };\n',
      "extensions/deflate.ts": "export const x = 1;\n",
      "client/reconnecting.ts":
        'import { h } from "../server/handler/history.ts";\nexport { h };\n',
      "server/handler/history.ts": "export const h = 1;\n",
      "nowhere/thing.ts": "export const t = 1;\n",
    }));
    assert.equal(code, 1);
    assert.match(
      stdout,
      /^lib\/protocol\/connection\.ts \(protocol\) imports lib\/extensions\/deflate\.ts \(extensions\): upward$/m,
    );
    assert.match(
      stdout,
      /^lib\/client\/reconnecting\.ts \(client\) imports lib\/server\/handler\/history\.ts \(server\): upward$/m,
    );
    assert.match(stdout, /^lib\/nowhere\/thing\.ts: no layer claims it/m);
  });
});
