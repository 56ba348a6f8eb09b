// Two sprig server instances, each in its own process on the runtime running
// this test, share topics through Debian's redis-server (started here on a
// free port): every message published on one reaches every subscriber on
// both exactly once and in order; an unsubscribed connection stops
// receiving; Redis killed and restarted mid-run: local delivery goes on,
// remote delivery resumes, and the loss is reported with its count.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, detectRuntime, type Session } from "../../mod.ts";
import { RedisServer } from "./_redis.ts";
import { Instance } from "./_process.ts";
import { until } from "../server/_hosts.ts";

const runtime = detectRuntime();

/** A client that records every message it gets. */
class Client {
  readonly got: Array<string | Uint8Array> = [];
  private constructor(readonly ws: Session) {
    ws.on("message", (m) => void this.got.push(m));
  }
  static async open(port: number, topic?: string): Promise<Client> {
    const query = topic ? `?topic=${encodeURIComponent(topic)}` : "";
    return new Client(await connect(`ws://127.0.0.1:${port}/${query}`, { compression: false }));
  }
  texts(): string[] {
    return this.got.filter((m): m is string => typeof m === "string");
  }
  /** What came after the last `marker` text (exclusive). */
  after(marker: string): Array<string | Uint8Array> {
    const i = this.got.lastIndexOf(marker);
    return i < 0 ? [] : this.got.slice(i + 1);
  }
  has(text: string): boolean {
    return this.got.includes(text);
  }
  close(): Promise<unknown> {
    return this.ws.close().catch(() => {});
  }
}

/**
 * Publishes `marker` from `from` until every client has it (each try is a
 * new marker, so none is mistaken for another): the remote subscriptions are
 * in place, and what follows arrives after it. Bounded: 100 tries.
 */
async function sync(from: Client, topic: string, clients: Client[], name: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const marker = `${name}-${i}`;
    await from.ws.send(`pub ${topic} ${marker}`);
    const started = Date.now();
    while (Date.now() - started < 200 && !clients.every((c) => c.has(marker))) {
      await new Promise((r) => setTimeout(r, 5));
    }
    if (clients.every((c) => c.has(marker))) return marker;
  }
  throw new Error(`${name}: the subscribers never all got a marker`);
}

describe(`redisBroker with redis-server: two instances in separate processes (${runtime})`, () => {
  let redis: RedisServer;
  let A: Instance, B: Instance;
  const clients: Client[] = [];
  const open = async (instance: Instance, topic?: string) => {
    const c = await Client.open(instance.port, topic);
    clients.push(c);
    return c;
  };

  before(async () => {
    redis = await RedisServer.start();
    A = new Instance(redis.url);
    B = new Instance(redis.url);
    await Promise.all([A.ready(), B.ready()]);
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await Promise.all([A?.stop(), B?.stop()]);
    await redis?.stop();
  });

  it("every message published on either instance reaches every subscriber on both, exactly once and in order", async () => {
    const a1 = await open(A, "t1"), a2 = await open(A, "t1");
    const b1 = await open(B, "t1"), b2 = await open(B, "t1");
    const pa = await open(A), pb = await open(B);
    const subscribers = [a1, a2, b1, b2];
    const marker = await sync(pa, "t1", subscribers, "start");
    await sync(pb, "t1", subscribers, "start-b");
    const N = 200;
    const sentA: Array<string | Uint8Array> = [], sentB: string[] = [];
    for (let i = 0; i < N; i++) {
      if (i % 10 === 0) {
        const bytes = new Uint8Array([i & 0xff, 0, 0xff, 0x80, 0x0a, 0x20]);
        sentA.push(bytes);
        void pa.ws.send(
          `bin t1 ${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`,
        );
      } else {
        sentA.push(`a ${i} ✓`);
        void pa.ws.send(`pub t1 a ${i} ✓`);
      }
      sentB.push(`b ${i}`);
      void pb.ws.send(`pub t1 b ${i}`);
    }
    await until(
      () => subscribers.every((c) => c.after(marker).length >= 2 * N + 1),
      "all messages",
      30_000,
    );
    for (const c of subscribers) {
      const got = c.after(marker).filter((m) => !(typeof m === "string" && m.startsWith("start")));
      const fromA = got.filter((m) => typeof m !== "string" || m.startsWith("a "));
      const fromB = got.filter((m) => typeof m === "string" && m.startsWith("b "));
      assert.equal(got.length, 2 * N, "exactly once: nothing missing, nothing twice");
      assert.deepEqual(fromA, sentA, "A's messages in A's order, binary kept binary");
      assert.deepEqual(fromB, sentB, "B's messages in B's order");
    }
    // Nothing was lost or refused on the way.
    assert.deepEqual(A.reports, []);
    assert.deepEqual(B.reports, []);
  });

  it("a subscriber that unsubscribes stops receiving; the others go on", async () => {
    const a1 = await open(A, "t2");
    const b1 = await open(B, "t2"), b2 = await open(B, "t2");
    const pa = await open(A);
    await sync(pa, "t2", [a1, b1, b2], "start");
    await b2.ws.send("unsub t2");
    await until(() => b2.has("unsubscribed t2"), "the unsubscribe answer");
    const marker = await sync(pa, "t2", [a1, b1], "after-unsub");
    for (let i = 0; i < 20; i++) void pa.ws.send(`pub t2 m${i}`);
    await until(() => b1.after(marker).length >= 20 && a1.after(marker).length >= 20, "b1 and a1");
    assert.deepEqual(b2.after("unsubscribed t2"), [], "nothing after the unsubscribe");
    // The last subscriber of B leaving drops B's Redis subscription; A's still reaches A.
    await b1.ws.send("unsub t2");
    await until(() => b1.has("unsubscribed t2"), "the second unsubscribe answer");
    const last = await sync(pa, "t2", [a1], "only-a");
    void pa.ws.send("pub t2 final");
    await until(() => a1.after(last).includes("final"), "a1 gets the last one");
    assert.deepEqual(b1.after("unsubscribed t2"), []);
    // Subscribing again works at once, with no gap reported for what came between.
    await b1.ws.send("sub t2");
    await until(() => b1.has("subscribed t2"), "the subscribe answer");
    await sync(pa, "t2", [a1, b1], "again");
    assert.equal(B.lost(), 0);
  });

  it("Redis killed and restarted: local delivery goes on, remote delivery resumes, the loss is reported", async () => {
    const a1 = await open(A, "t3"), b1 = await open(B, "t3");
    const pa = await open(A);
    const begin = await sync(pa, "t3", [a1, b1], "before");
    for (let i = 0; i < 10; i++) void pa.ws.send(`pub t3 up ${i}`);
    await until(() => b1.after(begin).length >= 10, "b1 before the outage");

    await redis.kill();
    const DURING = 5;
    // Publish until the instance has learnt of the outage from its client (bounded).
    let noticing = -1;
    for (let k = 0; k < 100 && !A.reports.some((r) => r.code !== "BROKER_MESSAGES_LOST"); k++) {
      await pa.ws.send(`pub t3 noticing ${k}`);
      noticing = k;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(
      A.reports.some((r) => r.code === "BROKER_UNAVAILABLE" || r.code === "BROKER_PUBLISH_FAILED"),
      `the outage is reported: ${JSON.stringify(A.reports)}`,
    );
    // The report may come before the local copy of the message that caused
    // it has reached a1: wait for that copy, so the mark is after it.
    await until(() => a1.got.includes(`noticing ${noticing}`), "the last noticing message locally");
    const mark = a1.got.length;
    for (let i = 0; i < DURING; i++) await pa.ws.send(`pub t3 during ${i}`);
    await until(() => a1.got.length >= mark + DURING, "local delivery while Redis is down");
    assert.deepEqual(a1.got.slice(mark), Array.from({ length: DURING }, (_, i) => `during ${i}`));

    await redis.restart();
    const resumed = await sync(pa, "t3", [a1, b1], "resumed");
    for (let i = 0; i < 10; i++) void pa.ws.send(`pub t3 after ${i}`);
    await until(() => b1.after(resumed).length >= 10, "b1 after the outage");
    assert.deepEqual(b1.after(resumed), Array.from({ length: 10 }, (_, i) => `after ${i}`));

    // What B missed is exactly what A published that never reached B, and B says how many.
    const missed = a1.after(begin).filter((m) => !b1.got.includes(m)).length;
    assert.ok(missed >= DURING, `B missed at least the ${DURING} published during the outage`);
    await until(() => B.lost() === missed, `B reports ${missed} lost (has ${B.lost()})`);
    // A reports, once Redis is back, how many of its messages reached only its own subscribers.
    await until(() => A.lost() >= DURING, "A reports the messages it could not carry");
    // Order and uniqueness held on both sides throughout.
    for (const c of [a1, b1]) assert.equal(new Set(c.got).size, c.got.length, "no duplicates");
    const order = (c: Client) => c.texts().filter((t) => /^(up|during|after) /.test(t));
    assert.deepEqual(order(b1), order(a1).filter((t) => b1.got.includes(t)));
  });
});
