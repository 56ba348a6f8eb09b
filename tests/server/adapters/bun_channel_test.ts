// The Bun.serve adapter's channel joins the messages of one turn into one
// corked write per socket: Bun writes a send made outside the socket's own
// callbacks at once (one syscall each), which made a topic's fan-out to N
// sockets N writes per published message. Driven with a stand-in for Bun's
// ServerWebSocket, so it runs on every runtime.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BunChannel, type BunServerWebSocket } from "../../../lib/server/adapters/bun_serve.ts";
import type { ChannelReceiver } from "../../../lib/server/handler/channel.ts";

type Call = [string, ...unknown[]];

function fakeSocket(buffered = 0) {
  const calls: Call[] = [];
  let corked = false;
  const ws = {
    data: {} as BunServerWebSocket["data"],
    send(data: string | Uint8Array, compress?: boolean) {
      calls.push([corked ? "send (corked)" : "send", data, compress]);
      return typeof data === "string" ? data.length : data.byteLength;
    },
    ping: () => 0,
    pong: () => 0,
    close(code?: number, reason?: string) {
      calls.push(["close", code, reason]);
    },
    terminate() {
      calls.push(["terminate"]);
    },
    getBufferedAmount: () => buffered,
    cork<R>(callback: (ws: BunServerWebSocket) => R): R {
      calls.push(["cork"]);
      corked = true;
      try {
        return callback(ws);
      } finally {
        corked = false;
      }
    },
  } satisfies BunServerWebSocket;
  return { ws, calls, setBuffered: (n: number) => (buffered = n) };
}

const OPTIONS = {
  maxMessageBytes: 1 << 20,
  maxSendBufferBytes: 1 << 20,
  closeTimeoutMs: 1000,
  maxQueuedMessages: 16,
};

const RECEIVER: ChannelReceiver = {
  message() {},
  control() {},
  drain() {},
  error() {},
  end() {},
  holding: () => false,
};

const endOfTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Bun.serve channel: one corked write per socket per turn", () => {
  it("queues the turn's messages and writes them in order inside one cork", async () => {
    const { ws, calls } = fakeSocket();
    const channel = new BunChannel(ws, OPTIONS, false, undefined, 1024);
    const bytes = new Uint8Array([1, 2, 3]);
    channel.send("a");
    channel.send("bc");
    channel.send(bytes);
    assert.deepEqual(calls, [], "nothing is written before the turn ends");
    assert.equal(channel.bufferedAmount, 6, "queued bytes count as buffered");
    await endOfTurn();
    assert.deepEqual(calls, [
      ["cork"],
      ["send (corked)", "a", false],
      ["send (corked)", "bc", false],
      ["send (corked)", bytes, false],
    ]);
    assert.equal(channel.bufferedAmount, 0);
  });

  it("writes a single message without cork, compressed from the threshold on", async () => {
    const { ws, calls } = fakeSocket();
    const channel = new BunChannel(ws, OPTIONS, false, undefined, 4);
    channel.send("long enough");
    await endOfTurn();
    channel.send("abc");
    await endOfTurn();
    assert.deepEqual(calls, [["send", "long enough", true], ["send", "abc", false]]);
  });

  it("writes what is queued before the close frame, and drops it on terminate", async () => {
    const closing = fakeSocket();
    const a = new BunChannel(closing.ws, OPTIONS, false, undefined, Infinity);
    a.send("last words");
    a.close(1000, "bye");
    assert.deepEqual(closing.calls, [["send", "last words", false], ["close", 1000, "bye"]]);
    a.ended({ code: 1000, reason: "bye", wasClean: true });

    const dropped = fakeSocket();
    const b = new BunChannel(dropped.ws, OPTIONS, false, undefined, Infinity);
    b.send("never");
    b.terminate();
    await endOfTurn();
    assert.deepEqual(dropped.calls, [["terminate"]]);
  });

  it("unblocks sends after the flush when Bun took every byte", async () => {
    const { ws } = fakeSocket();
    const channel = new BunChannel(ws, OPTIONS, false, undefined, Infinity);
    let drains = 0;
    channel.start({ ...RECEIVER, drain: () => void drains++ });
    channel.send("x".repeat(70 * 1024)); // past the 64 KiB high-water mark, still queued
    assert.equal(channel.writeBlocked, true);
    await endOfTurn();
    assert.equal(channel.writeBlocked, false);
    assert.equal(drains, 1);
  });

  it("stays blocked while Bun holds bytes, until Bun's drain", async () => {
    const { ws, setBuffered } = fakeSocket(80 * 1024);
    const channel = new BunChannel(ws, OPTIONS, false, undefined, Infinity);
    channel.start(RECEIVER);
    channel.send("x".repeat(1024));
    assert.equal(channel.writeBlocked, true);
    await endOfTurn();
    assert.equal(channel.writeBlocked, true);
    setBuffered(0);
    channel.drained();
    assert.equal(channel.writeBlocked, false);
  });
});
