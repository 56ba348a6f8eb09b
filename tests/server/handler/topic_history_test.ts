// Topics with history, without sockets: positions, retention by count and
// by age, resume from a position (every status, the exact missing range),
// the envelope, and a randomized run of publishes, drops and resumes in
// which every resumed subscriber sees each message of the window exactly
// once, in order, and is told exactly what fell out of it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Topics } from "../../../lib/server/handler/pubsub.ts";
import { PublishedMessage, type Subscriber } from "../../../lib/server/handler/message.ts";
import {
  MemoryHistory,
  type ResumeReport,
  retention,
} from "../../../lib/server/handler/history.ts";
import { openEnvelope, type Position } from "../../../lib/session/envelope.ts";

/** An in-memory history answers at once: the report, not a promise. */
function now(report: ResumeReport | Promise<ResumeReport>): ResumeReport {
  assert.ok(!(report instanceof Promise), "an in-memory resume is settled at once");
  return report;
}

/** A subscriber that records what it got. */
function recorder(): Subscriber & { got: PublishedMessage[]; texts(): string[] } {
  const got: PublishedMessage[] = [];
  return {
    got,
    deliver: (m) => (got.push(m), true),
    texts: () => got.map((m) => String(m.data)),
  };
}

describe("topic history", () => {
  it("is off by default: no positions, nothing kept, nothing made for a topic nobody subscribes to", () => {
    const topics = new Topics();
    assert.equal(topics.publish("t", "a"), 0);
    assert.equal(topics.lastPosition("t"), undefined);
    const r = recorder();
    topics.subscribe("t", r);
    topics.publish("t", "b");
    assert.equal(r.got[0].position, undefined);
    assert.deepEqual(topics.topics, ["t"]);
    topics.unsubscribe("t", r);
    assert.deepEqual(topics.topics, []);
  });

  it("gives positions 1, 2, 3… in one epoch and keeps them without subscribers", () => {
    const topics = new Topics({ topics: (t) => (t === "h" ? { retain: true } : undefined) });
    topics.publish("h", "a");
    topics.publish("h", "b");
    const p = topics.lastPosition("h")!;
    assert.equal(p.seq, 2);
    assert.match(p.epoch, /^[0-9a-f]{16}$/);
    assert.equal(topics.publish("plain", "x"), 0);
    assert.equal(topics.lastPosition("plain"), undefined);
    const r = recorder();
    const report = now(topics.resume("h", r, { epoch: p.epoch, seq: 0 }));
    assert.equal(report.status, "complete");
    assert.deepEqual(r.texts(), ["a", "b"]);
    assert.deepEqual(r.got.map((m) => m.position!.seq), [1, 2]);
    topics.close();
  });

  it("bounds the ring by count (the default 1,000 when retain is true)", () => {
    assert.deepEqual(retention(true), { messages: 1000, ms: 0 });
    assert.deepEqual(retention({ ms: 5 }), { messages: 10_000, ms: 5 });
    assert.equal(retention(undefined), undefined);
    assert.throws(() => retention({ messages: 0 }), RangeError);
    assert.throws(() => retention({ ms: -1 }), RangeError);
    const h = new MemoryHistory({ messages: 3, ms: 0 });
    for (let i = 1; i <= 10; i++) assert.equal(h.append(new PublishedMessage(String(i)), 0), i);
    assert.equal(h.first, 8);
    assert.equal(h.last, 10);
    assert.deepEqual(h.after(0, 0).map((m) => m.data), ["8", "9", "10"]);
    assert.deepEqual(h.after(9, 0).map((m) => m.data), ["10"]);
    assert.deepEqual(h.after(10, 0), []);
  });

  it("expires by age", () => {
    const h = new MemoryHistory({ messages: 100, ms: 50 });
    h.append(new PublishedMessage("old"), 1000);
    h.append(new PublishedMessage("new"), 1040);
    assert.deepEqual(h.after(0, 1060).map((m) => m.data), ["new"]);
    assert.equal(h.first, 2);
    assert.deepEqual(h.after(0, 1100), []);
    assert.equal(h.first, 3); // empty: first = last + 1
    assert.equal(h.last, 2);
  });

  it("expires by age on the topics' coarse clock", async () => {
    const topics = new Topics({ topics: () => ({ retain: { ms: 40 } }) });
    topics.publish("t", "a");
    const start = topics.lastPosition("t")!;
    // Bounded wait for the clock to pass the age (ticks every 10 ms).
    const deadline = Date.now() + 5000;
    let report;
    for (;;) {
      await new Promise((r) => setTimeout(r, 20));
      const r = recorder();
      report = now(topics.resume("t", r, { epoch: start.epoch, seq: 0 }));
      topics.unsubscribe("t", r);
      if (report.status === "gap" || Date.now() > deadline) break;
    }
    assert.equal(report.status, "gap");
    assert.deepEqual(report.missed, { epoch: start.epoch, from: 1, to: 1 });
    topics.close();
  });

  it("reports every resume status exactly", () => {
    const topics = new Topics({ topics: () => ({ retain: { messages: 5 } }) });
    for (let i = 1; i <= 8; i++) topics.publish("t", `m${i}`); // keeps 4..8
    const epoch = topics.lastPosition("t")!.epoch;
    const at = (seq: number): Position => ({ epoch, seq });

    let r = recorder();
    let report = now(topics.resume("t", r, at(6)));
    assert.deepEqual(report, {
      topic: "t",
      status: "complete",
      replayed: 2,
      epoch,
      position: at(8),
    });
    assert.deepEqual(r.texts(), ["m7", "m8"]);
    assert.equal(now(topics.resume("t", r, at(6))).status, "subscribed"); // nothing replayed twice
    assert.equal(r.got.length, 2);

    r = recorder();
    report = now(topics.resume("t", r, at(8)));
    assert.deepEqual([report.status, report.replayed], ["complete", 0]);

    r = recorder();
    report = now(topics.resume("t", r, at(3))); // 4 is the oldest kept: nothing missed
    assert.deepEqual([report.status, r.texts()], ["complete", ["m4", "m5", "m6", "m7", "m8"]]);

    r = recorder();
    report = now(topics.resume("t", r, at(1))); // 2 and 3 are gone
    assert.equal(report.status, "gap");
    assert.deepEqual(report.missed, { epoch, from: 2, to: 3 });
    assert.deepEqual(r.texts(), ["m4", "m5", "m6", "m7", "m8"]);

    r = recorder();
    report = now(topics.resume("t", r, { epoch: "0000000000000000", seq: 3 }));
    assert.equal(report.status, "epoch");
    assert.deepEqual(report.missed, { epoch, from: 1, to: 3 });
    assert.equal(report.replayed, 5);

    r = recorder();
    report = now(topics.resume("t", r, at(9)));
    assert.deepEqual([report.status, report.replayed], ["ahead", 0]);

    r = recorder();
    report = now(topics.resume("t", r, undefined));
    assert.deepEqual([report.status, report.replayed, report.position], ["live", 0, at(8)]);

    topics.close();
    const plain = new Topics();
    report = now(plain.resume("p", recorder(), at(1)));
    assert.deepEqual(report, {
      topic: "p",
      status: "no-history",
      replayed: 0,
      epoch: "",
      position: undefined,
    });
  });

  it("replays, then goes live: the boundary has no gap and no duplicate", () => {
    const topics = new Topics({ topics: () => ({ retain: { messages: 100 } }) });
    for (let i = 1; i <= 5; i++) topics.publish("t", String(i));
    const epoch = topics.lastPosition("t")!.epoch;
    const r = recorder();
    // A subscriber that publishes while its replay is delivered: the new
    // message is ordered after everything replayed.
    let published = false;
    const racing: Subscriber = {
      deliver(m) {
        r.got.push(m);
        if (!published) {
          published = true;
          topics.publish("t", "6");
        }
        return true;
      },
    };
    now(topics.resume("t", racing, { epoch, seq: 2 }));
    topics.publish("t", "7");
    assert.deepEqual(r.got.map((m) => m.position!.seq), [3, 4, 5, 6, 7]);
    assert.deepEqual(r.texts(), ["3", "4", "5", "6", "7"]);
    topics.close();
  });

  it("wraps messages in the envelope once, and replays the same bytes", () => {
    const topics = new Topics({ topics: () => ({ retain: true, envelope: true }) });
    const live = recorder();
    topics.subscribe("t", live);
    topics.publish("t", "hi");
    topics.publish("t", new Uint8Array([1, 2, 3]));
    const [text, bin] = live.got;
    const epoch = topics.lastPosition("t")!.epoch;
    assert.deepEqual(openEnvelope(text.data), {
      topic: "t",
      position: { epoch, seq: 1 },
      data: "hi",
    });
    const opened = openEnvelope(bin.data)!;
    assert.deepEqual([opened.position.seq, [...(opened.data as Uint8Array)]], [2, [1, 2, 3]]);
    const late = recorder();
    now(topics.resume("t", late, { epoch, seq: 0 }));
    assert.equal(late.got[0], text); // the kept message, frame and all
    assert.equal(late.got[0].frame, text.frame);
    topics.close();
    assert.throws(
      () => new Topics({ topics: () => ({ envelope: true }) }).subscribe("x", recorder()),
      TypeError,
    );
  });

  it("a custom envelope decides the wire format", () => {
    const topics = new Topics({
      topics: () => ({ retain: true, envelope: ({ position, data }) => `${position.seq}|${data}` }),
    });
    const r = recorder();
    topics.subscribe("t", r);
    topics.publish("t", "a");
    topics.publish("t", "b");
    assert.deepEqual(r.texts(), ["1|a", "2|b"]);
    topics.close();
  });

  it("messages from other instances (the broker) take their place in the local history", () => {
    const sent: string[] = [];
    const broker = {
      attach() {},
      detach() {},
      subscribe() {},
      unsubscribe() {},
      publish: (_topic: string, m: PublishedMessage) => (sent.push(String(m.data)), true),
    };
    const topics = new Topics({ broker, topics: () => ({ retain: true }) });
    topics.publish("t", "local 1");
    topics.deliver("t", new PublishedMessage("remote 2"));
    topics.publish("t", "local 3");
    assert.deepEqual(sent, ["local 1", "local 3"]); // remote ones are not sent back
    const r = recorder();
    const epoch = topics.lastPosition("t")!.epoch;
    assert.equal(now(topics.resume("t", r, { epoch, seq: 0 })).status, "complete");
    assert.deepEqual(r.texts(), ["local 1", "remote 2", "local 3"]);
    assert.deepEqual(r.got.map((m) => m.position!.seq), [1, 2, 3]);
    topics.close();
  });

  it("randomized: every resumed subscriber gets each message of the window once, in order, or the exact gap", () => {
    const capacity = 20;
    const topics = new Topics({ topics: () => ({ retain: { messages: capacity } }) });
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    type Client = {
      sub: ReturnType<typeof recorder>;
      online: boolean;
      last: Position | undefined;
      seqs: number[];
      gaps: number;
    };
    const clients: Client[] = [];
    for (let i = 0; i < 8; i++) {
      const sub = recorder();
      const report = now(topics.resume("t", sub, undefined));
      // Nothing published yet: the client starts at seq 0 of this epoch.
      clients.push({ sub, online: true, last: { epoch: report.epoch, seq: 0 }, seqs: [], gaps: 0 });
    }
    let published = 0;
    const take = (c: Client) => {
      for (const m of c.sub.got) {
        c.seqs.push(m.position!.seq);
        c.last = m.position;
      }
      c.sub.got.length = 0;
    };
    for (let step = 0; step < 5000; step++) {
      const x = random();
      if (x < 0.7) {
        topics.publish("t", `m${++published}`);
      } else {
        const c = clients[Math.floor(random() * clients.length)];
        take(c);
        if (c.online) {
          topics.unsubscribe("t", c.sub);
          c.online = false;
        } else {
          const report = now(topics.resume("t", c.sub, c.last));
          c.online = true;
          const last = c.last!;
          const from = last.seq + 1;
          const firstKept = Math.max(1, published - capacity + 1);
          if (from < firstKept) {
            assert.equal(report.status, "gap");
            assert.deepEqual(report.missed, { epoch: last.epoch, from, to: firstKept - 1 });
            // Record the reported gap as if received, to check the rest.
            for (let s = from; s < firstKept; s++) c.seqs.push(s);
            c.gaps++;
          } else {
            assert.equal(report.status, "complete");
            assert.equal(report.replayed, published - from + 1);
          }
        }
      }
    }
    let gaps = 0;
    for (const c of clients) {
      take(c);
      gaps += c.gaps;
      // From its first message on, each seq once, in order, up to the last
      // published one while online (gaps counted as reported).
      const first = c.seqs[0];
      assert.deepEqual(c.seqs, Array.from({ length: c.seqs.length }, (_, i) => first + i));
      if (c.online) assert.equal(c.seqs.at(-1), published);
    }
    assert.ok(gaps > 0, "the run exercised the gap report");
    topics.close();
  });
});
