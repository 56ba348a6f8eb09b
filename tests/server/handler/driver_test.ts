// The handler driver without sockets: a fake channel feeds messages and
// records what the handler pushed. Ordering, one-at-a-time delivery, results,
// failures and terminate reasons; and a handler tested as plain functions.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Driver, type DriverHost } from "../../../lib/server/handler/driver.ts";
import type {
  Channel,
  ChannelCapabilities,
  ChannelReceiver,
} from "../../../lib/server/handler/channel.ts";
import { Topics } from "../../../lib/server/handler/pubsub.ts";
import { Ticker } from "../../../lib/util/ticker.ts";
import {
  defineHandler,
  type Handler,
  type TerminateReason,
  testContext,
} from "../../../lib/server/handler/handler.ts";
import type { OutgoingMessage } from "../../../lib/server/handler/message.ts";
import type { MessageData } from "../../../lib/session/session.ts";
import type { CloseInfo } from "../../../lib/errors.ts";

/** A channel whose peer is the test. */
class FakeChannel implements Channel {
  readonly capabilities: ChannelCapabilities = { control: true, inboundBackpressure: true };
  sent: Array<OutgoingMessage | { control: string }> = [];
  closedWith: { code: number; reason: string } | undefined;
  terminated = false;
  pauses = 0;
  paused = false;
  activity = 0;
  writeBlocked = false;
  bufferedAmount = 0;
  #receiver: ChannelReceiver | undefined;
  #inbox: MessageData[] = [];
  #ended = false;
  #resolveClosed!: (info: CloseInfo) => void;
  readonly closed: Promise<CloseInfo> = new Promise((r) => (this.#resolveClosed = r));

  get isOpen(): boolean {
    return !this.closedWith && !this.#ended;
  }

  start(receiver: ChannelReceiver): void {
    this.#receiver = receiver;
    for (const m of this.#inbox.splice(0)) receiver.message(m);
  }

  pause(): void {
    this.pauses++;
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  idle(): void {}

  /** The peer sends a message. */
  deliver(m: MessageData): void {
    this.activity++;
    if (this.#receiver) this.#receiver.message(m);
    else this.#inbox.push(m);
  }

  /** The peer sends a ping or pong. */
  deliverControl(type: "ping" | "pong", data: Uint8Array): void {
    this.activity++;
    this.#receiver!.control(type, data);
  }

  #end(info: CloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#resolveClosed(info);
    this.#receiver?.end(info);
  }

  /** The peer closes. */
  peerClose(code = 1000, reason = ""): void {
    this.#end({ code, reason, wasClean: true });
  }

  send(message: OutgoingMessage): void {
    if (!this.isOpen) return;
    this.sent.push(message);
  }

  control(type: "ping" | "pong", data: Uint8Array): void {
    this.sent.push({ control: `${type}:${data.length}` });
  }

  close(code: number, reason: string): void {
    this.closedWith = { code, reason };
    // The peer answers at once.
    this.#end({ code, reason, wasClean: true });
  }

  terminate(info: CloseInfo = { code: 1006, reason: "", wasClean: false }): void {
    this.terminated = true;
    this.#end(info);
  }
}

function host(): DriverHost & { errors: unknown[]; removedCount: number } {
  const h = {
    topics: new Topics(),
    errors: [] as unknown[],
    removedCount: 0,
    reportError(error: unknown) {
      h.errors.push(error);
    },
    removed() {
      h.removedCount++;
    },
  };
  return h;
}

function run<S>(
  handler: Handler<S, unknown, unknown>,
  options: { idleTimeoutMs?: number; maxQueuedMessages?: number } = {},
) {
  const channel = new FakeChannel();
  const h = host();
  const driver = new Driver(
    channel,
    handler as Handler<never, never, never>,
    {
      url: new URL("http://test/x"),
      headers: new Headers(),
      protocol: "",
      extensions: "",
      remoteAddress: undefined,
      httpVersion: "1.1",
      data: undefined,
    },
    h,
    {
      idleTimeoutMs: options.idleTimeoutMs ?? 0,
      maxQueuedMessages: options.maxQueuedMessages,
      idleTicker: options.idleTimeoutMs ? new Ticker(options.idleTimeoutMs / 4) : undefined,
    },
  );
  driver.start();
  return { channel, host: h, driver };
}

/** Bounded wait for a condition, one macrotask per turn. */
async function until(condition: () => boolean, label: string, maxTurns = 2000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.fail(`timed out waiting for ${label}`);
}

describe("handler driver", () => {
  it("runs init, then each message in order, keeping the returned state", async () => {
    const reasons: TerminateReason[] = [];
    const { channel } = run(defineHandler({
      init: () => ({ state: 10, push: "hello" }),
      in: (m, n) => ({ state: n + 1, push: `${n}:${m}` }),
      terminate: (r, n) => void reasons.push({ ...r, reason: String(n) }),
    }));
    channel.deliver("a");
    channel.deliver(new Uint8Array([1]));
    channel.deliver("c");
    await until(() => channel.sent.length === 4, "four pushes");
    assert.deepEqual(channel.sent, ["hello", "10:a", "11:1", "12:c"]); // bytes stringify as "1"
    channel.peerClose(1000, "bye");
    await until(() => reasons.length === 1, "terminate");
    assert.equal(reasons[0].type, "remote");
    assert.equal(reasons[0].code, 1000);
    assert.equal(reasons[0].reason, "13"); // the final state reached terminate
  });

  it("delivers one message at a time to a slow async handler, pausing reads at maxQueuedMessages", async () => {
    let active = 0;
    let maxActive = 0;
    const { channel } = run(
      defineHandler({
        init: () => ({ state: 0 }),
        async in(m, n) {
          active++;
          maxActive = Math.max(maxActive, active);
          await new Promise((r) => setTimeout(r, n % 3));
          active--;
          return { state: n + 1, push: m };
        },
      }),
      { maxQueuedMessages: 4 },
    );
    for (let i = 0; i < 30; i++) channel.deliver(`m${i}`);
    // One in the handler, the rest queued: past 4 the socket is paused.
    assert.equal(channel.paused, true);
    await until(() => channel.sent.length === 30, "thirty echoes");
    assert.equal(maxActive, 1);
    assert.deepEqual(channel.sent, Array.from({ length: 30 }, (_, i) => `m${i}`));
    assert.equal(channel.paused, false);
  });

  it("a synchronous handler runs in the channel's turn: its pushes are queued before deliver() returns", () => {
    const { channel } = run({ in: (m) => ({ push: m }) });
    channel.deliver("a");
    channel.deliver("b");
    assert.deepEqual(channel.sent, ["a", "b"]);
    assert.equal(channel.pauses, 0);
  });

  it("a returned object without `state` keeps the state; `state: undefined` replaces it", async () => {
    const seen: unknown[] = [];
    const { channel } = run<unknown>({
      init: () => ({ state: "first" }),
      in: (m, s) => {
        seen.push(s);
        if (m === "keep") return { push: "k" };
        if (m === "clear") return { state: undefined };
        return undefined;
      },
    });
    for (const m of ["keep", "nothing", "clear", "after"]) channel.deliver(m);
    await until(() => seen.length === 4, "four calls");
    assert.deepEqual(seen, ["first", "first", "first", undefined]);
  });

  it("stop pushes first, then closes with the code; no callback runs after it", async () => {
    let calls = 0;
    const reasons: TerminateReason[] = [];
    const { channel } = run({
      in: () => {
        calls++;
        return { push: ["last", { type: "ping" as const }], stop: { code: 4001, reason: "done" } };
      },
      terminate: (r) => void reasons.push(r),
    });
    channel.deliver("a");
    channel.deliver("b");
    await until(() => reasons.length === 1, "terminate");
    assert.equal(calls, 1);
    assert.deepEqual(channel.sent, ["last", { control: "ping:0" }]);
    assert.deepEqual(channel.closedWith, { code: 4001, reason: "done" });
    assert.deepEqual(reasons[0], { type: "normal", code: 4001, reason: "done", wasClean: true });
  });

  it("a throwing callback closes with 1011, reports the error and gives it to terminate", async () => {
    const reasons: TerminateReason[] = [];
    const { channel, host } = run({
      in: async () => {
        await Promise.resolve();
        throw new Error("kaboom");
      },
      terminate: (r) => void reasons.push(r),
    });
    channel.deliver("x");
    await until(() => reasons.length === 1, "terminate");
    assert.deepEqual(channel.closedWith, { code: 1011, reason: "internal error" });
    const r = reasons[0];
    assert.equal(r.type, "error");
    assert.equal(r.type === "error" && r.error.message, "kaboom");
    assert.equal((host.errors[0] as Error).message, "kaboom");
  });

  it("an invalid stop code is a handler error (1011), and a long reason is cut at a character boundary", async () => {
    const a = run({ in: () => ({ stop: { code: 1005 } }) });
    a.channel.deliver("x");
    await until(() => a.channel.closedWith !== undefined, "close");
    assert.equal(a.channel.closedWith!.code, 1011);

    const b = run({ in: () => ({ stop: { code: 4000, reason: "é".repeat(100) } }) });
    b.channel.deliver("x");
    await until(() => b.channel.closedWith !== undefined, "close");
    assert.equal(b.channel.closedWith!.reason, "é".repeat(61)); // 122 bytes ≤ 123
  });

  it("info posted from outside runs in turn with messages", async () => {
    const { channel, driver } = run<string[]>({
      init: () => ({ state: [] }),
      in: (m, log) => ({ state: [...log, `in:${m}`], push: `in:${m}` }),
      info: (m, log) => ({ state: [...log, `info:${m}`], push: `info:${m}` }),
    });
    channel.deliver("1");
    await until(() => channel.sent.length === 1, "first");
    assert.equal(driver.post("a"), true);
    channel.deliver("2");
    await until(() => channel.sent.length === 3, "three");
    assert.deepEqual(channel.sent, ["in:1", "info:a", "in:2"]);
    channel.peerClose();
    await driver.done;
    assert.equal(driver.post("late"), false);
  });

  it("control frames reach `control`, bounded while the handler is behind", async () => {
    const seen: string[] = [];
    const { channel } = run({
      in: () => undefined,
      control: (f) => void seen.push(`${f.type}:${f.data.length}`),
    });
    channel.deliverControl("ping", new Uint8Array(3));
    channel.deliverControl("pong", new Uint8Array(0));
    await until(() => seen.length === 2, "two control frames");
    assert.deepEqual(seen, ["ping:3", "pong:0"]);
  });

  it("idle timeout closes with 1001 when nothing arrives and the handler is idle", async () => {
    const reasons: TerminateReason[] = [];
    const { channel } = run({ in: () => undefined, terminate: (r) => void reasons.push(r) }, {
      idleTimeoutMs: 30,
    });
    await until(() => reasons.length === 1, "terminate", 5000);
    assert.deepEqual(channel.closedWith, { code: 1001, reason: "idle timeout" });
    assert.equal(reasons[0].type, "timeout");
  });

  it("the send-buffer overflow ends the connection with an error of code SEND_BUFFER_FULL", async () => {
    const reasons: TerminateReason[] = [];
    const { channel } = run({ in: () => undefined, terminate: (r) => void reasons.push(r) });
    const error = Object.assign(new Error("the peer did not read"), { code: "SEND_BUFFER_FULL" });
    channel.terminate({ code: 1008, reason: "send buffer full", wasClean: false, error });
    await until(() => reasons.length === 1, "terminate");
    const r = reasons[0];
    assert.equal(r.type, "error");
    assert.equal(r.code, 1008);
    assert.equal(r.type === "error" && (r.error as { code?: string }).code, "SEND_BUFFER_FULL");
  });

  it("subscriptions end with the connection", async () => {
    const { channel, host, driver } = run({
      init: (ctx) => {
        ctx.ref.subscribe("news");
        return undefined;
      },
      in: () => undefined,
    });
    await until(() => host.topics.subscriberCount("news") === 1, "subscribed");
    assert.equal(host.topics.publish("news", "x"), 1);
    channel.peerClose();
    await driver.done;
    assert.equal(host.topics.subscriberCount("news"), 0);
    assert.equal(host.removedCount, 1);
  });
});

describe("handlers are plain functions", () => {
  it("testContext runs init and callbacks without a socket", async () => {
    const room = defineHandler({
      init: (ctx) => {
        ctx.ref.subscribe("lobby");
        return { state: { name: ctx.url.searchParams.get("name") ?? "anon", said: 0 } };
      },
      in: (message, s) => {
        if (message === "/quit") return { stop: { code: 4000, reason: "bye" } };
        return { state: { ...s, said: s.said + 1 }, push: `${s.name}: ${message}` };
      },
    });
    const t = testContext({ url: "http://test/chat?name=ada" });
    const first = await room.init!(t.context);
    assert.equal(t.context.ref.isSubscribed("lobby"), true);
    const r1 = await room.in("hi", first!.state!);
    assert.deepEqual(r1, { state: { name: "ada", said: 1 }, push: "ada: hi" });
    const r2 = await room.in("/quit", r1!.state!);
    assert.deepEqual(r2, { stop: { code: 4000, reason: "bye" } });
  });
});
