// redisBroker({ history: true })'s ordering logic over an in-memory stand-in
// whose scripts the test answers by hand: entries delivered in seq order,
// duplicates dropped, a gap filled from the stream before what follows, a
// fill that fails reported as the exact count lost, an epoch change reported,
// and a resume that holds live entries while its read is pending, then gives
// each seq once. (tests/scale/redis_history_test.ts runs the same against
// redis-server.)
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Topics } from "../../lib/server/handler/pubsub.ts";
import type { PublishedMessage, Subscriber } from "../../lib/server/handler/message.ts";
import { redisBroker } from "../../lib/scale/redis_broker.ts";
import type { BrokerError } from "../../lib/errors.ts";
import { FakeRedis } from "./_fake_redis.ts";

/** A subscriber that records `seq:data`. */
class Recorder implements Subscriber {
  readonly got: string[] = [];
  deliver(message: PublishedMessage): boolean {
    this.got.push(`${message.position?.seq}:${String(message.data)}`);
    return true;
  }
}

/** Lets queued microtasks, promise reactions and zero timers run (bounded). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    for (let j = 0; j < 20; j++) await Promise.resolve();
    await new Promise((r) => setTimeout(r, 0));
  }
}

/** A stream entry of the read script's reply: `[id, [field, value, …]]`. */
const row = (seq: number, data: string) => [
  `0-${seq}`,
  ["t", String(Date.now()), "k", "t", "d", data],
];

function setup(readTimeoutMs?: number) {
  const redis = new FakeRedis();
  const subscriber = redis.nodeStyle();
  const commands: string[][] = [];
  let answer: (args: string[]) => Promise<unknown> = () => new Promise(() => {});
  const publisher = Object.assign(redis.nodeStyle(), {
    sendCommand: (args: string[]) => (commands.push(args), answer(args)),
  });
  const errors: BrokerError[] = [];
  const broker = redisBroker({
    publisher,
    subscriber,
    history: readTimeoutMs === undefined ? true : { readTimeoutMs },
    reportIntervalMs: 0,
    onError: (e) => errors.push(e),
  });
  const topics = new Topics({ broker, topics: () => ({ retain: { messages: 100 } }) });
  /** An entry as the append script publishes it. */
  const entry = (epoch: string, seq: number, data: string) =>
    redis.route("sprig:t", `S2t${epoch} ${seq} ${data}`);
  return {
    broker,
    topics,
    subscriber,
    errors,
    commands,
    entry,
    answer: (f: (args: string[]) => Promise<unknown>) => (answer = f),
  };
}

describe("redisBroker({ history: true }): one order per topic at every instance", () => {
  it("in seq order, duplicates dropped, a gap filled from the stream, a failed fill counted, an epoch change reported", async () => {
    const s = setup();
    const r = new Recorder();
    s.topics.subscribe("t", r);
    s.entry("E", 1, "a");
    s.entry("E", 2, "b");
    s.entry("E", 2, "b"); // a resend
    await settle();
    assert.deepEqual(r.got, ["1:a", "2:b"]);

    // 3 never came live: read from the stream, then what waited.
    s.answer(() => Promise.resolve(["E", "4", [row(3, "c"), row(4, "d")]]));
    s.entry("E", 4, "d");
    s.entry("E", 5, "e");
    await settle();
    assert.deepEqual(r.got, ["1:a", "2:b", "3:c", "4:d", "5:e"]);
    const read = s.commands.at(-1)!;
    assert.equal(read[0], "EVALSHA"); // the script's SHA-1 is known by now
    assert.match(read[1]!, /^[0-9a-f]{40}$/);
    assert.deepEqual(read.slice(3, 5), ["sprig:s:t", "sprig:e:t"]);
    assert.deepEqual(read.slice(6, 8), ["E", "2"], "read after the last delivered seq");
    assert.equal(s.broker.stats.duplicates, 2); // the resend, and 4 live after the fill
    assert.equal(s.errors.length, 0, "nothing reported");

    // A fill that fails: the two missing are reported, and what follows goes on.
    s.answer(() => Promise.reject(new Error("connection lost")));
    s.entry("E", 8, "h");
    s.entry("E", 9, "i");
    await settle();
    assert.deepEqual(r.got.slice(5), ["8:h", "9:i"]);
    assert.deepEqual(s.errors.map((e) => [e.code, e.lost]), [
      ["BROKER_UNAVAILABLE", 0],
      ["BROKER_MESSAGES_LOST", 2],
    ]);
    assert.equal(s.broker.stats.lost, 2);

    // Redis lost the stream: a new epoch starts, and that is said.
    s.entry("F", 1, "x");
    await settle();
    assert.deepEqual(r.got.slice(7), ["1:x"]);
    assert.equal(s.errors.at(-1)!.code, "BROKER_HISTORY_RESET");
    assert.match(s.errors.at(-1)!.message, /epoch E\).*epoch F/);
    s.topics.close();
  });

  it("a resume holds what comes live while its read is pending, then gives each seq once", async () => {
    const s = setup();
    const steady = new Recorder();
    s.topics.subscribe("t", steady);
    s.entry("E", 1, "a");
    await settle();
    let release!: (reply: unknown) => void;
    s.answer(() => new Promise((resolve) => (release = resolve)));
    const late = new Recorder();
    const pending = s.topics.resume("t", late, { epoch: "E", seq: 0 });
    assert.ok(pending instanceof Promise, "a shared history answers later");
    await settle();
    s.entry("E", 2, "b"); // published after the read ran: live, and in the read
    s.entry("E", 3, "c"); // after the read: live only
    await settle();
    assert.deepEqual(late.got, [], "held while the read is pending");
    release(["E", "2", [row(1, "a"), row(2, "b")]]);
    const report = await pending;
    assert.deepEqual(late.got, ["1:a", "2:b", "3:c"]);
    assert.equal(report.status, "complete");
    assert.equal(report.replayed, 2);
    assert.deepEqual(report.position, { epoch: "E", seq: 3 });
    s.entry("E", 4, "d");
    await settle();
    assert.deepEqual(late.got, ["1:a", "2:b", "3:c", "4:d"]);
    assert.deepEqual(steady.got, ["1:a", "2:b", "3:c", "4:d"]);
    // A read that fails rejects, and leaves no subscription.
    s.answer(() => Promise.reject(new Error("connection lost")));
    const other = new Recorder();
    await assert.rejects(
      s.topics.resume("t", other, { epoch: "E", seq: 1 }) as Promise<unknown>,
      (e: BrokerError) => e.code === "BROKER_UNAVAILABLE",
    );
    assert.equal(s.topics.isSubscriber("t", other), false);
    s.topics.close();
  });

  it("a read with no answer fails after history.readTimeoutMs, and leaves no subscription", async () => {
    const s = setup(30);
    const r = new Recorder();
    await assert.rejects(
      s.topics.resume("t", r, undefined) as Promise<unknown>,
      (e: BrokerError) => e.code === "BROKER_UNAVAILABLE" && /within 30 ms/.test(e.message),
    );
    assert.equal(s.topics.isSubscriber("t", r), false);
    s.topics.close();
    const redis = new FakeRedis();
    const publisher = Object.assign(redis.nodeStyle(), { sendCommand: () => Promise.resolve() });
    assert.throws(
      () =>
        redisBroker({ publisher, subscriber: redis.nodeStyle(), history: { readTimeoutMs: 0 } }),
      RangeError,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => redisBroker({ publisher, subscriber: redis.nodeStyle(), history: { ttl: 1 } as any }),
      TypeError,
    );
  });

  it("a topic first subscribed with subscribe(): where it stands is read at once, so a drop before the first entry is filled", async () => {
    const s = setup();
    const r = new Recorder();
    s.answer(() => Promise.resolve(["E", "3", []])); // the topic stood at E/3
    s.topics.subscribe("t", r);
    await settle();
    const read = s.commands.at(-1)!;
    assert.deepEqual(read.slice(5, 8), [read[5], "", "-1"], "a read of the position only");
    // The subscriber connection drops before any entry came; 4 and 5 are published meanwhile.
    s.subscriber.drop();
    s.answer(() => Promise.resolve(["E", "5", [row(4, "d"), row(5, "e")]]));
    s.subscriber.reconnect();
    await settle();
    assert.deepEqual(r.got, ["4:d", "5:e"], "read back from the stream");
    s.entry("E", 6, "f");
    await settle();
    assert.deepEqual(r.got, ["4:d", "5:e", "6:f"]);
    assert.equal(s.errors.length, 0);
    s.topics.close();
  });

  it("EVALSHA, and after NOSCRIPT the appends in flight go again with EVAL, in order; none if a later one ran first", async () => {
    const s = setup();
    s.topics.subscribe("t", new Recorder());
    await settle(); // the SHA-1s are computed
    // The first append of a connection goes with EVAL (Redis may not have the script yet).
    s.answer(() => Promise.resolve("0-1"));
    s.topics.publish("t", "a0");
    await settle();
    assert.equal(s.commands.at(-1)![0], "EVAL");
    const noScript = () => Promise.reject(new Error("NOSCRIPT No matching script."));
    const answers: Array<() => Promise<unknown>> = [noScript];
    let release!: () => void;
    const pending = new Promise<unknown>((resolve) => (release = () => resolve("0-9")));
    s.answer(() => (answers.shift() ?? (() => Promise.resolve("0-1")))());
    s.topics.publish("t", "a1");
    s.answer((args) =>
      args[0] === "EVALSHA" && args.at(-2) === "a2" ? pending : Promise.resolve("0-1")
    );
    s.topics.publish("t", "a2");
    s.answer(() => (answers.shift() ?? (() => Promise.resolve("0-1")))());
    await settle();
    s.topics.publish("t", "a3"); // while a2 is in flight: held
    release(); // a2 answered (ran): a1's NOSCRIPT came before it, so a1 is not sent again
    await settle();
    // a1 was overtaken by a2: counted as not carried (order kept); a3 went after a2, with EVAL
    // (the cache was seen empty: EVAL until one succeeds).
    assert.deepEqual(s.commands.slice(-4).map((c) => [c[0], c.at(-2)]), [
      ["EVAL", "a0"],
      ["EVALSHA", "a1"],
      ["EVALSHA", "a2"],
      ["EVAL", "a3"],
    ]);
    assert.equal(s.broker.stats.notCarried, 1);
    s.topics.close();

    // Without an overtaking one, every append that met NOSCRIPT goes again with EVAL, in order.
    const t = setup();
    t.topics.subscribe("t", new Recorder());
    await settle();
    t.answer(() => Promise.resolve("0-1"));
    t.topics.publish("t", "b0"); // loads the script
    await settle();
    let n = 0;
    t.answer(() => n++ < 2 ? Promise.reject(new Error("NOSCRIPT x")) : Promise.resolve("0-1"));
    t.topics.publish("t", "b1");
    t.topics.publish("t", "b2");
    await settle();
    t.topics.publish("t", "b3");
    await settle();
    assert.deepEqual(t.commands.slice(-5).map((c) => [c[0], c.at(-2)]), [
      ["EVALSHA", "b1"],
      ["EVALSHA", "b2"],
      ["EVAL", "b1"],
      ["EVAL", "b2"],
      ["EVALSHA", "b3"],
    ]);
    assert.equal(t.broker.stats.notCarried, 0);
    t.topics.close();
  });

  it("publish appends through the broker (nothing local until it comes back); the client must take any command", () => {
    const s = setup();
    const r = new Recorder();
    s.topics.subscribe("t", r);
    s.answer(() => Promise.resolve("0-1"));
    assert.equal(s.topics.publish("t", "hello"), 0);
    assert.deepEqual(r.got, []);
    const append = s.commands.at(-1)!;
    assert.equal(append[0], "EVAL");
    assert.match(append[1]!, /XADD/);
    assert.equal(append.at(-2), "hello");
    assert.equal(append.at(-1), "sprig:t");
    s.topics.close();
    const redis = new FakeRedis();
    assert.throws(
      () =>
        redisBroker({ publisher: redis.nodeStyle(), subscriber: redis.nodeStyle(), history: true }),
      (e: Error) => e instanceof TypeError && /options\.publisher/.test(e.message),
    );
  });
});
