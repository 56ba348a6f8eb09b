// The session over an in-memory transport: backpressure, closing while
// messages sit unread, ordering, pings. The peer is a bare protocol core.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Session } from "../../lib/session/session.ts";
import { Connection, type ConnectionEvent } from "../../lib/protocol/connection.ts";
import {
  ArgumentRangeError,
  ConnectionClosedError,
  InvalidArgumentError,
  NotOpenError,
} from "../../mod.ts";
import { memoryPair } from "../_helpers/memory_transport.ts";
import type { Transport } from "../../lib/transport/transport.ts";

const info = { protocol: "", extensions: "", headers: new Headers(), url: "ws://memory/" };

/** A raw server Connection on the other end of the pair, pumping events to `onEvents`. */
function rawServer(
  transport: Transport,
  onEvents: (events: ConnectionEvent[], conn: Connection) => void = () => {},
) {
  const conn = new Connection({ role: "server" });
  const flush = () => transport.write(conn.takeOutput());
  (async () => {
    // A test may close this end itself; then the loop just stops.
    while (!(transport as { isClosed?: boolean }).isClosed) {
      const chunk = await transport.read();
      const events = chunk === null ? conn.receiveEof() : conn.receive(chunk);
      onEvents(events, conn);
      await flush().catch(() => {});
      if (chunk === null || conn.state === "closed") break;
    }
    if (conn.shouldCloseTransport) transport.close();
  })();
  return { conn, flush };
}

/** Bounded wait for a condition, polling once per macrotask. */
async function until(condition: () => boolean, label: string, maxTurns = 2000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  assert.fail(`timed out waiting for ${label}`);
}

describe("Session", () => {
  it("stops reading the transport while the application does not read", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const server = rawServer(serverEnd);
    const session = new Session(clientEnd, { role: "client" }, info, { maxQueuedMessages: 4 });
    for (let i = 0; i < 100; i++) {
      server.conn.send(`m${i}`);
      await server.flush(); // 100 chunks, one per message
    }
    // The session stops reading: chunks stay queued across a macrotask
    // (checked only at macrotask boundaries, where a reading loop would have taken them).
    await new Promise((r) => setTimeout(r, 0));
    await until(() => clientEnd.reads >= 4 && clientEnd.queued > 0, "the session to stop reading");
    assert.ok(clientEnd.reads <= 6, `read ${clientEnd.reads} chunks with nobody reading`);
    let n = 0;
    for await (const m of session) {
      assert.equal(m, `m${n}`);
      if (++n === 100) break;
    }
    assert.ok(clientEnd.reads >= 100);
    await session.close();
  });

  it("close() completes while unread messages are queued, and they stay readable", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const server = rawServer(serverEnd);
    const session = new Session(clientEnd, { role: "client" }, info, { maxQueuedMessages: 2 });
    for (let i = 0; i < 10; i++) {
      server.conn.send(`early ${i}`);
      await server.flush(); // one chunk per message
    }
    await until(() => clientEnd.reads >= 2, "the queue to fill");
    const closed = await session.close(1000, "bye");
    assert.equal(closed.wasClean, true);
    assert.equal(closed.code, 1000);
    const got: unknown[] = [];
    for await (const m of session) got.push(m);
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `early ${i}`));
  });

  it("messages sent before close() leave before the close frame", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const seen: string[] = [];
    rawServer(serverEnd, (events) => {
      for (const e of events) seen.push(e.type === "text" ? e.data : e.type);
    });
    const session = new Session(clientEnd, { role: "client" }, info, {});
    void session.send("one");
    void session.send("two");
    const info2 = await session.close();
    assert.deepEqual(seen, ["one", "two", "close"]);
    assert.equal(info2.wasClean, true);
    await assert.rejects(session.send("late"), NotOpenError);
  });

  it("ping() resolves with the round trip, and the session answers the peer's pings", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const pongs: number[] = [];
    const server = rawServer(serverEnd, (events) => {
      for (const e of events) if (e.type === "pong") pongs.push(e.data.length);
    });
    const session = new Session(clientEnd, { role: "client" }, info, {});
    const pinged: Uint8Array[] = [];
    session.on("ping", (data) => pinged.push(data));
    const before = performance.now();
    const rtt = await session.ping();
    const wall = performance.now() - before;
    // The round trip is measured inside the call, so it is within its wall time.
    assert.ok(rtt >= 0 && rtt <= wall + 1, `rtt ${rtt} ms, wall ${wall} ms`);
    server.conn.ping("x");
    await server.flush();
    await until(() => pongs.length === 1, "the pong");
    assert.equal(pinged.length, 1);
    await session.close();
  });

  it("a transport that ends mid-conversation ends iteration with ConnectionClosedError", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const server = rawServer(serverEnd);
    const session = new Session(clientEnd, { role: "client" }, info, {});
    server.conn.send("last");
    await server.flush();
    serverEnd.close();
    const got: unknown[] = [];
    await assert.rejects(async () => {
      for await (const m of session) got.push(m);
    }, (e: unknown) => e instanceof ConnectionClosedError && e.info.code === 1006);
    assert.deepEqual(got, ["last"]); // what arrived before the drop is delivered
  });

  it("a protocol violation by the peer closes with 1002 and reports the error", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const session = new Session(clientEnd, { role: "client" }, info, {});
    const errors: Error[] = [];
    session.on("error", (e) => errors.push(e));
    await serverEnd.write([new Uint8Array([0x83, 0x00])]); // reserved opcode
    const closed = await session.closed;
    assert.equal(closed.code, 1002);
    assert.equal(closed.wasClean, false);
    assert.equal(errors[0]?.constructor.name, "ProtocolError");
  });

  it("readable and writable are the same connection as web streams", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    rawServer(serverEnd, (events, conn) => {
      for (const e of events) if (e.type === "text") conn.send(e.data.toUpperCase());
    });
    const session = new Session(clientEnd, { role: "client" }, info, {});
    const writer = session.writable.getWriter();
    await writer.write("abc");
    const reader = session.readable.getReader();
    assert.deepEqual(await reader.read(), { value: "ABC", done: false });
    reader.releaseLock();
    writer.releaseLock();
    await session.close();
  });
});

describe("Session.receive", () => {
  it("a timeout leaves the message for the next reader, and concurrent readers each get one", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const server = rawServer(serverEnd);
    const session = new Session(clientEnd, { role: "client" }, info, {});
    await assert.rejects(
      session.receive({ timeoutMs: 20 }),
      (e: unknown) => (e as Error).name === "TimeoutError",
    );
    const a = session.receive();
    const b = session.receive({ timeoutMs: 5000 });
    server.conn.send("one");
    server.conn.send("two");
    await server.flush();
    assert.deepEqual([await a, await b].sort(), ["one", "two"]);
    const controller = new AbortController();
    const c = session.receive({ signal: controller.signal });
    controller.abort();
    await assert.rejects(c, (e: unknown) => (e as Error).name === "AbortError");
    server.conn.send("three");
    await server.flush();
    assert.equal(await session.receive({ timeoutMs: 5000 }), "three");
    await session.close();
  });
});

describe("Session methods check their arguments (typed errors naming them)", () => {
  function named(
    e: unknown,
    cls: typeof InvalidArgumentError | typeof ArgumentRangeError,
    arg: string,
    fn: string,
  ) {
    assert.ok(e instanceof cls, String(e));
    assert.equal((e as InvalidArgumentError).argument, arg);
    assert.ok((e as Error).message.startsWith(`${fn}: ${arg} `), (e as Error).message);
    return true;
  }

  it("send(data), ping(data) and close(code, reason)", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    rawServer(serverEnd);
    const session = new Session(clientEnd, { role: "client" }, info, {});
    await assert.rejects(
      session.send(42 as unknown as string),
      (e) => named(e, InvalidArgumentError, "data", "send()"),
    );
    assert.throws(
      () => session.ping("x" as unknown as Uint8Array),
      (e) => named(e, InvalidArgumentError, "data", "ping()"),
    );
    assert.throws(
      () => session.ping(new Uint8Array(126)),
      (e) => named(e, ArgumentRangeError, "data", "ping()"),
    );
    await assert.rejects(
      session.close(1005),
      (e) => named(e, ArgumentRangeError, "code", "close()"),
    );
    await assert.rejects(
      session.close("1000" as unknown as number),
      (e) => named(e, InvalidArgumentError, "code", "close()"),
    );
    await assert.rejects(
      session.close(1000, "é".repeat(62)),
      (e) => named(e, ArgumentRangeError, "reason", "close()"),
    );
    // Still open: a bad argument changes nothing.
    assert.equal(session.readyState, "open");
    const info2 = await session.close(4000, "é".repeat(61)); // 122 bytes: fine
    assert.equal(info2.code, 4000);
  });

  it("close(null) sends a close frame without a status code; a reason then needs a code", async () => {
    const [clientEnd, serverEnd] = memoryPair();
    const received: ConnectionEvent[] = [];
    rawServer(serverEnd, (events) => received.push(...events));
    const session = new Session(clientEnd, { role: "client" }, info, {});
    await assert.rejects(
      session.close(null, "why"),
      (e) => named(e, InvalidArgumentError, "reason", "close()"),
    );
    const end = await session.close(null);
    assert.deepEqual(received.find((e) => e.type === "close"), {
      type: "close",
      code: 1005,
      reason: "",
      wasClean: true,
    });
    assert.equal(end.code, 1005); // the peer echoed an empty close frame
    assert.equal(end.wasClean, true);
  });
});
