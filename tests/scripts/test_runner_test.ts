// scripts/test.mjs, the `npm test` driver, run as npm runs it (its output a
// pipe): one line per test file as each ends, a failing file's output after
// its line, every line of a long output, the count line last, and the exit
// status. The test files are fixtures (tests/_fixtures/runner/), run on Deno.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";

const root = new URL("../../", import.meta.url).pathname;
const fixture = (name: string) => `tests/_fixtures/runner/${name}.ts`;

/** Runs scripts/test.mjs with `args` to its end (bounded); its stdout, read through a pipe. */
function runTests(args: string[]): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", ["scripts/test.mjs", "--only", "deno", ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => (stdout += text));
    child.stderr!.resume();
    const killer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`scripts/test.mjs did not end within 120 s:\n${stdout}`));
    }, 120_000);
    child.once("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout });
    });
  });
}

describe("scripts/test.mjs", () => {
  it("one line per file as it ends, a failure's output after its line, the count line last, exit 1", async () => {
    const { code, stdout } = await runTests([fixture("passes"), fixture("fails")]);
    assert.equal(code, 1);
    const lines = stdout.trimEnd().split("\n");
    assert.ok(
      lines.some((l) =>
        /^ok {3}deno \[1\/2\] tests\/_fixtures\/runner\/passes\.ts: 2 passed, 0 failed, [\d.]+ s$/
          .test(l)
      ),
      stdout,
    );
    const failLine = lines.findIndex((l) =>
      /^FAIL deno \[2\/2\] tests\/_fixtures\/runner\/fails\.ts: 1 passed, 1 failed, [\d.]+ s$/.test(
        l,
      )
    );
    assert.ok(failLine !== -1, stdout);
    const end = lines.indexOf("--- end of tests/_fixtures/runner/fails.ts (deno) ---");
    assert.ok(end > failLine, stdout);
    assert.ok(
      lines.slice(failLine, end).some((l) => l.includes("the fixture's failure")),
      "the failing file's output follows its line",
    );
    assert.ok(lines.includes("failed files (deno): tests/_fixtures/runner/fails.ts"), stdout);
    assert.equal(lines.at(-1), "tests: 3 passed, 1 failed");
  });

  it("with --verbose, every line of a long output arrives through the pipe, and exit 0", async () => {
    const { code, stdout } = await runTests(["--verbose", fixture("noisy")]);
    assert.equal(code, 0, stdout.slice(-2000));
    const numbered = stdout.match(/^noisy line \d+$/gm) ?? [];
    assert.equal(numbered.length, 20_000);
    assert.equal(numbered.at(-1), "noisy line 20000");
    assert.equal(stdout.trimEnd().split("\n").at(-1), "tests: 1 passed, 0 failed");
  });
});
