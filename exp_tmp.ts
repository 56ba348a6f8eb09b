import { spawn } from "node:child_process";
import * as net from "node:net";
import { createClient } from "redis";
import Redis from "ioredis";

async function freePort(): Promise<number> {
  return await new Promise((res) => { const s = net.createServer(); s.listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => res(p)); }); });
}
function startRedis(port: number) {
  return spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const port = await freePort();
let rs = startRedis(port);
await sleep(300);
const url = `redis://127.0.0.1:${port}`;
const log = (...a: unknown[]) => console.log(Date.now() % 100000, ...a);
const which = process.argv[2] ?? "node-redis";
let pub: any, sub: any;
if (which === "node-redis") {
  pub = createClient({ url }); sub = createClient({ url });
  for (const [n, c] of [["pub", pub], ["sub", sub]] as const) for (const e of ["ready", "end", "error", "reconnecting", "connect"]) c.on(e, (x: unknown) => log(n, e, String(x ?? "")));
  await pub.connect(); await sub.connect();
  await sub.subscribe("ch", (m: string, c: string) => log("MSG", m, c));
} else if (which === "ioredis") {
  pub = new Redis(url); sub = new Redis(url);
  for (const [n, c] of [["pub", pub], ["sub", sub]] as const) for (const e of ["ready", "end", "error", "reconnecting", "close", "connect"]) c.on(e, (x: unknown) => log(n, e, String(x ?? "")));
  sub.on("message", (c: string, m: string) => log("MSG", m, c));
  await sub.subscribe("ch");
} else {
  const { RedisClient } = await import("bun" as string);
  pub = new RedisClient(url); sub = new RedisClient(url);
  for (const [n, c] of [["pub", pub], ["sub", sub]] as const) { c.onconnect = () => log(n, "onconnect"); c.onclose = (e: Error) => log(n, "onclose", String(e)); }
  await pub.connect(); await sub.connect();
  await sub.subscribe("ch", (m: string, c: string) => log("MSG", m, c));
}
log("publish 1", await pub.publish("ch", "one").catch((e: Error) => "ERR " + e));
rs.kill("SIGKILL");
await sleep(200);
const p2 = pub.publish("ch", "two-during-outage").then((x: unknown) => log("two ok", x), (e: Error) => log("two ERR", String(e)));
await sleep(1500);
rs = startRedis(port);
await sleep(3000);
log("publish 3", await pub.publish("ch", "three").catch((e: Error) => "ERR " + e));
await sleep(500);
await p2;
rs.kill("SIGKILL");
await sleep(100);
process.exit(0);
