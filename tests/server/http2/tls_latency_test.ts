// Issue 28: no Nagle stall on TLS. A response written as several small
// writes (HEADERS, DATA, END_STREAM) meets the client's delayed ACK and waits
// ~40 ms per request when Nagle's algorithm is on, and Deno's TLS
// connections cannot turn it off: so a response leaves in one write. 50
// sequential requests over one TLS connection must take well under
// 50 × 40 ms, on every runtime's HTTP/2 server (sprig's own endpoint on Deno,
// node:http2 on Node and Bun), and on sprig's HTTP/1.1 server (a guard: it
// answered in one write already).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as http2 from "node:http2";
import * as https from "node:https";
import { serve } from "../../../mod.ts";
import { http2Get } from "../../_helpers/http2.ts";

/**
 * Asserts that the requests did not stall. A Nagle stall (~40 ms, the
 * client's delayed ACK) hits every request, so it shows in the fast quarter
 * too; CPU load (other tests, other processes) slows some requests but not
 * a quarter of them by 30 ms. A bound on the total failed under load
 * (50 requests in 1,203 ms with the load average at 12 on 2 cores).
 */
function assertNoStall(latencies: number[]): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  const p25 = sorted[Math.floor(sorted.length / 4)]!;
  const total = latencies.reduce((a, b) => a + b, 0);
  assert.ok(
    p25 < 30,
    `the fastest quarter of ${latencies.length} requests took up to ${p25.toFixed(1)} ms ` +
      `(total ${total.toFixed(0)} ms, median ${sorted[sorted.length >> 1]!.toFixed(1)} ms)`,
  );
}

const fixture = (name: string) =>
  readFileSync(new URL(`../../_fixtures/${name}`, import.meta.url), "utf8");

describe("TLS: no Nagle stall", () => {
  it("50 sequential requests on one connection take well under 50 × 40 ms", async () => {
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      http2: true,
      tls: { cert: fixture("server.pem"), key: fixture("server.key") },
      fetch: (req) => new Response(`hello ${new URL(req.url).pathname}`),
    }, { in: (m) => ({ push: m }) });
    const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca: fixture("ca.pem") });
    session.on("error", () => {});
    try {
      assert.equal(await http2Get(session, "/warm"), "hello /warm");
      const latencies: number[] = [];
      for (let i = 0; i < 50; i++) {
        const started = performance.now();
        assert.equal(await http2Get(session, `/r${i}`), `hello /r${i}`);
        latencies.push(performance.now() - started);
      }
      // 40 ms stalls would make each request take 40 ms; without them one takes a few.
      assertNoStall(latencies);
    } finally {
      session.close();
    }
  });

  it("HTTP/1.1 too: 50 sequential keep-alive requests on one TLS connection", async () => {
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert: fixture("server.pem"), key: fixture("server.key") },
      fetch: (req) => new Response(`hello ${new URL(req.url).pathname}`),
    }, { in: (m) => ({ push: m }) });
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: fixture("ca.pem") });
    const sockets = new Set<unknown>();
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        const req = https.get({ host: "127.0.0.1", port: server.port, path, agent }, (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve(body));
        });
        req.on("socket", (socket) => sockets.add(socket));
        req.on("error", reject);
      });
    try {
      assert.equal(await get("/warm"), "hello /warm");
      const latencies: number[] = [];
      for (let i = 0; i < 50; i++) {
        const started = performance.now();
        assert.equal(await get(`/r${i}`), `hello /r${i}`);
        latencies.push(performance.now() - started);
      }
      assert.equal(sockets.size, 1, "one connection");
      assertNoStall(latencies);
    } finally {
      agent.destroy();
    }
  });
});
