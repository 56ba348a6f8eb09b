import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { joinSmall } from "../../lib/transport/transport.ts";

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);
const flat = (xs: readonly Uint8Array[]) => xs.flatMap((x) => [...x]);
const parts = (r: Uint8Array | readonly Uint8Array[]) => (r instanceof Uint8Array ? [r] : r);

describe("joinSmall (writes on runtimes without a gathered write)", () => {
  it("joins small chunks into one buffer and keeps large ones as they are, bytes in order", () => {
    const cases: Array<[number[], number[]]> = [
      [[2, 3], [5]],
      [[10, 70_000], [10, 70_000]],
      [[70_000, 70_000], [70_000, 70_000]],
      [[5, 6, 20_000, 7, 8], [11, 20_000, 15]],
      [[20_000, 3], [20_000, 3]],
    ];
    for (const [sizes, expected] of cases) {
      const chunks = sizes.map((n, i) => bytes(n, i + 1));
      const out = parts(joinSmall(chunks));
      assert.deepEqual(out.map((c) => c.length), expected, sizes.join(","));
      assert.deepEqual(flat(out), flat(chunks));
      // A large chunk is the caller's own buffer: not copied.
      for (const c of chunks) if (c.length >= 16 * 1024) assert.ok(out.includes(c));
    }
  });
});
