// reconnecting({ resend: true }) with a handler wrapped in resendable():
// every message the application sends through client.send() reaches the
// handler exactly once, in order, when the client's socket is destroyed
// mid-stream (taken-but-unacknowledged messages are re-sent and dropped
// as duplicates) and when the server is restarted in the same process
// with the same store.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type MessageData,
  reconnecting,
  resendable,
  resendStore,
  SendQueueFullError,
  serve,
  type Session,
  SESSION_PARAM,
} from "../../mod.ts";
import { until } from "../server/_hosts.ts";

const N = 400;
const expected = Array.from({ length: N }, (_, i) => `m${i}`);

describe("reconnecting({ resend: true }) with resendable()", () => {
  it("a socket destroyed mid-stream: each message once, in order; lost acks are dropped as duplicates", async () => {
    // Acknowledge every 50 messages and (practically) never by timer, so the drop at 120 leaves
    // messages 101..120 taken but unacknowledged: the client re-sends them, the store drops them.
    const store = resendStore({ ackEvery: 50, ackDelayMs: 60_000 });
    const got: string[] = [];
    const urls: string[] = [];
    const sessions: Session[] = [];
    let dropped = false;
    await using server = await serve(
      { hostname: "127.0.0.1", port: 0, keepalive: false },
      resendable({
        init: async (ctx) => {
          urls.push(ctx.url.href);
          // The store's first acknowledgement goes out once init returned; holding the second
          // init until the client re-sent what it kept makes the duplicates certain.
          if (urls.length === 2) await until(() => sessions.length === 2, "the re-sends");
        },
        in: (message: MessageData) => {
          got.push(String(message));
          if (got.length === 120 && !dropped) {
            dropped = true;
            sessions[0]!.terminate(); // the client's socket, destroyed with sends in flight
          }
        },
      }, store),
    );
    const client = reconnecting(server.url, {
      resend: true,
      backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      connected: ({ session }) => void sessions.push(session),
    });
    try {
      await until(() => sessions.length === 1, "the first connection");
      const sends: Promise<void>[] = [];
      for (let i = 0; i < N; i++) {
        sends.push(client.send(expected[i]!));
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 1)); // a stream, not one write
      }
      await until(() => got.length >= N && sessions.length >= 2, "every message", 15_000);
      assert.deepEqual(got, expected);
      assert.ok(sessions.length >= 2, "reconnected");
      assert.ok(store.stats.duplicates > 0, "some re-sent messages had been taken already");
      assert.equal(store.stats.delivered, N);
      // Every send resolves once acknowledged (the last ones by ackEvery or the next init).
      await until(() => client.queuedMessages < 50, "the acknowledgements");
      await Promise.all(sends.slice(0, N - 50));
      const id = client.sessionId;
      assert.match(id, /^[0-9a-f]{32}$/);
      assert.ok(urls.every((u) => new URL(u).searchParams.get(SESSION_PARAM) === id));
      assert.equal(store.last(id), N);
    } finally {
      await client.close();
    }
  });

  it("the server restarted in the same process with the same store: each message once, in order", async () => {
    const store = resendStore();
    const got: string[] = [];
    const handler = resendable({ in: (m: MessageData) => void got.push(String(m)) }, store);
    let server = await serve({ hostname: "127.0.0.1", port: 0, keepalive: false }, handler);
    const port = server.port;
    const sessions: Session[] = [];
    const client = reconnecting(server.url, {
      resend: true,
      backoff: { initialDelayMs: 1, maxDelayMs: 20 },
      connected: ({ session }) => void sessions.push(session),
    });
    try {
      const first = expected.slice(0, N / 2).map((m) => client.send(m));
      await until(() => got.length >= 100, "the first messages");
      await server.shutdown(); // clients closed with 1001, mid-stream
      server = await serve({ hostname: "127.0.0.1", port, keepalive: false }, handler);
      const second = expected.slice(N / 2).map((m) => client.send(m));
      await until(() => got.length >= N, "every message", 15_000);
      await Promise.all([...first, ...second]);
      assert.deepEqual(got, expected);
      assert.ok(sessions.length >= 2, "reconnected to the new server");
      assert.equal(store.size, 1);
      assert.equal(client.queuedMessages, 0);
    } finally {
      await client.close();
      await server.shutdown();
    }
  });

  it("bounded: past maxMessages a send rejects with SendQueueFullError, nothing dropped", async () => {
    // A server that does not acknowledge (no resendable): nothing is ever acknowledged.
    const got: string[] = [];
    await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
      in: (m) => void got.push(String(m)),
    });
    const client = reconnecting(server.url, { resend: { maxMessages: 2 } });
    try {
      void client.send("a");
      void client.send("b");
      await assert.rejects(client.send("c"), SendQueueFullError);
      await until(() => got.length === 2, "the two numbered messages");
      assert.deepEqual(got, ["1:a", "2:b"]);
      assert.equal(client.queuedMessages, 2);
      const small = reconnecting(server.url, { resend: { maxBytes: 3 } });
      await assert.rejects(small.send("four"), SendQueueFullError);
      await small.close();
      assert.throws(
        () => reconnecting(server.url, { resend: true, sendQueue: true }),
        TypeError,
      );
    } finally {
      await client.close();
    }
  });

  it("a client without resend passes through a resendable handler unchanged", async () => {
    const got: string[] = [];
    await using server = await serve(
      { hostname: "127.0.0.1", port: 0 },
      resendable({ in: (m: MessageData) => ({ push: `echo ${String(m)}` }) }),
    );
    const client = reconnecting(server.url);
    try {
      for await (const ws of client) {
        await ws.send("7:plain");
        got.push(String(await ws.receive({ timeoutMs: 5000 })));
        break;
      }
      assert.deepEqual(got, ["echo 7:plain"]);
    } finally {
      await client.close();
    }
  });
});
