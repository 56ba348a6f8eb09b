// The slow-subscriber policies without sockets: a fake subscriber whose
// pending bytes the test sets. Edge cases the socket tests cannot pin down:
// a subscription's own policy over the topic's, `latest` past maxKeys, an
// episode still open when the subscriber leaves, `close` once, `pause` with
// two slow subscribers, and bad policies.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Topics } from "../../../lib/server/handler/pubsub.ts";
import type {
  DrainWatcher,
  PublishedMessage,
  Subscriber,
} from "../../../lib/server/handler/message.ts";
import type { SlowReport } from "../../../lib/server/handler/slow.ts";

/** A subscriber with settable pending bytes; `drain()` tells its watchers as a channel would. */
function fake(): Subscriber & {
  pending: number;
  got: string[];
  closed: number;
  drain(): void;
} {
  const watchers = new Set<DrainWatcher>();
  const f = {
    pending: 0,
    got: [] as string[],
    closed: 0,
    get pendingBytes() {
      return f.pending;
    },
    deliver(m: PublishedMessage) {
      f.got.push(String(m.data));
      return true;
    },
    closeSlow() {
      f.closed++;
    },
    watchDrain: (w: DrainWatcher) => void watchers.add(w),
    unwatchDrain: (w: DrainWatcher) => void watchers.delete(w),
    drain() {
      for (const w of [...watchers]) w.drained();
    },
  };
  return f;
}

describe("slow-subscriber policies (no sockets)", () => {
  it("a subscription's own policy wins over the topic's; the others are untouched", () => {
    const reports: SlowReport[] = [];
    const topics = new Topics({
      topics: () => ({ slow: { policy: "close", maxPendingBytes: 10 } }),
    });
    const own = fake();
    const plain = fake();
    topics.subscribe("t", own, {
      slow: { policy: "drop", maxPendingBytes: 10, onReport: (r) => void reports.push(r) },
    });
    topics.subscribe("t", plain);
    own.pending = 11;
    plain.pending = 11;
    assert.equal(topics.publish("t", "a"), 0); // own dropped; plain closed by the topic's policy
    assert.deepEqual([own.closed, plain.closed], [0, 1]);
    assert.equal(topics.publish("t", "b"), 0);
    assert.equal(plain.closed, 1); // closed once
    own.pending = 0;
    own.drain();
    assert.deepEqual(reports.map((r) => [r.type, r.dropped]), [["dropped", 2]]);
    assert.equal(topics.publish("t", "c"), 1);
    assert.deepEqual(own.got, ["c"]);
    assert.throws(
      () => topics.subscribe("u", fake(), { slow: { policy: "nope" as "drop" } }),
      TypeError,
    );
    assert.throws(
      () => topics.subscribe("u", fake(), { slow: { policy: "drop", maxPendingBytes: -1 } }),
      RangeError,
    );
  });

  it("latest: the newest per key, new keys past maxKeys dropped and counted, flushed at the drain", () => {
    const reports: SlowReport[] = [];
    const topics = new Topics({
      topics: () => ({
        slow: {
          policy: "latest",
          maxPendingBytes: 0,
          maxKeys: 2,
          key: (data) => String(data)[0],
          onReport: (r) => void reports.push(r),
        },
      }),
    });
    const s = fake();
    topics.subscribe("t", s);
    s.pending = 1;
    for (const m of ["a1", "b1", "a2", "c1", "b2", "a3", "c2"]) topics.publish("t", m);
    assert.deepEqual(s.got, []);
    s.pending = 0;
    s.drain();
    assert.deepEqual(s.got, ["a3", "b2"]); // in the order their keys were first held
    assert.deepEqual(reports.map((r) => [r.type, r.conflated, r.dropped]), [["conflated", 3, 2]]);
  });

  it("an episode still open when the subscriber leaves is reported then, held messages counted as dropped", () => {
    const reports: SlowReport[] = [];
    const topics = new Topics({
      topics: () => ({
        retain: true,
        slow: { policy: "latest", maxPendingBytes: 0, onReport: (r) => void reports.push(r) },
      }),
    });
    const s = fake();
    topics.subscribe("t", s);
    s.pending = 1;
    topics.publish("t", "x");
    topics.publish("t", "y");
    topics.unsubscribe("t", s);
    assert.deepEqual(reports.map((r) => [r.type, r.conflated, r.dropped]), [["conflated", 1, 1]]);
    topics.close();
  });

  it("drop on a topic with history reports the first and last position dropped", () => {
    const reports: SlowReport[] = [];
    const topics = new Topics({
      topics: () => ({
        retain: true,
        slow: { policy: "drop", maxPendingBytes: 0, onReport: (r) => void reports.push(r) },
      }),
    });
    const s = fake();
    topics.subscribe("t", s);
    topics.publish("t", "1");
    s.pending = 1;
    topics.publish("t", "2");
    topics.publish("t", "3");
    s.pending = 0;
    topics.publish("t", "4"); // below the bound again: reported, then delivered
    const epoch = topics.lastPosition("t")!.epoch;
    assert.deepEqual(s.got, ["1", "4"]);
    assert.equal(reports.length, 1);
    assert.deepEqual(
      [reports[0].dropped, reports[0].first, reports[0].last],
      [2, { epoch, seq: 2 }, { epoch, seq: 3 }],
    );
    topics.close();
  });

  it("pause: writable again only when every paused subscriber drained", async () => {
    const types: string[] = [];
    const topics = new Topics({
      topics: () => ({
        slow: { policy: "pause", maxPendingBytes: 0, onReport: (r) => void types.push(r.type) },
      }),
    });
    const a = fake();
    const b = fake();
    topics.subscribe("t", a);
    topics.subscribe("t", b);
    a.pending = b.pending = 1;
    assert.equal(topics.publish("t", "m"), 2); // still queued to both
    assert.equal(topics.isWritable("t"), false);
    let writable = false;
    const waiting = topics.whenWritable("t").then(() => (writable = true));
    a.pending = 0;
    a.drain();
    await Promise.resolve();
    assert.equal(writable, false);
    assert.equal(topics.isWritable("t"), false);
    topics.unsubscribe("t", b); // leaving ends its pause too
    await waiting;
    assert.equal(topics.isWritable("t"), true);
    assert.deepEqual(types, ["paused", "paused", "resumed"]);
  });

  it("an onReport that throws goes to onError", () => {
    const errors: unknown[] = [];
    const topics = new Topics({
      onError: (e) => void errors.push(e),
      topics: () => ({
        slow: {
          policy: "close",
          maxPendingBytes: 0,
          onReport: () => {
            throw new Error("boom");
          },
        },
      }),
    });
    const s = fake();
    topics.subscribe("t", s);
    s.pending = 1;
    topics.publish("t", "m");
    assert.equal(s.closed, 1);
    assert.equal((errors[0] as Error).message, "boom");
  });
});
