// reconnecting({ positions: true }) carries the last position it received
// per topic (from sprig's envelope) into the next attempt's URL, and a
// server handler that resumes from resumeFrom(ctx.url, topic) gives the
// client every message once and in order across a dropped connection,
// with no bookkeeping in the application.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  openEnvelope,
  POSITIONS_PARAM,
  reconnecting,
  resumeFrom,
  resumePositions,
  type ResumeReport,
  serve,
  type Session,
} from "../../mod.ts";
import { until } from "../server/_hosts.ts";

describe("reconnecting({ positions: true })", () => {
  it("resumes every topic from the last position received: each message once, in order, across a drop", async () => {
    const urls: string[] = [];
    const reports: ResumeReport[] = [];
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      keepalive: false,
      topics: () => ({ retain: { messages: 1000 }, envelope: true }),
    }, {
      async init(ctx) {
        urls.push(ctx.url.href);
        for (const topic of ["prices", "news"]) {
          reports.push(await ctx.ref.resume(topic, resumeFrom(ctx.url, topic)));
        }
        return { state: undefined };
      },
      in: () => {},
    });
    const got: Array<{ topic: string; seq: number; data: string }> = [];
    const sessions: Session[] = [];
    const client = reconnecting(server.url, {
      positions: true,
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      message: (m) => {
        const opened = openEnvelope(m)!;
        got.push({ topic: opened.topic, seq: opened.position.seq, data: opened.data as string });
      },
      connected: ({ session }) => void sessions.push(session),
    });
    try {
      await until(() => sessions.length === 1 && reports.length === 2, "the first connection");
      for (let i = 0; i < 5; i++) {
        server.publish("prices", `p${i}`);
        server.publish("news", `n${i}`);
      }
      await until(() => got.length === 10, "the first ten");
      assert.deepEqual(client.positions.get("prices")?.seq, 5);
      // The network drops; more is published before the client is back.
      sessions[0]!.terminate();
      for (let i = 5; i < 12; i++) server.publish("prices", `p${i}`);
      server.publish("news", "n5");
      await until(() => sessions.length === 2 && reports.length === 4, "the second connection");
      for (let i = 12; i < 15; i++) server.publish("prices", `p${i}`);
      await until(() => got.length === 10 + 8 + 3, "every message", 10_000);

      // The first attempt carried nothing, the second the positions received.
      assert.equal(new URL(urls[0]!).searchParams.has(POSITIONS_PARAM), false);
      const carried = resumePositions(urls[1]!);
      assert.equal(carried.get("prices")?.seq, 5);
      assert.equal(carried.get("news")?.seq, 5);
      assert.deepEqual(reports.slice(2).map((r) => [r.topic, r.status, r.replayed]), [
        ["prices", "complete", 7],
        ["news", "complete", 1],
      ]);
      const of = (topic: string) => got.filter((g) => g.topic === topic);
      assert.deepEqual(
        of("prices").map((g) => g.data),
        Array.from({ length: 15 }, (_, i) => `p${i}`),
      );
      assert.deepEqual(of("prices").map((g) => g.seq), Array.from({ length: 15 }, (_, i) => i + 1));
      assert.deepEqual(of("news").map((g) => g.data), ["n0", "n1", "n2", "n3", "n4", "n5"]);
      assert.equal(client.positions.get("prices")?.seq, 15);
    } finally {
      await client.close();
    }
  });

  it("without the option, carries nothing and keeps no positions; a bad option is refused", async () => {
    const urls: string[] = [];
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      keepalive: false,
      topics: () => ({ retain: true, envelope: true }),
    }, {
      init(ctx) {
        urls.push(ctx.url.href);
        ctx.ref.subscribe("t");
        return { state: undefined };
      },
      in: () => {},
    });
    let n = 0;
    const client = reconnecting(server.url, { message: () => void n++ });
    try {
      await until(() => urls.length === 1, "connected");
      server.publish("t", "x");
      await until(() => n === 1, "a message");
      assert.equal(client.positions.size, 0);
      assert.equal(new URL(urls[0]!).searchParams.has(POSITIONS_PARAM), false);
    } finally {
      await client.close();
    }
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => reconnecting(server.url, { positions: "yes" as any }),
      (e: Error) => e instanceof TypeError && /options\.positions/.test(e.message),
    );
  });

  it("resumePositions leaves out what is malformed or forged", () => {
    const at = (value: string) => `ws://h/?${POSITIONS_PARAM}=${encodeURIComponent(value)}`;
    assert.deepEqual([...resumePositions("ws://h/")], []);
    assert.deepEqual([...resumePositions(at("not json"))], []);
    assert.deepEqual([...resumePositions(at("[1,2]"))], []);
    assert.deepEqual(
      [...resumePositions(at('{"a":["e",1],"b":["e",-1],"c":[2,3],"d":["e",1.5],"e":"x"}'))],
      [["a", { epoch: "e", seq: 1 }]],
    );
    const many = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, ["e", i]]));
    assert.equal(resumePositions(at(JSON.stringify(many))).size, 100);
    assert.equal(resumeFrom(at('{"a":["e",1]}'), "b"), undefined);
  });
});
