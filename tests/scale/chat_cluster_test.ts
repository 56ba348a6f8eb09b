// examples/chat_cluster.ts as the "Done when" says: two instances on
// two ports with one redis-server behave as one chat. Every text message
// goes to every client of the room on both instances, the sender included,
// exactly once and in the sender's order; other rooms get nothing; the page
// is served.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { connect, detectRuntime, type Session } from "../../mod.ts";
import { freePort, RedisServer } from "./_redis.ts";
import { until } from "../server/_hosts.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const EXAMPLE = new URL("../../examples/chat_cluster.ts", import.meta.url).pathname;

async function startChat(port: number, redisUrl: string): Promise<ChildProcess> {
  const flags = ["--port", String(port), "--hostname", "127.0.0.1", "--redis", redisUrl];
  const [cmd, args] = runtime === "deno"
    ? [bin("deno"), ["run", "-A", "--no-check", EXAMPLE, ...flags]]
    : runtime === "bun"
    ? [bin("bun"), [EXAMPLE, ...flags]]
    : [bin("tsx"), [EXAMPLE, ...flags]];
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (t: string) => (out += t));
  await until(() => out.includes("listening on") || child.exitCode !== null, "the chat", 30_000);
  assert.match(out, new RegExp(`listening on http://127\\.0\\.0\\.1:${port}/`));
  return child;
}

describe(`examples/chat_cluster.ts: two instances, one redis-server (${runtime})`, () => {
  let redis: RedisServer;
  const chats: ChildProcess[] = [];
  const sessions: Session[] = [];
  let ports: number[] = [];

  before(async () => {
    redis = await RedisServer.start();
    ports = [await freePort(), await freePort()];
    for (const port of ports) chats.push(await startChat(port, redis.url));
  });

  after(async () => {
    await Promise.all(sessions.map((s) => s.close().catch(() => {})));
    await Promise.all(chats.map((c) =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
        c.once("exit", () => (clearTimeout(timer), resolve()));
        c.kill("SIGTERM");
      })
    ));
    await redis?.stop();
  });

  it("serves its page", async () => {
    const res = await fetch(`http://127.0.0.1:${ports[0]}/`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /new WebSocket/);
  });

  it("a room spans both instances: every message to every member, sender included, once and in order", async () => {
    const join = async (port: number, room: string) => {
      const ws = await connect(`ws://127.0.0.1:${port}/?room=${room}`);
      sessions.push(ws);
      const got: string[] = [];
      ws.on("message", (m) => void got.push(String(m)));
      return { ws, got };
    };
    const members = [
      await join(ports[0]!, "r"),
      await join(ports[0]!, "r"),
      await join(ports[1]!, "r"),
      await join(ports[1]!, "r"),
    ];
    const outsider = await join(ports[1]!, "elsewhere");
    // Until both instances' Redis subscriptions are in place (bounded).
    let marker = "";
    for (let i = 0; i < 100 && !members.every((m) => m.got.includes(marker)); i++) {
      marker = `hello-${i}`;
      await members[0]!.ws.send(marker);
      const started = Date.now();
      while (Date.now() - started < 200 && !members.every((m) => m.got.includes(marker))) {
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    assert.ok(members.every((m) => m.got.includes(marker)), "the room reaches both instances");
    const N = 50;
    for (let i = 0; i < N; i++) {
      for (const [k, m] of members.entries()) void m.ws.send(`${k}:${i}`);
    }
    const total = N * members.length;
    const after = (m: { got: string[] }) => m.got.slice(m.got.lastIndexOf(marker) + 1);
    await until(() => members.every((m) => after(m).length >= total), "every message", 30_000);
    for (const m of members) {
      const got = after(m);
      assert.equal(got.length, total, "exactly once");
      for (let k = 0; k < members.length; k++) {
        assert.deepEqual(
          got.filter((t) => t.startsWith(`${k}:`)),
          Array.from({ length: N }, (_, i) => `${k}:${i}`),
          `sender ${k}'s messages in its order`,
        );
      }
    }
    assert.deepEqual(outsider.got, []);
  });
});
