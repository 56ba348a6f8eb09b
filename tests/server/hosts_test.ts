// One handler, the same tests, on every host this runtime has (see
// hostsOfRuntime in _hosts.ts): sprig's serve() on the runtime's own
// listener and on node:net, the node:http adapter, and Deno.serve / Bun.serve
// adapters under Deno / Bun. Each describe names its host and runtime.
// Clients: sprig's `connect` and the `ws` package.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { connect, ConnectionClosedError } from "../../mod.ts";
import {
  hostsOfRuntime,
  labelOf,
  startHost,
  suiteHandler,
  type SuiteLog,
  type TestHost,
  until,
} from "./_hosts.ts";

for (const kind of hostsOfRuntime()) {
  describe(`handler suite on ${labelOf(kind)}`, () => {
    const log: SuiteLog = { terminated: [], maxActive: 0 };
    let host: TestHost;
    before(async () => {
      host = await startHost(kind, suiteHandler(log), { protocols: ["chat.v2", "chat.v1"] });
    });
    after(async () => {
      await host?.stop();
    });

    const terminatedOn = (path: string) => log.terminated.filter((t) => t.path === path);

    it("echoes text as text and binary as binary (sprig client), and sees the close in terminate", async () => {
      const frames: string[] = [];
      const ws = await connect(host.url("/echo"), { trace: (line) => frames.push(line) });
      const compresses = kind !== "Deno.serve"; // Deno's server does not negotiate permessage-deflate
      if (compresses) assert.match(ws.extensions, /permessage-deflate/);
      await ws.send("hello");
      await ws.send(new Uint8Array([0, 1, 255]));
      const big = "x".repeat(100_000);
      await ws.send(big);
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
      assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array([0, 1, 255]));
      assert.equal(await ws.receive({ timeoutMs: 5000 }), big);
      // The 100 kB echo came back compressed (RSV1, RFC 7692 §6).
      if (compresses) {
        assert.ok(
          frames.some((f) => f.startsWith("<<") && / rsv=4 op=1 /.test(f)),
          frames.join("\n"),
        );
      }
      const before = terminatedOn("/echo").length;
      const closed = await ws.close(4100, "client done");
      assert.deepEqual([closed.code, closed.wasClean], [4100, true]); // the server echoes the code (RFC 6455 §5.5.1)
      await until(() => terminatedOn("/echo").length > before, "terminate");
      const r = terminatedOn("/echo").at(-1)!.reason;
      assert.equal(r.type, "remote");
      assert.equal(r.code, 4100);
      assert.equal(r.reason, "client done");
    });

    it("echoes for the ws package's client, with and without compression", async () => {
      for (const perMessageDeflate of [false, true]) {
        const ws = new WebSocket(host.url("/echo"), { perMessageDeflate });
        await new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
        });
        const got: Array<{ data: string; binary: boolean }> = [];
        ws.on("message", (data, isBinary) => got.push({ data: String(data), binary: isBinary }));
        ws.send("text");
        ws.send(new Uint8Array([104, 105]));
        await until(() => got.length === 2, "two echoes");
        assert.deepEqual(got, [{ data: "text", binary: false }, { data: "hi", binary: true }]);
        const closed = new Promise<number>((resolve) => ws.once("close", resolve));
        ws.close(1000);
        assert.equal(await closed, 1000);
      }
    });

    it("init sees the URL, headers and the chosen subprotocol", async () => {
      const ws = await connect(host.url("/hello?room=7"), {
        protocols: ["chat.v1", "chat.v3"],
        headers: { "x-test": "yes" },
      });
      assert.equal(ws.protocol, "chat.v1");
      const ctx = JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string);
      assert.equal(ctx.path, "/hello");
      assert.equal(ctx.search, "?room=7");
      assert.equal(ctx.protocol, "chat.v1");
      assert.equal(ctx.header, "yes");
      if (host.sprigProtocol) assert.match(ctx.extensions, /^permessage-deflate/);
      await ws.close();
    });

    it("delivers messages one at a time, in order, to a slow async handler", async () => {
      const ws = await connect(host.url("/slow"), { compression: false });
      const n = 200;
      for (let i = 0; i < n; i++) void ws.send(`m${i}`);
      for (let i = 0; i < n; i++) assert.equal(await ws.receive({ timeoutMs: 5000 }), `${i}:m${i}`);
      assert.equal(log.maxActive, 1);
      await ws.close();
    });

    it("a handler that throws closes that connection with 1011; the server keeps serving", async () => {
      const ws = await connect(host.url("/throw"));
      await ws.send("fine");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "fine");
      await ws.send("boom");
      const info = await ws.closed;
      assert.equal(info.code, 1011);
      await until(() => terminatedOn("/throw").length > 0, "terminate");
      const r = terminatedOn("/throw")[0].reason;
      assert.equal(r.type, "error");
      assert.equal(r.type === "error" && r.error.message, "boom");
      // Still serving.
      const again = await connect(host.url("/echo"));
      await again.send("still here");
      assert.equal(await again.receive({ timeoutMs: 5000 }), "still here");
      await again.close();
    });

    it("stop pushes, then closes with the handler's code; from init too", async () => {
      const ws = await connect(host.url("/stop"));
      await ws.send("please");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "bye");
      const info = await ws.closed;
      assert.deepEqual([info.code, info.reason, info.wasClean], [4001, "asked", true]);
      const early = await connect(host.url("/init-stop"));
      const info2 = await early.closed;
      assert.deepEqual([info2.code, info2.reason], [4002, "not today"]);
      await until(() => terminatedOn("/init-stop").length > 0, "terminate");
      assert.equal(terminatedOn("/init-stop")[0].reason.type, "normal");
    });

    it("info posted to a connection's ref reaches the handler, which pushes", async () => {
      const ws = await connect(host.url("/echo?who=info-target"));
      await until(
        () => [...host.hub.connections].some((c) => c.url.search === "?who=info-target"),
        "registered",
      );
      const ref = [...host.hub.connections].find((c) => c.url.search === "?who=info-target")!;
      assert.equal(ref.post("from the app"), true);
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "info:from the app");
      await ws.close();
      await until(() => !ref.isOpen, "ref closed");
      assert.equal(ref.post("too late"), false);
    });

    it("publish reaches each of 50 subscribers exactly once, in order; closing unsubscribes", async () => {
      const topic = `room-${kind.replace(/\W/g, "")}`;
      const clients = await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => connect(host.url(`/sub/${topic}`), { compression: i % 2 === 0 }),
        ),
      );
      await until(() => host.hub.subscriberCount(topic) === 50, "50 subscribers");
      const messages = 20;
      for (let m = 0; m < messages; m++) {
        assert.equal(host.hub.publish(topic, m % 2 ? `news ${m}` : new Uint8Array([m])), 50);
      }
      for (const ws of clients) {
        for (let m = 0; m < messages; m++) {
          const got = await ws.receive({ timeoutMs: 5000 });
          assert.deepEqual(got, m % 2 ? `news ${m}` : new Uint8Array([m]));
        }
      }
      // A subscriber publishes: everyone else gets it once, the sender does not.
      await clients[0].send("pub:from zero");
      for (const ws of clients.slice(1)) {
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "from zero");
      }
      await assert.rejects(clients[0].receive({ timeoutMs: 100 }), { code: "RECEIVE_TIMEOUT" });
      await Promise.all(clients.slice(0, 25).map((ws) => ws.close()));
      await until(() => host.hub.subscriberCount(topic) === 25, "25 left");
      await Promise.all(clients.slice(25).map((ws) => ws.close()));
      await until(() => host.hub.subscriberCount(topic) === 0, "none left");
    });

    if (kind !== "Deno.serve") {
      it("control sees pings (answered by the host) and pongs — not on Deno.serve, which hides them", async () => {
        const ws = await connect(host.url("/control"), { keepalive: false });
        const before = performance.now();
        const rtt = await ws.ping(new Uint8Array([1, 2, 3]));
        const wall = performance.now() - before;
        // The round trip is measured inside the call, so it is within its wall time.
        assert.ok(rtt >= 0 && rtt <= wall + 1, `rtt ${rtt} ms, wall ${wall} ms`);
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "ping:3");
        await ws.pong(new Uint8Array([9]));
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "pong:1");
        await ws.close();
      });
    }

    it("a plain request is not a WebSocket: the page (adapters) or 426 (serve without fetch)", async () => {
      const res = await fetch(`http://127.0.0.1:${host.port}/`);
      const body = await res.text();
      if (kind === "serve" || kind === "serve/node:net") {
        assert.equal(res.status, 426);
        assert.equal(res.headers.get("upgrade"), "websocket");
      } else {
        assert.equal(res.status, 200);
        assert.equal(body, "a page");
      }
    });

    // Last: it shuts the host down.
    it("shutdown closes every connection with 1001 and terminate sees `shutdown`", async () => {
      const clients = await Promise.all(
        Array.from({ length: 5 }, () => connect(host.url("/echo?shutdown"))),
      );
      for (const ws of clients) {
        await ws.send("x");
        assert.equal(await ws.receive({ timeoutMs: 5000 }), "x");
      }
      await host.hub.shutdown({ deadlineMs: 5000 });
      for (const ws of clients) {
        const info = await ws.closed;
        assert.equal(info.code, 1001);
        assert.equal(info.wasClean, true);
      }
      const reasons = log.terminated.filter((t) => t.reason.type === "shutdown");
      assert.equal(reasons.length, 5);
      assert.equal(host.hub.connections.size, 0);
      // New upgrades are refused (or the listener is gone).
      await assert.rejects(connect(host.url("/echo"), { connectTimeoutMs: 2000 }), (e: Error) => {
        return e.name === "HandshakeError" || e.name === "ConnectionError" ||
          e instanceof ConnectionClosedError;
      });
    });
  });
}
