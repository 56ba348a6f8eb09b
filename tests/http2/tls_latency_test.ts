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
import { serve } from "../../mod.ts";
import { http2Get } from "../_helpers/http2.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../_fixtures/${name}`, import.meta.url), "utf8");

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
      const started = performance.now();
      for (let i = 0; i < 50; i++) assert.equal(await http2Get(session, `/r${i}`), `hello /r${i}`);
      const elapsed = performance.now() - started;
      // 40 ms stalls would make it 2,000 ms; without them it is a few tens.
      assert.ok(elapsed < 1000, `50 requests took ${elapsed.toFixed(0)} ms`);
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
      const started = performance.now();
      for (let i = 0; i < 50; i++) assert.equal(await get(`/r${i}`), `hello /r${i}`);
      const elapsed = performance.now() - started;
      assert.equal(sockets.size, 1, "one connection");
      assert.ok(elapsed < 1000, `50 requests took ${elapsed.toFixed(0)} ms`);
    } finally {
      agent.destroy();
    }
  });
});
