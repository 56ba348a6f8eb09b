// A file for tests/scripts/test_runner_test.ts: one test passes, one fails with a known message.
import { it } from "node:test";
import assert from "node:assert/strict";
it("passes", () => assert.equal(1, 1));
it("fails", () => assert.equal("the fixture's failure", "something else"));
