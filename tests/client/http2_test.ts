// connect() over HTTP/2 (RFC 8441), on every runtime, against servers in
// their own processes: sprig's serve({ http2: true }) run by Bun (Deno's
// node:http2 server cannot be used in-process; see the README), and a plain
// node:http2 server run by Node (tests/_peers/h2_server.mjs).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import { connect, ConnectionError, HandshakeError, Http2Error, serve } from "../../mod.ts";
import { type Peer, startPeer, startWsPeer } from "../_helpers/peer.ts";
import { NodeHttp2StreamTransport } from "../../lib/transport/http2.ts";
import { http2Get } from "../_helpers/http2.ts";

const ca = readFileSync(new URL("../_fixtures/ca.pem", import.meta.url), "utf8");
const bun = new URL("../../node_modules/.bin/bun", import.meta.url).pathname;
const sprigPeer = (...flags: string[]) =>
  startPeer(bun, [new URL("../_peers/sprig_h2_server.ts", import.meta.url).pathname, ...flags]);
const nodePeer = (...flags: string[]) =>
  startPeer("node", [new URL("../_peers/h2_server.mjs", import.meta.url).pathname, ...flags]);

const peers: Peer[] = [];
let sprigH2c: Peer;
let sprigTls: Peer;
before(async () => {
  [sprigH2c, sprigTls] = await Promise.all([sprigPeer(), sprigPeer("--tls")]);
  peers.push(sprigH2c, sprigTls);
});
after(async () => {
  await Promise.all(peers.map((p) => p.stop()));
});

for (const mode of ["h2c", "tls"] as const) {
  const url = (path: string) =>
    `${mode === "tls" ? "wss" : "ws"}://127.0.0.1:${
      (mode === "tls" ? sprigTls : sprigH2c).port
    }${path}`;
  const origin = () =>
    `${mode === "tls" ? "https" : "http"}://127.0.0.1:${
      (mode === "tls" ? sprigTls : sprigH2c).port
    }`;

  describe(`sprig client ↔ sprig server over HTTP/2 (${mode})`, () => {
    it("opens by extended CONNECT, negotiates subprotocol, compression and headers, echoes", async () => {
      const ws = await connect(url("/echo"), {
        http2: true,
        protocols: ["chat"],
        headers: { "x-custom": "yes" },
        tls: { caCerts: [ca] },
      });
      const hello = JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string);
      assert.equal(hello.httpVersion, "2");
      assert.equal(hello.protocol, "chat");
      assert.match(hello.extensions, /^permessage-deflate/);
      assert.equal(hello.custom, "yes");
      assert.equal(ws.protocol, "chat");
      assert.match(ws.extensions, /^permessage-deflate/);
      // RFC 8441 §5: no Upgrade / Sec-WebSocket-Accept in the 200.
      assert.equal(ws.headers.get("upgrade"), null);
      await ws.send("over h2");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "over h2");
      const closed = await ws.close(1000, "done");
      assert.equal(closed.code, 1000);
      assert.equal(closed.wasClean, true);
    });

    it("carries a 16 MiB message each way under HTTP/2 flow control, compressed and not", async () => {
      for (const compression of [true, false]) {
        const ws = await connect(url("/echo"), {
          http2: true,
          compression,
          tls: { caCerts: [ca] },
        });
        await ws.receive({ timeoutMs: 5000 }); // the greeting
        const big = new Uint8Array(16 << 20);
        for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 255;
        await ws.send(big);
        const back = await ws.receive({ timeoutMs: 60_000 }) as Uint8Array;
        assert.equal(back.length, big.length);
        assert.deepEqual(back, big);
        await ws.close();
      }
    });

    it("shares one HTTP/2 connection among WebSockets and plain requests; closing one leaves the rest", async () => {
      const session = http2.connect(origin(), { ca });
      session.on("error", () => {});
      try {
        const sockets = await Promise.all(
          [0, 1, 2].map(() => connect(url("/echo"), { http2Session: session })),
        );
        for (const ws of sockets) await ws.receive({ timeoutMs: 5000 });
        const [page] = await Promise.all([
          http2Get(session, "/page"),
          ...sockets.map((ws, i) => ws.send(`m${i}`)),
        ]);
        assert.equal(page, "plain /page");
        for (let i = 0; i < 3; i++) {
          assert.equal(await sockets[i].receive({ timeoutMs: 5000 }), `m${i}`);
        }
        assert.equal((await sockets[0].close()).wasClean, true);
        // The others, and the connection, go on.
        assert.equal(session.closed, false);
        await sockets[1].send("still here");
        assert.equal(await sockets[1].receive({ timeoutMs: 5000 }), "still here");
        assert.equal(await http2Get(session, "/again"), "plain /again");
        await Promise.all([sockets[1].close(), sockets[2].close()]);
      } finally {
        session.close();
      }
    });
  });
}

describe("sprig client ↔ a plain node:http2 server", () => {
  let h2c: Peer;
  let bare: Peer;
  let tlsPeer: Peer;
  before(async () => {
    [h2c, bare, tlsPeer] = await Promise.all([
      nodePeer(),
      nodePeer("--no-connect-protocol"),
      nodePeer("--tls", "--no-connect-protocol"),
    ]);
    peers.push(h2c, bare, tlsPeer);
  });

  it("sends the RFC 8441 pseudo-headers and masked frames", async () => {
    const ws = await connect(`ws://127.0.0.1:${h2c.port}/echo?x=1`, {
      http2: true,
      protocols: ["chat", "superchat"],
      origin: "http://app.test",
    });
    const seen = JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string);
    assert.equal(seen[":method"], "CONNECT");
    assert.equal(seen[":protocol"], "websocket");
    assert.equal(seen[":scheme"], "http");
    assert.equal(seen[":path"], "/echo?x=1");
    assert.equal(seen[":authority"], `127.0.0.1:${h2c.port}`);
    assert.equal(seen["sec-websocket-version"], "13");
    assert.equal(seen["sec-websocket-protocol"], "chat, superchat");
    assert.equal(seen["origin"], "http://app.test");
    assert.equal(seen["sec-websocket-key"], undefined);
    assert.equal(seen["upgrade"], undefined);
    assert.equal(ws.protocol, "chat");
    // The peer closes with 1002 on an unmasked frame; an echo means it was masked.
    await ws.send("masked?");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "masked?");
    assert.equal((await ws.close()).wasClean, true);
  });

  it("a 200 with END_STREAM to the extended CONNECT ends the session at once (1006)", async () => {
    // Issue 28: on Deno the stream had ended before the transport attached,
    // and the session waited for keepalive (or forever without it).
    const ws = await connect(`ws://127.0.0.1:${h2c.port}/accept-and-end`, {
      http2: true,
      keepalive: { intervalMs: 0 },
    });
    let timer: ReturnType<typeof setTimeout> | number | undefined;
    const info = await Promise.race([
      ws.closed,
      new Promise<undefined>((resolve) => (timer = setTimeout(resolve, 5000))),
    ]);
    clearTimeout(timer);
    assert.ok(info, "the session did not end");
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
  });

  it("a stream transport made after the stream ended sees the end (state read when attaching)", async () => {
    const session = http2.connect(`http://127.0.0.1:${h2c.port}`);
    session.on("error", () => {});
    try {
      const stream = session.request({
        ":method": "CONNECT",
        ":protocol": "websocket",
        ":scheme": "http",
        ":path": "/accept-and-end",
        ":authority": `127.0.0.1:${h2c.port}`,
        "sec-websocket-version": "13",
      });
      stream.on("error", () => {});
      // The whole response, END_STREAM included, is consumed before the transport exists.
      await new Promise<void>((resolve) => {
        stream.once("end", () => resolve());
        stream.resume();
      });
      const transport = new NodeHttp2StreamTransport(stream);
      let timer: ReturnType<typeof setTimeout> | number | undefined;
      const read = await Promise.race([
        transport.read(),
        new Promise<"hung">((resolve) => (timer = setTimeout(() => resolve("hung"), 5000))),
      ]);
      clearTimeout(timer);
      assert.equal(read, null);
      transport.close();
    } finally {
      session.destroy();
    }
  });

  it("a refusal is a HandshakeError with status, headers and body", async () => {
    const error = await connect(`ws://127.0.0.1:${h2c.port}/refuse`, { http2: true }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(error instanceof HandshakeError, String(error));
    assert.equal(error.code, "HANDSHAKE_REFUSED");
    assert.equal(error.status, 403);
    assert.equal(error.headers.get("x-why"), "refused");
    assert.equal(error.bodyText, "no entry");
  });

  it("without SETTINGS_ENABLE_CONNECT_PROTOCOL: Http2Error EXTENDED_CONNECT_DISABLED", async () => {
    await assert.rejects(
      connect(`ws://127.0.0.1:${bare.port}/echo`, { http2: true }),
      (e: unknown) => e instanceof Http2Error && e.code === "EXTENDED_CONNECT_DISABLED",
    );
    // The same on a session of the application's, which stays usable.
    const session = http2.connect(`http://127.0.0.1:${bare.port}`);
    session.on("error", () => {});
    try {
      await assert.rejects(
        connect(`ws://127.0.0.1:${bare.port}/echo`, { http2Session: session }),
        (e: unknown) => e instanceof Http2Error && e.code === "EXTENDED_CONNECT_DISABLED",
      );
      assert.equal(await http2Get(session, "/x"), "plain /x");
    } finally {
      session.close();
    }
  });

  it('http2: "auto" falls back to HTTP/1.1 when the h2 server lacks extended CONNECT', async () => {
    const ws = await connect(`wss://127.0.0.1:${tlsPeer.port}/`, {
      http2: "auto",
      tls: { caCerts: [ca] },
    });
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "over http/1.1");
    assert.equal(ws.headers.get("upgrade"), "websocket");
    await ws.close();
    // http2: true refuses instead.
    await assert.rejects(
      connect(`wss://127.0.0.1:${tlsPeer.port}/`, { http2: true, tls: { caCerts: [ca] } }),
      (e: unknown) => e instanceof Http2Error && e.code === "EXTENDED_CONNECT_DISABLED",
    );
  });
});

describe('http2: "auto" and ALPN', () => {
  let h1: Peer;
  before(async () => {
    h1 = await startWsPeer("--tls");
    peers.push(h1);
  });

  it("uses h2 where the server picks it", async () => {
    const ws = await connect(`wss://127.0.0.1:${sprigTls.port}/echo`, {
      http2: "auto",
      tls: { caCerts: [ca] },
    });
    assert.equal(JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string).httpVersion, "2");
    await ws.close();
  });

  it("uses HTTP/1.1 on the same TLS connection where the server does not offer h2", async () => {
    const ws = await connect(`wss://127.0.0.1:${h1.port}/echo`, {
      http2: "auto",
      tls: { caCerts: [ca] },
    });
    await ws.send("h1");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "h1");
    await ws.close();
    await assert.rejects(
      connect(`wss://127.0.0.1:${h1.port}/echo`, { http2: true, tls: { caCerts: [ca] } }),
      (e: unknown) => e instanceof Http2Error && e.code === "HTTP2_NOT_NEGOTIATED",
    );
  });

  it("a ws: URL with auto uses HTTP/1.1 (no ALPN to ask with)", async () => {
    const ws = await connect(`ws://127.0.0.1:${sprigH2c.port}/echo`, { http2: "auto" });
    assert.equal(JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string).httpVersion, "1.1");
    await ws.close();
  });

  it("h2c to an HTTP/1.1-only server says the server does not speak HTTP/2", async () => {
    await using h1Only = await serve({ hostname: "127.0.0.1", port: 0 }, {
      in: (message) => ({ push: message }),
    });
    await assert.rejects(
      connect(`ws://127.0.0.1:${h1Only.port}/`, { http2: true }),
      (e: unknown) =>
        e instanceof ConnectionError && e.code === "CONNECTION_LOST" &&
        e.message.includes(`the server at 127.0.0.1:${h1Only.port} did not answer as an HTTP/2`) &&
        e.message.includes("h2c by prior knowledge"),
    );
  });

  it("checks the options", async () => {
    await assert.rejects(
      connect("ws://127.0.0.1:1/", { http2: "yes" as unknown as boolean }),
      (e: unknown) =>
        e instanceof TypeError && (e as { argument?: string }).argument === "options.http2",
    );
    await assert.rejects(
      connect("ws://127.0.0.1:1/", { http2: true, unixPath: "/tmp/x" }),
      (e: unknown) =>
        e instanceof TypeError && (e as { argument?: string }).argument === "options.unixPath",
    );
  });
});
