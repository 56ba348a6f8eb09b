// A real peer for interop tests: the `ws` package's server, on Node.
// Prints "LISTENING <port>" once ready. Paths select behaviours:
//   /echo          echoes every message as it came (text as text, binary as binary)
//   /headers       sends the request headers as JSON, then echoes
//   /refuse        answers the upgrade with 401 and a body
//   /deaf          stops reading the socket after the handshake (no pongs)
//   /close/<code>  closes with that code and reason "bye"
//   /drop          destroys the TCP connection without a close frame
//   /extensions    sends the negotiated Sec-WebSocket-Extensions response, then echoes
// Arguments: --deflate (permessage-deflate on, threshold 0) with
// --server-no-context-takeover, --client-no-context-takeover,
// --server-max-window-bits N, --client-max-window-bits N; --protocols a,b,
// --tls (https with tests/_fixtures/server.pem, signed by ca.pem), --unix PATH,
// --host ADDRESS (default 127.0.0.1)
import { WebSocketServer } from "ws";
import http from "node:http";
import https from "node:https";
import { readFileSync } from "node:fs";

const args = process.argv.slice(2);
const deflate = args.includes("--deflate");
// permessage-deflate parameters for the server's side of the negotiation.
const deflateOption = (name) => {
  const at = args.indexOf(`--${name}`);
  return at === -1 ? undefined : args[at + 1];
};
const deflateParams = {
  threshold: 0,
  // Left unset unless asked for, as in ws's defaults: ws refuses (400) an
  // offer asking for server_no_context_takeover when this is set to false.
  ...(args.includes("--server-no-context-takeover") && { serverNoContextTakeover: true }),
  ...(args.includes("--client-no-context-takeover") && { clientNoContextTakeover: true }),
  ...(deflateOption("server-max-window-bits") &&
    { serverMaxWindowBits: Number(deflateOption("server-max-window-bits")) }),
  ...(deflateOption("client-max-window-bits") &&
    { clientMaxWindowBits: Number(deflateOption("client-max-window-bits")) }),
};
const pAt = args.indexOf("--protocols");
const supported = pAt === -1 ? [] : args[pAt + 1].split(",");

const notFound = (_req, res) => res.writeHead(404).end();
const fixture = (name) => readFileSync(new URL(`../_fixtures/${name}`, import.meta.url));
const server = args.includes("--tls")
  ? https.createServer({ cert: fixture("server.pem"), key: fixture("server.key") }, notFound)
  : http.createServer(notFound);
const wss = new WebSocketServer({
  noServer: true,
  maxPayload: 256 * 1024 * 1024,
  perMessageDeflate: deflate ? deflateParams : false,
  handleProtocols: (offered) => [...offered].find((p) => supported.includes(p)) ?? false,
});

server.on("upgrade", (req, socket, head) => {
  if (req.url === "/refuse") {
    socket.end(
      "HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: close\r\n\r\nno entry, go",
    );
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    const url = req.url ?? "/";
    if (url === "/headers") ws.send(JSON.stringify(req.headers));
    if (url === "/extensions") ws.send(ws.extensions);
    if (url === "/deaf") {
      socket.pause();
      return;
    }
    if (url.startsWith("/close/")) {
      ws.close(Number(url.slice(7)), "bye");
      return;
    }
    if (url === "/drop") {
      socket.destroy();
      return;
    }
    ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
});

const uAt = args.indexOf("--unix");
const hAt = args.indexOf("--host");
if (uAt !== -1) {
  server.listen(args[uAt + 1], () => process.stdout.write(`LISTENING 0\n`));
} else {
  server.listen(0, hAt === -1 ? "127.0.0.1" : args[hAt + 1], () => {
    process.stdout.write(`LISTENING ${server.address().port}\n`);
  });
}
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
