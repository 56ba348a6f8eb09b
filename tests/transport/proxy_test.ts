// connect() through proxies written in the test (HTTP CONNECT and SOCKS5,
// with and without credentials), carrying ws:// and wss:// sessions to
// sprig's own server on 127.0.0.1; refusals are typed ProxyErrors.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as net from "node:net";
import process from "node:process";
import {
  connect,
  ConnectionError,
  InvalidArgumentError,
  ProxyError,
  proxyFromEnvironment,
  serve,
  type Server,
} from "../../mod.ts";
import { startHttpProxy, startSocks5Proxy, type TestProxy } from "../_helpers/proxies.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../_fixtures/${name}`, import.meta.url), "utf8");
const ca = fixture("ca.pem");
const handler = { in: (m: string | Uint8Array) => ({ push: m }) };
const auth = { username: "user", password: "p@ss:word" };
// The password percent-encoded for the URL.
const credentials = `user:${encodeURIComponent(auth.password)}`;

let plain: Server;
let secure: Server;
const proxies: Record<string, TestProxy> = {};

before(async () => {
  plain = await serve({ hostname: "127.0.0.1", port: 0 }, handler);
  secure = await serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: fixture("server.pem"), key: fixture("server.key") },
  }, handler);
  proxies.http = await startHttpProxy();
  proxies.httpAuth = await startHttpProxy(auth);
  proxies.socks = await startSocks5Proxy();
  proxies.socksAuth = await startSocks5Proxy(auth);
});

after(async () => {
  for (const p of Object.values(proxies)) await p.close();
  await plain?.shutdown({ deadlineMs: 1000 });
  await secure?.shutdown({ deadlineMs: 1000 });
});

async function echoOnce(url: string, proxy: string, extra = {}): Promise<void> {
  const ws = await connect(url, { proxy, tls: { caCerts: [ca] }, ...extra });
  await ws.send("through the proxy");
  assert.equal(await ws.receive({ timeoutMs: 5000 }), "through the proxy");
  assert.equal((await ws.close()).wasClean, true);
}

const cases = [
  ["HTTP CONNECT", "http", "http", ""],
  ["HTTP CONNECT with credentials", "httpAuth", "http", `${credentials}@`],
  ["SOCKS5", "socks", "socks5", ""],
  ["SOCKS5 with username/password", "socksAuth", "socks5", `${credentials}@`],
] as const;

describe("connect() through a proxy", () => {
  for (const [name, key, scheme, userinfo] of cases) {
    it(`${name}: ws://`, async () => {
      const proxy = proxies[key];
      const before = proxy.targets.length;
      await echoOnce(
        `ws://127.0.0.1:${plain.port}/`,
        `${scheme}://${userinfo}127.0.0.1:${proxy.port}`,
      );
      assert.deepEqual(proxy.targets.slice(before), [`127.0.0.1:${plain.port}`]);
    });

    it(`${name}: wss:// (TLS to the target inside the tunnel, verified)`, async () => {
      const proxy = proxies[key];
      const before = proxy.targets.length;
      // By name: the proxy is asked for "localhost" and TLS verifies that name.
      await echoOnce(
        `wss://localhost:${secure.port}/`,
        `${scheme}://${userinfo}127.0.0.1:${proxy.port}`,
      );
      assert.deepEqual(proxy.targets.slice(before), [`localhost:${secure.port}`]);
    });
  }

  it("wss:// through a tunnel still refuses a certificate it cannot verify", async () => {
    await assert.rejects(
      connect(`wss://127.0.0.1:${secure.port}/`, {
        proxy: `http://127.0.0.1:${proxies.http.port}`,
      }),
      (e: unknown) => e instanceof ConnectionError && e.code === "TLS_FAILED",
    );
  });

  it("wss:// with insecure: true through a tunnel (node:tls on every runtime)", async () => {
    const ws = await connect(`wss://127.0.0.1:${secure.port}/`, {
      proxy: `socks5://127.0.0.1:${proxies.socks.port}`,
      tls: { insecure: true },
    });
    await ws.send("x");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "x");
    await ws.close();
  });

  it("an HTTP proxy's 407 is a ProxyError PROXY_AUTH_REQUIRED with the status and headers", async () => {
    for (const userinfo of ["", "user:wrong@"]) {
      await assert.rejects(
        connect(`ws://127.0.0.1:${plain.port}/`, {
          proxy: `http://${userinfo}127.0.0.1:${proxies.httpAuth.port}`,
        }),
        (e: unknown) =>
          e instanceof ProxyError && e.code === "PROXY_AUTH_REQUIRED" && e.status === 407 &&
          e.protocol === "http" && /Basic/.test(e.headers.get("proxy-authenticate") ?? ""),
      );
    }
  });

  it("an HTTP proxy that cannot reach the target: PROXY_REFUSED with its 502", async () => {
    await assert.rejects(
      connect("ws://127.0.0.1:1/", { proxy: `http://127.0.0.1:${proxies.http.port}` }),
      (e: unknown) => e instanceof ProxyError && e.code === "PROXY_REFUSED" && e.status === 502,
    );
  });

  it("SOCKS5: no acceptable method, a refused login, a refused target", async () => {
    await assert.rejects(
      connect(`ws://127.0.0.1:${plain.port}/`, {
        proxy: `socks5://127.0.0.1:${proxies.socksAuth.port}`,
      }),
      (e: unknown) =>
        e instanceof ProxyError && e.code === "PROXY_AUTH_REQUIRED" && e.status === 255 &&
        e.protocol === "socks5",
    );
    await assert.rejects(
      connect(`ws://127.0.0.1:${plain.port}/`, {
        proxy: `socks5://user:wrong@127.0.0.1:${proxies.socksAuth.port}`,
      }),
      (e: unknown) => e instanceof ProxyError && e.code === "PROXY_AUTH_FAILED" && e.status === 1,
    );
    await assert.rejects(
      connect("ws://127.0.0.1:1/", { proxy: `socks5://127.0.0.1:${proxies.socks.port}` }),
      (e: unknown) => e instanceof ProxyError && e.code === "PROXY_REFUSED" && e.status === 5,
    );
  });

  it("SOCKS5: a refusal cut after its reply byte is still the refusal, not a protocol error", async () => {
    // Issue 28: some proxies send VER and REP of a refusal and close.
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      let seen = 0;
      let greeted = false;
      socket.on("error", () => {});
      socket.on("data", (chunk: Uint8Array) => {
        seen += chunk.length;
        if (!greeted && seen >= 3) {
          greeted = true; // RFC 1928 §3: no authentication
          seen -= 3;
          socket.write(Uint8Array.from([5, 0]));
        }
        // The CONNECT request: answer "host unreachable" (4) and nothing more.
        if (greeted && seen > 0) socket.end(Uint8Array.from([5, 4]));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      await assert.rejects(
        connect(`ws://127.0.0.1:${plain.port}/`, { proxy: `socks5://127.0.0.1:${port}` }),
        (e: unknown) =>
          e instanceof ProxyError && e.code === "PROXY_REFUSED" && e.status === 4 &&
          /host unreachable/.test(e.message),
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("an unreachable proxy is a ConnectionError naming the proxy", async () => {
    // A port that was just free: nothing listens there.
    const probe = await startHttpProxy();
    const port = probe.port;
    await probe.close();
    await assert.rejects(
      connect(`ws://127.0.0.1:${plain.port}/`, { proxy: `http://127.0.0.1:${port}` }),
      (e: unknown) =>
        e instanceof ConnectionError && e.code === "CONNECT_REFUSED" && /proxy/.test(e.message),
    );
  });

  it("malformed proxy options fail at the call", async () => {
    for (const proxy of ["ftp://127.0.0.1:21", "https://127.0.0.1:3128", "not a url"]) {
      await assert.rejects(
        connect(`ws://127.0.0.1:${plain.port}/`, { proxy }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === "options.proxy",
      );
    }
    await assert.rejects(
      connect(`ws://127.0.0.1:${plain.port}/`, {
        proxy: `http://127.0.0.1:${proxies.http.port}`,
        unixPath: "/tmp/x.sock",
      }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "options.proxy",
    );
  });
});

describe('proxy: "env"', () => {
  it("reads https_proxy/HTTPS_PROXY for wss:, http_proxy/HTTP_PROXY for ws:, honours NO_PROXY", () => {
    const env: Record<string, string> = {
      HTTP_PROXY: "http://plain-proxy:3128",
      https_proxy: "socks5://secure-proxy",
      NO_PROXY: "internal.test, .corp.test:8443, [::1], 10.0.0.1",
    };
    const read = (name: string) => env[name];
    const at = (hostname: string, port: number, tls: boolean) =>
      proxyFromEnvironment({ hostname, port, tls }, read)?.href;
    assert.equal(at("example.com", 80, false), "http://plain-proxy:3128/");
    assert.equal(at("example.com", 443, true), "socks5://secure-proxy");
    assert.equal(at("internal.test", 80, false), undefined);
    assert.equal(at("api.internal.test", 443, true), undefined);
    assert.equal(at("xinternal.test", 443, true), "socks5://secure-proxy");
    assert.equal(at("a.corp.test", 8443, true), undefined);
    assert.equal(at("a.corp.test", 443, true), "socks5://secure-proxy");
    assert.equal(at("::1", 80, false), undefined);
    assert.equal(at("10.0.0.1", 80, false), undefined);
    assert.equal(at("10.0.0.10", 80, false), "http://plain-proxy:3128/");
    assert.equal(
      proxyFromEnvironment({ hostname: "x", port: 1, tls: false }, () => undefined),
      undefined,
    );
    assert.equal(
      proxyFromEnvironment(
        { hostname: "x", port: 1 },
        (n) => (n === "ALL_PROXY" ? "proxy:1" : undefined),
      )
        ?.href,
      "http://proxy:1/",
    );
    assert.equal(
      proxyFromEnvironment(
        { hostname: "x", port: 1 },
        (n) => n === "HTTP_PROXY" ? "http://p:1" : n === "no_proxy" ? "*" : undefined,
      ),
      undefined,
    );
  });

  it("connects through the proxy the environment names", async () => {
    const names = ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY"];
    const saved = names.map((n) => [n, process.env[n]] as const);
    for (const n of names) delete process.env[n];
    process.env.HTTP_PROXY = `http://127.0.0.1:${proxies.http.port}`;
    try {
      const before = proxies.http.targets.length;
      await echoOnce(`ws://127.0.0.1:${plain.port}/`, "env");
      assert.equal(proxies.http.targets.length, before + 1);
      process.env.NO_PROXY = "127.0.0.1";
      await echoOnce(`ws://127.0.0.1:${plain.port}/`, "env");
      assert.equal(proxies.http.targets.length, before + 1, "NO_PROXY bypasses the proxy");
    } finally {
      for (const [n, v] of saved) {
        if (v === undefined) delete process.env[n];
        else process.env[n] = v;
      }
    }
  });
});
