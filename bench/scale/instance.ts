/**
 * A bench server: `<runtime> bench/scale/instance.ts MODE PORT [REDIS_URL]`.
 * MODE `fanout`: clients with `?sub` subscribe to topic "t"; a client's
 * message is published to "t" (through Redis when REDIS_URL is given).
 * MODE `echo`: an echo server; `echo-cluster` runs one per core with
 * runCluster and reusePort. Prints `LISTENING <port>`.
 */
import { serve } from "../../mod.ts";
import { redisBroker, type RedisPubSubClient, runCluster } from "../../lib/scale/mod.ts";

const g = globalThis as {
  Deno?: { args: string[] };
  Bun?: { RedisClient: new (url: string) => RedisPubSubClient & { connect(): Promise<void> } };
  process?: { argv: string[] };
};
const [mode, portText, redisUrl] = g.Deno ? g.Deno.args : g.process!.argv.slice(2);
const port = Number(portText);

async function broker() {
  if (!redisUrl) return undefined;
  if (g.Bun) {
    const p = new g.Bun.RedisClient(redisUrl), s = new g.Bun.RedisClient(redisUrl);
    await Promise.all([p.connect(), s.connect()]);
    return redisBroker({ publisher: p, subscriber: s });
  }
  const { createClient } = await import("redis");
  const p = createClient({ url: redisUrl });
  const s = p.duplicate();
  await Promise.all([p.connect(), s.connect()]);
  return redisBroker({ publisher: p, subscriber: s });
}

const common = {
  hostname: "127.0.0.1",
  port,
  compression: false,
  keepalive: false as const,
  maxConnections: 100_000,
};

if (mode === "fanout") {
  const b = await broker();
  const server = await serve({ ...common, ...(b ? { broker: b } : {}) }, {
    init: (ctx) => void (ctx.url.searchParams.has("sub") && ctx.ref.subscribe("t")),
    in: (message) => void server.publish("t", message),
  });
  console.log(`LISTENING ${server.port}`);
} else if (mode === "echo") {
  const server = await serve(common, { in: (m) => ({ push: m }) });
  console.log(`LISTENING ${server.port}`);
} else {
  const cluster = await runCluster(() =>
    serve({ ...common, reusePort: true }, { in: (m) => ({ push: m }) })
  );
  if (cluster.role === "primary") {
    await cluster.ready;
    console.log(`LISTENING ${port}`);
  }
}
