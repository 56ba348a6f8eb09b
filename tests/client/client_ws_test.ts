// The client against a real peer: the `ws` package's server on Node, started
// by the test on 127.0.0.1. The same file runs under Deno, Bun and Node, so
// each runtime's own socket adapter is exercised.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import {
  AbortError,
  connect,
  ConnectionClosedError,
  ConnectionError,
  HandshakeError,
  TimeoutError,
} from "../../mod.ts";
import { type Peer, startWsPeer } from "../_helpers/peer.ts";
import { pseudoRandomBytes } from "../_helpers/bytes.ts";

let plain: Peer;
let deflate: Peer;

before(async () => {
  [plain, deflate] = await Promise.all([
    startWsPeer("--protocols", "chat.v1"),
    startWsPeer("--deflate"),
  ]);
});
after(async () => {
  await Promise.all([plain?.stop(), deflate?.stop()]);
});

const url = (peer: Peer, path: string) => `ws://127.0.0.1:${peer.port}${path}`;

/** A TCP server that accepts and never answers; for handshake timeouts and aborts. */
async function silentServer(): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("client against ws (no compression)", () => {
  it("echoes text as text and binary as binary, then closes cleanly", async () => {
    const ws = await connect(url(plain, "/echo"), { compression: false });
    assert.equal(ws.protocol, "");
    assert.equal(ws.extensions, "");
    await ws.send("hello");
    await ws.send(new Uint8Array([1, 2, 3]));
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
    assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array([1, 2, 3]));
    const info = await ws.close(1000, "done");
    assert.equal(info.code, 1000);
    assert.equal(info.wasClean, true);
    assert.equal(ws.readyState, "closed");
  });

  it("sends extra headers and negotiates a subprotocol", async () => {
    const ws = await connect(url(plain, "/headers"), {
      compression: false,
      protocols: ["chat.v2", "chat.v1"],
      headers: { authorization: "Bearer t0ken", "x-sprig-test": "yes" },
    });
    assert.equal(ws.protocol, "chat.v1");
    const headers = JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string);
    assert.equal(headers.authorization, "Bearer t0ken");
    assert.equal(headers["x-sprig-test"], "yes");
    assert.equal(headers["sec-websocket-protocol"], "chat.v2, chat.v1");
    await ws.close();
  });

  it("a refused handshake fails with the status, headers and body", async () => {
    const error = await connect(url(plain, "/refuse"), { compression: false }).then(
      () => assert.fail("connected"),
      (e) => e,
    );
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.status, 401);
    assert.equal(error.headers.get("content-type"), "text/plain");
    assert.equal(error.bodyText, "no entry, go");
  });

  it("ping() resolves with the round-trip time", async () => {
    const ws = await connect(url(plain, "/echo"), { compression: false });
    const rtt = await ws.ping();
    assert.ok(rtt >= 0 && rtt < 5000, String(rtt));
    await ws.close();
  });

  it("a 16 MiB binary message goes and comes back intact", async () => {
    const ws = await connect(url(plain, "/echo"), { compression: false });
    const big = pseudoRandomBytes(16 * 1024 * 1024, 42);
    await ws.send(big);
    const back = await ws.receive({ timeoutMs: 60_000 });
    assert.ok(back instanceof Uint8Array);
    assert.equal(back.length, big.length);
    assert.deepEqual(back, big);
    await ws.close();
  });

  it("many small messages arrive in order with a slow reader", async () => {
    const ws = await connect(url(plain, "/echo"), { compression: false, maxQueuedMessages: 4 });
    const n = 2000;
    for (let i = 0; i < n; i++) await ws.send(`m${i}`);
    let i = 0;
    for await (const m of ws) {
      assert.equal(m, `m${i}`);
      if (++i === n) break;
    }
    assert.equal(i, n);
    await ws.close();
  });

  it("sends a message streamed in fragments", async () => {
    const ws = await connect(url(plain, "/echo"), { compression: false });
    await ws.sendStream(["a", "b", "c"]);
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "abc");
    await ws.close();
  });

  it("the server's close 4001 ends iteration with ConnectionClosedError and its code", async () => {
    const ws = await connect(url(plain, "/close/4001"), { compression: false });
    const seen: unknown[] = [];
    // A clean close, but not a normal one (1000/1001): an error since issue 26.
    await assert.rejects(
      async () => {
        for await (const m of ws) seen.push(m);
      },
      (e: unknown) =>
        e instanceof ConnectionClosedError && e.closeCode === 4001 && e.reason === "bye",
    );
    assert.deepEqual(seen, []);
    const info = await ws.closed;
    assert.equal(info.code, 4001);
    assert.equal(info.reason, "bye");
    assert.equal(info.wasClean, true);
  });

  it("a dropped connection ends iteration with ConnectionClosedError (1006)", async () => {
    const ws = await connect(url(plain, "/drop"), { compression: false });
    await assert.rejects(async () => {
      for await (const _ of ws) { /* nothing arrives */ }
    }, (e: unknown) => e instanceof ConnectionClosedError && e.info.code === 1006);
    assert.equal((await ws.closed).wasClean, false);
  });

  it("keepalive detects a peer that stops answering", async () => {
    const ws = await connect(url(plain, "/deaf"), {
      compression: false,
      keepalive: { intervalMs: 100, timeoutMs: 300 },
    });
    const info = await ws.closed;
    assert.equal(info.wasClean, false);
    assert.ok(info.error instanceof TimeoutError, String(info.error));
    assert.equal((info.error as TimeoutError).code, "KEEPALIVE_TIMEOUT");
  });

  it("close() is bounded by closeTimeoutMs when the peer never answers", async () => {
    const ws = await connect(url(plain, "/deaf"), {
      compression: false,
      keepalive: false,
      closeTimeoutMs: 300,
    });
    const info = await ws.close();
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
    assert.equal((info.error as TimeoutError).code, "CLOSE_TIMEOUT");
  });
});

describe("client: failures before open", () => {
  it("an already aborted signal fails at once", async () => {
    await assert.rejects(connect(url(plain, "/echo"), { signal: AbortSignal.abort() }), AbortError);
  });

  it("aborting during the handshake fails with AbortError", async () => {
    const silent = await silentServer();
    try {
      const controller = new AbortController();
      const pending = connect(`ws://127.0.0.1:${silent.port}/`, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      await assert.rejects(pending, AbortError);
    } finally {
      silent.close();
    }
  });

  it("a server that never answers hits the handshake timeout", async () => {
    const silent = await silentServer();
    try {
      await assert.rejects(
        connect(`ws://127.0.0.1:${silent.port}/`, { handshakeTimeoutMs: 200 }),
        (e: unknown) => e instanceof TimeoutError && e.code === "HANDSHAKE_TIMEOUT",
      );
    } finally {
      silent.close();
    }
  });

  it("a closed port fails with ConnectionError CONNECT_REFUSED", async () => {
    const s = net.createServer();
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const port = (s.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`),
      (e: unknown) => e instanceof ConnectionError && e.code === "CONNECT_REFUSED",
    );
  });

  it("TLS to a plain-text port fails with TLS_FAILED", async () => {
    const s = net.createServer((c) => c.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const port = (s.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        connect(`wss://127.0.0.1:${port}/`),
        (e: unknown) => e instanceof ConnectionError && e.code === "TLS_FAILED",
      );
    } finally {
      s.close();
    }
  });
});

describe("client against ws with permessage-deflate", () => {
  it("negotiates compression and round-trips many messages with context takeover", async () => {
    const ws = await connect(url(deflate, "/echo"));
    assert.match(ws.extensions, /^permessage-deflate/);
    const texts = Array.from(
      { length: 200 },
      (_, i) => JSON.stringify({ i, text: "the same words again and again", n: i * 7 }),
    );
    for (const t of texts) await ws.send(t);
    for (const t of texts) assert.equal(await ws.receive({ timeoutMs: 5000 }), t);
    await ws.close();
  });

  it("round-trips a large compressible text and a large random binary", async () => {
    const ws = await connect(url(deflate, "/echo"));
    const text = "sprig ".repeat(500_000);
    const bin = pseudoRandomBytes(2 * 1024 * 1024, 7);
    await ws.send(text);
    await ws.send(bin);
    assert.equal(await ws.receive({ timeoutMs: 30_000 }), text);
    assert.deepEqual(await ws.receive({ timeoutMs: 30_000 }), bin);
    await ws.close();
  });
});
