// Slow-subscriber policies over real sockets: one subscriber is a raw TCP
// client that stops reading, another reads everything. For each policy the
// slow one's pending output stays within its bound (plus one message), the
// fast one gets every message, and the report is exact.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { SlowPolicy, SlowReport } from "../../../lib/server/handler/slow.ts";
import type { TerminateReason } from "../../../lib/server/handler/handler.ts";
import type { WebSocketHub } from "../../../lib/server/handler/host.ts";
import { type HostKind, hostsOfRuntime, labelOf, startHost } from "../_hosts.ts";
import { rawClient, rawFrame, type RawSocket } from "../../_helpers/raw_peer.ts";
import { openEnvelope } from "../../../lib/session/envelope.ts";

const MAX_PENDING = 64 * 1024;
const SIZE = 4096;
const PAD = "x".repeat(SIZE);
/** Most messages any test publishes: bounds every loop (a slow peer is found long before). */
const MAX_MESSAGES = 20_000;

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

interface Setup {
  server: WebSocketHub<string>;
  stop(): Promise<void>;
  reports: SlowReport[];
  ended: TerminateReason[];
  fast: RawSocket;
  slow: RawSocket;
  /** The slow subscriber's pending bytes, as the server sees them. */
  slowPending(): number;
}

async function setup(
  policy: Omit<SlowPolicy, "onReport">,
  kind: HostKind = "serve",
): Promise<Setup> {
  const reports: SlowReport[] = [];
  const ended: TerminateReason[] = [];
  const host = await startHost(kind, {
    init: (ctx) => void ctx.ref.subscribe("t"),
    in: () => {},
    terminate: (reason) => void ended.push(reason),
  }, {
    keepalive: false,
    compression: false,
    topics: () => ({
      retain: { messages: 100_000 },
      envelope: true,
      slow: { ...policy, maxPendingBytes: MAX_PENDING, onReport: (r) => void reports.push(r) },
    }),
  });
  const server = host.hub;
  const fast = await rawClient(host.port, "/fast");
  const slow = await rawClient(host.port, "/slow");
  for (let i = 0; i < 1000 && server.subscriberCount("t") < 2; i++) await tick();
  assert.equal(server.subscriberCount("t"), 2);
  slow.socket.pause(); // stops reading: the kernel's buffers fill, then the server's
  const ref = [...server.connections].find((c) => c.url.pathname === "/slow")!;
  return {
    server,
    stop: () => host.stop(),
    reports,
    ended,
    fast,
    slow,
    slowPending: () => (ref as unknown as { pendingBytes: number }).pendingBytes,
  };
}

/** The envelope seqs of a raw client's frames, in arrival order. */
function seqs(client: RawSocket): number[] {
  const decoder = new TextDecoder();
  const out: number[] = [];
  for (const f of client.frames) {
    if (f.opcode !== 1) continue;
    out.push(openEnvelope(decoder.decode(f.payload))!.position.seq);
  }
  return out;
}

/**
 * Publishes (yielding to the event loop every 16) until `done()` says the
 * slow subscriber was found, then `extra` more; returns how many were
 * published and the highest pending bytes seen.
 */
async function publishUntil(
  s: Setup,
  done: (delivered: number) => boolean,
  extra: number,
  message: (i: number) => string = () => PAD,
): Promise<{ published: number; maxPending: number }> {
  let published = 0;
  let maxPending = 0;
  let found = false;
  let left = extra;
  while (published < MAX_MESSAGES && (!found || left > 0)) {
    const delivered = s.server.publish("t", message(published + 1));
    published++;
    maxPending = Math.max(maxPending, s.slowPending());
    if (found) left--;
    else if (done(delivered)) found = true;
    if (published % 16 === 0) await tick();
  }
  assert.ok(found, `the slow subscriber was not found within ${MAX_MESSAGES} messages`);
  return { published, maxPending };
}

/** Waits (by turns, bounded) until the server holds nothing for the slow subscriber. */
async function drained(s: Setup): Promise<void> {
  for (let i = 0; i < 100_000 && s.slowPending() > 0; i++) await tick();
  assert.equal(s.slowPending(), 0);
}

async function finish(s: Setup): Promise<void> {
  s.fast.socket.destroy();
  s.slow.socket.destroy();
  await s.stop();
}

/** Waits until a message with `seq` (or later) arrived at `client` (each wait bounded). */
async function waitSeq(client: RawSocket, seq: number): Promise<void> {
  const decoder = new TextDecoder();
  for (let i = 0; i < MAX_MESSAGES; i++) {
    const last = client.frames.at(-1);
    if (
      last && last.opcode === 1 && openEnvelope(decoder.decode(last.payload))!.position.seq >= seq
    ) return;
    await client.waitFrames(client.frames.length + 1, 10_000);
  }
  throw new Error(`seq ${seq} never arrived`);
}

describe("slow subscribers", () => {
  for (const kind of hostsOfRuntime()) {
    it(`${labelOf(kind)}: drop: the slow one's copies are dropped and counted, the others get all, the reports are exact`, async () => {
      const s = await setup({ policy: "drop" }, kind);
      const { published, maxPending } = await publishUntil(s, (n) => n === 1, 200);
      assert.ok(maxPending <= MAX_PENDING + SIZE + 128, `pending reached ${maxPending}`);
      await waitSeq(s.fast, published);
      assert.deepEqual(seqs(s.fast), Array.from({ length: published }, (_, i) => i + 1));

      s.slow.socket.resume(); // reads again: its output drains
      await drained(s);
      s.server.publish("t", PAD); // below the bound: delivered, and an open episode is reported
      const total = published + 1;
      await waitSeq(s.slow, total);
      // Episodes (the kernel's buffers may let the slow one catch up for a while
      // in between): each report's range is exactly the messages it did not get.
      const missing = new Set<number>();
      let dropped = 0;
      for (const r of s.reports) {
        assert.deepEqual([r.type, r.policy], ["dropped", "drop"]);
        assert.equal(r.dropped, r.last!.seq - r.first!.seq + 1);
        for (let q = r.first!.seq; q <= r.last!.seq; q++) missing.add(q);
        dropped += r.dropped;
      }
      assert.ok(dropped >= 200, `dropped ${dropped}`);
      const expected = Array.from({ length: total }, (_, i) => i + 1).filter((q) =>
        !missing.has(q)
      );
      assert.deepEqual(seqs(s.slow), expected);
      await finish(s);
    });
  }

  it("latest: only the newest message per key is held, sent when the subscriber drains", async () => {
    const s = await setup({
      policy: "latest",
      key: (data) => String(data)[0],
    });
    const keys = "abc";
    const message = (i: number) => `${keys[i % 3]}${i}${PAD}`;
    const { published } = await publishUntil(s, (n) => n === 1, 300, message);
    s.slow.socket.resume();
    await drained(s);
    await waitSeq(s.fast, published);
    assert.equal(seqs(s.fast).length, published);
    // Wait until the last message of every key arrived at the slow one (held ones are flushed at the drain).
    for (let i = 0; i < MAX_MESSAGES; i++) {
      const got = new Set(seqs(s.slow));
      if (got.has(published) && got.has(published - 1) && got.has(published - 2)) break;
      await s.slow.waitFrames(s.slow.frames.length + 1, 10_000);
    }
    const got = seqs(s.slow);
    assert.equal(new Set(got).size, got.length, "a message arrived twice");
    let conflated = 0;
    for (const r of s.reports) {
      assert.deepEqual([r.type, r.dropped], ["conflated", 0]);
      conflated += r.conflated;
    }
    assert.ok(conflated > 0);
    assert.equal(got.length, published - conflated); // every message that did not arrive was reported replaced
    for (const q of [published - 2, published - 1, published]) assert.ok(got.includes(q));
    await finish(s);
  });

  it("close: the slow one is closed with 1013 after what was queued; the others go on", async () => {
    const s = await setup({ policy: "close" });
    const { published } = await publishUntil(s, (n) => n === 1, 50);
    assert.equal(s.reports.length, 1);
    assert.equal(s.reports[0].type, "closed");
    assert.equal(s.reports[0].dropped, 1);
    s.slow.socket.resume();
    for (let i = 0; i < MAX_MESSAGES && s.slow.frames.at(-1)?.opcode !== 8; i++) {
      await s.slow.waitFrames(s.slow.frames.length + 1, 10_000);
    }
    const last = s.slow.frames.at(-1)!;
    s.slow.write(rawFrame(0x88, last.payload, true)); // the closing handshake's reply
    await s.slow.ended;
    assert.equal(last.opcode, 8);
    assert.equal((last.payload[0] << 8) | last.payload[1], 1013);
    await waitSeq(s.fast, published);
    assert.equal(seqs(s.fast).length, published);
    for (let i = 0; i < 1000 && s.ended.length === 0; i++) await tick();
    const reason = s.ended.find((r) => r.code === 1013)!;
    assert.equal(reason.type, "error");
    assert.equal((reason as unknown as { error: { code: string } }).error.code, "SLOW_SUBSCRIBER");
    await finish(s);
  });

  it("pause: the topic stops being writable, and whenWritable waits for the slow one", async () => {
    const s = await setup({ policy: "pause" });
    let published = 0;
    while (published < MAX_MESSAGES && s.server.isWritable("t")) {
      s.server.publish("t", PAD);
      published++;
      if (published % 16 === 0) await tick();
    }
    assert.equal(s.server.isWritable("t"), false);
    assert.deepEqual(s.reports.map((r) => r.type), ["paused"]);
    assert.ok(s.slowPending() <= MAX_PENDING + 16 * (SIZE + 128));
    let writable = false;
    const waiting = s.server.whenWritable("t").then(() => (writable = true));
    await tick();
    assert.equal(writable, false);
    s.slow.socket.resume();
    await waiting;
    assert.deepEqual(s.reports.map((r) => r.type), ["paused", "resumed"]);
    await waitSeq(s.slow, published);
    assert.deepEqual(seqs(s.slow), Array.from({ length: published }, (_, i) => i + 1)); // nothing lost
    await waitSeq(s.fast, published);
    await finish(s);
  });
});
