// Issue 26, item 4: how reading a session ends. Iteration, receive() and
// readable end quietly after a clean close with 1000, 1001 or no code (1005)
// and after the application's own close; every other end (another code, a
// failure, a dropped connection) rejects with ConnectionClosedError carrying
// the close code and reason, once the messages that came before were taken.
// receive() reports the quiet end as ConnectionClosedOK (Python websockets'
// model). reconnecting() and WebSocketStream read the session their own way.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  connect,
  ConnectionClosedError,
  ConnectionClosedOK,
  serve,
  type Session,
  WebSocketStream,
} from "../../mod.ts";
import { closePayload, rawFrame, rawServer, type RawSocket } from "../_helpers/raw_peer.ts";
import { concat } from "../_helpers/bytes.ts";

/** How reading ended: quietly, or with the error it threw. */
type End = { got: unknown[]; error?: unknown };
type Reader = (ws: Session) => Promise<End>;

const readers: Array<[string, Reader]> = [
  ["for await", async (ws) => {
    const got: unknown[] = [];
    try {
      for await (const m of ws) got.push(m);
    } catch (error) {
      return { got, error };
    }
    return { got };
  }],
  ["receive()", async (ws) => {
    const got: unknown[] = [];
    for (let i = 0; i < 100; i++) {
      try {
        got.push(await ws.receive({ timeoutMs: 10_000 }));
      } catch (error) {
        // The quiet end of receive() is ConnectionClosedOK.
        if (error instanceof ConnectionClosedOK) return { got };
        return { got, error };
      }
    }
    throw new Error("receive() never ended");
  }],
  ["readable", async (ws) => {
    const got: unknown[] = [];
    const reader = ws.readable.getReader();
    for (let i = 0; i < 100; i++) {
      try {
        const { done, value } = await reader.read();
        if (done) return { got };
        got.push(value);
      } catch (error) {
        return { got, error };
      }
    }
    throw new Error("readable never ended");
  }],
];

/** Asserts an abnormal end: a ConnectionClosedError with this code (and reason). */
function assertAbnormal(end: End, code: number, reason?: string): ConnectionClosedError {
  assert.ok(
    end.error instanceof ConnectionClosedError,
    `expected ConnectionClosedError, got ${end.error}`,
  );
  const error = end.error;
  assert.equal(error.code, "CONNECTION_CLOSED");
  assert.equal(error.closeCode, code);
  assert.equal(error.info.code, code);
  if (reason !== undefined) assert.equal(error.reason, reason);
  assert.equal(error.reason, error.info.reason);
  return error;
}

describe("session: how reading ends", () => {
  let server: Awaited<ReturnType<typeof serve>>;
  let raw: Awaited<ReturnType<typeof rawServer>>;
  /** What the raw server does with each connection. */
  let script: (s: RawSocket) => void = () => {};

  before(async () => {
    const handlerErrors: unknown[] = [];
    server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      maxMessageBytes: 16,
      onError: (error) => void handlerErrors.push(error), // the 1011 cases' throws
    }, {
      init: (ctx) => {
        const m = /^\/stop\/(\d+)$/.exec(ctx.url.pathname);
        if (m) return { push: "before", stop: { code: Number(m[1]), reason: `stop ${m[1]}` } };
        return { push: "before" };
      },
      in: (message) => {
        if (message === "throw") throw new Error("the handler failed");
        return { push: message };
      },
    });
    raw = await rawServer((s) => script(s));
  });
  after(async () => {
    raw.close();
    await server.shutdown();
  });

  const open = (path: string) =>
    connect(new URL(path, server.url), { keepalive: false, closeTimeoutMs: 5000 });

  for (const [how, read] of readers) {
    describe(how, () => {
      for (const code of [1000, 1001]) {
        it(`ends quietly when the server closes with ${code}`, async () => {
          const ws = await open(`/stop/${code}`);
          const end = await read(ws);
          assert.equal(end.error, undefined);
          assert.deepEqual(end.got, ["before"]);
          assert.deepEqual(await ws.closed, { code, reason: `stop ${code}`, wasClean: true });
        });
      }

      it("rejects with 4001 and its reason when the server closes with 4001", async () => {
        const ws = await open("/stop/4001");
        const end = await read(ws);
        assert.deepEqual(end.got, ["before"]);
        const error = assertAbnormal(end, 4001, "stop 4001");
        assert.equal(error.info.wasClean, true); // clean, and still not normal
      });

      it("rejects with 1009 when the server refuses a message too big", async () => {
        const ws = await open("/");
        await ws.send("x".repeat(64)); // the server's maxMessageBytes is 16
        const end = await read(ws);
        assert.deepEqual(end.got, ["before"]);
        assertAbnormal(end, 1009);
      });

      it("rejects with 1011 when the server's handler throws", async () => {
        const ws = await open("/");
        await ws.send("throw");
        const end = await read(ws);
        assert.deepEqual(end.got, ["before"]);
        assertAbnormal(end, 1011);
      });

      it("rejects with 1006 when the connection drops without a closing handshake", async () => {
        script = (s) => {
          s.write(rawFrame(0x81, "before", false));
          // Whole frames first, then the drop.
          s.socket.end(() => s.socket.destroy());
        };
        const ws = await connect(raw.url, { keepalive: false, compression: false });
        const end = await read(ws);
        assert.deepEqual(end.got, ["before"]);
        const error = assertAbnormal(end, 1006);
        assert.equal(error.info.wasClean, false);
      });

      it("ends quietly on a clean close without a code (1005)", async () => {
        script = (s) => {
          s.write(concat([rawFrame(0x81, "before", false), rawFrame(0x88, "", false)]));
          // The client's reply, then the server ends TCP (RFC 6455 §7.1.1).
          s.waitFrames(1).then(() => s.socket.end(), () => s.socket.destroy());
        };
        const ws = await connect(raw.url, { keepalive: false, compression: false });
        const end = await read(ws);
        assert.equal(end.error, undefined);
        assert.deepEqual(end.got, ["before"]);
        assert.deepEqual(await ws.closed, { code: 1005, reason: "", wasClean: true });
      });

      it("ends quietly after the application's own close, whatever its code", async () => {
        const ws = await open("/");
        assert.equal(await ws.receive({ timeoutMs: 10_000 }), "before");
        const reading = read(ws);
        const info = await ws.close(4000, "mine");
        assert.equal(info.code, 4000); // the server echoes the code (RFC 6455 §5.5.1)
        assert.equal(info.wasClean, true);
        const end = await reading;
        assert.equal(end.error, undefined);
        assert.deepEqual(end.got, []);
      });

      it("ends quietly after the application's terminate()", async () => {
        const ws = await open("/");
        assert.equal(await ws.receive({ timeoutMs: 10_000 }), "before");
        const reading = read(ws);
        ws.terminate();
        const end = await reading;
        assert.equal(end.error, undefined);
        assert.equal((await ws.closed).code, 1006);
      });
    });
  }

  it("close() after the session ended does not make the peer's 4002 the application's", async () => {
    script = (s) => {
      s.write(rawFrame(0x88, closePayload(4002, "theirs"), false));
      s.waitFrames(1).then(() => s.socket.end(), () => s.socket.destroy());
    };
    const ws = await connect(raw.url, { keepalive: false, compression: false });
    const info = await ws.closed;
    assert.equal(info.code, 4002);
    await ws.close(); // too late to make it the application's
    await assert.rejects(ws.receive(), (e: unknown) => e instanceof ConnectionClosedError);
  });

  it("WebSocketStream keeps the standard's behaviour: a clean 4001 closes its readable", async () => {
    const wss = new WebSocketStream(new URL("/stop/4001", server.url).href);
    const { readable } = await wss.opened;
    const got: unknown[] = [];
    const reader = readable.getReader();
    for (let i = 0; i < 100; i++) {
      const { done, value } = await reader.read();
      if (done) break;
      got.push(value);
    }
    assert.deepEqual(got, ["before"]);
    assert.deepEqual(await wss.closed, { closeCode: 4001, reason: "stop 4001" });
  });
});
