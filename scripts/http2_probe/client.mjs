// Probe of a runtime's node:http2 client for RFC 8441 against scripts/http2_probe/server.mjs.
// Run: <runtime> scripts/http2_probe/client.mjs h2c|tls PORT [small|big|mid|conc|conc2|conc3|conc4|seq]
// Env: HOW=close|destroy|exit|wait|linger (how the client leaves). Prints PASS or FAIL.
// usage: client.mjs h2c|tls PORT
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
const [mode, port, only] = process.argv.slice(2).filter((a) =>
  !a.endsWith(".mjs") && a !== "run" && a !== "-A"
);
const url = (mode === "tls" ? "https" : "http") + "://127.0.0.1:" + port;
const log = (...a) => console.log("[client]", ...a);
const timer = setTimeout(() => {
  log("TIMEOUT");
  process.exit(2);
}, 30000);
const session = http2.connect(
  url,
  mode === "tls"
    ? { ca: readFileSync(new URL("../../tests/_fixtures/ca.pem", import.meta.url)) }
    : {},
);
session.on("error", (e) => log("session error", e.code, e.message));
if (mode === "tls") session.on("connect", () => log("alpn", session.alpnProtocol));
await new Promise((res) => {
  if (session.remoteSettings && session.remoteSettings.enableConnectProtocol) return res();
  session.on("remoteSettings", (s) => {
    log("remoteSettings.enableConnectProtocol=", s.enableConnectProtocol);
    res();
  });
});
function ws(size) {
  return new Promise((resolve, reject) => {
    let stream;
    try {
      stream = session.request({
        ":method": "CONNECT",
        ":protocol": "websocket",
        ":path": "/chat",
        ":scheme": mode === "tls" ? "https" : "http",
        ":authority": "127.0.0.1:" + port,
        "sec-websocket-version": "13",
      });
    } catch (e) {
      return reject(e);
    }
    stream.on("response", (h) => {
      if (h[":status"] !== 200) return reject(new Error("status " + h[":status"]));
      const payload = new Uint8Array(size);
      for (let i = 0; i < size; i++) payload[i] = i * 7 & 255;
      let got = 0, ok = true;
      stream.on("data", (d) => {
        for (let i = 0; i < d.length; i++) if (d[i] !== ((got + i) * 7 & 255)) ok = false;
        got += d.length;
        if (got >= size) stream.end();
      });
      stream.on("end", () => resolve({ got, ok }));
      stream.on("error", reject);
      stream.end;
      stream.write(payload);
    });
    stream.on("error", reject);
  });
}
function get() {
  return new Promise((resolve, reject) => {
    const s = session.request({ ":path": "/plain" });
    let body = "";
    s.setEncoding("utf8");
    s.on("data", (d) => body += d);
    s.on("end", () => resolve(body));
    s.on("error", reject);
  });
}
try {
  if (only === "small" || !only) log("small", JSON.stringify(await ws(10)));
  if (only === "big" || !only) log("16MiB", JSON.stringify(await ws(16 << 20)));
  if (only === "mid") log("1MiB", JSON.stringify(await ws(1 << 20)));
  if (only === "conc" || !only) {
    const r = await Promise.all([ws(1 << 20), ws(1 << 20), ws(2 << 20), get(), ws(100)]);
    log("concurrent", JSON.stringify(r));
  }
  if (only === "conc3") {
    const r = await Promise.all([ws(1 << 20), ws(1 << 20), ws(2 << 20), ws(100)]);
    log("concurrent", JSON.stringify(r));
  }
  if (only === "conc4") {
    const r = await Promise.all([ws(1 << 20), ws(1 << 20)]);
    log("concurrent", JSON.stringify(r));
  }
  if (only === "seq") {
    for (let i = 0; i < 4; i++) await ws(1 << 20);
    await get();
    log("seq");
  }
  if (only === "conc2") {
    const r = await Promise.all([ws(100), ws(100), get(), ws(100)]);
    log("concurrent", JSON.stringify(r));
  }
  log("PASS");
} catch (e) {
  log("FAIL", e.code, e.message);
}
clearTimeout(timer);
const how = process.env.HOW || "close";
log("closing by", how);
if (how === "linger") {
  await new Promise((r) => setTimeout(r, 1500));
  log("client alive after goaway");
  session.destroy();
} else if (how === "destroy") session.destroy();
else if (how === "exit") process.exit(0);
else if (how === "wait") {
  await new Promise((r) => setTimeout(r, 2000));
  log("still alive? closing now");
  session.close();
} else session.close();
