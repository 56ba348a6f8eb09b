// Probe of a runtime's node:http2 server for RFC 8441 (see README "WebSockets over HTTP/2").
// Run: <runtime> scripts/http2_probe/server.mjs h2c|tls stream|request ; prints its port.
// Env: SV=pipe|manual|close (echo style), WIN=1 (8 MiB window), GOAWAY=N (close the session after N streams).
// usage: server.mjs h2c|tls stream|request
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
const [mode, ev] = process.argv.slice(2).filter((a) =>
  !a.endsWith(".mjs") && a !== "run" && a !== "-A"
);
const settings = {
  enableConnectProtocol: true,
  ...(process.env.WIN ? { initialWindowSize: 8 << 20 } : {}),
};
const server = mode === "tls"
  ? http2.createSecureServer({
    allowHTTP1: true,
    settings,
    key: readFileSync(new URL("../../tests/_fixtures/server.key", import.meta.url)),
    cert: readFileSync(new URL("../../tests/_fixtures/server.pem", import.meta.url)),
  })
  : http2.createServer({ settings });
const log = (...a) => console.error("[server]", ...a);
function handle(stream, headers) {
  log(
    "stream",
    headers[":method"],
    "protocol=",
    headers[":protocol"],
    "path=",
    headers[":path"],
    "scheme=",
    headers[":scheme"],
    "auth=",
    headers[":authority"],
  );
  if (headers[":method"] === "CONNECT") {
    stream.respond({ ":status": 200 });
    const v = process.env.SV || "pipe";
    if (v === "pipe") stream.pipe(stream);
    else {
      stream.on("data", (d) => {
        if (!stream.write(d)) {
          stream.pause();
          stream.once("drain", () => stream.resume());
        }
      });
      stream.on("end", () => {
        if (v === "close") stream.close();
        else stream.end();
      });
    }
  } else {
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end("plain " + headers[":path"]);
  }
}
if (ev === "request") {
  server.on("request", (req, res) => {
    log("request event", req.method, req.headers[":protocol"], req.httpVersion);
    if (req.method === "CONNECT") {
      res.writeHead(200);
      req.pipe(res);
    } else res.end("plain " + req.url);
  });
} else {
  server.on("stream", handle);
}
let closed = 0;
server.on("session", (s) => {
  if (process.env.GOAWAY) {
    s.on("stream", (st) =>
      st.on("close", () => {
        if (++closed === Number(process.env.GOAWAY)) {
          console.error("[server] GOAWAY");
          s.close();
        }
      }));
  }
  s.on("remoteSettings", (st) => log("client settings", JSON.stringify(st)));
});
server.on("error", (e) => log("server error", e));
server.listen(0, "127.0.0.1", () => {
  console.log(server.address().port);
});
