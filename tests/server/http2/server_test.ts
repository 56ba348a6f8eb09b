// serve({ http2 }) in the test's own process: what the server does with
// extended CONNECT streams (RFC 8441 §4–5) and with the connection around
// them. The same tests for each HTTP/2 server of the runtime: sprig's own
// endpoint (lib/protocol/http2/) everywhere, over the runtime's listener,
// and node:http2 on Node and Bun.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
import {
  connect,
  type ConnectionContext,
  HandshakeError,
  serve,
  type TerminateReason,
} from "../../../mod.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../../_fixtures/${name}`, import.meta.url), "utf8");
const tls = { cert: fixture("server.pem"), key: fixture("server.key") };
const ca = fixture("ca.pem");

/** One HTTP/2 request's status, headers and body. */
function request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: headers[":method"] !== "CONNECT" });
    let body = "";
    let head: http2.IncomingHttpHeaders = {};
    stream.setEncoding("utf8");
    stream.on("response", (h) => {
      head = h;
      if (Number(h[":status"]) === 200 && headers[":method"] === "CONNECT") {
        stream.close();
        resolve({ status: 200, headers: h, body: "" });
      }
    });
    stream.on("data", (c: string) => (body += c));
    stream.on("end", () => resolve({ status: Number(head[":status"]), headers: head, body }));
    stream.on("error", reject);
  });
}

function extendedConnect(port: number, extra: http2.OutgoingHttpHeaders = {}) {
  return {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "http",
    ":path": "/ws",
    ":authority": `127.0.0.1:${port}`,
    "sec-websocket-version": "13",
    ...extra,
  };
}

const SERVERS = "Deno" in globalThis ? ["sprig"] as const : ["sprig", "node:http2"] as const;

for (const H2 of SERVERS) {
  describe(`serve({ http2: ${JSON.stringify(H2)} })`, () => {
    it("h2c and HTTP/1.1 on one port; the handler sees how the WebSocket came", async () => {
      const seen: Array<ConnectionContext["httpVersion"]> = [];
      await using server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        http2: H2,
        fetch: () => new Response("page"),
      }, {
        init: (ctx) => {
          seen.push(ctx.httpVersion);
          return { state: undefined };
        },
        in: (m) => ({ push: m }),
      });
      for (const http2 of [true, false]) {
        const ws = await connect(`ws://127.0.0.1:${server.port}/`, { http2 });
        await ws.send("x");
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "x");
        await ws.close();
      }
      assert.deepEqual(seen, ["2", "1.1"]);
      // A plain HTTP/1.1 GET on the same port.
      assert.equal(await (await fetch(`http://127.0.0.1:${server.port}/`)).text(), "page");
    });

    it("TLS with ALPN h2 beside http/1.1; plain requests go to fetch over h2", async () => {
      await using server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        http2: H2,
        tls,
        fetch: async (req) =>
          new Response(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`, {
            headers: { "x-served": "sprig", connection: "close" },
          }),
      }, { in: (m) => ({ push: m }) });
      const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca });
      session.on("error", () => {});
      try {
        const get = await request(session, { ":path": "/a" });
        assert.equal(get.status, 200);
        assert.equal(get.body, "GET /a ");
        assert.equal(get.headers["x-served"], "sprig");
        assert.equal(get.headers["connection"], undefined); // RFC 9113 §8.2.2
        const post = await new Promise<string>((resolve, reject) => {
          const s = session.request({ ":method": "POST", ":path": "/b" });
          let body = "";
          s.setEncoding("utf8");
          s.on("data", (c: string) => (body += c));
          s.on("end", () => resolve(body));
          s.on("error", reject);
          s.end("payload");
        });
        assert.equal(post, "POST /b payload");
        const ws = await connect(`wss://127.0.0.1:${server.port}/`, { http2Session: session });
        await ws.send("over tls h2");
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "over tls h2");
        await ws.close();
      } finally {
        session.close();
      }
      // HTTP/1.1 WebSocket on the same TLS port.
      const ws1 = await connect(`wss://127.0.0.1:${server.port}/`, { tls: { caCerts: [ca] } });
      await ws1.send("h1");
      assert.equal(await ws1.receive({ timeoutMs: 5000 }), "h1");
      await ws1.close();
    });

    it("validates the extended CONNECT (RFC 8441 §4–5) and the Origin", async () => {
      await using server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        http2: H2,
        origins: ["http://good.test"],
        onError: () => {},
      }, { in: () => {} });
      const session = http2.connect(`http://127.0.0.1:${server.port}`);
      session.on("error", () => {});
      try {
        const p = server.port;
        assert.equal((await request(session, extendedConnect(p))).status, 200);
        assert.equal(
          (await request(session, extendedConnect(p, { ":protocol": "webtransport" }))).status,
          501,
        );
        const noVersion = await request(
          session,
          extendedConnect(p, { "sec-websocket-version": "8" }),
        );
        assert.equal(noVersion.status, 426);
        assert.equal(noVersion.headers["sec-websocket-version"], "13");
        assert.equal(
          (await request(session, extendedConnect(p, { origin: "http://evil.test" }))).status,
          403,
        );
        assert.equal(
          (await request(session, extendedConnect(p, { origin: "http://good.test" }))).status,
          200,
        );
        // Without fetch, a plain request gets 426.
        assert.equal((await request(session, { ":path": "/" })).status, 426);
      } finally {
        session.close();
      }
      await assert.rejects(
        connect(`ws://127.0.0.1:${server.port}/`, { http2: true, origin: "http://evil.test" }),
        (e: unknown) => e instanceof HandshakeError && e.status === 403,
      );
    });

    it("a slow reader on one stream does not stall another on the same connection", async () => {
      const chunk = "x".repeat(64 * 1024);
      await using server = await serve({ hostname: "127.0.0.1", port: 0, http2: H2 }, {
        // /flood answers a message with 4 MiB in 64 KiB messages.
        in: (m, _s) => ({ push: m === "flood" ? Array(64).fill(chunk) : m }),
      });
      const session = http2.connect(`http://127.0.0.1:${server.port}`);
      session.on("error", () => {});
      try {
        const slow = await connect(`ws://127.0.0.1:${server.port}/`, {
          http2Session: session,
          compression: false,
          maxQueuedMessages: 2, // stops reading its stream after two unread messages
        });
        const fast = await connect(`ws://127.0.0.1:${server.port}/`, { http2Session: session });
        await slow.send("flood");
        for (let i = 0; i < 20; i++) {
          await fast.send(`m${i}`);
          assert.equal(await fast.receive({ timeoutMs: 5000 }), `m${i}`);
        }
        // The slow one still gets everything once it reads.
        for (let i = 0; i < 64; i++) {
          assert.equal((await slow.receive({ timeoutMs: 10_000 }) as string).length, chunk.length);
        }
        await Promise.all([slow.close(), fast.close()]);
      } finally {
        session.close();
      }
    });

    it("a client's RST_STREAM(CANCEL) reaches terminate as remote, not clean (1006), echoes pending", async () => {
      let reached!: (reason: TerminateReason) => void;
      const terminated = new Promise<TerminateReason>((resolve) => (reached = resolve));
      await using server = await serve({ hostname: "127.0.0.1", port: 0, http2: H2 }, {
        in: (m) => ({ push: m }),
        terminate: (reason) => reached(reason),
      });
      const session = http2.connect(`http://127.0.0.1:${server.port}`);
      session.on("error", () => {});
      try {
        const stream = session.request(extendedConnect(server.port), { endStream: false });
        stream.on("error", () => {});
        await new Promise((resolve, reject) => {
          stream.once("response", resolve);
          stream.once("close", () => reject(new Error("the stream closed before its response")));
        });
        // The server has echoes queued behind the stream's window when the reset comes.
        const frame = new Uint8Array(8 + 16384);
        frame.set([0x82, 0xfe, 0x40, 0x00, 1, 2, 3, 4]); // binary, masked, 16 KiB
        for (let i = 0; i < 20; i++) stream.write(frame);
        await new Promise((resolve) => stream.once("data", resolve));
        stream.close(http2.constants.NGHTTP2_CANCEL);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const reason = await Promise.race([
          terminated,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("terminate was not called")), 10_000);
          }),
        ]).finally(() => clearTimeout(timer));
        assert.equal(reason.type, "remote", `terminate saw ${JSON.stringify(reason)}`);
        assert.equal(reason.code, 1006);
        assert.equal(reason.wasClean, false);
      } finally {
        session.close();
      }
    });

    it("shutdown closes HTTP/2 WebSockets with 1001 and the connection with GOAWAY", async () => {
      const server = await serve({ hostname: "127.0.0.1", port: 0, http2: H2 }, {
        in: (m) => ({ push: m }),
      });
      const session = http2.connect(`http://127.0.0.1:${server.port}`);
      session.on("error", () => {});
      const goaway = new Promise<void>((resolve) => session.once("goaway", () => resolve()));
      const ws = await connect(`ws://127.0.0.1:${server.port}/`, { http2Session: session });
      await server.shutdown({ deadlineMs: 5000 });
      assert.equal((await ws.closed).code, 1001);
      await goaway;
      session.destroy();
    });
  });
}
