/**
 * How an application tests its WebSocket code with sprig's test kit
 * (`@sprig/websocket/testing`): the handler's logic without a socket, then
 * the real server against a scripted peer that misbehaves on purpose. A
 * plain `node:test` file: `node --test`, `deno test -A` and `bun test` all
 * run it (tests/examples/testing_example_test.ts runs it in sprig's suite).
 *
 *   npx tsx --test examples/testing_test.ts
 *   deno test -A examples/testing_test.ts
 *   bun test examples/testing_test.ts
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { defineHandler, serve } from "../mod.ts"; // "@sprig/websocket" in an application
import { connectPeer, driveHandler } from "../lib/testing/mod.ts"; // "@sprig/websocket/testing"

// The application: a counter room. "+" counts, "reset" posts itself a notice, "quit" closes.
const counter = defineHandler<{ count: number }, string>({
  init: (ctx) => {
    ctx.ref.subscribe("counters");
    return { state: { count: 0 } };
  },
  in: (message, state) => {
    if (message === "+") {
      return { state: { count: state.count + 1 }, push: String(state.count + 1) };
    }
    if (message === "quit") return { stop: { code: 4000, reason: "bye" } };
    return { push: "unknown command" };
  },
  info: (notice) => ({ push: `notice: ${notice}` }),
});

describe("the counter handler, without a socket", () => {
  it("counts, answers notices and topic messages, and stops on quit", async () => {
    const h = await driveHandler(counter);
    assert.deepEqual(h.subscriptions, ["counters"]);
    await h.in("+");
    await h.in("+");
    await h.info("maintenance at noon");
    h.deliver("counters", "someone else counted");
    assert.deepEqual(h.take(), ["1", "2", "notice: maintenance at noon", "someone else counted"]);
    assert.equal(h.state.count, 2);
    await h.in("quit");
    assert.deepEqual(h.stopped, { code: 4000, reason: "bye", by: "reply" });
    await h.terminate();
  });
});

describe("the counter server, against a scripted peer", () => {
  it("reads a message that arrives one byte at a time", async () => {
    await using server = await serve({ hostname: "127.0.0.1", port: 0 }, counter);
    const peer = await connectPeer(server.url);
    await peer.sendSplit(peer.encode({ opcode: 1, payload: "+" }), 1);
    assert.equal(await peer.nextText(), "1");
    await peer.sendFrame({ opcode: 1, payload: "quit" });
    const close = await peer.expectClose(4000); // the close frame; the TCP connection waits for ours
    assert.equal(close.reason, "bye");
    await peer.sendClose(4000);
    assert.equal((await peer.closed()).closeFrame, true); // then the server ends it
  });

  it("closes with 1007 on invalid UTF-8, at once", async () => {
    await using server = await serve({ hostname: "127.0.0.1", port: 0 }, counter);
    const peer = await connectPeer(server.url);
    await peer.sendFrame({ opcode: 1, payload: new Uint8Array([0xed, 0xa0, 0x80]) }); // a surrogate
    const closed = await peer.expectClose(1007);
    assert.ok(closed.afterMs < 1000, `closed after ${closed.afterMs} ms`);
  });
});
