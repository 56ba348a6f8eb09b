// The WHATWG-compatible `WebSocket` class (issue 20): the standard's
// observable behaviour — argument checks, readyState transitions, the event
// order open → message… → (error) → close, handler attributes among
// listeners, binaryType, bufferedAmount draining — against sprig's server.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CloseEvent,
  ConnectionError,
  serve,
  type Server,
  WebSocket,
  WebSocketErrorEvent,
} from "../../mod.ts";
import { until } from "../server/_hosts.ts";

let server: Server;
/** The close codes and reasons the server received, in order. */
const closes: { code: number; reason: string }[] = [];
let url: string;

before(async () => {
  server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    protocols: ["chat.v1", "chat.v2"],
    onError: () => {},
    fetch: () => new Response("not a websocket", { status: 404 }),
  }, {
    init: (ctx) => {
      const path = ctx.url.pathname;
      // Two messages, then a close with a code and a reason.
      if (path === "/greet") {
        return { push: ["hello", "world"], stop: { code: 4001, reason: "bye" } };
      }
      if (path === "/refuse") throw new Error("refused by the test");
      return { state: undefined };
    },
    terminate: (why) => {
      if (why.type === "remote") closes.push({ code: why.code, reason: why.reason });
    },
    in: (message) => {
      if (message === "close-me") return { stop: { code: 4002, reason: "asked" } };
      if (message === "burst") return { push: ["one", "two", "three"] };
      return { push: message };
    },
  });
  url = `ws://127.0.0.1:${server.port}`;
});
after(async () => {
  await server.shutdown();
});

/** Records the events a socket dispatches, in order. */
function record(ws: WebSocket): { log: string[]; closed: Promise<CloseEvent> } {
  const log: string[] = [];
  const closed = new Promise<CloseEvent>((resolve) => {
    ws.addEventListener("open", () => log.push(`open:${ws.readyState}`));
    ws.addEventListener("message", (e) => log.push(`message:${String(e.data)}`));
    ws.addEventListener("error", () => log.push(`error:${ws.readyState}`));
    ws.addEventListener("close", (e) => {
      const c = e as CloseEvent;
      log.push(`close:${c.code}:${c.reason}:${c.wasClean}:${ws.readyState}`);
      resolve(c);
    });
  });
  return { log, closed };
}

describe("WebSocket class: constants and constructor checks", () => {
  it("has the readyState constants on the class and on instances", () => {
    assert.deepEqual(
      [WebSocket.CONNECTING, WebSocket.OPEN, WebSocket.CLOSING, WebSocket.CLOSED],
      [0, 1, 2, 3],
    );
    assert.equal(WebSocket.prototype.OPEN, 1);
    assert.equal(WebSocket.prototype.CLOSED, 3);
  });

  it("throws SyntaxError for bad URLs, schemes, fragments and subprotocols", () => {
    const syntax = (f: () => unknown) =>
      assert.throws(f, (e) => e instanceof DOMException && e.name === "SyntaxError");
    syntax(() => new WebSocket("not a url"));
    syntax(() => new WebSocket("ftp://127.0.0.1/"));
    syntax(() => new WebSocket(`${url}/#frag`));
    syntax(() => new WebSocket(`${url}/#`));
    syntax(() => new WebSocket(`${url}/`, "bad protocol"));
    syntax(() => new WebSocket(`${url}/`, ["a", "a"]));
    syntax(() => new WebSocket(`${url}/`, [""]));
  });

  it("maps http: to ws: and reports the parsed URL", async () => {
    const ws = new WebSocket(`http://127.0.0.1:${server.port}/x?y=1`);
    assert.equal(ws.url, `ws://127.0.0.1:${server.port}/x?y=1`);
    assert.equal(ws.readyState, WebSocket.CONNECTING);
    assert.equal(ws.protocol, "");
    assert.equal(ws.binaryType, "blob");
    assert.equal(ws.bufferedAmount, 0);
    const { closed } = record(ws);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    ws.close();
    await closed;
  });

  it("send() while CONNECTING throws InvalidStateError", async () => {
    const ws = new WebSocket(`${url}/`);
    assert.throws(
      () => ws.send("too early"),
      (e) => e instanceof DOMException && e.name === "InvalidStateError",
    );
    const { closed } = record(ws);
    ws.onopen = () => ws.close();
    await closed;
  });
});

describe("WebSocket class: the life cycle", () => {
  it("open → messages → close, with readyState at each step and the server's code and reason", async () => {
    const ws = new WebSocket(`${url}/greet`);
    const { log, closed } = record(ws);
    const event = await closed;
    assert.ok(event instanceof CloseEvent);
    assert.deepEqual(log, [
      "open:1",
      "message:hello",
      "message:world",
      "close:4001:bye:true:3",
    ]);
  });

  it("echoes text and binary; binaryType picks the type", async () => {
    const ws = new WebSocket(`${url}/`);
    const got: unknown[] = [];
    const { closed } = record(ws);
    ws.onopen = () => {
      ws.binaryType = "arraybuffer";
      ws.send("text");
      ws.send(new Uint8Array([1, 2, 3]));
    };
    ws.onmessage = (event) => {
      const data = event.data;
      got.push(data);
      if (got.length === 2) {
        ws.binaryType = "uint8array";
        ws.send(new Uint8Array([4, 5]).buffer);
      } else if (got.length === 3) {
        ws.binaryType = "blob";
        ws.send(new Blob([new Uint8Array([6])]));
      } else if (got.length === 4) {
        ws.close(1000, "done");
      }
    };
    const end = await closed;
    assert.equal(got[0], "text");
    assert.ok(got[1] instanceof ArrayBuffer);
    assert.deepEqual([...new Uint8Array(got[1] as ArrayBuffer)], [1, 2, 3]);
    assert.ok(got[2] instanceof Uint8Array);
    assert.deepEqual([...(got[2] as Uint8Array)], [4, 5]);
    assert.ok(got[3] instanceof Blob);
    assert.deepEqual([...new Uint8Array(await (got[3] as Blob).arrayBuffer())], [6]);
    assert.equal(end.code, 1000);
    assert.equal(end.wasClean, true);
    assert.deepEqual(closes.at(-1), { code: 1000, reason: "done" }); // what the server got
  });

  it("ignores binaryType values the standard does not name", () => {
    const ws = new WebSocket(`${url}/`);
    ws.binaryType = "nodebuffer" as never;
    assert.equal(ws.binaryType, "blob");
    ws.close();
  });

  it("offers subprotocols and reports the chosen one and the extensions", async () => {
    const ws = new WebSocket(`${url}/`, ["chat.v2", "chat.v1"]);
    const { closed } = record(ws);
    await new Promise((resolve) => (ws.onopen = resolve));
    assert.equal(ws.protocol, "chat.v2");
    assert.match(ws.extensions, /^permessage-deflate/); // offered by default, as browsers do
    ws.close();
    await closed;
  });

  it("takes sprig's options as the third argument (or the second, as Bun does)", async () => {
    const a = new WebSocket(`${url}/`, [], { compression: false });
    const b = new WebSocket(`${url}/`, { protocols: "chat.v1", compression: false });
    const ra = record(a);
    const rb = record(b);
    await Promise.all([
      new Promise((r) => (a.onopen = r)),
      new Promise((r) => (b.onopen = r)),
    ]);
    assert.equal(a.extensions, "");
    assert.equal(b.protocol, "chat.v1");
    a.close();
    b.close();
    await Promise.all([ra.closed, rb.closed]);
  });

  it("close() checks its arguments as the standard says", async () => {
    const ws = new WebSocket(`${url}/`);
    const { closed } = record(ws);
    await new Promise((resolve) => (ws.onopen = resolve));
    const access = (f: () => unknown) =>
      assert.throws(f, (e) => e instanceof DOMException && e.name === "InvalidAccessError");
    access(() => ws.close(1001));
    access(() => ws.close(2999));
    access(() => ws.close(5000));
    access(() => ws.close(0));
    assert.throws(
      () => ws.close(1000, "é".repeat(62)), // 124 bytes
      (e) => e instanceof DOMException && e.name === "SyntaxError",
    );
    assert.equal(ws.readyState, WebSocket.OPEN); // a refused close changes nothing
    ws.close(4999, "x".repeat(123));
    assert.equal(ws.readyState, WebSocket.CLOSING);
    ws.close(1000); // does nothing once closing
    const end = await closed;
    assert.equal(end.code, 4999);
    assert.deepEqual(closes.at(-1), { code: 4999, reason: "x".repeat(123) });
  });

  it("messages arriving after close() are not delivered", async () => {
    const ws = new WebSocket(`${url}/`);
    const { log, closed } = record(ws);
    ws.onopen = () => ws.send("burst");
    ws.onmessage = () => ws.close(); // after "one"; "two" and "three" are dropped
    await closed;
    assert.deepEqual(log.filter((l) => l.startsWith("message")), ["message:one"]);
  });

  it("a close started by the server moves through CLOSING to CLOSED", async () => {
    const ws = new WebSocket(`${url}/`);
    const { log, closed } = record(ws);
    ws.onopen = () => ws.send("close-me");
    await closed;
    assert.deepEqual(log, ["open:1", "close:4002:asked:true:3"]);
  });

  it("close() while CONNECTING: error then close with 1006, never open", async () => {
    const ws = new WebSocket(`${url}/`);
    const { log, closed } = record(ws);
    ws.close();
    assert.equal(ws.readyState, WebSocket.CLOSING);
    const end = await closed;
    assert.deepEqual(log, ["error:3", "close:1006::false:3"]);
    assert.equal(end.wasClean, false);
  });

  it("a refused handshake: error (carrying the HandshakeError) then close 1006", async () => {
    const plain = await serve({
      hostname: "127.0.0.1",
      port: 0,
      onError: () => {},
      upgrade: () => new Response("go away", { status: 403 }),
    }, { in: () => {} });
    try {
      const refused = new WebSocket(`ws://127.0.0.1:${plain.port}/`);
      const errors: Event[] = [];
      refused.onerror = (e) => void errors.push(e);
      const { log, closed } = record(refused);
      const end = await closed;
      assert.deepEqual(log, ["error:3", "close:1006::false:3"]);
      assert.equal(end.code, 1006);
      assert.ok(errors[0] instanceof WebSocketErrorEvent);
      const error = (errors[0] as WebSocketErrorEvent).error as { status?: number; code?: string };
      assert.equal(error.code, "HANDSHAKE_REFUSED");
      assert.equal(error.status, 403);
    } finally {
      await plain.shutdown();
    }
  });

  it("a connection refused at the TCP level: error then close 1006", async () => {
    const closedServer = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
    const port = closedServer.port;
    await closedServer.shutdown();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const errors: unknown[] = [];
    ws.addEventListener("error", (e) => void errors.push(e.error));
    const { log, closed } = record(ws);
    await closed;
    assert.deepEqual(log, ["error:3", "close:1006::false:3"]);
    assert.ok(errors[0] instanceof ConnectionError);
    assert.equal((errors[0] as ConnectionError).code, "CONNECT_REFUSED");
  });
});

describe("WebSocket class: handler attributes", () => {
  it("run in the order first set, among addEventListener listeners; null removes", async () => {
    const ws = new WebSocket(`${url}/`);
    const order: string[] = [];
    ws.addEventListener("open", () => order.push("listener-1"));
    ws.onopen = () => order.push("handler-a");
    ws.addEventListener("open", () => order.push("listener-2"));
    ws.onopen = () => order.push("handler-b"); // replaces in place
    assert.equal(typeof ws.onopen, "function");
    ws.onmessage = () => order.push("never");
    ws.onmessage = null;
    assert.equal(ws.onmessage, null);
    const { closed } = record(ws);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    assert.deepEqual(order, ["listener-1", "handler-b", "listener-2"]);
    ws.onclose = function (this: WebSocket) {
      order.push(`close-this-${this === ws}`);
    };
    ws.send("echo");
    await new Promise((resolve) => ws.addEventListener("message", resolve));
    ws.close();
    await closed;
    assert.deepEqual(order, ["listener-1", "handler-b", "listener-2", "close-this-true"]);
  });
});

describe("WebSocket class: bufferedAmount", () => {
  it("counts bytes given to send() until the socket takes them, then drains to 0", async () => {
    const ws = new WebSocket(`${url}/`, [], { compression: false });
    const { closed } = record(ws);
    await new Promise((resolve) => (ws.onopen = resolve));
    const big = new Uint8Array(4 * 1024 * 1024);
    ws.send(big);
    ws.send("é"); // 2 bytes of UTF-8
    assert.equal(ws.bufferedAmount, big.byteLength + 2);
    let echoed = 0;
    ws.onmessage = () => void echoed++;
    await until(() => ws.bufferedAmount === 0 && echoed === 2, "the send buffer to drain");
    ws.close();
    await closed;
    // After closing began, sends are counted and never sent.
    ws.send("after");
    assert.equal(ws.bufferedAmount, 5);
  });

  it("drains to 0 after sends made in many turns", async () => {
    const ws = new WebSocket(`${url}/`, [], { compression: false });
    const { closed } = record(ws);
    await new Promise((resolve) => (ws.onopen = resolve));
    let echoed = 0;
    ws.onmessage = () => void echoed++;
    for (let turn = 0; turn < 5; turn++) {
      ws.send("abc");
      ws.send("de");
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    await until(() => ws.bufferedAmount === 0 && echoed === 10, "every turn's bytes to drain");
    ws.close();
    await closed;
  });
});

// Issue 28: what web-platform-tests check of the standard's text and of the
// WebIDL shape (WHATWG WebSockets "The WebSocket interface"; WebIDL §3.7).
describe("WebSocket class: the standard's text and WebIDL", () => {
  /** Runs `body` with `globalThis.location` set as a document's would be, then restores it. */
  async function withLocation(href: string, body: () => Promise<void>): Promise<void> {
    const saved = Object.getOwnPropertyDescriptor(globalThis, "location");
    Object.defineProperty(globalThis, "location", {
      value: { href },
      configurable: true,
      writable: true,
    });
    try {
      await body();
    } finally {
      if (saved) Object.defineProperty(globalThis, "location", saved);
      else delete (globalThis as { location?: unknown }).location;
    }
  }

  it("resolves a relative URL against the global base URL, when there is one", async () => {
    await withLocation(`http://127.0.0.1:${server.port}/dir/page.html`, async () => {
      const ws = new WebSocket("echo?q=1");
      assert.equal(ws.url, `ws://127.0.0.1:${server.port}/dir/echo?q=1`);
      assert.equal(new WebSocket("/x").url, `ws://127.0.0.1:${server.port}/x`);
      const { log, closed } = record(ws);
      ws.onopen = () => ws.close(1000);
      await closed;
      assert.deepEqual(log, ["open:1", "close:1000::true:3"]);
    });
    // Without a base URL, a relative URL does not parse.
    assert.throws(
      () => new WebSocket("echo"),
      (e) => e instanceof DOMException && e.name === "SyntaxError",
    );
  });

  it("compares repeated subprotocols as written: only an exact repeat is refused", async () => {
    assert.throws(
      () => new WebSocket(`${url}/`, ["chat.v1", "chat.v1"]),
      (e) => e instanceof DOMException && e.name === "SyntaxError",
    );
    const ws = new WebSocket(`${url}/`, ["chat.v1", "Chat.v1"]);
    const { closed } = record(ws);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    assert.equal(ws.protocol, "chat.v1");
    ws.close();
    await closed;
  });

  it("a missing argument is a TypeError: new WebSocket(), send()", async () => {
    const Ctor = WebSocket as unknown as new () => WebSocket;
    assert.throws(() => new Ctor(), TypeError);
    const ws = new WebSocket(`${url}/`);
    const send = ws.send as () => void;
    // Before the state check: a TypeError even while CONNECTING.
    assert.throws(() => send.call(ws), TypeError);
    const { closed } = record(ws);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    assert.throws(() => send.call(ws), TypeError);
    assert.equal(ws.bufferedAmount, 0);
    // Operations and attributes refuse another object as `this`.
    assert.throws(() => send.call({}), TypeError);
    ws.close();
    await closed;
  });

  it("send() refuses shared and resizable buffers with a TypeError (WebIDL's BufferSource)", async () => {
    const Resizable = ArrayBuffer as unknown as new (
      n: number,
      o: { maxByteLength: number },
    ) => ArrayBuffer;
    const cases: Array<[string, ArrayBufferLike | ArrayBufferView]> = [
      ["a SharedArrayBuffer", new SharedArrayBuffer(4)],
      ["a view of a SharedArrayBuffer", new Uint8Array(new SharedArrayBuffer(4))],
      ["a DataView of a SharedArrayBuffer", new DataView(new SharedArrayBuffer(4))],
      ["a resizable ArrayBuffer", new Resizable(4, { maxByteLength: 8 })],
      ["a view of a resizable ArrayBuffer", new Uint8Array(new Resizable(4, { maxByteLength: 8 }))],
    ];
    const ws = new WebSocket(`${url}/`);
    ws.binaryType = "arraybuffer";
    // WebIDL converts the argument first: a TypeError even while CONNECTING.
    for (const [what, data] of cases) assert.throws(() => ws.send(data), TypeError, what);
    const { closed } = record(ws);
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    for (const [what, data] of cases) {
      assert.throws(
        () => ws.send(data),
        (e: unknown) => e instanceof TypeError && e.constructor === TypeError,
        what,
      );
    }
    assert.equal(ws.bufferedAmount, 0, "nothing was queued");
    // An ordinary buffer still goes, and is the first message the server echoes.
    const echoed = new Promise<MessageEvent>((resolve) =>
      ws.addEventListener("message", resolve as (e: Event) => void, { once: true })
    );
    ws.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(new Uint8Array((await echoed).data as ArrayBuffer), new Uint8Array([1, 2, 3]));
    ws.close();
    await closed;
  });

  it("the constants are read-only and permanent, on the class and the prototype", () => {
    for (const [name, value] of [["CONNECTING", 0], ["OPEN", 1], ["CLOSING", 2], ["CLOSED", 3]]) {
      for (const holder of [WebSocket, WebSocket.prototype]) {
        assert.deepEqual(Object.getOwnPropertyDescriptor(holder, name as string), {
          value,
          writable: false,
          enumerable: true,
          configurable: false,
        });
      }
      // Module code is strict: the failed writes throw.
      assert.throws(() => ((WebSocket as unknown as Record<string, number>)[name as string] = 9));
      assert.throws(() => delete (WebSocket as unknown as Record<string, number>)[name as string]);
      assert.equal((WebSocket as unknown as Record<string, number>)[name as string], value);
    }
  });

  it("on… attributes keep any object (never calling a non-callable one); other values are null", async () => {
    const ws = new WebSocket(`${url}/`);
    const { log, closed } = record(ws);
    const notCallable = { handleEvent: () => log.push("handleEvent called") };
    ws.onopen = notCallable as unknown as () => void;
    assert.equal(ws.onopen, notCallable);
    for (const value of [1, "x", true, undefined, Symbol("s")]) {
      ws.onmessage = () => {};
      ws.onmessage = value as unknown as null;
      assert.equal(ws.onmessage, null, String(value));
    }
    await new Promise((resolve) => ws.addEventListener("open", resolve));
    ws.close();
    await closed;
    assert.deepEqual(log, ["open:1", "close:1005::true:3"]);
    // A handler returning false cancels a cancelable event (HTML's event handler processing).
    const other = new WebSocket(`${url}/`);
    other.onerror = () => false;
    assert.equal(other.dispatchEvent(new Event("error", { cancelable: true })), false);
    other.onerror = () => undefined;
    assert.equal(other.dispatchEvent(new Event("error", { cancelable: true })), true);
    const done = record(other).closed;
    other.close();
    await done;
  });

  it("CloseEvent: code, reason and wasClean are read-only getters on the prototype", () => {
    const event = new CloseEvent("close", {
      code: 65536 + 4000,
      reason: "r",
      wasClean: 1 as never,
    });
    assert.equal(event.code, 4000); // WebIDL unsigned short: modulo 2^16
    assert.equal(event.reason, "r");
    assert.equal(event.wasClean, true);
    for (const name of ["code", "reason", "wasClean"]) {
      assert.equal(Object.hasOwn(event, name), false, name);
      const d = Object.getOwnPropertyDescriptor(CloseEvent.prototype, name)!;
      assert.equal(typeof d.get, "function", name);
      assert.equal(d.set, undefined, name);
      assert.equal(d.enumerable, true, name);
      assert.throws(() => ((event as unknown as Record<string, unknown>)[name] = 1), TypeError);
    }
    const empty = new CloseEvent("close");
    assert.deepEqual([empty.code, empty.reason, empty.wasClean], [0, "", false]);
    assert.equal(CloseEvent.length, 1);
    const Ctor = CloseEvent as unknown as new () => CloseEvent;
    assert.throws(() => new Ctor(), TypeError);
  });

  it("has WebIDL's shape: enumerable members, WebSocket.length 1, Symbol.toStringTag", () => {
    assert.equal(WebSocket.length, 1);
    const members = [
      "url",
      "readyState",
      "bufferedAmount",
      "onopen",
      "onerror",
      "onclose",
      "extensions",
      "protocol",
      "close",
      "onmessage",
      "binaryType",
      "send",
    ];
    for (const name of members) {
      const d = Object.getOwnPropertyDescriptor(WebSocket.prototype, name);
      assert.ok(d, name);
      assert.equal(d.enumerable, true, name);
      assert.equal(d.configurable, true, name);
    }
    // EventTarget's methods are inherited, not copied onto the prototype.
    assert.equal(Object.hasOwn(WebSocket.prototype, "addEventListener"), false);
    assert.equal(
      Object.getOwnPropertyDescriptor(WebSocket.prototype, "constructor")!.enumerable,
      false,
    );
    const ws = new WebSocket(`${url}/`);
    ws.close();
    assert.equal(Object.prototype.toString.call(ws), "[object WebSocket]");
    assert.equal(Object.prototype.toString.call(new CloseEvent("close")), "[object CloseEvent]");
    assert.equal(
      Object.prototype.toString.call(new WebSocketErrorEvent("error", new Error("x"))),
      "[object WebSocketErrorEvent]",
    );
    assert.equal(Object.prototype.toString.call(WebSocket.prototype), "[object WebSocket]");
  });
});
