// The shared Ticker never keeps a process alive by itself: a process whose
// only pending thing is a Ticker with a registered item exits. (Processes
// using sprig used to linger one tick period, up to seconds, after their
// work ended.) Run as a child process of the runtime running this test.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { detectRuntime } from "../../mod.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const ticker = new URL("../../lib/util/ticker.ts", import.meta.url).href;

describe("Ticker", () => {
  it("does not keep the process alive", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sprig-ticker-"));
    const script = join(dir, "main.mts");
    writeFileSync(
      script,
      `import { Ticker } from ${JSON.stringify(ticker)};
const t = new Ticker(60_000); // a period far beyond the test's bound
t.add({ tick: () => true }); // registered for ever
console.log("registered");
`,
    );
    const [cmd, args] = runtime === "deno"
      ? [bin("deno"), ["run", "-A", "--no-check", script]]
      : runtime === "bun"
      ? [bin("bun"), [script]]
      : [bin("tsx"), [script]];
    try {
      const out = await new Promise<string>((resolve, reject) => {
        // Bounded: a ref'd 60 s interval would hit this limit and fail the test.
        execFile(cmd, args, { timeout: 30_000 }, (error, stdout, stderr) => {
          if (error) reject(new Error(`${error.message}\n${stdout}\n${stderr}`));
          else resolve(stdout);
        });
      });
      assert.equal(out.trim(), "registered");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
