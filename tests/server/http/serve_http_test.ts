// sprig's own HTTP/1.1 side of serve(): head limits (431), the handshake
// timeout, 426 without fetch, fetch serving pages with keep-alive and
// bodies, malformed requests, frames pipelined after the upgrade request,
// and TLS. Runs on serve()'s listener for this runtime (Deno.listen,
// Bun.listen, node:net) and, under Deno and Bun, on node:net too.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { readFileSync } from "node:fs";
import { connect, detectRuntime, HandshakeError } from "../../../mod.ts";
import { serve, type Server } from "../../../lib/server/mod.ts";
import { encodeFrame, Opcode } from "../../../lib/protocol/frame.ts";
import { until } from "../_hosts.ts";

const runtime = detectRuntime();
const listeners: Array<{ name: "node" | undefined; label: string }> = [
  {
    name: undefined,
    label: runtime === "deno" ? "Deno.listen" : runtime === "bun" ? "Bun.listen" : "node:net",
  },
];
if (runtime !== "node") {
  listeners.push({ name: "node", label: `node:net (${runtime}'s Node compatibility)` });
}

/** Sends raw bytes and reads until the server closes (or `timeoutMs`), returning what came back. */
async function raw(
  port: number,
  data: string | Uint8Array,
  options: { timeoutMs?: number; endWhen?: (text: string) => boolean } = {},
): Promise<{ text: string; closed: boolean }> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  let text = "";
  let closed = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve();
    }, options.timeoutMs ?? 5000);
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder("latin1").decode(chunk);
      if (options.endWhen?.(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve();
      }
    });
    socket.on("close", () => {
      closed = true;
      clearTimeout(timer);
      resolve();
    });
    socket.on("connect", () => socket.write(data));
  });
  return { text, closed };
}

const upgradeHead = (port: number, path = "/", extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

for (const listener of listeners) {
  describe(`serve() HTTP/1.1 on ${listener.label}`, () => {
    let server: Server;
    let pageServer: Server;
    let fetchErrors = 0;
    before(async () => {
      const common = {
        hostname: "127.0.0.1",
        port: 0,
        listener: listener.name,
        maxHeadBytes: 2048,
        handshakeTimeoutMs: 300,
        keepAliveTimeoutMs: 300,
        maxBodyBytes: 1000,
      };
      server = await serve(common, { in: (m) => ({ push: m }) });
      pageServer = await serve({
        ...common,
        onError: () => fetchErrors++,
        async fetch(request, info) {
          const url = new URL(request.url);
          if (url.pathname === "/boom") throw new Error("fetch failed");
          if (url.pathname === "/echo-body") {
            return new Response(await request.arrayBuffer(), {
              headers: { "x-method": request.method },
            });
          }
          if (url.pathname === "/nothing") return new Response(null, { status: 204 });
          return new Response(
            `<h1>page ${url.pathname}${url.search}</h1> from ${info.remoteAddress?.hostname}`,
            {
              headers: { "content-type": "text/html", "set-cookie": "a=1" },
            },
          );
        },
      }, { in: (m) => ({ push: `page-socket:${m}` }) });
    });
    after(async () => {
      await Promise.all([
        server?.shutdown({ deadlineMs: 1000 }),
        pageServer?.shutdown({ deadlineMs: 1000 }),
      ]);
    });

    it("answers a plain GET with 426 Upgrade Required when there is no fetch", async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/`);
      assert.equal(res.status, 426);
      assert.equal(res.headers.get("upgrade"), "websocket");
      assert.match(await res.text(), /WebSocket/);
    });

    it("serves pages through fetch, keeps the connection alive, and serves the socket on the same port", async () => {
      const a = await fetch(`http://127.0.0.1:${pageServer.port}/index?x=1`);
      assert.equal(a.status, 200);
      assert.equal(a.headers.get("content-type"), "text/html");
      assert.equal(a.headers.get("set-cookie"), "a=1");
      assert.equal(await a.text(), "<h1>page /index?x=1</h1> from 127.0.0.1");
      // Two requests on one connection, pipelined.
      const req = (p: string) => `GET ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      const both = await raw(pageServer.port, req("/one") + req("/two"), {
        endWhen: (t) => t.includes("page /two"),
      });
      assert.match(
        both.text,
        /^HTTP\/1\.1 200 OK\r\n[\s\S]*page \/one[\s\S]*HTTP\/1\.1 200 OK\r\n[\s\S]*page \/two/,
      );
      const ws = await connect(`ws://127.0.0.1:${pageServer.port}/socket`);
      await ws.send("hi");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "page-socket:hi");
      await ws.close();
    });

    it("announces its keep-alive idle time (Keep-Alive: timeout=N) and closes an idle connection after it", async () => {
      // keepAliveTimeoutMs 300: under a second, so timeout=0 (clients do not reuse it).
      const req = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
      const short = await raw(pageServer.port, req, { timeoutMs: 5000 });
      assert.match(short.text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(short.text, /\r\nKeep-Alive: timeout=0\r\n/);
      assert.doesNotMatch(short.text, /Connection: close/i);
      assert.equal(short.closed, true, "closed after the idle time");
      // Whole seconds are announced as such; a request inside the time reuses the connection.
      const longer = await serve({
        hostname: "127.0.0.1",
        port: 0,
        listener: listener.name,
        keepAliveTimeoutMs: 2500,
        fetch: (request) => new Response(new URL(request.url).pathname),
      }, { in: () => {} });
      try {
        const socket = net.connect(longer.port, "127.0.0.1");
        socket.on("error", () => {});
        let text = "";
        let closedAt = 0;
        const closed = new Promise<void>((resolve) =>
          socket.on("close", () => {
            closedAt = performance.now();
            resolve();
          })
        );
        const seen = (what: string) =>
          new Promise<void>((resolve) => {
            const check = () => {
              if (!text.includes(what)) return;
              socket.off("data", check);
              resolve();
            };
            socket.on("data", check);
          });
        socket.on("data", (chunk: Uint8Array) => (text += new TextDecoder().decode(chunk)));
        await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
        socket.write("GET /one HTTP/1.1\r\nHost: a\r\n\r\n");
        await seen("/one");
        // Taken before the request: the server's idle time starts after its response.
        const idleFrom = performance.now();
        socket.write("GET /two HTTP/1.1\r\nHost: a\r\n\r\n");
        await seen("/two");
        await closed;
        assert.equal(text.match(/\r\nKeep-Alive: timeout=2\r\n/g)?.length, 2, text);
        // Closed by the server once idle (2.5 s), not before the announced time (2 s).
        assert.ok(closedAt - idleFrom >= 2000, `closed after ${closedAt - idleFrom} ms`);
      } finally {
        await longer.shutdown({ deadlineMs: 1000 });
      }
    });

    it("passes request bodies with Content-Length, answers HEAD without a body and 204 without a length", async () => {
      const post = await fetch(`http://127.0.0.1:${pageServer.port}/echo-body`, {
        method: "POST",
        body: "abc",
      });
      assert.equal(post.headers.get("x-method"), "POST");
      assert.equal(await post.text(), "abc");
      const head = await raw(
        pageServer.port,
        "HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      assert.match(head.text, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head.text, /Content-Length: \d+\r\n/i);
      assert.ok(head.text.endsWith("\r\n\r\n"), "no body after the head");
      const none = await raw(
        pageServer.port,
        "GET /nothing HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
      );
      assert.match(none.text, /^HTTP\/1\.1 204 No Content\r\n/);
      assert.doesNotMatch(none.text, /content-length/i);
    });

    it("refuses oversized bodies (413), and a throwing fetch gets 500", async () => {
      const big = await fetch(`http://127.0.0.1:${pageServer.port}/echo-body`, {
        method: "POST",
        body: "x".repeat(1001),
      });
      assert.equal(big.status, 413);
      await big.text();
      const before = fetchErrors;
      const boom = await fetch(`http://127.0.0.1:${pageServer.port}/boom`);
      assert.equal(boom.status, 500);
      await boom.text();
      assert.equal(fetchErrors, before + 1);
    });

    it("passes chunked request bodies (RFC 9112 §7.1), as fetch() streams them", async () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("no to"));
          controller.enqueue(new TextEncoder().encode("ken!"));
          controller.close();
        },
      });
      const res = await fetch(`http://127.0.0.1:${pageServer.port}/echo-body`, {
        method: "POST",
        body,
        duplex: "half",
      } as RequestInit);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "no token!");
    });

    it("decodes chunked bodies with extensions and trailers, then serves the next request on the connection", async () => {
      const chunkedHead =
        "POST /echo-body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
      const r = await raw(
        pageServer.port,
        chunkedHead + "5;ext=1\r\nno to\r\n4\r\nken!\r\n0\r\nX-Trailer: t\r\n\r\n" +
          "POST /echo-body HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
      );
      const bodies = r.text.split(/HTTP\/1\.1 200 OK\r\n/).slice(1).map((x) =>
        x.split("\r\n\r\n")[1]
      );
      assert.deepEqual(bodies, ["no token!", "ok"]);
      assert.equal(r.closed, true);
    });

    it("bounds chunked bodies by maxBodyBytes (413), and refuses ambiguous framing (400) and other codings (501)", async () => {
      const chunkedHead =
        "POST /echo-body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
      const big = await raw(
        pageServer.port,
        chunkedHead + "3e9\r\n" + "x".repeat(1001) + "\r\n0\r\n\r\n",
      );
      assert.match(big.text, /^HTTP\/1\.1 413 /);
      assert.equal(big.closed, true);
      const many = await raw(
        pageServer.port,
        chunkedHead + "1\r\nx\r\n".repeat(1001) + "0\r\n\r\n",
      );
      assert.match(many.text, /^HTTP\/1\.1 413 /);
      for (
        const [head, status] of [
          ["Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", 400],
          ["Transfer-Encoding: chunked, chunked\r\n", 400],
          ["Transfer-Encoding: gzip, chunked\r\n", 501],
          ["Content-Length: 3, 4\r\n", 400],
        ] as const
      ) {
        const r = await raw(pageServer.port, `POST /echo-body HTTP/1.1\r\nHost: a\r\n${head}\r\n`);
        assert.match(r.text, new RegExp(`^HTTP/1\\.1 ${status} `), head);
        assert.equal(r.closed, true);
      }
      const old = await raw(
        pageServer.port,
        "POST /echo-body HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      );
      assert.match(old.text, /^HTTP\/1\.1 400 /);
    });

    it("answers Expect: 100-continue with 100 Continue, then reads the body (RFC 9110 §10.1.1)", async () => {
      for (
        const [framing, body] of [
          ["Content-Length: 9", "no token!"],
          ["Transfer-Encoding: chunked", "5\r\nno to\r\n4\r\nken!\r\n0\r\n\r\n"],
        ]
      ) {
        const socket = net.connect(pageServer.port, "127.0.0.1");
        socket.on("error", () => {});
        let all = "";
        const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
        const continued = new Promise<void>((resolve) =>
          socket.on("data", (chunk: Uint8Array) => {
            all += new TextDecoder().decode(chunk);
            if (all.includes("\r\n\r\n")) resolve();
          })
        );
        socket.write(
          `POST /echo-body HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n${framing}\r\n` +
            "Connection: close\r\n\r\n",
        );
        // The client sends nothing more until the server asks for the body.
        await continued;
        assert.equal(all, "HTTP/1.1 100 Continue\r\n\r\n");
        socket.write(body);
        await closed;
        assert.match(all, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/, framing);
        assert.ok(all.endsWith("\r\n\r\nno token!"), framing);
      }
    });

    it("Expect: 100-continue with a body over maxBodyBytes gets 413 and no 100; other expectations 417", async () => {
      const big = await raw(
        pageServer.port,
        "POST /echo-body HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n",
      );
      assert.match(big.text, /^HTTP\/1\.1 413 /);
      assert.equal(big.closed, true);
      const other = await raw(
        pageServer.port,
        "POST /echo-body HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 2\r\n\r\nhi",
      );
      assert.match(other.text, /^HTTP\/1\.1 417 Expectation Failed\r\n/);
    });

    it("answers 431 to a head over maxHeadBytes, and closes", async () => {
      const huge = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${"y".repeat(4000)}\r\n\r\n`;
      const r = await raw(server.port, huge);
      assert.match(r.text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
      assert.equal(r.closed, true);
      // The same through the client: a HandshakeError with the status.
      const e = await connect(`ws://127.0.0.1:${server.port}/`, {
        headers: { "x-big": "z".repeat(4000) },
      })
        .then(() => undefined, (e) => e);
      assert.ok(e instanceof HandshakeError, String(e));
      assert.equal(e.status, 431);
    });

    it("closes a connection whose head does not complete within the handshake timeout (408 if it started)", async () => {
      const started = Date.now();
      const partial = await raw(server.port, "GET / HTTP/1.1\r\nHost: a\r\n");
      assert.equal(partial.closed, true);
      assert.match(partial.text, /^HTTP\/1\.1 408 /);
      const silent = await raw(server.port, new Uint8Array(0));
      assert.equal(silent.closed, true);
      assert.equal(silent.text, "");
      assert.ok(Date.now() - started < 4000);
    });

    it("a peer still sending when the 408 goes out gets it, then a FIN (a lingering close, not a reset)", async () => {
      const socket = net.connect(server.port, "127.0.0.1");
      let text = "";
      let reset: Error | undefined;
      socket.on("error", (e) => (reset = e));
      socket.on("data", (chunk: Uint8Array) => (text += new TextDecoder("latin1").decode(chunk)));
      const ended = new Promise<void>((resolve) => socket.once("end", () => resolve()));
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      socket.write("GET / HTTP/1.1\r\nHost: a\r\n");
      // Keep sending header bytes past the 300 ms handshake timeout, until the
      // server's answer arrives (bounded: at most 200 writes, 5 s).
      for (let i = 0; i < 200 && text === "" && !socket.destroyed; i++) {
        socket.write("X-Slow: 1\r\n");
        await new Promise((r) => setTimeout(r, 25));
      }
      await Promise.race([ended, closed]);
      socket.end();
      await closed;
      assert.match(text, /^HTTP\/1\.1 408 /);
      assert.equal(reset, undefined, `the connection was reset: ${reset}`);
    });

    it("refuses malformed upgrades with the RFC 6455 §4.2.1 status: 400 bad key, 405 not GET, 426 bad version", async () => {
      const badKey = await raw(
        server.port,
        upgradeHead(server.port).replace("dGhlIHNhbXBsZSBub25jZQ==", "short"),
      );
      assert.match(badKey.text, /^HTTP\/1\.1 400 /);
      const post = await raw(server.port, upgradeHead(server.port).replace("GET", "POST"));
      assert.match(post.text, /^HTTP\/1\.1 405 /);
      assert.match(post.text, /Allow: GET/i);
      const version = await raw(
        server.port,
        upgradeHead(server.port).replace("Version: 13", "Version: 8"),
      );
      assert.match(version.text, /^HTTP\/1\.1 426 /);
      assert.match(version.text, /Sec-WebSocket-Version: 13/i);
      const bare = await raw(server.port, "GET / HTTP/1.1\nHost: a\n\n");
      assert.match(bare.text, /^HTTP\/1\.1 400 /);
    });

    it("frames sent right behind the upgrade request are not lost", async () => {
      const mask = new Uint8Array([1, 2, 3, 4]);
      const frame = encodeFrame({
        fin: true,
        rsv: 0,
        opcode: Opcode.Text,
        payload: new TextEncoder().encode("early"),
      }, { mask });
      const head = new TextEncoder().encode(upgradeHead(server.port));
      const both = new Uint8Array(head.length + frame.length);
      both.set(head);
      both.set(frame, head.length);
      const r = await raw(server.port, both, { endWhen: (t) => t.includes("early") });
      assert.match(r.text, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
      assert.ok(r.text.endsWith("\x81\x05early"), JSON.stringify(r.text.slice(-20)));
    });

    it("rejects when the port is taken", async () => {
      await assert.rejects(
        serve({ hostname: "127.0.0.1", port: server.port, listener: listener.name }, {
          in: () => undefined,
        }),
      );
    });

    it("aborting `signal` shuts the server down (1001)", async () => {
      const abort = new AbortController();
      const s = await serve({
        hostname: "127.0.0.1",
        port: 0,
        listener: listener.name,
        signal: abort.signal,
      }, {
        in: () => undefined,
      });
      const ws = await connect(s.url);
      abort.abort();
      await s.finished;
      assert.equal((await ws.closed).code, 1001);
    });

    it("shutdown refuses new connections and resolves `finished`", async () => {
      const s = await serve({ hostname: "127.0.0.1", port: 0, listener: listener.name }, {
        in: () => undefined,
      });
      const ws = await connect(s.url);
      const port = s.port;
      await s.shutdown({ deadlineMs: 2000 });
      await s.finished;
      assert.equal((await ws.closed).code, 1001);
      await assert.rejects(connect(`ws://127.0.0.1:${port}/`, { connectTimeoutMs: 2000 }));
    });
  });
}

describe(`serve() with TLS (wss:) on ${listeners.map((l) => l.label).join(" and ")}`, () => {
  const fixture = (name: string) =>
    readFileSync(new URL(`../../_fixtures/${name}`, import.meta.url), "utf8");
  for (const listener of listeners) {
    it(`echoes over wss: on ${listener.label}, and serves https pages`, async () => {
      const server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        listener: listener.name,
        tls: { cert: fixture("server.pem"), key: fixture("server.key") },
        fetch: () => new Response("secure page"),
      }, { init: (ctx) => ({ push: ctx.url.protocol }), in: (m) => ({ push: m }) });
      try {
        assert.equal(server.url.protocol, "wss:");
        const ws = await connect(`wss://localhost:${server.port}/`, {
          tls: { caCerts: [fixture("ca.pem")] },
        });
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "https:");
        await ws.send("over tls");
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "over tls");
        await ws.close();
        // A client that does not trust the certificate fails; the server keeps serving.
        await assert.rejects(
          connect(`wss://localhost:${server.port}/`, { connectTimeoutMs: 5000 }),
        );
        const again = await connect(`wss://localhost:${server.port}/`, {
          tls: { caCerts: [fixture("ca.pem")] },
        });
        await again.close();
        await until(() => server.connections.size === 0, "closed");
      } finally {
        await server.shutdown({ deadlineMs: 1000 });
      }
    });
  }
});
