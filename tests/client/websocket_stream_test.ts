// WebSocketStream and WebSocketError as the WHATWG WebSockets Standard's
// WebSocketStream text specifies them (whatwg/websockets, branch
// "add-websocketstream": the interface, "close the WebSocket", "close using
// reason", the write algorithm, WebSocketError), against ws's server, which
// answers a close frame with the same code and reason — so `closed` shows
// what the client sent, as the web-platform-tests' echo server does.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import process from "node:process";
import { HandshakeError, WebSocketError, WebSocketStream } from "../../mod.ts";
import { type Peer, startWsPeer } from "../_helpers/peer.ts";

let peer: Peer;
/** A TCP server that accepts and never answers the handshake. */
let silent: net.Server;
let silentPort = 0;
const silentSockets = new Set<net.Socket>();

before(async () => {
  peer = await startWsPeer();
  silent = net.createServer((socket) => {
    silentSockets.add(socket);
    socket.on("close", () => silentSockets.delete(socket));
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentPort = (silent.address() as net.AddressInfo).port;
});
after(async () => {
  for (const s of silentSockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await peer?.stop();
});

const url = (path: string) => `ws://127.0.0.1:${peer.port}${path}`;

/** Rejects with exactly this class (not a subclass: the standard throws plain TypeErrors). */
function exactly(cls: new (...args: never[]) => Error): (e: unknown) => boolean {
  return (e) => (e as Error)?.constructor === cls;
}
function domException(name: string): (e: unknown) => boolean {
  return (e) => e instanceof DOMException && e.name === name;
}

describe("WebSocketError", () => {
  it("is a DOMException named WebSocketError with closeCode and reason", () => {
    const plain = new WebSocketError();
    assert.ok(plain instanceof DOMException);
    assert.equal(plain.name, "WebSocketError");
    assert.deepEqual([plain.message, plain.closeCode, plain.reason], ["", null, ""]);
    const full = new WebSocketError("m", { closeCode: 4000, reason: "r" });
    assert.deepEqual([full.message, full.closeCode, full.reason], ["m", 4000, "r"]);
    // A reason without a code gets 1000 ("Normal Closure").
    assert.equal(new WebSocketError("", { reason: "r" }).closeCode, 1000);
    assert.equal(WebSocketError.length, 0);
    assert.equal(
      Object.getOwnPropertyDescriptor(WebSocketError.prototype, "closeCode")!.enumerable,
      true,
    );
  });

  it("validates the code and the reason as close() does", () => {
    for (const closeCode of [999, 1001, 1005, 2999, 5000]) {
      assert.throws(
        () => new WebSocketError("", { closeCode }),
        domException("InvalidAccessError"),
      );
    }
    assert.throws(
      () => new WebSocketError("", { reason: "é".repeat(62) }), // 124 bytes
      domException("SyntaxError"),
    );
    // [EnforceRange] unsigned short.
    assert.throws(() => new WebSocketError("", { closeCode: 70000 }), exactly(TypeError));
    assert.throws(() => new WebSocketError("", { closeCode: NaN }), exactly(TypeError));
    assert.throws(() => new WebSocketError("", 5 as never), exactly(TypeError));
  });
});

describe("WebSocketStream: the constructor's errors", () => {
  it("TypeError for what WebIDL cannot convert, SyntaxError DOMException for what the steps refuse", () => {
    const Ctor = WebSocketStream as unknown as new (...args: unknown[]) => WebSocketStream;
    assert.throws(() => new Ctor(), exactly(TypeError));
    assert.throws(() => new Ctor(url("/echo"), "fast"), exactly(TypeError));
    assert.throws(() => new Ctor(url("/echo"), { protocols: "chat" }), exactly(TypeError));
    assert.throws(() => new Ctor(url("/echo"), { signal: {} }), exactly(TypeError));
    assert.throws(() => new Ctor(Symbol("url")), exactly(TypeError));
    for (const bad of ["not a url", "ftp://127.0.0.1/", `${url("/")}#x`, "relative"]) {
      assert.throws(() => new WebSocketStream(bad), domException("SyntaxError"), bad);
    }
    assert.throws(
      () => new WebSocketStream(url("/"), { protocols: ["a b"] }),
      domException("SyntaxError"),
    );
    assert.throws(
      () => new WebSocketStream(url("/"), { protocols: ["a", "a"] }),
      domException("SyntaxError"),
    );
    assert.equal(WebSocketStream.length, 1);
  });

  it("maps http: to ws: and resolves a relative URL against the global base URL", async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, "location");
    Object.defineProperty(globalThis, "location", {
      value: { href: `http://127.0.0.1:${peer.port}/page` },
      configurable: true,
      writable: true,
    });
    let wss: WebSocketStream;
    try {
      wss = new WebSocketStream("echo");
    } finally {
      if (saved) Object.defineProperty(globalThis, "location", saved);
      else delete (globalThis as { location?: unknown }).location;
    }
    assert.equal(wss.url, url("/echo"));
    await wss.opened;
    wss.close();
    await wss.closed;
    assert.equal(
      new WebSocketStream(`http://127.0.0.1:${silentPort}/`, { signal: AbortSignal.abort() }).url,
      `ws://127.0.0.1:${silentPort}/`,
    );
  });
});

describe("WebSocketStream: closing", () => {
  it("close() without a code sends a close frame with no code (the peer sees 1005)", async () => {
    for (const info of [undefined, {}, { reason: "" }]) {
      const wss = new WebSocketStream(url("/echo"));
      await wss.opened;
      wss.close(info);
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" }, JSON.stringify(info));
    }
  });

  it("close() with a code and reason sends them; a reason alone goes with 1000", async () => {
    const a = new WebSocketStream(url("/echo"));
    await a.opened;
    a.close({ closeCode: 3456, reason: "pizza" });
    assert.deepEqual(await a.closed, { closeCode: 3456, reason: "pizza" });
    const b = new WebSocketStream(url("/echo"));
    await b.opened;
    b.close({ reason: "non-empty" });
    assert.deepEqual(await b.closed, { closeCode: 1000, reason: "non-empty" });
  });

  it("close() validates: InvalidAccessError, SyntaxError, TypeError", async () => {
    const wss = new WebSocketStream(url("/echo"));
    await wss.opened;
    for (const closeCode of [999, 1001, 2999, 5000]) {
      assert.throws(() => wss.close({ closeCode }), domException("InvalidAccessError"));
    }
    assert.throws(() => wss.close({ reason: ".".repeat(124) }), domException("SyntaxError"));
    assert.throws(() => wss.close(true as never), exactly(TypeError));
    assert.throws(() => wss.close({ closeCode: 65536 }), exactly(TypeError));
    // Nothing was sent by the refused calls.
    wss.close({ closeCode: 4000 });
    assert.deepEqual(await wss.closed, { closeCode: 4000, reason: "" });
  });

  for (
    const [what, end] of [
      ["writable.close()", (i: { writable: WritableStream }) => i.writable.close()],
      ["writable.abort()", (i: { writable: WritableStream }) => i.writable.abort()],
      ["readable.cancel()", (i: { readable: ReadableStream }) => i.readable.cancel()],
      [
        "abort() with a plain object",
        (i: { writable: WritableStream }) => i.writable.abort({ closeCode: 3456, reason: "x" }),
      ],
    ] as const
  ) {
    it(`${what} closes cleanly without a code`, async () => {
      const wss = new WebSocketStream(url("/echo"));
      const info = await wss.opened;
      await (end as (i: unknown) => Promise<void>)(info);
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
    });
  }

  it("abort() and cancel() with a WebSocketError close with its code and reason", async () => {
    const a = new WebSocketStream(url("/echo"));
    await (await a.opened).writable.abort(new WebSocketError("", { closeCode: 4001, reason: "w" }));
    assert.deepEqual(await a.closed, { closeCode: 4001, reason: "w" });
    const b = new WebSocketStream(url("/echo"));
    await (await b.opened).readable.cancel(
      new WebSocketError("", { closeCode: 4002, reason: "r" }),
    );
    assert.deepEqual(await b.closed, { closeCode: 4002, reason: "r" });
  });

  it("writable.close() resolves once the closing handshake is done", async () => {
    const wss = new WebSocketStream(url("/echo"));
    const { writable } = await wss.opened;
    let closed = false;
    wss.closed.then(() => (closed = true));
    await writable.close();
    await Promise.resolve();
    assert.equal(closed, true);
  });

  it("close() during the handshake rejects opened and closed with WebSocketError", async () => {
    const wss = new WebSocketStream(`ws://127.0.0.1:${silentPort}/`);
    wss.close({ closeCode: 4000, reason: "ignored" });
    const opened = await wss.opened.then(() => undefined, (e) => e);
    const closed = await wss.closed.then(() => undefined, (e) => e);
    assert.ok(opened instanceof WebSocketError, String(opened));
    assert.equal(opened.closeCode, null);
    assert.ok(closed instanceof WebSocketError, String(closed));
    assert.equal(closed.closeCode, 1006);
    // The same against a server that would have accepted.
    const real = new WebSocketStream(url("/echo"));
    real.close();
    await assert.rejects(real.opened, WebSocketError);
    await assert.rejects(real.closed, (e) => e instanceof WebSocketError && e.closeCode === 1006);
  });

  it("after a clean close by the server: readable ends, writable errors with InvalidStateError", async () => {
    const wss = new WebSocketStream(url("/close/4003"));
    const { readable, writable } = await wss.opened;
    assert.deepEqual(await wss.closed, { closeCode: 4003, reason: "bye" });
    const reader = readable.getReader();
    assert.deepEqual(await reader.read(), { done: true, value: undefined });
    const writer = writable.getWriter();
    await assert.rejects(writer.write("late"), domException("InvalidStateError"));
    await assert.rejects(writer.closed, domException("InvalidStateError"));
  });

  it("a connection that drops: closed, readable and writable reject with one WebSocketError (1006)", async () => {
    const wss = new WebSocketStream(url("/drop"));
    const { readable, writable } = await wss.opened;
    const error = await wss.closed.then(() => undefined, (e) => e);
    assert.ok(error instanceof WebSocketError, String(error));
    assert.equal(error.closeCode, 1006);
    await assert.rejects(readable.getReader().read(), (e) => e === error);
    await assert.rejects(writable.getWriter().closed, (e) => e === error);
  });

  it("a refused handshake: opened rejects with WebSocketError (its cause the HandshakeError)", async () => {
    const wss = new WebSocketStream(url("/refuse"));
    const error = await wss.opened.then(() => undefined, (e) => e);
    assert.ok(error instanceof WebSocketError, String(error));
    assert.equal(error.closeCode, null);
    assert.ok(error.cause instanceof HandshakeError);
    await assert.rejects(wss.closed, (e) => e instanceof WebSocketError && e.closeCode === 1006);
  });
});

describe("WebSocketStream: the signal", () => {
  it("an aborted signal rejects opened and closed with its reason, without connecting", async () => {
    const reason = new Error("mine");
    const wss = new WebSocketStream(url("/echo"), { signal: AbortSignal.abort(reason) });
    await assert.rejects(wss.opened, (e) => e === reason);
    await assert.rejects(wss.closed, (e) => e === reason);
  });

  it("aborting during the handshake rejects both with a DOMException named AbortError", async () => {
    const controller = new AbortController();
    const wss = new WebSocketStream(`ws://127.0.0.1:${silentPort}/`, { signal: controller.signal });
    await new Promise<void>((resolve) => {
      const poll = (n: number) =>
        silentSockets.size > 0 || n === 0 ? resolve() : setTimeout(() => poll(n - 1), 5);
      poll(1000);
    });
    controller.abort();
    await assert.rejects(wss.opened, domException("AbortError"));
    await assert.rejects(wss.closed, domException("AbortError"));
  });

  it("aborting after the handshake does nothing: no unhandled rejection, the connection works", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const controller = new AbortController();
      const wss = new WebSocketStream(url("/echo"), { signal: controller.signal });
      const { readable, writable } = await wss.opened;
      controller.abort();
      const writer = writable.getWriter();
      await writer.write("still open");
      const reader = readable.getReader();
      assert.deepEqual(await reader.read(), { done: false, value: "still open" });
      await new Promise((resolve) => setTimeout(resolve, 0));
      wss.close();
      assert.deepEqual(await wss.closed, { closeCode: 1005, reason: "" });
      await new Promise((resolve) => setTimeout(resolve, 0));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

/** A resizable ArrayBuffer (ES2024, beyond the lib this project types against). */
function resizable(): ArrayBuffer {
  const Ctor = ArrayBuffer as unknown as new (
    n: number,
    o: { maxByteLength: number },
  ) => ArrayBuffer;
  return new Ctor(4, { maxByteLength: 8 });
}

describe("WebSocketStream: writing", () => {
  it("sends strings as text and BufferSources as binary, other values as their string", async () => {
    const wss = new WebSocketStream(url("/echo"));
    const { readable, writable } = await wss.opened;
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write("text");
    await writer.write(new Uint16Array([0x0201]));
    await writer.write(new Uint8Array([7, 8, 9]).buffer);
    await writer.write(42 as never);
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await reader.read()).value);
    assert.deepEqual(got, ["text", new Uint8Array([1, 2]), new Uint8Array([7, 8, 9]), "42"]);
    // "A new Uint8Array whose contents are data": its buffer holds the message alone.
    for (const chunk of got.filter((c) => c instanceof Uint8Array)) {
      assert.equal((chunk as Uint8Array).buffer.byteLength, (chunk as Uint8Array).byteLength);
    }
    wss.close();
    await wss.closed;
  });

  it("refuses shared and resizable buffers with a TypeError (WebIDL's BufferSource)", async () => {
    const cases: Array<[string, unknown]> = [
      ["a SharedArrayBuffer", new SharedArrayBuffer(4)],
      ["a view of a SharedArrayBuffer", new Uint8Array(new SharedArrayBuffer(4))],
      ["a resizable ArrayBuffer", resizable()],
      [
        "a view of a resizable ArrayBuffer",
        new Uint8Array(resizable()),
      ],
    ];
    for (const [what, chunk] of cases) {
      const wss = new WebSocketStream(url("/echo"));
      const { writable } = await wss.opened;
      await assert.rejects(
        writable.getWriter().write(chunk as Uint8Array),
        exactly(TypeError),
        what,
      );
      wss.close();
      await wss.closed;
    }
  });
});
