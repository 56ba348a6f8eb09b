/**
 * A live feed that survives a dropped connection: the topic keeps its last
 * 1,000 messages, each goes out in sprig's envelope with its position, and a
 * client that reconnects with the last position it saw gets what it missed,
 * then the live ones, each once and in order. A client that stops reading
 * gets only the latest price per symbol (the `latest` policy) instead of
 * growing the server's memory. Everything on 127.0.0.1, then it exits.
 *
 *   deno run -A examples/live_feed.ts
 *   bun examples/live_feed.ts
 *   npx tsx examples/live_feed.ts
 */
import { connect, openEnvelope, type Position, serve } from "../mod.ts";

const server = await serve({
  hostname: "127.0.0.1",
  port: 0,
  topics: (topic) =>
    topic === "prices"
      ? {
        retain: { messages: 1000, ms: 60_000 }, // the resume window
        envelope: true, // {"topic","epoch","seq","data"} on the wire
        slow: {
          policy: "latest", // a subscriber that falls behind gets the newest per symbol
          key: (data) => String(data).split(" ")[0], // the symbol
          maxPendingBytes: 256 * 1024,
          onReport: (r) => console.log(`server: a slow subscriber: ${r.conflated} replaced`),
        },
      }
      : undefined,
}, {
  async init(ctx) {
    // The client passes the last position it saw, if any.
    const epoch = ctx.url.searchParams.get("epoch");
    const seq = Number(ctx.url.searchParams.get("seq"));
    const report = await ctx.ref.resume("prices", epoch ? { epoch, seq } : undefined);
    const missed = report.missed ? `, missed ${report.missed.from}..${report.missed.to}` : "";
    // After the replay: the client learns what could not be recovered (here, nothing).
    return { push: `subscribed: ${report.status}, replayed ${report.replayed}${missed}` };
  },
  in: () => {},
});

let price = 100;
const publish = (n: number) => {
  for (let i = 0; i < n; i++) server.publish("prices", `SPRG ${(price += 0.01).toFixed(2)}`);
};

// A client reads 5 prices, then its connection drops without a close.
const seen: Position[] = [];
/** Reads `n` prices, and prints the server's subscription report when it comes. */
const read = async (ws: Awaited<ReturnType<typeof connect>>, n: number) => {
  for (let i = 0; i < n;) {
    const message = (await ws.receive({ timeoutMs: 5000 })) as string;
    const opened = openEnvelope(message);
    if (opened === undefined) console.log(`client: ${message}`);
    else (seen.push(opened.position), i++);
  }
};
let ws = await connect(server.url);
console.log(`client: ${await ws.receive({ timeoutMs: 5000 })}`); // subscribed
publish(5);
await read(ws, 5);
ws.terminate();
await ws.closed;
console.log(`client: dropped after seq ${seen.at(-1)!.seq}`);

publish(10); // while it is away

const last = seen.at(-1)!;
ws = await connect(new URL(`?epoch=${last.epoch}&seq=${last.seq}`, server.url));
await read(ws, 10); // the replay
console.log(`client: ${await ws.receive({ timeoutMs: 5000 })}`); // then the report
publish(5);
await read(ws, 5); // live
const seqs = seen.map((p) => p.seq);
const inOrder = seqs.every((s, i) => s === i + 1);
console.log(`client: got seq ${seqs[0]}..${seqs.at(-1)}, each once and in order: ${inOrder}`);
await ws.close();
await server.shutdown();
