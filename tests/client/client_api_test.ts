// The client's other shapes and addresses: WebSocketStream, withWebSocket,
// events and tracing, IPv6 literals, Unix domain sockets, explicit transports,
// and aborting at each stage.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import process from "node:process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AbortError,
  connect,
  ConnectionClosedError,
  type Connector,
  NotOpenError,
  type Session,
  WebSocketError,
  WebSocketStream,
  withWebSocket,
} from "../../mod.ts";
import { connectNode, fromWebSocketLikeSocket } from "../../lib/transport/mod.ts";
import { type Peer, startWsPeer } from "../_helpers/peer.ts";

let peer: Peer;
let ipv6: Peer;
let unix: Peer;
const dir = mkdtempSync(join(tmpdir(), "sprig-"));
const socketPath = join(dir, "ws.sock");

before(async () => {
  [peer, ipv6, unix] = await Promise.all([
    startWsPeer(),
    startWsPeer("--host", "::1"),
    startWsPeer("--unix", socketPath),
  ]);
});
after(async () => {
  await Promise.all([peer?.stop(), ipv6?.stop(), unix?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const url = (path: string) => `ws://127.0.0.1:${peer.port}${path}`;

describe("WebSocketStream", () => {
  it("opens with web streams, echoes, and closes with a code", async () => {
    const wss = new WebSocketStream(url("/echo"), { compression: false });
    const { readable, writable, protocol, extensions } = await wss.opened;
    assert.equal(protocol, "");
    assert.equal(extensions, "");
    const writer = writable.getWriter();
    await writer.write("through streams");
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { value: "through streams", done: false });
    wss.close({ closeCode: 4000, reason: "bye" });
    // ws echoes the code and the reason in its close frame.
    assert.deepEqual(await wss.closed, { closeCode: 4000, reason: "bye" });
  });

  it("closed rejects when the connection drops (a WebSocketError; its cause sprig's error)", async () => {
    const wss = new WebSocketStream(url("/drop"));
    await wss.opened;
    await assert.rejects(
      wss.closed,
      (e) => e instanceof WebSocketError && e.cause instanceof ConnectionClosedError,
    );
  });

  it("opened rejects with the signal's reason when the signal aborts", async () => {
    const wss = new WebSocketStream(url("/echo"), { signal: AbortSignal.abort() });
    await assert.rejects(wss.opened, (e) => e instanceof DOMException && e.name === "AbortError");
  });
});

describe("withWebSocket", () => {
  it("returns the callback's result and closes", async () => {
    let session: { readyState: string } | undefined;
    const answer = await withWebSocket(url("/echo"), {}, async (ws) => {
      session = ws;
      await ws.send("q");
      return await ws.receive({ timeoutMs: 5000 });
    });
    assert.equal(answer, "q");
    assert.equal(session?.readyState, "closed");
  });

  it("closes also when the callback throws", async () => {
    let session: { readyState: string } | undefined;
    await assert.rejects(
      withWebSocket(url("/echo"), {}, (ws) => {
        session = ws;
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(session?.readyState, "closed");
  });
});

describe("events and tracing", () => {
  it("listeners given as an option see open, then everything from the first byte", async () => {
    const seen: string[] = [];
    let got!: () => void;
    const message = new Promise<void>((resolve) => (got = resolve));
    const ws = await connect(url("/headers"), {
      on: {
        open: (s) => seen.push(`open ${s.readyState}`),
        message: () => {
          seen.push("message");
          got();
        },
        close: (i) => seen.push(`close ${i.code}`),
      },
    });
    await message; // /headers sends right after the handshake
    await ws.close();
    assert.deepEqual(seen, ["open open", "message", "close 1000"]);
  });

  it("reports frames, messages, pongs and the close", async () => {
    const lines: string[] = [];
    const ws = await connect(url("/echo"), { compression: false, trace: (l) => lines.push(l) });
    const seen: string[] = [];
    let got!: () => void;
    const message = new Promise<void>((resolve) => (got = resolve));
    ws.on("message", () => {
      seen.push("message");
      got();
    });
    ws.on("pong", () => seen.push("pong"));
    ws.on("close", (i) => seen.push(`close ${i.code}`));
    await ws.send("x");
    await message;
    await ws.ping();
    await ws.close();
    assert.deepEqual(seen, ["message", "pong", "close 1000"]);
    assert.ok(lines.some((l) => l.startsWith(">> fin=1 rsv=0 op=1 len=1")), lines.join("\n"));
    assert.ok(lines.some((l) => l.startsWith("<< fin=1 rsv=0 op=8")), lines.join("\n"));
  });
});

describe("addresses and transports", () => {
  it("connects to an IPv6 literal", async () => {
    const ws = await connect(`ws://[::1]:${ipv6.port}/echo`);
    await ws.send("v6");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "v6");
    assert.equal(new URL(ws.url).hostname, "[::1]");
    await ws.close();
  });

  it("connects over a Unix domain socket", async () => {
    const ws = await connect("ws://localhost/echo", { unixPath: socketPath });
    await ws.send("unix");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "unix");
    await ws.close();
  });

  it("takes an explicit connector (here node:net on every runtime)", async () => {
    const ws = await connect(url("/echo"), { transport: connectNode });
    await ws.send("node:net");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "node:net");
    await ws.close();
  });
});

describe("aborting at each stage", () => {
  it("while the transport is being opened", async () => {
    let sawSignal: AbortSignal | undefined;
    // A connector that only ever finishes by being aborted, as a slow network would.
    const hanging: Connector = (_target, signal) =>
      new Promise((_, reject) => {
        sawSignal = signal;
        signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
    const controller = new AbortController();
    const pending = connect(url("/echo"), { transport: hanging, signal: controller.signal });
    queueMicrotask(() => controller.abort());
    await assert.rejects(pending, AbortError);
    assert.equal(sawSignal?.aborted, true);
  });

  it("after opening: the signal closes the connection with 1001", async () => {
    const controller = new AbortController();
    const ws = await connect(url("/echo"), { signal: controller.signal });
    controller.abort();
    const info = await ws.closed;
    assert.equal(info.code, 1001);
    assert.equal(info.wasClean, true);
  });
});

describe("closing from the client side", () => {
  it("await using closes the session at the end of the scope", async () => {
    let held: Session | undefined;
    {
      await using ws = await connect(url("/echo"));
      held = ws;
      await ws.send("scoped");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "scoped");
    }
    assert.equal(held.readyState, "closed");
    assert.equal((await held.closed).wasClean, true);
  });

  it("terminate() drops the connection at once, without a handshake", async () => {
    const ws = await connect(url("/echo"));
    ws.terminate();
    const info = await ws.closed;
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
  });
});

/** A socket of the WinterTC/Cloudflare connect() shape, built on node:net. */
function connectShaped(port: number) {
  const socket = net.connect({ host: "127.0.0.1", port });
  const opened = new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      socket.on("data", (b: Uint8Array) => {
        controller.enqueue(new Uint8Array(b));
        if ((controller.desiredSize ?? 1) <= 0) socket.pause();
      });
      socket.on("end", () => controller.close());
      socket.on("error", (e) => controller.error(e));
    },
    pull() {
      socket.resume();
    },
  });
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) =>
      new Promise((resolve, reject) => socket.write(chunk, (e) => (e ? reject(e) : resolve()))),
    close: () => new Promise((resolve) => socket.end(resolve)),
  });
  return { readable, writable, opened, closed, close: () => void socket.destroy() };
}

describe("edge runtimes: a connect()-shaped socket", () => {
  it("carries a session through fromWebSocketLikeSocket", async () => {
    const shaped = connectShaped(peer.port);
    await shaped.opened;
    const ws = await connect(url("/echo"), { transport: fromWebSocketLikeSocket(shaped) });
    await ws.send("from the edge");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "from the edge");
    await ws.send(new Uint8Array(200_000).fill(7));
    assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array(200_000).fill(7));
    assert.equal((await ws.close()).wasClean, true);
    await shaped.closed;
  });
});

describe("message listeners consume (ws and browser habits)", () => {
  it("a listener alone receives every message, past the queue's 16, without iterating", async () => {
    const ws = await connect(url("/echo"), { compression: false, maxQueuedMessages: 16 });
    const got: unknown[] = [];
    let all!: () => void;
    const done = new Promise<void>((resolve) => (all = resolve));
    ws.on("message", (m) => {
      got.push(m);
      if (got.length === 100) all();
    });
    for (let i = 0; i < 100; i++) void ws.send(`m${i}`);
    await done;
    assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => `m${i}`));
    await ws.close();
  });

  it("a listener attached after `await connect()` also gets what arrived with the handshake", async () => {
    const ws = await connect(url("/headers"));
    const got: unknown[] = [];
    let first!: () => void;
    const arrived = new Promise<void>((resolve) => (first = resolve));
    ws.on("message", (m) => {
      got.push(m);
      first();
    });
    await arrived;
    assert.equal(got.length, 1);
    await ws.close();
  });

  it("removing the last listener goes back to the queue: iteration gets the rest", async () => {
    const ws = await connect(url("/echo"), { compression: false });
    const heard: unknown[] = [];
    let one!: () => void;
    const first = new Promise<void>((resolve) => (one = resolve));
    const off = ws.on("message", (m) => {
      heard.push(m);
      one();
    });
    await ws.send("to the listener");
    await first;
    off();
    await ws.send("to the iterator");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "to the iterator");
    assert.deepEqual(heard, ["to the listener"]);
    await ws.close();
  });

  it("a send after close is rejected for those who await it and never an unhandled rejection", async () => {
    const ws = await connect(url("/echo"), { compression: false });
    await ws.close();
    let unhandled = 0;
    const onUnhandled = () => unhandled++;
    process.on("unhandledRejection", onUnhandled);
    try {
      void ws.send("fire and forget"); // ws and the WHATWG API drop it; so does sprig
      await assert.rejects(ws.send("awaited"), NotOpenError);
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((r) => setTimeout(r, 0));
      assert.equal(unhandled, 0);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
