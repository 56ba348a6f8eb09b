// A file for tests/scripts/test_runner_test.ts: a passing test that prints 20,000 numbered lines.
import { it } from "node:test";
it("prints", () => {
  for (let i = 1; i <= 20_000; i++) console.log(`noisy line ${i}`);
});
