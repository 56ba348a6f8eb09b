/**
 * One sprig server instance for the broker tests, in its own process:
 *   <runtime> tests/scale/_instance.ts REDIS_URL [history]
 * Prints `LISTENING <port>`, then one line `BROKER <code> <lost>` per
 * BrokerError; exits when its stdin closes. The Redis client is the
 * runtime's: Bun's RedisClient on Bun, node-redis on Deno, ioredis (through
 * ioredisClient) on Node, so each client is exercised.
 *
 * Clients connect with `?topic=T` to subscribe to T, and send commands:
 *   `pub <topic> <text>`      publish text (to every instance, sender included)
 *   `bin <topic> <hex>`       publish bytes
 *   `unsub <topic>`           unsubscribe this connection; answered `unsubscribed <topic>`
 *   `sub <topic>`             subscribe; answered `subscribed <topic>`
 *
 * With `history`, the broker keeps topic history in Redis Streams and a
 * topic named `h<N>:<name>` keeps its last N messages, in sprig's envelope
 * (`h<N>ms<M>:<name>`: and none older than M milliseconds).
 * A client connecting with `?resume=T` (and `&epoch=E&seq=S`, its last
 * position) resumes T and is sent `REPORT <the ResumeReport as JSON>`.
 */

import { serve } from "../../mod.ts";
import type { Position } from "../../lib/session/envelope.ts";
import { BrokerError } from "../../lib/errors.ts";
import { ioredisClient, redisBroker, type RedisPubSubClient } from "../../lib/scale/mod.ts";

const g = globalThis as {
  Deno?: {
    args: string[];
    stdin: { readable: ReadableStream<Uint8Array> };
    exit(c: number): never;
  };
  Bun?: { RedisClient: new (url: string) => RedisPubSubClient & { connect(): Promise<void> } };
  process?: {
    argv: string[];
    stdin: { on(e: string, f: () => void): void; resume(): void };
    exit(c: number): never;
  };
};
const url = g.Deno ? g.Deno.args[0]! : g.process!.argv[2]!;
const history = (g.Deno ? g.Deno.args[1] : g.process!.argv[3]) === "history";

let publisher: RedisPubSubClient, subscriber: RedisPubSubClient;
if (g.Bun) {
  const p = new g.Bun.RedisClient(url), s = new g.Bun.RedisClient(url);
  await Promise.all([p.connect(), s.connect()]);
  publisher = p;
  subscriber = s;
} else if (g.Deno) {
  const { createClient } = await import("redis");
  const p = createClient({ url, socket: { reconnectStrategy: () => 100 } });
  const s = p.duplicate();
  p.on("error", () => {});
  s.on("error", () => {});
  await Promise.all([p.connect(), s.connect()]);
  publisher = p;
  subscriber = s;
} else {
  const { Redis } = await import("ioredis");
  const options = { retryStrategy: () => 100, maxRetriesPerRequest: null };
  const p = new Redis(url, options), s = new Redis(url, options);
  p.on("error", () => {});
  s.on("error", () => {});
  publisher = ioredisClient(p);
  subscriber = ioredisClient(s);
}

const broker = redisBroker({
  publisher,
  subscriber,
  reportIntervalMs: 20,
  history,
  onError: (e: BrokerError) => {
    if (!(e instanceof BrokerError)) throw new Error("not a BrokerError");
    console.log(`BROKER ${e.code} ${e.lost}`);
  },
});

const hex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((h) => parseInt(h, 16)));

const server = await serve<
  { ref: { subscribe(t: string): boolean; unsubscribe(t: string): boolean } }
>({
  hostname: "127.0.0.1",
  port: 0,
  broker,
  keepalive: false,
  topics: (topic) => {
    const n = /^h(\d+)(?:ms(\d+))?:/.exec(topic);
    if (!n) return undefined;
    const ms = n[2] === undefined ? undefined : Number(n[2]);
    return { retain: { messages: Number(n[1]), ms }, envelope: true };
  },
}, {
  init: async (ctx) => {
    const params = ctx.url.searchParams;
    const topic = params.get("topic");
    if (topic) ctx.ref.subscribe(topic);
    const resume = params.get("resume");
    if (resume) {
      const epoch = params.get("epoch");
      const from: Position | undefined = epoch === null
        ? undefined
        : { epoch, seq: Number(params.get("seq")) };
      const report = await ctx.ref.resume(resume, from);
      return { state: { ref: ctx.ref }, push: `REPORT ${JSON.stringify(report)}` };
    }
    return { state: { ref: ctx.ref } };
  },
  in: (message, state) => {
    if (typeof message !== "string") return;
    const [command, topic = "", ...rest] = message.split(" ");
    const text = rest.join(" ");
    if (command === "pub") server.publish(topic, text);
    else if (command === "bin") server.publish(topic, hex(text));
    else if (command === "unsub") {
      state.ref.unsubscribe(topic);
      return { push: `unsubscribed ${topic}` };
    } else if (command === "sub") {
      state.ref.subscribe(topic);
      return { push: `subscribed ${topic}` };
    }
  },
});
console.log(`LISTENING ${server.port}`);

const exit = () => (g.Deno ? g.Deno.exit(0) : g.process!.exit(0));
if (g.Deno) {
  (async () => {
    for await (const _ of g.Deno!.stdin.readable) { /* until closed */ }
    exit();
  })();
} else {
  g.process!.stdin.on("end", exit);
  g.process!.stdin.on("close", exit);
  g.process!.stdin.resume();
}
