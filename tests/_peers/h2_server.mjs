// A plain node:http2 server for RFC 8441 interop tests, written without
// sprig: it frames WebSocket messages itself. Run by Node (so a failure of
// another runtime's node:http2 server cannot take the test run down).
// Prints "LISTENING <port>" once ready; exits when stdin closes.
// Flags:
//   --no-connect-protocol  do not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL
//   --tls                  TLS (tests/_fixtures/server.pem) with ALPN h2 and,
//                          with allowHTTP1, HTTP/1.1 WebSockets by the `ws` package
// Extended CONNECT paths:
//   /echo     sends one text message (the request's pseudo-headers and fields
//             as JSON), then echoes every text message; a client frame
//             without the mask bit gets a close 1002 (RFC 6455 §5.1)
//   /refuse   answers 403 with a body
//   /accept-and-end  answers 200 with END_STREAM: accepted, and at once over
import * as http2 from "node:http2";
import { readFileSync } from "node:fs";
import { WebSocketServer } from "ws";

const args = process.argv.slice(2);
const tls = args.includes("--tls");
const settings = { enableConnectProtocol: !args.includes("--no-connect-protocol") };
const fixture = (name) => readFileSync(new URL(`../_fixtures/${name}`, import.meta.url));
const server = tls
  ? http2.createSecureServer({
    settings,
    allowHTTP1: true,
    cert: fixture("server.pem"),
    key: fixture("server.key"),
  })
  : http2.createServer({ settings });

/** An unmasked server frame (FIN set) with a payload under 64 KiB. */
function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? [0x80 | opcode, n] : [0x80 | opcode, 126, n >> 8, n & 255];
  return Buffer.concat([Buffer.from(head), payload]);
}

server.on("stream", (stream, headers) => {
  stream.on("error", () => {});
  if (headers[":method"] !== "CONNECT") {
    stream.respond({ ":status": 200, "content-type": "text/plain" });
    stream.end(`plain ${headers[":path"]}`);
    return;
  }
  if (headers[":path"] === "/refuse") {
    stream.respond({ ":status": 403, "x-why": "refused" });
    stream.end("no entry");
    return;
  }
  if (headers[":path"] === "/accept-and-end") {
    stream.respond({ ":status": 200 }, { endStream: true });
    return;
  }
  const response = { ":status": 200 };
  const offered = headers["sec-websocket-protocol"];
  if (offered) response["sec-websocket-protocol"] = offered.split(",")[0].trim();
  stream.respond(response);
  stream.write(frame(1, Buffer.from(JSON.stringify(headers))));
  let buffered = Buffer.alloc(0);
  stream.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (let i = 0; i < 1000 && buffered.length >= 2; i++) {
      const opcode = buffered[0] & 0x0f;
      const masked = (buffered[1] & 0x80) !== 0;
      let n = buffered[1] & 0x7f;
      let at = 2;
      if (n === 126) {
        if (buffered.length < 4) return;
        n = buffered.readUInt16BE(2);
        at = 4;
      } else if (n === 127) {
        if (buffered.length < 10) return;
        n = Number(buffered.readBigUInt64BE(2));
        at = 10;
      }
      if (!masked) {
        const body = Buffer.alloc(2);
        body.writeUInt16BE(1002);
        stream.end(frame(8, body));
        return;
      }
      if (buffered.length < at + 4 + n) return;
      const key = buffered.subarray(at, at + 4);
      const payload = Buffer.from(buffered.subarray(at + 4, at + 4 + n));
      for (let j = 0; j < n; j++) payload[j] ^= key[j & 3];
      buffered = buffered.subarray(at + 4 + n);
      if (opcode === 1) stream.write(frame(1, payload));
      else if (opcode === 8) {
        stream.end(frame(8, payload.subarray(0, 2)));
        return;
      }
    }
  });
});

if (tls) {
  // HTTP/1.1 on the same port (allowHTTP1): WebSocket upgrades by `ws`.
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => {
      ws.send("over http/1.1");
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });
}

server.listen(0, "127.0.0.1", () => console.log(`LISTENING ${server.address().port}`));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
