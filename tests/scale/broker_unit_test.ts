// The broker's logic over an in-memory Redis stand-in: exactly once per
// subscriber, publish order, echoes skipped, subscriptions following the
// local subscribers, outages reported with their counts, resubscription.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Topics } from "../../lib/server/handler/pubsub.ts";
import { PublishedMessage, type Subscriber } from "../../lib/server/handler/message.ts";
import { ioredisClient, redisBroker } from "../../lib/scale/redis_broker.ts";
import { BrokerError } from "../../lib/errors.ts";
import { FakeRedis } from "./_fake_redis.ts";
import { connect, serve } from "../../mod.ts";
import { until } from "../server/_hosts.ts";

/** A subscriber that records what it got. */
class Recorder implements Subscriber {
  readonly got: Array<string | Uint8Array> = [];
  readonly frames: Uint8Array[] = [];
  deliver(message: PublishedMessage): boolean {
    this.got.push(message.data);
    this.frames.push(message.frame);
    return true;
  }
}

/** Lets queued microtasks and promise reactions run (bounded). */
async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}

function instance(redis: FakeRedis, style: "node" | "bun" = "node") {
  const errors: BrokerError[] = [];
  const publisher = style === "node" ? redis.nodeStyle() : redis.bunStyle();
  const subscriber = style === "node" ? redis.nodeStyle() : redis.bunStyle();
  const broker = redisBroker({
    publisher,
    subscriber,
    onError: (e) => errors.push(e),
    reportIntervalMs: 0,
  });
  const topics = new Topics({ broker });
  return { broker, topics, errors, publisher, subscriber };
}

describe("redisBroker over an in-memory Redis", () => {
  for (const style of ["node", "bun"] as const) {
    it(`${style}-style clients: every subscriber on both instances gets each message once, in order`, async () => {
      const redis = new FakeRedis();
      const a = instance(redis, style);
      const b = instance(redis, style);
      const a1 = new Recorder(), a2 = new Recorder(), b1 = new Recorder(), b2 = new Recorder();
      a.topics.subscribe("room", a1);
      a.topics.subscribe("room", a2);
      b.topics.subscribe("room", b1);
      b.topics.subscribe("room", b2);
      const sent: Array<string | Uint8Array> = [];
      for (let i = 0; i < 50; i++) {
        const m = i % 3 === 0 ? new Uint8Array([i, 0, 255, 0x80]) : `message ${i} é`;
        sent.push(m);
        assert.equal(a.topics.publish("room", m), 2);
      }
      // Local subscribers have them at once, in the publisher's turn.
      assert.deepEqual(a1.got, sent);
      await settle();
      for (const r of [a1, a2, b1, b2]) assert.deepEqual(r.got, sent);
      // Types survive: text as strings, binary as bytes.
      assert.equal(typeof b1.got[1], "string");
      assert.ok(b1.got[0] instanceof Uint8Array);
      // One frame per instance, shared by its subscribers.
      assert.equal(b1.frames[5], b2.frames[5]);
      assert.deepEqual(a.errors, []);
      assert.deepEqual(b.errors, []);
      assert.equal(b.broker.stats.received, 50);
      assert.equal(a.broker.stats.published, 50);
    });
  }

  it("a connection's publish skips itself locally and reaches the other instance", async () => {
    const redis = new FakeRedis();
    const a = instance(redis), b = instance(redis);
    const sender = new Recorder(), other = new Recorder(), remote = new Recorder();
    a.topics.subscribe("t", sender);
    a.topics.subscribe("t", other);
    b.topics.subscribe("t", remote);
    assert.equal(a.topics.publish("t", "hi", sender), 1);
    await settle();
    assert.deepEqual(sender.got, []);
    assert.deepEqual(other.got, ["hi"]);
    assert.deepEqual(remote.got, ["hi"]);
  });

  it("subscribes a channel with the first local subscriber and drops it with the last", async () => {
    const redis = new FakeRedis();
    const a = instance(redis), b = instance(redis);
    const r1 = new Recorder(), r2 = new Recorder();
    b.topics.subscribe("news", r1);
    b.topics.subscribe("news", r2);
    assert.deepEqual(b.subscriber.commands, ["SUBSCRIBE sprig:news"]);
    assert.deepEqual(b.broker.topics, ["news"]);
    a.topics.publish("news", "one");
    await settle();
    b.topics.unsubscribe("news", r1);
    assert.deepEqual(b.subscriber.commands, ["SUBSCRIBE sprig:news"]);
    a.topics.publish("news", "two");
    await settle();
    b.topics.unsubscribe("news", r2);
    assert.deepEqual(b.subscriber.commands, ["SUBSCRIBE sprig:news", "UNSUBSCRIBE sprig:news"]);
    assert.equal(b.subscriber.serverChannels.size, 0);
    a.topics.publish("news", "three");
    await settle();
    assert.deepEqual(r1.got, ["one"]);
    assert.deepEqual(r2.got, ["one", "two"]);
    // Subscribing again starts a new history: the skipped message is no gap.
    const r3 = new Recorder();
    b.topics.subscribe("news", r3);
    a.topics.publish("news", "four");
    await settle();
    assert.deepEqual(r3.got, ["four"]);
    assert.deepEqual(b.errors, []);
  });

  it("a message published with no local subscriber still reaches the other instances", async () => {
    const redis = new FakeRedis();
    const a = instance(redis), b = instance(redis);
    const r = new Recorder();
    b.topics.subscribe("x", r);
    assert.equal(a.topics.publish("x", "only remote"), 0);
    await settle();
    assert.deepEqual(r.got, ["only remote"]);
  });

  it("drops duplicates and older messages (a client that resends), counting them", async () => {
    const redis = new FakeRedis();
    const a = instance(redis), b = instance(redis);
    const r = new Recorder();
    b.topics.subscribe("t", r);
    a.topics.publish("t", "1");
    a.topics.publish("t", "2");
    await settle();
    // Replay both as a resending client would.
    for (const { channel, message } of [...redis.log]) redis.route(channel, message);
    await settle();
    assert.deepEqual(r.got, ["1", "2"]);
    assert.equal(b.broker.stats.duplicates, 2);
  });

  it("while Redis is down: local delivery goes on, publish returns false, the loss is reported with its count", async () => {
    const redis = new FakeRedis();
    const a = instance(redis), b = instance(redis);
    const local = new Recorder(), remote = new Recorder();
    a.topics.subscribe("t", local);
    b.topics.subscribe("t", remote);
    a.topics.publish("t", "before");
    await settle();
    redis.down();
    assert.equal(a.broker.connected, false);
    for (let i = 0; i < 5; i++) assert.equal(a.topics.publish("t", `during ${i}`), 1);
    assert.equal(a.broker.publish("t", new PublishedMessage("direct")), false);
    assert.equal(local.got.length, 6);
    assert.deepEqual(a.errors.map((e) => e.code), ["BROKER_UNAVAILABLE"]);
    redis.up();
    await settle();
    assert.equal(a.broker.connected, true);
    const lost = a.errors[1]!;
    assert.equal(lost.code, "BROKER_MESSAGES_LOST");
    assert.equal(lost.lost, 6);
    assert.deepEqual(lost.topics, ["t"]);
    assert.equal(a.broker.stats.notCarried, 6);
    a.topics.publish("t", "after");
    await settle();
    assert.deepEqual(remote.got, ["before", "after"]);
    // The receiver saw the gap in the sequence and reports it too.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const gap = b.errors.find((e) => e.code === "BROKER_MESSAGES_LOST");
    assert.ok(gap, "the receiver reports the gap");
    assert.equal(gap.lost, 6);
    assert.equal(b.broker.stats.lost, 6);
  });

  it("a rejected publish is reported once and counted, and local delivery is unaffected", async () => {
    const redis = new FakeRedis();
    const a = instance(redis);
    const local = new Recorder();
    a.topics.subscribe("t", local);
    a.publisher.failPublish = new Error("READONLY You can't write against a read only replica");
    a.topics.publish("t", "x");
    a.topics.publish("t", "y");
    await settle();
    assert.deepEqual(local.got, ["x", "y"]);
    assert.equal(a.errors[0]!.code, "BROKER_PUBLISH_FAILED");
    assert.ok(a.errors[0]!.cause instanceof Error);
    a.publisher.failPublish = undefined;
    a.topics.publish("t", "z");
    await settle();
    const lost = a.errors.find((e) => e.code === "BROKER_MESSAGES_LOST");
    assert.equal(lost?.lost, 2);
  });

  it("subscribes again after a reconnection where the client forgot (Bun's client)", async () => {
    const redis = new FakeRedis();
    const a = instance(redis, "bun"), b = instance(redis, "bun");
    const r = new Recorder();
    b.topics.subscribe("t", r);
    redis.down();
    assert.equal(b.subscriber.serverChannels.size, 0);
    redis.up();
    assert.deepEqual([...b.subscriber.serverChannels], ["sprig:t"]);
    a.topics.publish("t", "after reconnect");
    await settle();
    assert.deepEqual(r.got, ["after reconnect"]);
  });

  it("keeps the application's own onconnect (Bun's client)", () => {
    const redis = new FakeRedis();
    const subscriber = redis.bunStyle();
    let calls = 0;
    subscriber.onconnect = () => void calls++;
    redisBroker({ publisher: redis.bunStyle(), subscriber });
    redis.up();
    assert.equal(calls, 1);
  });

  it("reports and drops messages that are not in sprig's format", async () => {
    const redis = new FakeRedis();
    const b = instance(redis);
    const r = new Recorder();
    b.topics.subscribe("t", r);
    redis.route("sprig:t", "hello from another program");
    redis.route("sprig:t", "S1bsomeone.0 1 %%%%");
    await settle();
    assert.deepEqual(r.got, []);
    assert.deepEqual(b.errors.map((e) => e.code), [
      "BROKER_MESSAGE_INVALID",
      "BROKER_MESSAGE_INVALID",
    ]);
  });

  it("channelPrefix separates applications on one Redis", async () => {
    const redis = new FakeRedis();
    const one = new Topics({
      broker: redisBroker({
        publisher: redis.nodeStyle(),
        subscriber: redis.nodeStyle(),
        channelPrefix: "app1:",
      }),
    });
    const two = new Topics({
      broker: redisBroker({
        publisher: redis.nodeStyle(),
        subscriber: redis.nodeStyle(),
        channelPrefix: "app2:",
      }),
    });
    const r = new Recorder();
    two.subscribe("t", r);
    one.publish("t", "not for app2");
    await settle();
    assert.deepEqual(r.got, []);
    assert.equal(redis.log[0]!.channel, "app1:t");
  });

  it("serves one target at a time; detach drops the subscriptions", () => {
    const redis = new FakeRedis();
    const broker = redisBroker({ publisher: redis.nodeStyle(), subscriber: redis.nodeStyle() });
    const topics = new Topics({ broker });
    topics.subscribe("t", new Recorder());
    assert.throws(() => new Topics({ broker }), { name: "InvalidArgumentError" });
    topics.close();
    assert.deepEqual(broker.topics, []);
    // Free again.
    new Topics({ broker }).close();
  });

  it("checks its arguments", () => {
    const redis = new FakeRedis();
    const c = redis.nodeStyle();
    assert.throws(() => redisBroker(undefined as never), { name: "InvalidArgumentError" });
    assert.throws(
      () => redisBroker({ publisher: {} as never, subscriber: c }),
      { name: "InvalidArgumentError", message: /options\.publisher/ },
    );
    assert.throws(
      () => redisBroker({ publisher: c, subscriber: c }),
      { name: "InvalidArgumentError", message: /options\.subscriber/ },
    );
    assert.throws(
      () => redisBroker({ publisher: c, subscriber: redis.nodeStyle(), reportIntervalMs: -1 }),
      { name: "ArgumentRangeError" },
    );
  });

  it("ioredisClient: routes ioredis's message events to each subscription's listener", async () => {
    const handlers: Record<string, Array<(...args: string[]) => void>> = {};
    const calls: string[] = [];
    const fake = {
      status: "ready",
      publish: (channel: string) => Promise.resolve(calls.push(`PUBLISH ${channel}`)),
      subscribe: (channel: string) => Promise.resolve(calls.push(`SUBSCRIBE ${channel}`)),
      unsubscribe: (channel: string) => Promise.resolve(calls.push(`UNSUBSCRIBE ${channel}`)),
      on(event: string, listener: (...args: string[]) => void) {
        (handlers[event] ??= []).push(listener);
        return this;
      },
    };
    const client = ioredisClient(fake);
    assert.equal(client.status, "ready");
    const got: string[] = [];
    const l1 = (m: string) => got.push(`1:${m}`);
    const l2 = (m: string) => got.push(`2:${m}`);
    await client.subscribe("a", l1);
    await client.subscribe("a", l2);
    for (const h of handlers.message!) h("a", "hello");
    for (const h of handlers.message!) h("b", "not subscribed");
    await client.unsubscribe("a", l1);
    for (const h of handlers.message!) h("a", "again");
    await client.unsubscribe("a", l2);
    assert.deepEqual(got, ["1:hello", "2:hello", "2:again"]);
    assert.deepEqual(calls, ["SUBSCRIBE a", "SUBSCRIBE a", "UNSUBSCRIBE a"]);
    assert.equal(handlers.message!.length, 1);
  });

  it("BrokerError is a SprigError with its counts", () => {
    const e = new BrokerError("BROKER_MESSAGES_LOST", "x", { lost: 2, topics: ["t"] });
    assert.equal(e.code, "BROKER_MESSAGES_LOST");
    assert.equal(e.lost, 2);
    assert.equal(e.name, "BrokerError");
  });

  it("serve(): two servers share topics through their brokers, sender included; shutdown detaches", async () => {
    const redis = new FakeRedis();
    const brokers = [0, 1].map(() =>
      redisBroker({ publisher: redis.nodeStyle(), subscriber: redis.nodeStyle() })
    );
    const servers = await Promise.all(
      brokers.map((broker) =>
        serve({ hostname: "127.0.0.1", port: 0, broker }, {
          init: (ctx) => void ctx.ref.subscribe("room"),
          in: (message) => void servers[0]!.publish("room", message),
        })
      ),
    );
    try {
      const a = await connect(`ws://127.0.0.1:${servers[0]!.port}/`);
      const b = await connect(`ws://127.0.0.1:${servers[1]!.port}/`);
      const got: string[][] = [[], []];
      a.on("message", (m) => void got[0]!.push(String(m)));
      b.on("message", (m) => void got[1]!.push(String(m)));
      await until(() => brokers.every((x) => x.topics.length === 1), "both subscribed");
      await a.send("one");
      await a.send(new Uint8Array([1, 2]));
      await until(() => got[1]!.length === 2 && got[0]!.length === 2, "both clients");
      assert.deepEqual(got, [["one", "1,2"], ["one", "1,2"]]);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await Promise.all(servers.map((s) => s.shutdown()));
    }
    assert.deepEqual(brokers.map((x) => x.topics), [[], []]);
    // Detached: the broker can serve a new server.
    const again = await serve({ hostname: "127.0.0.1", port: 0, broker: brokers[0] }, {
      in: () => {},
    });
    await again.shutdown();
  });

  it("serve(): shutdown resolves only after Redis answered its UNSUBSCRIBE (disconnecting right after reports nothing)", async () => {
    const redis = new FakeRedis();
    const subscriber = redis.nodeStyle();
    const errors: unknown[] = [];
    const broker = redisBroker({
      publisher: redis.nodeStyle(),
      subscriber,
      onError: (e) => errors.push(e),
    });
    const server = await serve({ hostname: "127.0.0.1", port: 0, broker }, {
      init: (ctx) => void ctx.ref.subscribe("room"),
      in: () => {},
    });
    const ws = await connect(`ws://127.0.0.1:${server.port}/`);
    await until(() => broker.topics.length === 1, "subscribed");
    subscriber.holdUnsubscribe = true;
    let resolved = false;
    const shutdown = server.shutdown({ deadlineMs: 10_000 }).then(() => (resolved = true));
    await until(() => subscriber.commands.includes("UNSUBSCRIBE sprig:room"), "UNSUBSCRIBE sent");
    await ws.closed;
    await settle(50);
    assert.equal(resolved, false, "shutdown resolved before Redis answered the UNSUBSCRIBE");
    assert.equal(subscriber.answerHeld(), 1);
    await shutdown;
    // The application disconnects Redis at once: nothing was in flight any more.
    redis.down();
    await settle(50);
    assert.deepEqual(errors, []);
  });

  it("serve(): an UNSUBSCRIBE never answered holds shutdown no longer than its deadline", async () => {
    const redis = new FakeRedis();
    const subscriber = redis.nodeStyle();
    const broker = redisBroker({
      publisher: redis.nodeStyle(),
      subscriber,
      onError: () => {},
    });
    const server = await serve({ hostname: "127.0.0.1", port: 0, broker }, {
      init: (ctx) => void ctx.ref.subscribe("room"),
      in: () => {},
    });
    const ws = await connect(`ws://127.0.0.1:${server.port}/`);
    await until(() => broker.topics.length === 1, "subscribed");
    subscriber.holdUnsubscribe = true;
    await server.shutdown({ deadlineMs: 300 });
    await ws.closed;
    assert.ok(subscriber.commands.includes("UNSUBSCRIBE sprig:room"));
    redis.down();
  });

  it("serve() checks the broker and reusePort options", async () => {
    await assert.rejects(
      serve({ port: 0, broker: {} as never }, { in: () => {} }),
      { name: "InvalidArgumentError", message: /options\.broker/ },
    );
    await assert.rejects(
      serve({ port: 0, reusePort: "yes" as never }, { in: () => {} }),
      { name: "InvalidArgumentError", message: /options\.reusePort/ },
    );
  });
});
