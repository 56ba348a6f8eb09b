/**
 * A client that outlives its server: sends N numbered messages about 20 ms
 * apart through a reconnecting client with the send queue on, and prints
 * what comes back. Kill the echo server midway and start it again on the
 * same port: the client reconnects, sends what waited, and goes on; no
 * message is sent (or echoed) twice.
 *
 *   deno run -A examples/reconnecting_client.ts --url ws://127.0.0.1:8080/ --count 100
 *   bun examples/reconnecting_client.ts --url ws://127.0.0.1:8080/ --count 100
 *   npx tsx examples/reconnecting_client.ts --url ws://127.0.0.1:8080/ --count 100
 *
 * Options: --url URL (required), --count N (default 50), --proxy URL
 * (http://host:port or socks5://host:port; "env" reads HTTP_PROXY and
 * friends). Prints `connected attempt=K` at each connection, `echo msg-i`
 * for each echo, and last `sent=N echoed=M connects=K`; exits 0.
 */
import process from "node:process";
import { reconnecting } from "../mod.ts";

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  return at === -1 || at + 1 >= args.length ? undefined : args[at + 1];
};
const url = option("--url");
const count = Number(option("--count") ?? "50");
const proxy = option("--proxy");
if (url === undefined || !Number.isInteger(count) || count < 1) {
  console.error("usage: reconnecting_client.ts --url URL --count N [--proxy URL]");
  process.exit(2);
}

const echoed = new Set<string>();
let allEchoed: (() => void) | undefined;
const client = reconnecting(url, {
  proxy,
  sendQueue: { maxMessages: count },
  // Reconnect quickly for the demonstration: waits of up to 100 ms, then 200, … up to 1 s.
  backoff: { initialDelayMs: 100, maxDelayMs: 1000 },
  connected: ({ attempt }) => console.log(`connected attempt=${attempt}`),
  message: (data) => {
    const text = String(data);
    if (echoed.has(text)) console.log(`duplicate ${text}`);
    echoed.add(text);
    console.log(`echo ${text}`);
    if (echoed.size === count) allEchoed?.();
  },
  disconnected: (event) => {
    const why = event.type === "closed" ? `closed ${event.code}` : event.error.message;
    console.log(`disconnected (${why}), retrying in ${event.delayMs} ms`);
  },
});

const sends: Promise<void>[] = [];
for (let i = 1; i <= count; i++) {
  // Queued while disconnected, sent in order once connected again.
  const sent = client.send(`msg-${i}`);
  sent.catch((error) => console.log(`msg-${i} not sent: ${error.message}`));
  sends.push(sent);
  await new Promise((resolve) => setTimeout(resolve, 20));
}

// Every send settles: written on some connection, or refused. Queued ones
// wait for a connection (bounded, so a server that never returns ends it).
const timeout = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
await Promise.race([Promise.allSettled(sends), timeout(30_000)]);
// Then up to 2 s for the last echoes.
if (echoed.size < count) {
  await Promise.race([new Promise<void>((resolve) => (allEchoed = resolve)), timeout(2000)]);
}
const { connections } = await client.close();
console.log(`sent=${count} echoed=${echoed.size} connects=${connections}`);
process.exit(0);
