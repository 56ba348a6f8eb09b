// reconnecting(): against sprig's own server on 127.0.0.1, which the tests
// stop and start again on the same port. The clock and the random source
// are injected (options.sleep, options.random), so the backoff delays are
// checked exactly and nothing waits on a timer.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import dc from "node:diagnostics_channel";
import {
  ArgumentRangeError,
  HandshakeError,
  InvalidArgumentError,
  NotConnectedError,
  reconnecting,
  type ReconnectingClient,
  type ReconnectingOptions,
  SendQueueFullError,
  serve,
  type Server,
  type Session,
  type Telemetry,
  TelemetryChannels,
} from "../../mod.ts";
import { closePayload, rawFrame, rawServer, type RawSocket } from "../_helpers/raw_peer.ts";

/** sprig's echo server on a fixed port, stopped and started again by the test. */
class TestServer {
  server: Server | undefined;
  port = 0;
  /** Request headers of every upgrade request, in order. */
  readonly requests: Headers[] = [];
  /** Messages received, per connection (in order of connection). */
  readonly received: string[][] = [];
  /** How each connection ended, as the server saw it. */
  readonly ends: Array<{ type: string; code: number; reason: string }> = [];
  /** Statuses to refuse the next upgrades with (one each), with headers. */
  refusals: Array<{ status: number; headers?: HeadersInit }> = [];

  async start(): Promise<this> {
    const received = this.received;
    const ends = this.ends;
    this.server = await serve({
      hostname: "127.0.0.1",
      port: this.port,
      compression: false,
      upgrade: (request) => {
        this.requests.push(request.headers);
        const refusal = this.refusals.shift();
        if (refusal) {
          return new Response("refused", { status: refusal.status, headers: refusal.headers });
        }
      },
    }, {
      init: () => {
        const log: string[] = [];
        received.push(log);
        return { state: log };
      },
      in: (message: string | Uint8Array, log: string[]) => {
        const text = String(message);
        log.push(text);
        if (text === "policy") return { stop: { code: 1008, reason: "policy" } };
        return { push: text };
      },
      terminate: (reason) => {
        ends.push({ type: reason.type, code: reason.code, reason: reason.reason });
      },
    });
    this.port = this.server.port;
    return this;
  }

  async stop(): Promise<void> {
    await this.server?.shutdown({ deadlineMs: 2000 });
    this.server = undefined;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }
}

const servers: TestServer[] = [];
const clients: ReconnectingClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  for (const s of servers.splice(0)) await s.stop();
});

async function startServer(): Promise<TestServer> {
  const s = await new TestServer().start();
  servers.push(s);
  return s;
}

function client(url: string, options: ReconnectingOptions): ReconnectingClient {
  const c = reconnecting(url, { onError: () => {}, ...options });
  clients.push(c);
  return c;
}

/** A promise and its resolver. */
function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A random source returning `values` in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

describe("reconnecting(): backoff, attempts, headers, queue", () => {
  it("reconnects after a restart on the same port, with delays from the policy and fresh headers", async () => {
    const server = await startServer();
    const delays: number[] = [];
    const connected: Array<[number, number]> = [];
    let token = 0;
    const up = deferred<Session>();
    const again = deferred<Session>();
    const queued: Promise<void>[] = [];
    const c = client(server.url, {
      // Connections that last are the subject here: this one's length does not matter.
      backoff: { initialDelayMs: 1000, maxDelayMs: 3000, multiplier: 2, stableAfterMs: 0 },
      random: sequence(0.5, 0, 0.999),
      sendQueue: true,
      headers: ({ attempt, connections }) => ({
        authorization: `Bearer token-${++token}`,
        "x-attempt": `${connections}.${attempt}`,
      }),
      connected: ({ session, attempt, connection }) => {
        connected.push([attempt, connection]);
        (connection === 1 ? up : again).resolve(session);
      },
      sleep: async (ms) => {
        delays.push(ms);
        if (delays.length === 2) {
          // Down: these wait in the queue, in order.
          for (let i = 1; i <= 5; i++) queued.push(c.send(`q-${i}`));
          assert.equal(c.queuedMessages, 5);
        }
        if (delays.length === 3) await server.start(); // back, on the same port
      },
    });
    const first = await up.promise;
    await c.send("before");
    assert.equal(await first.receive({ timeoutMs: 5000 }), "before");
    await server.stop();
    const second = await again.promise;
    await Promise.all(queued);
    await c.send("after");
    assert.equal(await second.receive({ timeoutMs: 5000 }), "q-1");
    for (let i = 2; i <= 5; i++) assert.equal(await second.receive({ timeoutMs: 5000 }), `q-${i}`);
    assert.equal(await second.receive({ timeoutMs: 5000 }), "after");

    // Attempt 1 after the loss waits up to 1 s, attempt 2 up to 2 s, attempt 3 up to 3 s (the cap).
    assert.deepEqual(delays, [500, 0, 2997]);
    assert.deepEqual(connected, [[1, 1], [3, 2]]);
    // Fresh headers per attempt: tokens 2 and 3 went to attempts that found nobody listening.
    assert.deepEqual(server.requests.map((h) => h.get("authorization")), [
      "Bearer token-1",
      "Bearer token-4",
    ]);
    assert.deepEqual(server.requests.map((h) => h.get("x-attempt")), ["0.1", "1.3"]);
    // Queued sends were delivered in order, exactly once, on the new connection.
    assert.deepEqual(server.received, [["before"], ["q-1", "q-2", "q-3", "q-4", "q-5", "after"]]);
    assert.equal(c.connections, 2);
  });

  it("without a queue, a send between connections is a NotConnectedError", async () => {
    const server = await startServer();
    const up = deferred();
    const slept = deferred();
    const failures: unknown[] = [];
    const c = client(server.url, {
      random: () => 0,
      connected: () => up.resolve(),
      sleep: async () => {
        failures.push(await c.send("lost").catch((e) => e));
        slept.resolve();
      },
    });
    await up.promise;
    await server.stop();
    await slept.promise;
    await c.close();
    assert.equal(failures.length, 1);
    assert.ok(failures[0] instanceof NotConnectedError);
    assert.equal((failures[0] as NotConnectedError).code, "NOT_CONNECTED");
  });

  it("a full queue rejects the new send, or drops the oldest, with SendQueueFullError", async () => {
    // Nothing listens: every send waits in the queue.
    const server = await startServer();
    await server.stop();
    const never = () => new Promise<void>(() => {});
    const c = client(server.url, { sendQueue: { maxMessages: 2 }, sleep: never });
    const a = c.send("a");
    const b = c.send("b");
    await assert.rejects(
      c.send("c"),
      (e: unknown) =>
        e instanceof SendQueueFullError && e.code === "SEND_QUEUE_FULL" && e.limit === 2,
    );
    const d = client(server.url, {
      sendQueue: { maxMessages: 2, whenFull: "drop-oldest" },
      sleep: never,
    });
    const first = d.send("1");
    void d.send("2").catch(() => {});
    void d.send("3").catch(() => {});
    await assert.rejects(first, SendQueueFullError);
    assert.equal(d.queuedMessages, 2);
    // Stopping rejects what is still queued.
    await c.close();
    await assert.rejects(a, NotConnectedError);
    await assert.rejects(b, NotConnectedError);
  });
});

describe("reconnecting(): when it stops", () => {
  it("a deliberate close() from a callback stops it: no further attempt", async () => {
    const server = await startServer();
    let sleeps = 0;
    const c = client(server.url, {
      sleep: () => Promise.resolve(void sleeps++),
      connected: async () => {
        // Awaiting close() inside a callback does not wait for itself.
        await c.close(4000, "bye");
      },
    });
    const end = await c.closed;
    assert.equal(end.reason, "closed");
    assert.equal(end.connections, 1);
    assert.equal(end.lastClose?.code, 4000);
    assert.equal(end.lastClose?.wasClean, true);
    assert.equal(sleeps, 0);
    assert.deepEqual(server.ends, [{ type: "remote", code: 4000, reason: "bye" }]);
    assert.equal(c.state, "closed");
  });

  it("a 403 refusal stops the loop, which throws the HandshakeError", async () => {
    const server = await startServer();
    server.refusals.push({ status: 403 });
    let sleeps = 0;
    const c = client(server.url, { sleep: () => Promise.resolve(void sleeps++) });
    const seen: Session[] = [];
    await assert.rejects(
      (async () => {
        for await (const ws of c) seen.push(ws);
      })(),
      (e: unknown) => e instanceof HandshakeError && e.status === 403,
    );
    assert.equal(seen.length, 0);
    assert.equal(sleeps, 0);
    assert.equal((await c.closed).reason, "refused");
  });

  it("a 503 is retried, after at least its Retry-After", async () => {
    const server = await startServer();
    server.refusals.push({ status: 503, headers: { "retry-after": "2" } }, { status: 503 });
    const delays: number[] = [];
    const up = deferred<number>();
    const c = client(server.url, {
      random: () => 0,
      backoff: { initialDelayMs: 100, maxDelayMs: 10_000 },
      sleep: (ms) => Promise.resolve(void delays.push(ms)),
      connected: ({ attempt }) => up.resolve(attempt),
    });
    assert.equal(await up.promise, 3);
    assert.deepEqual(delays, [2000, 0]);
    assert.equal(c.connections, 1);
  });

  it("a close code in stopOnCloseCodes (1008 by default) stops it; another reconnects", async () => {
    const server = await startServer();
    const c = client(server.url, { random: () => 0, sleep: () => Promise.resolve() });
    let iterations = 0;
    for await (const ws of c) {
      if (++iterations === 1) {
        await ws.send("hello");
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
        await server.stop(); // closes with 1001: the client reconnects
        await server.start();
      } else {
        await ws.send("policy");
        for await (const _ of ws) { /* until the server closes with 1008 */ }
      }
    }
    const end = await c.closed;
    assert.equal(end.reason, "close-code");
    assert.equal(end.lastClose?.code, 1008);
    assert.equal(end.connections, 2);
  });

  it("disconnected() decides by shape: { retry: true } against a 403, { retry: false } to stop, { delayMs }", async () => {
    const server = await startServer();
    server.refusals.push({ status: 403 });
    const delays: number[] = [];
    const events: Array<[string, boolean, number]> = [];
    const up = deferred();
    const c = client(server.url, {
      sleep: (ms) => Promise.resolve(void delays.push(ms)),
      disconnected: (event, attempt) => {
        events.push([event.type, event.reconnect, attempt]);
        if (event.type === "failed") return { retry: true }; // retry the 403 anyway
        return { retry: false };
      },
      backoff: { stableAfterMs: 0 },
      connected: () => up.resolve(),
    });
    await up.promise;
    await server.stop();
    const end = await c.closed;
    assert.equal(end.reason, "decided");
    assert.deepEqual(events, [["failed", false, 2], ["closed", true, 1]]);
    assert.equal(delays.length, 1);

    const s2 = await startServer();
    s2.refusals.push({ status: 500 });
    const d = client(s2.url, {
      sleep: (ms) => Promise.resolve(void delays.push(ms)),
      disconnected: () => ({ delayMs: 1234 }),
    });
    for await (const ws of d) {
      await ws.close();
      break;
    }
    assert.equal(delays.at(-1), 1234);
  });

  it("disconnected() returning anything but a decision follows the policy: (e) => log.push(e) cannot override maxAttempts", async () => {
    const server = await startServer();
    await server.stop();
    const log: unknown[] = [];
    const delays: number[] = [];
    const c = client(server.url, {
      random: () => 0.5,
      backoff: { initialDelayMs: 100, maxAttempts: 4 },
      sleep: (ms) => Promise.resolve(void delays.push(ms)),
      // A number (what log.push returns), then booleans and a foreign object: none decides.
      disconnected: ((e: unknown) => {
        const n = log.push(e);
        return [n, true, false, { delay: 1 }][n - 1];
      }) as unknown as ReconnectingOptions["disconnected"],
    });
    const end = await c.closed;
    assert.equal(end.reason, "gave-up");
    assert.equal(log.length, 4);
    // The policy's delays, not the returned numbers: half the cap before attempts 2, 3, 4.
    assert.deepEqual(delays, [100, 200, 400]);
    // A delay out of range is an error, reported and stopping the client.
    const errors: unknown[] = [];
    const d = client(server.url, {
      onError: (e) => errors.push(e),
      sleep: () => Promise.resolve(),
      disconnected: () => ({ delayMs: -1 }),
    });
    const dEnd = await d.closed;
    assert.equal(dEnd.reason, "failed");
    assert.ok(dEnd.error instanceof RangeError && /delayMs must be/.test(dEnd.error.message));
    assert.equal(errors[0], dEnd.error);
  });

  it("maxAttempts: gives up after that many failed attempts in a row, with the last error", async () => {
    const server = await startServer();
    await server.stop();
    let sleeps = 0;
    const c = client(server.url, {
      backoff: { maxAttempts: 3 },
      sleep: () => Promise.resolve(void sleeps++),
    });
    const end = await c.closed;
    assert.equal(end.reason, "gave-up");
    assert.equal((end.error as { code?: string }).code, "CONNECT_REFUSED");
    assert.equal(sleeps, 2);
  });

  it("the loop ends cleanly on abort, while connected and while waiting", async () => {
    const server = await startServer();
    const controller = new AbortController();
    const c = client(server.url, { signal: controller.signal });
    const sessions: Session[] = [];
    for await (const ws of c) {
      sessions.push(ws);
      controller.abort();
    }
    assert.equal((await c.closed).reason, "aborted");
    assert.equal((await sessions[0].closed).code, 1001);

    await server.stop();
    const waiting = new AbortController();
    const asleep = deferred();
    const d = client(server.url, {
      signal: waiting.signal,
      sleep: (_ms, signal) => {
        asleep.resolve();
        return new Promise((resolve) => signal.addEventListener("abort", () => resolve()));
      },
    });
    await asleep.promise;
    assert.equal(d.state, "waiting");
    waiting.abort();
    assert.equal((await d.closed).reason, "aborted");
  });
});

describe("reconnecting(): no reconnect storm (RFC 6455 §7.2.3), Retry-After as a date (RFC 9110 §10.2.3)", () => {
  const drops: Array<[string, number, (s: RawSocket) => void]> = [
    ["drops the TCP connection at once", 1006, (s) => s.socket.destroy()],
    ["closes with 1011 at once", 1011, (s) => {
      s.write(rawFrame(0x88, closePayload(1011), false));
      s.socket.end();
    }],
  ];
  for (const [what, code, drop] of drops) {
    it(`a server that accepts and ${what}: each short connection is a failed attempt, the delays grow, maxAttempts stops it`, async () => {
      const server = await rawServer(drop);
      try {
        const delays: number[] = [];
        const events: Array<[string, number, boolean, number]> = [];
        const c = client(server.url, {
          random: () => 0.5,
          backoff: { initialDelayMs: 100, maxAttempts: 5 },
          sleep: (ms) => Promise.resolve(void delays.push(ms)),
          disconnected: (e, attempt) => {
            events.push([e.type, e.type === "closed" ? e.code : 0, e.failure, attempt]);
          },
        });
        const end = await c.closed;
        assert.equal(end.reason, "gave-up");
        assert.equal(end.connections, 5);
        assert.ok(end.error instanceof NotConnectedError, String(end.error));
        assert.deepEqual(events, [2, 3, 4, 5, 6].map((n) => ["closed", code, true, n]));
        // Half of a cap that doubles: 100 × 2^(n−2) / 2 before attempt n.
        assert.deepEqual(delays, [100, 200, 400, 800]);

        // stableAfterMs: 0 restores "every connection restarts the run": the delays stay.
        const flat: number[] = [];
        let connections = 0;
        const d = client(server.url, {
          random: () => 0.5,
          backoff: { initialDelayMs: 100, maxAttempts: 5, stableAfterMs: 0 },
          sleep: (ms) => Promise.resolve(void flat.push(ms)),
          connected: () => {
            if (++connections === 6) void d.close();
          },
        });
        const dEnd = await d.closed;
        assert.equal(dEnd.reason, "closed");
        assert.deepEqual(flat, [50, 50, 50, 50, 50]);
      } finally {
        server.close();
      }
    });
  }

  it("a connection that lasted stableAfterMs ends the run: the next attempt is 1 again", async () => {
    const server = await startServer();
    const attempts: number[] = [];
    const lived = deferred();
    let connections = 0;
    const c = client(server.url, {
      random: () => 0,
      backoff: { stableAfterMs: 50 },
      sleep: () => Promise.resolve(),
      disconnected: (e, attempt) => {
        attempts.push(attempt);
        assert.equal(e.failure, false);
      },
      connected: async ({ session }) => {
        if (++connections === 2) return void c.close();
        // Stay open past stableAfterMs (on the client's clock), then end this connection.
        const start = performance.now();
        while (performance.now() - start < 60) await new Promise((r) => setTimeout(r, 20));
        lived.resolve();
        void session.close(1001);
      },
    });
    await lived.promise;
    await c.closed;
    assert.deepEqual(attempts, [1]);
  });

  for (
    const [what, headers] of [
      [
        "an HTTP-date, relative to the response's Date",
        { "retry-after": "Mon, 07 Dec 2026 12:00:03 GMT", date: "Mon, 07 Dec 2026 12:00:00 GMT" },
      ],
      [
        "an obsolete RFC 850 date (recipients MUST accept it)",
        { "retry-after": "Monday, 07-Dec-26 12:00:03 GMT", date: "Mon, 07 Dec 2026 12:00:00 GMT" },
      ],
      ["delay-seconds", { "retry-after": "3" }],
    ] as const
  ) {
    it(`a 503 with Retry-After as ${what} waits that long`, async () => {
      const server = await startServer();
      server.refusals.push({ status: 503, headers });
      const delays: number[] = [];
      const up = deferred();
      client(server.url, {
        random: () => 0,
        backoff: { initialDelayMs: 10, maxDelayMs: 60_000 },
        sleep: (ms) => Promise.resolve(void delays.push(ms)),
        connected: () => up.resolve(),
      });
      await up.promise;
      assert.deepEqual(delays, [3000]);
    });
  }

  it("a 503 with Retry-After as a date and no Date header: taken against the local clock", async () => {
    const server = await startServer();
    const at = new Date(Date.now() + 3000).toUTCString(); // whole seconds: 2 to 3 s ahead
    server.refusals.push({ status: 503, headers: { "retry-after": at } });
    const delays: number[] = [];
    const up = deferred();
    client(server.url, {
      random: () => 0,
      backoff: { initialDelayMs: 10 },
      sleep: (ms) => Promise.resolve(void delays.push(ms)),
      connected: () => up.resolve(),
    });
    await up.promise;
    assert.equal(delays.length, 1);
    assert.ok(delays[0] > 1000 && delays[0] <= 3000, String(delays[0]));
  });
});

describe("reconnecting(): telemetry", () => {
  it("publishes the whole life cycle on the named channels, with ids and timestamps", async () => {
    const server = await startServer();
    const events: Array<{ name: string; event: Record<string, unknown> }> = [];
    const telemetry: Telemetry = {
      channel: (name) => ({
        hasSubscribers: true,
        publish: (event) => events.push({ name, event: event as Record<string, unknown> }),
      }),
    };
    const up = deferred<Session>();
    const again = deferred<Session>();
    const restarted = deferred();
    const c = client(server.url, {
      telemetry,
      random: () => 0.5,
      backoff: { initialDelayMs: 10, stableAfterMs: 0 },
      sleep: () => restarted.promise,
      connected: ({ session, connection }) => (connection === 1 ? up : again).resolve(session),
    });
    const first = await up.promise;
    await c.send("hi");
    await first.receive({ timeoutMs: 5000 });
    await server.stop();
    await server.start();
    restarted.resolve();
    await again.promise;
    await c.close();

    const lifecycle = events.filter((e) => !e.name.startsWith("sprig:frame"));
    assert.deepEqual(lifecycle.map((e) => `${e.name} ${e.event.id}`), [
      `${TelemetryChannels.connected} ${c.id}.1`,
      `${TelemetryChannels.disconnected} ${c.id}.1`,
      `${TelemetryChannels.reconnectScheduled} ${c.id}`,
      `${TelemetryChannels.connected} ${c.id}.2`,
      `${TelemetryChannels.disconnected} ${c.id}.2`,
      `${TelemetryChannels.terminated} ${c.id}`,
    ]);
    for (const { event } of events) {
      assert.equal(event.role, "client");
      assert.equal(typeof event.timestamp, "number");
    }
    assert.equal(lifecycle[1].event.code, 1001);
    assert.equal(lifecycle[2].event.delayMs, 5);
    assert.equal(lifecycle[3].event.attempt, 1);
    assert.equal(lifecycle[3].event.connection, 2);
    assert.equal(lifecycle[5].event.reason, "closed");
    const frames = events.filter((e) => e.name.startsWith("sprig:frame"));
    const text = frames.find((e) =>
      e.name === TelemetryChannels.frameSent && e.event.opcode === 1 && e.event.id === `${c.id}.1`
    );
    assert.equal(text?.event.length, 2);
    assert.ok(
      frames.some((e) => e.name === TelemetryChannels.frameReceived && e.event.opcode === 8),
    );
  });

  it("takes node:diagnostics_channel itself", async () => {
    const server = await startServer();
    const seen: string[] = [];
    const onConnected = (m: unknown) => seen.push(`connected ${(m as { id: string }).id}`);
    const onTerminated = (m: unknown) =>
      seen.push(`terminated ${(m as { reason: string }).reason}`);
    dc.subscribe(TelemetryChannels.connected, onConnected);
    dc.subscribe(TelemetryChannels.terminated, onTerminated);
    try {
      const c = client(server.url, { telemetry: dc });
      for await (const _ of c) break;
      assert.deepEqual(seen, [`connected ${c.id}.1`, "terminated closed"]);
    } finally {
      dc.unsubscribe(TelemetryChannels.connected, onConnected);
      dc.unsubscribe(TelemetryChannels.terminated, onTerminated);
    }
  });

  it("the trace names each connection and says what happens, one readable line each", async () => {
    const server = await startServer();
    const lines: string[] = [];
    const c = client(server.url, { trace: (line) => lines.push(line) });
    for await (const ws of c) {
      await ws.send("traced");
      await ws.receive({ timeoutMs: 5000 });
      break;
    }
    const id = c.id;
    assert.ok(lines.includes(`${id} -- connecting attempt=1 ${server.url}`), lines.join("\n"));
    assert.ok(lines.includes(`${id}.1 -- connected attempt=1`), lines.join("\n"));
    assert.ok(lines.includes(`${id}.1 >> fin=1 rsv=0 op=1 len=6 text "traced"`), lines.join("\n"));
    assert.ok(lines.includes(`${id}.1 << fin=1 rsv=0 op=8 len=2 close 1000 ""`), lines.join("\n"));
    assert.equal(lines.at(-1), `${id} -- terminated closed`);
  });
});

describe("reconnecting(): arguments", () => {
  it("fails at the call for malformed options", () => {
    assert.throws(
      () => reconnecting("ws://127.0.0.1:1/", { backoff: { multiplier: 0.5 } }),
      (e: unknown) =>
        e instanceof ArgumentRangeError && e.argument === "options.backoff.multiplier",
    );
    assert.throws(
      () => reconnecting("ws://127.0.0.1:1/", { sendQueue: { whenFull: "drop" as "reject" } }),
      (e: unknown) =>
        e instanceof InvalidArgumentError && e.argument === "options.sendQueue.whenFull",
    );
    assert.throws(
      () => reconnecting("ftp://127.0.0.1:1/"),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "url",
    );
    assert.throws(
      () => reconnecting("ws://127.0.0.1:1/", { compression: "yes" as unknown as boolean }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "options.compression",
    );
  });

  it("refuses unknown options at the call, naming sprig's option for a well-known one", () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      // connect()'s foreign names.
      [{ perMessageDeflate: false }, "options.perMessageDeflate", /use options\.compression/],
      [{ handshakeTimeout: 1 }, "options.handshakeTimeout", /use options\.handshakeTimeoutMs/],
      // reconnecting-websocket's and partysocket's.
      [{ maxRetries: 3 }, "options.maxRetries", /use options\.backoff\.maxAttempts/],
      [{ minReconnectionDelay: 1 }, "options.minReconnectionDelay", /backoff\.initialDelayMs/],
      [{ maxEnqueuedMessages: 1 }, "options.maxEnqueuedMessages", /sendQueue: \{ maxMessages \}/],
      // connect()'s id is the client's to give.
      [{ id: "x" }, "options.id", /r<n>\.<k>/],
      // Typos, also in the nested objects.
      [
        { stopOnCloseCode: [1008] },
        "options.stopOnCloseCode",
        /did you mean options\.stopOnCloseCodes\?/,
      ],
      [
        { backoff: { maxDelay: 5 } },
        "options.backoff.maxDelay",
        /did you mean options\.backoff\.maxDelayMs\?/,
      ],
      [
        { sendQueue: { max: 5 } },
        "options.sendQueue.max",
        /the options are maxMessages, maxBytes, whenFull/,
      ],
    ];
    for (const [options, argument, says] of cases) {
      assert.throws(
        () => reconnecting("ws://127.0.0.1:1/", options as ReconnectingOptions),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.argument === argument &&
          e.message.startsWith(
            `reconnecting(): ${argument} is not an option of reconnecting(): `,
          ) &&
          says.test(e.message),
        argument,
      );
    }
  });

  it("close() checks its code", async () => {
    const server = await startServer();
    await server.stop();
    const c = client(server.url, { sleep: () => new Promise(() => {}) });
    await assert.rejects(c.close(1005), ArgumentRangeError);
    const end = await c.close(1000);
    assert.equal(end.reason, "closed");
  });
});
