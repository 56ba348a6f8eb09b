// A file for tests/scripts/test_runner_test.ts: two tests that pass.
import { it } from "node:test";
import assert from "node:assert/strict";
it("one", () => assert.equal(1, 1));
it("two", () => assert.equal(2, 2));
