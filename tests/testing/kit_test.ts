// The test kit (@sprig/websocket/testing): the scripted peer against sprig's
// server and client, and the handler driver without sockets.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, defineHandler, serve, type TerminateReason } from "../../mod.ts";
import {
  closePayload,
  connectPeer,
  driveHandler,
  encodeRawFrame,
  listenPeer,
} from "../../lib/testing/mod.ts";

/** An echo server that records how each connection ended. */
async function echoServer(options: { maxMessageBytes?: number } = {}) {
  const ended: TerminateReason[] = [];
  const server = await serve({ hostname: "127.0.0.1", port: 0, ...options }, {
    in: (message) => ({ push: message }),
    terminate: (reason) => void ended.push(reason),
  });
  return { server, ended };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!condition()) throw new Error(`not within 5 s: ${what}`);
}

describe("scripted peer (client) against sprig's server", () => {
  it("a frame split at every byte is one message", async () => {
    const { server } = await echoServer();
    try {
      const peer = await connectPeer(server.url);
      assert.equal(peer.response?.status, 101);
      const bytes = peer.encode({ opcode: 1, payload: "split me" });
      await peer.sendSplit(bytes, 1);
      assert.equal(await peer.nextText(), "split me");
      // Two fragments, each cut in three places.
      const first = peer.encode({ opcode: 1, payload: "frag", fin: false });
      const second = peer.encode({ opcode: 0, payload: "ments" });
      const both = new Uint8Array(first.length + second.length);
      both.set(first);
      both.set(second, first.length);
      await peer.sendSplit(both, [1, first.length - 1, first.length + 3]);
      assert.equal(await peer.nextText(), "fragments");
      await peer.sendClose(1000, "done");
      const closed = await peer.closed();
      assert.equal(closed.code, 1000);
      assert.equal(closed.closeFrame, true);
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("bad UTF-8 gets 1007, an unmasked frame 1002, a reserved opcode 1002", async () => {
    const { server } = await echoServer();
    try {
      const utf8 = await connectPeer(server.url);
      await utf8.sendFrame({ opcode: 1, payload: new Uint8Array([0x68, 0xff, 0x69]) });
      const c1 = await utf8.expectClose(1007);
      assert.ok(c1.afterMs >= 0 && c1.afterMs < 5000);
      const unmasked = await connectPeer(server.url);
      await unmasked.sendFrame({ opcode: 1, payload: "x", mask: false });
      assert.equal((await unmasked.closed()).code, 1002);
      const reserved = await connectPeer(server.url);
      await reserved.sendFrame({ opcode: 3 });
      assert.equal((await reserved.closed()).code, 1002);
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("an oversize length claim gets 1009 before the bytes come", async () => {
    const { server } = await echoServer({ maxMessageBytes: 1024 });
    try {
      const peer = await connectPeer(server.url);
      await peer.sendFrame({ opcode: 2, length: 1 << 20, payload: new Uint8Array(10) });
      const closed = await peer.closed();
      assert.equal(closed.code, 1009);
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("a ping flood is answered, a pong for each ping", async () => {
    const { server } = await echoServer();
    try {
      const peer = await connectPeer(server.url);
      const count = 50;
      await peer.flood({ opcode: 9, payload: "p" }, count);
      for (let i = 0; i < count; i++) {
        const frame = await peer.nextFrame();
        assert.equal(frame.opcode, 10);
      }
      await peer.sendClose(1000);
      assert.equal((await peer.closed()).code, 1000);
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("dropped mid-frame: the server ends the connection as 1006", async () => {
    const { server, ended } = await echoServer();
    try {
      const peer = await connectPeer(server.url);
      const bytes = peer.encode({ opcode: 1, payload: "never finished" });
      await peer.send(bytes.subarray(0, 5));
      peer.destroy();
      await until(() => ended.length === 1, "terminate ran");
      assert.equal(ended[0].code, 1006);
      assert.equal(ended[0].wasClean, false);
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("a paused reader gets what waited once it resumes", async () => {
    const server = await serve({ hostname: "127.0.0.1", port: 0 }, {
      in: () => ({ push: Array.from({ length: 20 }, (_, i) => `m${i}`) }),
    });
    try {
      const peer = await connectPeer(server.url);
      peer.pause();
      await peer.sendFrame({ opcode: 1, payload: "go" });
      const before = peer.frames.length;
      peer.resume();
      for (let i = 0; i < 20; i++) assert.equal(await peer.nextText(), `m${i}`);
      assert.ok(before <= 20);
      await peer.sendClose(1000);
      await peer.closed();
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("timing: a silent peer is closed by the idle timeout, not before it", async () => {
    const idleTimeoutMs = 300;
    const server = await serve({ hostname: "127.0.0.1", port: 0, idleTimeoutMs }, {
      in: (message) => ({ push: message }),
    });
    try {
      const peer = await connectPeer(server.url);
      await peer.sendFrame({ opcode: 1, payload: "then nothing" });
      assert.equal(await peer.nextText(), "then nothing");
      const closed = await peer.expectClose(1001, idleTimeoutMs * 10);
      // Not before the idle timeout (a tenth of slack for the timers of a busy machine).
      assert.ok(closed.afterMs >= idleTimeoutMs * 0.9, `closed after ${closed.afterMs} ms`);
      peer.destroy();
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("closed() rejects, bounded, while the connection stays open", async () => {
    const { server } = await echoServer();
    try {
      const peer = await connectPeer(server.url);
      await assert.rejects(peer.closed(50), /did not end within 50 ms/);
      await assert.rejects(peer.nextFrame(50), /no frame/);
      peer.destroy();
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });

  it("a refused upgrade rejects, or resolves with requireUpgrade: false", async () => {
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      upgrade: () => new Response("no", { status: 403 }),
    }, { in: () => {} });
    try {
      await assert.rejects(connectPeer(server.url), /not upgraded: HTTP\/1\.1 403/);
      const peer = await connectPeer(server.url, { requireUpgrade: false });
      assert.equal(peer.response?.status, 403);
      peer.destroy();
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
  });
});

describe("scripted peer (server) against sprig's client", () => {
  it("sends unmasked frames the client reads, and a masked one the client refuses (1002)", async () => {
    await using scripted = await listenPeer();
    const ws = await connect(scripted.url, { compression: false });
    const peer = await scripted.accept();
    assert.match(peer.request!.line, /^GET \/ HTTP\/1\.1$/);
    await peer.sendFrame({ opcode: 1, payload: "hello" });
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
    await ws.send("from client");
    const frame = await peer.nextFrame();
    assert.equal(new TextDecoder().decode(frame.payload), "from client");
    await peer.sendFrame({ opcode: 1, payload: "masked", mask: true });
    const closed = await ws.closed;
    assert.equal(closed.code, 1002);
    assert.equal((await peer.expectClose(1002)).closeFrame, true);
  });

  it("a server that never answers the close: the client gives up after closeTimeoutMs", async () => {
    await using scripted = await listenPeer();
    const ws = await connect(scripted.url, { compression: false, closeTimeoutMs: 200 });
    const peer = await scripted.accept();
    const closing = ws.close(1000, "bye");
    await peer.expectClose(1000);
    const info = await closing;
    assert.equal(info.wasClean, false);
    const ended = await peer.closed();
    assert.equal(ended.reason, "bye");
  });
});

describe("encodeRawFrame", () => {
  it("writes 7-bit, 16-bit and 64-bit lengths, reserved bits and a given key", () => {
    assert.deepEqual(
      encodeRawFrame({ opcode: 1, payload: "a", rsv: 4, mask: false }, false),
      new Uint8Array([0xc1, 1, 0x61]),
    );
    const key = new Uint8Array([1, 2, 3, 4]);
    assert.deepEqual(
      encodeRawFrame({ opcode: 8, payload: closePayload(1000), mask: key }, false),
      new Uint8Array([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2]),
    );
    const mid = encodeRawFrame({ opcode: 2, length: 300 }, false);
    assert.deepEqual([...mid], [0x82, 126, 1, 44]);
    const big = encodeRawFrame({ opcode: 2, length: 2 ** 32, fin: false }, false);
    assert.deepEqual([...big], [0x02, 127, 0, 0, 0, 1, 0, 0, 0, 0]);
  });
});

describe("driveHandler", () => {
  const room = defineHandler<{ name: string; seen: number }, string>({
    init: (ctx) => {
      ctx.ref.subscribe("lobby");
      return { state: { name: ctx.url.searchParams.get("name") ?? "anon", seen: 0 } };
    },
    in: (message, state) => {
      if (message === "/kick") return { stop: { code: 4001, reason: "kicked" } };
      if (message === "/ping") return { push: { type: "ping" } };
      return { state: { ...state, seen: state.seen + 1 }, push: `${state.name}: ${message}` };
    },
    control: (frame) => ({ push: `control ${frame.type}` }),
    info: (notice, state) => ({ push: `notice to ${state.name}: ${notice}` }),
  });

  it("records pushes, state, info, pub/sub and a stop, then runs terminate", async () => {
    const terminated: TerminateReason[] = [];
    const h = await driveHandler(
      { ...room, terminate: (reason) => void terminated.push(reason) },
      { url: "http://test/?name=ada" },
    );
    assert.deepEqual(h.subscriptions, ["lobby"]);
    await h.in("hi");
    assert.equal(h.state.seen, 1);
    await h.control("ping");
    await h.info("soon");
    h.ref.post("posted");
    await h.in("there");
    assert.equal(h.deliver("lobby", "from bob"), true);
    assert.equal(h.deliver("elsewhere", "no"), false);
    assert.equal(h.ref.publish("lobby", "out"), 0);
    assert.deepEqual(h.published, [{ topic: "lobby", message: "out" }]);
    await h.in("/ping");
    assert.deepEqual(h.take(), [
      "ada: hi",
      "control ping",
      "notice to ada: soon",
      "ada: there",
      "notice to ada: posted",
      "from bob",
      { type: "ping" },
    ]);
    assert.deepEqual(h.take(), []);
    await h.in("/kick");
    assert.deepEqual(h.stopped, { code: 4001, reason: "kicked", by: "reply" });
    assert.equal(h.ref.isOpen, false);
    await assert.rejects(h.in("late"), /after the handler stopped/);
    assert.equal(h.ref.post("late"), false);
    await h.terminate();
    assert.equal(terminated.length, 1);
    assert.equal(terminated[0].type, "normal");
    assert.equal(terminated[0].code, 4001);
    assert.deepEqual(await h.ref.closed, { code: 4001, reason: "kicked", wasClean: true });
    await h.terminate(); // once
    assert.equal(terminated.length, 1);
  });

  it("ref.close() stops; a given reason reaches terminate; a throwing callback rejects", async () => {
    const reasons: TerminateReason[] = [];
    const h = await driveHandler<number, unknown, unknown>({
      init: (ctx) => {
        setTimeout(() => ctx.ref.close(4002, "later"), 0);
        return { state: 0 };
      },
      in: (message) => {
        if (message === "boom") throw new Error("boom");
        return { state: 1 };
      },
      terminate: (reason) => void reasons.push(reason),
    });
    await assert.rejects(h.in("boom"), /boom/);
    await h.in("fine");
    assert.equal(h.state, 1);
    await until(() => h.stopped !== undefined, "ref.close() ran");
    assert.deepEqual(h.stopped, { code: 4002, reason: "later", by: "ref" });
    const error = new Error("peer broke the protocol");
    await h.terminate({ type: "error", error, code: 1002, reason: "", wasClean: false });
    assert.equal(reasons[0].type, "error");
    assert.equal(h.terminated, true);
  });

  it("ref.send() joins the pushes in call order, keeps compress: false, and is refused once stopped", async () => {
    const h = await driveHandler<undefined, unknown, unknown>({
      init: (ctx) => {
        ctx.ref.send("from elsewhere");
        return { push: "greeting" };
      },
      in: (message) => ({ push: message, ...(message === "bye" ? { stop: true } : {}) }),
    });
    assert.equal(h.ref.send(new Uint8Array([1]), { compress: false }), true);
    await h.in("bye");
    assert.equal(h.ref.send("too late"), false);
    assert.deepEqual(h.take(), [
      "from elsewhere",
      "greeting",
      { data: new Uint8Array([1]), compress: false },
      "bye",
    ]);
  });
});
