// Topic history in Redis Streams, shared by two sprig instances in separate
// processes (on the runtime running this test) with Debian's redis-server
// started here: every subscriber sees one order per topic; a client that
// drops and resumes on the other instance, or on an instance that was
// killed and restarted, gets every message once and in order; a position
// that fell out of the stream's bound is told the exact range lost; after
// Redis is killed and restarted (no persistence) the epoch changes and the
// report says so.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type Session } from "../../mod.ts";
import type { ResumeReport } from "../../lib/server/handler/history.ts";
import { openEnvelope, type Position } from "../../lib/session/envelope.ts";
import { commandCalls, redisCommand, RedisServer } from "./_redis.ts";
import { Instance, runtime } from "./_process.ts";
import { until } from "../server/_hosts.ts";

/** A client of one topic: the enveloped messages it got, and its resume report. */
class Subscriber {
  readonly positions: Position[] = [];
  readonly data: string[] = [];
  report: ResumeReport | undefined;
  readonly replies: string[] = [];
  private constructor(readonly ws: Session) {
    ws.on("message", (m) => {
      if (typeof m !== "string") return;
      const opened = openEnvelope(m);
      if (opened) {
        this.positions.push(opened.position);
        this.data.push(opened.data as string);
      } else if (m.startsWith("REPORT ")) this.report = JSON.parse(m.slice(7));
      else this.replies.push(m);
    });
  }

  /** Resumes `topic` on `instance` from `from` (live without); resolves with the report. */
  static async resume(instance: Instance, topic: string, from?: Position): Promise<Subscriber> {
    const query = new URLSearchParams({ resume: topic });
    if (from) {
      query.set("epoch", from.epoch);
      query.set("seq", String(from.seq));
    }
    const ws = await connect(`ws://127.0.0.1:${instance.port}/?${query}`, { compression: false });
    const s = new Subscriber(ws);
    await until(() => s.report !== undefined, "the resume report", 20_000);
    return s;
  }

  get last(): Position | undefined {
    return this.positions.at(-1);
  }

  /** The seqs seen, which must run 1 by 1 (exactly once, in order) from the first. */
  assertContiguous(label: string): void {
    const seqs = this.positions.map((p) => p.seq);
    for (let i = 1; i < seqs.length; i++) {
      assert.equal(seqs[i], seqs[i - 1]! + 1, `${label}: seq ${seqs[i]} after ${seqs[i - 1]}`);
    }
    assert.equal(
      new Set(this.positions.map((p) => p.epoch)).size <= 1,
      true,
      `${label}: one epoch`,
    );
  }

  /** Drops the connection at once, as a lost network does. */
  drop(): void {
    this.ws.terminate();
  }

  close(): Promise<unknown> {
    return this.ws.close().catch(() => {});
  }
}

/** A connection that publishes with `pub <topic> <text>`. */
async function publisher(instance: Instance): Promise<Session> {
  return await connect(`ws://127.0.0.1:${instance.port}/`, { compression: false });
}

/** `${name} 0` … `${name} n-1`, published in order from `ws`; resolves once handed to the socket. */
async function publishMany(ws: Session, topic: string, name: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await ws.send(`pub ${topic} ${name} ${i}`);
}

/** Sends `message` again and again until `done` (bounded: 200 tries): e.g. while Redis reconnects. */
async function publishUntil(ws: Session, message: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    await ws.send(message);
    const started = Date.now();
    while (!done() && Date.now() - started < 100) await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(done(), `never done publishing ${message}`);
}

describe(`redisBroker with history: a Redis Stream per topic, two instances (${runtime})`, () => {
  let redis: RedisServer;
  let A: Instance, B: Instance;
  const instances: Instance[] = [];
  const subscribers: Subscriber[] = [];
  const sessions: Session[] = [];
  const start = async () => {
    const i = new Instance(redis.url, ["history"]);
    instances.push(i);
    await i.ready();
    return i;
  };
  const resume = async (instance: Instance, topic: string, from?: Position) => {
    const s = await Subscriber.resume(instance, topic, from);
    subscribers.push(s);
    return s;
  };
  const pub = async (instance: Instance) => {
    const ws = await publisher(instance);
    sessions.push(ws);
    return ws;
  };

  before(async () => {
    redis = await RedisServer.start();
    [A, B] = await Promise.all([start(), start()]);
  });

  after(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
    await Promise.all(instances.map((i) => i.stop()));
    await redis?.stop();
  });

  it("one order on both instances; a client that drops and resumes on the other instance gets each message once, in order, while both publish", async () => {
    const topic = "h1000:one";
    const onA = await resume(A, topic), onB = await resume(B, topic);
    assert.equal(onA.report!.status, "live");
    const pa = await pub(A), pb = await pub(B);
    const mover = await resume(A, topic);
    await publishMany(pa, topic, "a", 30);
    await publishMany(pb, topic, "b", 30);
    await until(() => mover.data.length >= 60, "the mover's first 60", 20_000);
    const seen = mover.last!;
    mover.drop();
    // Both instances publish while it is away and while it resumes on B.
    const racing = Promise.all([
      publishMany(pa, topic, "a2", 100),
      publishMany(pb, topic, "b2", 100),
    ]);
    await publishMany(pa, topic, "away", 20);
    const back = await resume(B, topic, seen);
    await racing;
    const total = 60 + 200 + 20;
    await until(
      () => [onA, onB].every((s) => s.data.length >= total),
      "every message at the steady subscribers",
      30_000,
    );
    const end = onA.last!.seq;
    await until(() => (back.last?.seq ?? 0) >= end, "the resumed client reaches the end", 30_000);
    assert.equal(back.report!.status, "complete", JSON.stringify(back.report));
    assert.equal(back.report!.epoch, seen.epoch);
    for (const [s, label] of [[onA, "on A"], [onB, "on B"], [back, "resumed"]] as const) {
      s.assertContiguous(label);
    }
    // The same order everywhere: seq n is the same message on A and on B.
    assert.deepEqual(onB.positions, onA.positions);
    assert.deepEqual(onB.data, onA.data);
    assert.equal(onA.data.length, total);
    // The resumed client has exactly what followed its position, then the live ones.
    assert.equal(back.positions[0]!.seq, seen.seq + 1);
    const offset = onA.positions.findIndex((p) => p.seq === seen.seq + 1);
    assert.deepEqual(back.data, onA.data.slice(offset));
    // Each publisher's own order held.
    for (const name of ["a", "b", "a2", "b2", "away"]) {
      const mine = onA.data.filter((d) => d.startsWith(`${name} `));
      assert.deepEqual(mine, mine.map((_, i) => `${name} ${i}`), `${name}'s order`);
    }
    assert.deepEqual(A.reports, []);
    assert.deepEqual(B.reports, []);
  });

  it("an instance killed and restarted: its client resumes there (or on the other) without loss or duplicate", async () => {
    const topic = "h1000:kill";
    const pb = await pub(B);
    const steady = await resume(B, topic);
    const onA = await resume(A, topic);
    await publishMany(pb, topic, "before", 25);
    await until(() => onA.data.length >= 25, "A's client before the crash", 20_000);
    const seen = onA.last!;
    await A.kill();
    await publishMany(pb, topic, "while-down", 25);
    const A2 = await start();
    const back = await resume(A2, topic, seen);
    await publishMany(pb, topic, "after", 25);
    await until(() => steady.data.length >= 75, "the steady subscriber", 20_000);
    await until(() => back.last?.seq === steady.last!.seq, "the resumed client", 20_000);
    assert.equal(back.report!.status, "complete", JSON.stringify(back.report));
    assert.equal(back.report!.replayed >= 25, true, JSON.stringify(back.report));
    back.assertContiguous("resumed on the restarted instance");
    steady.assertContiguous("steady");
    assert.deepEqual([...onA.data, ...back.data], steady.data);
    A = A2;
  });

  it("a position older than the stream's bound: the exact range lost, then what is kept", async () => {
    const topic = "h5:gap";
    const pa = await pub(A);
    const first = await resume(B, topic);
    await publishMany(pa, topic, "m", 3);
    await until(() => first.data.length >= 3, "the first three", 20_000);
    const seen = first.last!;
    first.drop();
    await publishMany(pa, topic, "m", 20); // seq 4 … 23; the bound keeps 19 … 23
    const witness = await resume(A, topic, { epoch: seen.epoch, seq: 22 });
    await until(() => witness.last?.seq === 23, "the last message, seen elsewhere", 20_000);
    const back = await resume(B, topic, seen);
    assert.deepEqual(back.report, {
      topic,
      status: "gap",
      replayed: 5,
      missed: { epoch: seen.epoch, from: 4, to: 18 },
      epoch: seen.epoch,
      position: { epoch: seen.epoch, seq: 23 },
    });
    await until(() => back.data.length >= 5, "the five kept", 20_000);
    assert.deepEqual(back.positions.map((p) => p.seq), [19, 20, 21, 22, 23]);
    assert.deepEqual(back.data, ["m 15", "m 16", "m 17", "m 18", "m 19"]);
  });

  it("retain.ms: messages older than the bound (by their publisher's clock) are gone from the stream's window, and the gap says which", async () => {
    const topic = "h1000ms300:age";
    const pa = await pub(A);
    const first = await resume(B, topic);
    await publishMany(pa, topic, "old", 3);
    await until(() => first.data.length >= 3, "the first three", 20_000);
    const seen = first.positions[0]!; // seq 1
    first.drop();
    // Time passing is what this tests: the three age past 300 ms (bounded: 5 s).
    const aged = Date.now() + 400;
    for (let i = 0; i < 100 && Date.now() < aged; i++) await new Promise((r) => setTimeout(r, 50));
    await publishMany(pa, topic, "new", 2);
    const witness = await resume(A, topic, { epoch: seen.epoch, seq: 4 });
    await until(() => witness.last?.seq === 5, "the last one, seen elsewhere", 20_000);
    const back = await resume(B, topic, seen);
    assert.equal(back.report!.status, "gap", JSON.stringify(back.report));
    assert.deepEqual(back.report!.missed, { epoch: seen.epoch, from: 2, to: 3 });
    assert.equal(back.report!.replayed, 2);
    await until(() => back.data.length >= 2, "the two kept", 20_000);
    assert.deepEqual(back.data, ["new 0", "new 1"]);
  });

  it("the instances' Redis subscriptions dropped mid-stream: live subscribers still get every message once, in order, filled from the stream", async () => {
    const topic = "h1000:dropped";
    const pa = await pub(A);
    const onA = await resume(A, topic), onB = await resume(B, topic);
    await publishMany(pa, topic, "m", 30);
    // Every subscribed connection (both instances') is cut; the clients reconnect by themselves.
    const killed = await redisCommand(redis.port, ["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert.match(killed, /^:[1-9]/, "subscribed connections were cut");
    await publishMany(pa, topic, "m", 70);
    await until(
      () => onA.data.length >= 100 && onB.data.length >= 100,
      "all 100 everywhere",
      30_000,
    );
    for (const [s, label] of [[onA, "on A"], [onB, "on B"]] as const) {
      s.assertContiguous(label);
      assert.deepEqual(s.data, Array.from({ length: 100 }, (_, i) => `m ${i < 30 ? i : i - 30}`));
    }
    assert.deepEqual(B.reports.filter((r) => r.code === "BROKER_MESSAGES_LOST"), []);
  });

  it("Redis killed and restarted without persistence: a new epoch, and the report says so", async () => {
    const topic = "h1000:redis";
    const pa = await pub(A);
    const steady = await resume(B, topic);
    const client = await resume(A, topic);
    await publishMany(pa, topic, "old", 10);
    await until(() => client.data.length >= 10 && steady.data.length >= 10, "before", 20_000);
    const seen = client.last!;
    client.drop();
    await redis.kill();
    await redis.restart();
    // Publish until Redis takes messages again and they come back to B.
    let k = 0;
    await publishUntil(pa, `pub ${topic} new`, () => {
      k++;
      return steady.positions.some((p) => p.epoch !== seen.epoch);
    });
    const back = await resume(A, topic, seen);
    const report = back.report!;
    assert.equal(report.status, "epoch", JSON.stringify(report));
    assert.notEqual(report.epoch, seen.epoch);
    assert.equal(report.missed, undefined, "the new history is whole: nothing of it is gone");
    // The new history is replayed from its first message.
    assert.equal(back.positions[0]?.seq, 1);
    assert.ok(back.positions.every((p) => p.epoch === report.epoch));
    back.assertContiguous("after the epoch change");
    assert.ok(report.replayed >= 1, "what the new epoch holds is replayed");
    // The instance whose subscriber lived through it reported the reset.
    await until(
      () => B.reports.some((r) => r.code === "BROKER_HISTORY_RESET"),
      `B reports the reset: ${JSON.stringify(B.reports)}`,
      20_000,
    );
    assert.ok(k > 0);
    // The restarted Redis had no script: the first append got NOSCRIPT and went again with
    // EVAL; from then on EVALSHA, and every message arrives once, in order.
    const before = steady.data.length;
    await publishMany(pa, topic, "sha", 30);
    await until(() => steady.data.length >= before + 30, "after the restart", 20_000);
    const fresh = steady.positions.filter((p) => p.epoch !== seen.epoch).map((p) => p.seq);
    assert.deepEqual(fresh, Array.from({ length: fresh.length }, (_, i) => fresh[0]! + i));
    assert.deepEqual(
      steady.data.slice(-30),
      Array.from({ length: 30 }, (_, i) => `sha ${i}`),
    );
    assert.ok(await commandCalls(redis.port, "eval") >= 1, "the fallback to EVAL");
    assert.ok(await commandCalls(redis.port, "evalsha") >= 30, "EVALSHA after it");
  });

  it("EVALSHA: the script cache flushed mid-stream (NOSCRIPT): each message once, in order", async () => {
    const topic = "h1000:flush";
    const pa = await pub(A);
    const steady = await resume(B, topic);
    const evalshaBefore = await commandCalls(redis.port, "evalsha");
    await publishMany(pa, topic, "f", 40);
    await until(() => steady.data.length >= 40, "the first 40", 20_000);
    assert.ok(await commandCalls(redis.port, "evalsha") >= evalshaBefore + 40, "sent by SHA");
    const failedBefore = A.reports.filter((r) => r.code === "BROKER_PUBLISH_FAILED").length;
    assert.equal(await redisCommand(redis.port, ["SCRIPT", "FLUSH"]), "+OK");
    for (let i = 40; i < 80; i++) await pa.send(`pub ${topic} f ${i}`);
    await until(() => steady.data.length >= 80, "all 80", 20_000);
    steady.assertContiguous("across the flush");
    assert.deepEqual(steady.data, Array.from({ length: 80 }, (_, i) => `f ${i}`));
    assert.equal(
      A.reports.filter((r) => r.code === "BROKER_PUBLISH_FAILED").length,
      failedBefore,
      "nothing failed: the appends that met NOSCRIPT went again with EVAL",
    );
  });
});
