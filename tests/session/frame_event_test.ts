import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, serve } from "../../mod.ts";
import { Opcode } from "../../lib/protocol/frame.ts";

describe("Session: the frame event", () => {
  it("a listener added at connect() or later hears every frame in and out", async () => {
    await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
      in: (m) => ({ push: m }),
    });
    const early: string[] = [];
    await using ws = await connect(server.url, {
      compression: false,
      on: { frame: ({ direction, frame }) => early.push(`${direction} ${frame.opcode}`) },
    });
    await ws.send("a");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "a");
    assert.deepEqual(early, [`out ${Opcode.Text}`, `in ${Opcode.Text}`]);

    await using later = await connect(server.url, { compression: false });
    await later.send("before");
    assert.equal(await later.receive({ timeoutMs: 5000 }), "before");
    const seen: string[] = [];
    later.on("frame", ({ direction, frame }) => {
      seen.push(`${direction} ${new TextDecoder().decode(frame.payload)}`);
    });
    await later.send("after");
    assert.equal(await later.receive({ timeoutMs: 5000 }), "after");
    assert.deepEqual(seen, ["out after", "in after"]);
  });
});
