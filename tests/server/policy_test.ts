// Upgrade policy and per-connection limits, on every host this runtime has:
// the upgrade hook (refusal with a body, subprotocol, data, headers), the
// Origin allow-list, maxConnections (503), maxMessageBytes (1009), the idle
// timeout, and the send-buffer cap for a client that never reads. Where a
// host cannot apply a limit the test says so in its name and is not defined
// for that host (see the adapters' docs).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { connect, HandshakeError } from "../../mod.ts";
import type { UpgradeHook } from "../../lib/server/mod.ts";
import {
  hostsOfRuntime,
  labelOf,
  startHost,
  suiteHandler,
  type SuiteLog,
  type TestHost,
  until,
} from "./_hosts.ts";

const hook: UpgradeHook = (request) => {
  const url = new URL(request.url);
  if (url.pathname === "/private" && request.headers.get("authorization") !== "Bearer ok") {
    return new Response("no token", { status: 401, headers: { "www-authenticate": "Bearer" } });
  }
  if (url.pathname === "/forbidden") return new Response("go away", { status: 403 });
  if (url.searchParams.has("hook")) {
    return { protocol: "special", data: { user: "ada" }, headers: { "x-hook": "1" } };
  }
  if (url.pathname === "/hook-throws") throw new Error("hook failed");
};

/** Opens a raw TCP connection, completes the WebSocket handshake, and then never reads. */
async function deafClient(port: number, path: string): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let head = "";
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Uint8Array) => {
      head += new TextDecoder().decode(chunk);
      if (head.includes("\r\n\r\n")) {
        socket.off("data", onData);
        socket.pause(); // from here on, never read
        resolve();
      }
    };
    socket.on("data", onData);
    socket.once("close", () => reject(new Error(`closed during the handshake: ${head}`)));
  });
  assert.match(head, /^HTTP\/1\.1 101/);
  return socket;
}

for (const kind of hostsOfRuntime()) {
  describe(`upgrade policy and limits on ${labelOf(kind)}`, () => {
    const log: SuiteLog = { terminated: [], maxActive: 0 };
    const reported: unknown[] = [];
    let host: TestHost;
    before(async () => {
      host = await startHost(kind, suiteHandler(log), {
        upgrade: hook,
        origins: ["https://good.test"],
        maxConnections: 40,
        maxMessageBytes: 64 * 1024,
        idleTimeoutMs: kind === "Deno.serve" ? 0 : 400,
        maxSendBufferBytes: 256 * 1024,
        onError: (error) => void reported.push(error),
      });
    });
    after(async () => {
      await host?.stop();
    });

    it("the upgrade hook refuses with its status, headers and body (401)", async () => {
      const e = await connect(host.url("/private")).then(() => undefined, (e) => e);
      assert.ok(e instanceof HandshakeError, String(e));
      assert.equal(e.status, 401);
      assert.equal(e.bodyText, "no token");
      assert.equal(e.headers.get("www-authenticate"), "Bearer");
      const e2 = await connect(host.url("/forbidden")).then(() => undefined, (e) => e);
      assert.equal(e2?.status, 403);
      assert.equal(e2?.bodyText, "go away");
      // With the token, it opens.
      const ws = await connect(host.url("/private"), { headers: { authorization: "Bearer ok" } });
      await ws.send("in");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "in");
      await ws.close();
    });

    it("the upgrade hook picks the subprotocol, adds 101 headers and attaches data for init", async () => {
      const ws = await connect(host.url("/hello?hook"), { protocols: ["chat.v1", "special"] });
      assert.equal(ws.protocol, "special");
      assert.equal(ws.headers.get("x-hook"), "1");
      const ctx = JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string);
      assert.deepEqual(ctx.data, { user: "ada" });
      assert.equal(ctx.protocol, "special");
      await ws.close();
    });

    it("a throwing hook refuses with 500 and the server keeps serving", async () => {
      const e = await connect(host.url("/hook-throws")).then(() => undefined, (e) => e);
      assert.equal(e?.status, 500);
      const ws = await connect(host.url("/echo"));
      await ws.close();
    });

    it("Origin: listed passes, unlisted gets 403, absent (non-browser) passes", async () => {
      const e = await connect(host.url("/echo"), { origin: "https://evil.test" }).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(e instanceof HandshakeError);
      assert.equal(e.status, 403);
      assert.equal(e.bodyText, "origin not allowed");
      const good = await connect(host.url("/echo"), { origin: "https://GOOD.test" });
      await good.close();
      const none = await connect(host.url("/echo"));
      await none.close();
    });

    it("Origin: the server's own origin passes; each refused origin is reported once", async () => {
      // A page served by this server (same host) opens a socket back to it.
      const own = await connect(host.url("/echo"), { origin: `http://127.0.0.1:${host.port}` });
      await own.close();
      const before = reported.length;
      for (let i = 0; i < 3; i++) {
        await connect(host.url("/echo"), { origin: "https://other.test" }).then(
          () => assert.fail("accepted"),
          (e) => assert.equal((e as HandshakeError).status, 403),
        );
      }
      const mine = reported.slice(before).filter((e) =>
        (e as { code?: string }).code === "ORIGIN_REFUSED" &&
        String((e as Error).message).includes("https://other.test")
      );
      assert.equal(mine.length, 1);
    });

    it("beyond maxConnections the upgrade gets 503; a freed slot is reusable", async () => {
      const open = await Promise.all(
        Array.from({ length: 40 }, () => connect(host.url("/echo?full"))),
      );
      const e = await connect(host.url("/echo")).then(() => undefined, (e) => e);
      assert.ok(e instanceof HandshakeError, String(e));
      assert.equal(e.status, 503);
      await open[0].close();
      await until(() => host.hub.connections.size < 40, "a free slot");
      const ws = await connect(host.url("/echo"));
      await Promise.all([ws, ...open.slice(1)].map((c) => c.close()));
    });

    it("a message over maxMessageBytes closes with 1009", async () => {
      const ws = await connect(host.url("/echo?big"), { compression: false });
      await ws.send("small");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "small");
      await ws.send(new Uint8Array(64 * 1024 + 1));
      const info = await ws.closed;
      assert.equal(info.code, 1009);
    });

    if (kind !== "Deno.serve") {
      it("the idle timeout closes a silent connection with 1001 (not on Deno.serve: Deno's idleTimeout is a pong check)", async () => {
        const before = log.terminated.length;
        const ws = await connect(host.url("/echo?idle"), { keepalive: false });
        const info = await ws.closed;
        assert.deepEqual([info.code, info.reason], [1001, "idle timeout"]);
        await until(() => log.terminated.length > before, "terminate");
        const r = log.terminated.filter((t) =>
          t.reason.code === 1001 && t.reason.type === "timeout"
        );
        assert.ok(r.length >= 1);
      });

      it("the idle timeout spares a connection that keeps talking", async () => {
        const ws = await connect(host.url("/echo?chatty"), { keepalive: false });
        const started = Date.now();
        // Paced by the echoes themselves, not by sleeps: round trips for 2.5
        // idle periods (bounded by count too).
        let trips = 0;
        for (; Date.now() - started < 1000 && trips < 200_000; trips++) {
          await ws.send(`${trips}`);
          assert.equal(await ws.receive({ timeoutMs: 5000 }), `${trips}`);
        }
        assert.ok(Date.now() - started >= 1000, `only ${trips} round trips`);
        assert.equal(ws.readyState, "open");
        await ws.close();
      });
    }

    it("a client that never reads is cut off at the send-buffer cap (SEND_BUFFER_FULL, 1008)", async () => {
      const topic = `deaf-${kind.replace(/\W/g, "")}`;
      const socket = await deafClient(host.port, `/sub/${topic}`);
      await until(() => host.hub.subscriberCount(topic) === 1, "subscribed");
      const chunk = new Uint8Array(256 * 1024);
      const started = Date.now();
      let published = 0;
      // Bounded: at most 400 × 256 KiB (kernel buffers absorb a few MiB first), and 20 s.
      while (
        host.hub.subscriberCount(topic) === 1 && published < 400 && Date.now() - started < 20_000
      ) {
        host.hub.publish(topic, chunk);
        published++;
        await new Promise((r) => setTimeout(r, 1));
      }
      await until(
        () => log.terminated.some((t) => t.path === `/sub/${topic}`),
        "terminate",
        10_000,
      );
      const r = log.terminated.find((t) => t.path === `/sub/${topic}`)!.reason;
      assert.equal(r.type, "error");
      assert.equal(r.code, 1008, String(r.type === "error" && r.error));
      assert.equal(r.type === "error" && (r.error as { code?: string }).code, "SEND_BUFFER_FULL");
      assert.equal(host.hub.subscriberCount(topic), 0);
      socket.destroy();
    });
  });
}
