// Resume over real sockets: a client whose TCP connection is destroyed
// reconnects with the last position it saw and gets every message it
// missed, then the live ones, each once and in order; outside the window
// it is told the exact range it lost; after a restart (a new history) it
// is told the epoch changed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve } from "../../../mod.ts";
import type { ResumeReport } from "../../../lib/server/handler/history.ts";
import { openEnvelope, type Position } from "../../../lib/session/envelope.ts";
import { rawClient, rawFrame, type RawSocket } from "../../_helpers/raw_peer.ts";
import type { Server } from "../../../lib/server/serve.ts";

const decoder = new TextDecoder();

/** A feed whose clients pass their last position as `?epoch=…&seq=…`; the report follows the replay. */
function startFeed(messages: number): Promise<Server> {
  return serve({
    hostname: "127.0.0.1",
    port: 0,
    topics: (topic) => (topic === "feed" ? { retain: { messages }, envelope: true } : undefined),
    keepalive: false,
  }, {
    async init(ctx) {
      const epoch = ctx.url.searchParams.get("epoch");
      const seq = ctx.url.searchParams.get("seq");
      const from: Position | undefined = epoch !== null ? { epoch, seq: Number(seq) } : undefined;
      const report = await ctx.ref.resume("feed", from);
      return { state: ctx.ref, push: JSON.stringify({ report }) };
    },
    // What a client sends goes to the others, in the feed.
    in: (message, ref) => void ref.publish("feed", message),
  });
}

interface Seen {
  positions: Position[];
  data: string[];
  report: ResumeReport | undefined;
}

/** Reads the text frames a raw client got: enveloped messages and the report. */
function read(client: RawSocket): Seen {
  const seen: Seen = { positions: [], data: [], report: undefined };
  for (const frame of client.frames) {
    const text = decoder.decode(frame.payload);
    const opened = openEnvelope(text);
    if (opened) {
      seen.positions.push(opened.position);
      seen.data.push(opened.data as string);
    } else seen.report = JSON.parse(text).report;
  }
  return seen;
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);
}

describe("resume over sockets", () => {
  it("a dropped client resumes: each message once, in order, across the drop and the boundary", async () => {
    await using server = await startFeed(1000);
    const a = await rawClient(server.port, "/");
    await a.waitFrames(1); // the report: subscribed
    for (let i = 1; i <= 50; i++) server.publish("feed", `m${i}`);
    await a.waitFrames(51);
    const first = read(a);
    assert.equal(first.report!.status, "live");
    assert.deepEqual(first.data, range(1, 50));
    const last = first.positions.at(-1)!;
    assert.equal(last.seq, 50);
    a.socket.destroy(); // the network drops
    await a.ended;
    for (let i = 51; i <= 100; i++) server.publish("feed", `m${i}`);

    // A second client publishes through the server while the first one
    // reconnects: its messages race the replay.
    const b = await rawClient(server.port, "/");
    await b.waitFrames(1);
    const reconnecting = rawClient(server.port, `/?epoch=${last.epoch}&seq=${last.seq}`);
    for (let i = 101; i <= 120; i++) b.write(rawFrame(0x81, `m${i}`, true));
    const again = await reconnecting;
    await again.waitFrames(71); // 70 messages and the report
    const second = read(again);
    const report = second.report!;
    // Some of b's messages may have come before the resume (then replayed), some after (live).
    assert.equal(report.status, "complete");
    assert.equal(report.replayed, report.position!.seq - 50);
    assert.ok(report.position!.seq >= 100 && report.position!.seq <= 120);
    assert.deepEqual(second.data, range(51, 120));
    assert.deepEqual(
      second.positions.map((p) => p.seq),
      Array.from({ length: 70 }, (_, i) => 51 + i),
    );
    assert.equal(read(b).data.length, 0); // a publisher does not get its own
    again.socket.destroy();
    b.socket.destroy();
  });

  it("outside the window: the exact missing range, then what is kept", async () => {
    await using server = await startFeed(10);
    const a = await rawClient(server.port, "/");
    await a.waitFrames(1);
    for (let i = 1; i <= 5; i++) server.publish("feed", `m${i}`);
    await a.waitFrames(6);
    const last = read(a).positions.at(-1)!;
    a.socket.destroy();
    for (let i = 6; i <= 40; i++) server.publish("feed", `m${i}`); // 31..40 kept
    const again = await rawClient(server.port, `/?epoch=${last.epoch}&seq=${last.seq}`);
    await again.waitFrames(11);
    const seen = read(again);
    assert.equal(seen.report!.status, "gap");
    assert.deepEqual(seen.report!.missed, { epoch: last.epoch, from: 6, to: 30 });
    assert.equal(seen.report!.replayed, 10);
    assert.deepEqual(seen.data, range(31, 40));
    again.socket.destroy();
  });

  it("after a restart the epoch changed, and the client is told so", async () => {
    let last: Position;
    {
      await using server = await startFeed(100);
      const a = await rawClient(server.port, "/");
      await a.waitFrames(1);
      server.publish("feed", "before");
      await a.waitFrames(2);
      last = read(a).positions[0];
      a.socket.destroy();
    }
    await using server = await startFeed(100);
    server.publish("feed", "after");
    const again = await rawClient(server.port, `/?epoch=${last.epoch}&seq=${last.seq}`);
    await again.waitFrames(2);
    const seen = read(again);
    assert.equal(seen.report!.status, "epoch");
    assert.notEqual(seen.report!.epoch, last.epoch);
    assert.equal(seen.report!.missed, undefined); // nothing of the new epoch is gone
    assert.deepEqual(seen.data, ["after"]);
    assert.deepEqual(seen.positions, [{ epoch: seen.report!.epoch, seq: 1 }]);
    again.socket.destroy();
  });
});
