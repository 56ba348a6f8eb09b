// examples/live_feed_server.ts in headless Chromium (playwright-core driving
// /usr/bin/chromium): the page subscribes to the feed, the server process is
// killed (SIGKILL) and started again on the same port, the page reconnects
// by itself with the last position it received, and every price arrives
// exactly once, in order: one epoch (the history lives in a Redis Stream, in
// a redis-server the test starts), the seqs contiguous. The server runs on
// the runtime running the test.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { detectRuntime } from "../../mod.ts";
import { freePort, redisCommand, RedisServer } from "../scale/_redis.ts";
import { runJson } from "../_helpers/peer.ts";
import { until } from "../server/_hosts.ts";

const runtime = detectRuntime();
const bin = (name: string) => new URL(`../../node_modules/.bin/${name}`, import.meta.url).pathname;
const EXAMPLE = new URL("../../examples/live_feed_server.ts", import.meta.url).pathname;
const WANT = 120;

/** The example's process, and what it printed. */
class Feed {
  out = "";
  readonly child: ChildProcess;
  constructor(port: number, redisUrl: string) {
    const flags = ["--port", String(port), "--redis", redisUrl, "--every", "20"];
    const [cmd, args] = runtime === "deno"
      ? [bin("deno"), ["run", "-A", "--no-check", EXAMPLE, ...flags]]
      : runtime === "bun"
      ? [bin("bun"), [EXAMPLE, ...flags]]
      // Node runs tsx's loader in this process (not the tsx launcher, whose child a kill would miss).
      : [process.execPath, ["--import", "tsx", EXAMPLE, ...flags]];
    this.child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (t: string) => (this.out += t));
  }

  async ready(): Promise<void> {
    await until(
      () => this.out.includes("listening on") || this.child.exitCode !== null,
      "the feed",
      30_000,
    );
    assert.match(this.out, /listening on http:\/\/127\.0\.0\.1:\d+\//);
  }

  /** SIGKILL, as a crash; resolves once the process is gone. */
  kill(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      c.once("exit", () => resolve());
      c.kill("SIGKILL");
    });
  }
}

/** Entries in the topic's stream (how many prices were published). */
async function published(port: number): Promise<number> {
  return Number((await redisCommand(port, ["XLEN", "sprig:s:prices"])).slice(1));
}

describe(`examples/live_feed_server.ts in Chromium, its server killed and restarted (${runtime})`, () => {
  let redis: RedisServer | undefined;
  const feeds: Feed[] = [];
  after(async () => {
    await Promise.all(feeds.map((f) => f.kill()));
    await redis?.stop();
  });

  it("the page reconnects with its last position: every price once, in order, across the restart", async () => {
    redis = await RedisServer.start();
    const port = await freePort();
    const first = new Feed(port, redis.url);
    feeds.push(first);
    await first.ready();
    const page = runJson("node", [
      new URL("../_peers/chromium_client.mjs", import.meta.url).pathname,
      `http://127.0.0.1:${port}/?want=${WANT}`,
      "60000",
    ]) as Promise<{ result?: Record<string, unknown>; error?: string }>;
    // The page is subscribed and has had some prices: then the server crashes.
    await until(() => first.out.includes("a client subscribed"), "the page's subscription", 30_000);
    const atSubscribe = await published(redis.port);
    for (let i = 0; i < 500 && (await published(redis.port)) < atSubscribe + 30; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    await first.kill();
    const second = new Feed(port, redis.url);
    feeds.push(second);
    await second.ready();
    const r = await page;
    assert.equal(r.error, undefined, String(r.error));
    const result = r.result as {
      got: Array<[string, number, string]>;
      reports: Array<{ status: string; replayed: number }>;
      connections: number;
    };
    const seqs = result.got.map((g) => g[1]);
    assert.ok(seqs.length >= WANT);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i),
      "every seq once, in order, from the first the page saw",
    );
    assert.equal(new Set(result.got.map((g) => g[0])).size, 1, "one epoch: the history survived");
    assert.ok(result.connections >= 2, "the page reconnected");
    assert.equal(result.reports[0]?.status, "live");
    assert.ok(
      result.reports.slice(1).every((x) => x.status === "complete"),
      JSON.stringify(result.reports),
    );
    assert.match(second.out, /a client subscribed: complete/);
  });
});
