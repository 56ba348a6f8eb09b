/**
 * An echo server: every text message comes back as text, every binary
 * message as binary. Plain HTTP requests get a short page.
 *
 *   deno run -A examples/echo_server.ts --port 8080
 *   bun examples/echo_server.ts --port 8080
 *   npx tsx examples/echo_server.ts --port 8080
 *
 * Options: --port N (default 8080; 0 picks a free port), --host ADDRESS
 * (default 127.0.0.1), --no-compression (permessage-deflate is on by
 * default), --h2c (cleartext HTTP/2 by prior knowledge beside HTTP/1.1:
 * WebSockets by extended CONNECT, RFC 8441, several per connection, and
 * plain requests), --tls-cert FILE --tls-key FILE (TLS; with them HTTP/2 is
 * offered by ALPN beside HTTP/1.1 on the same port). HTTP/2 needs Node or
 * Bun: Deno's node:http2 server is not used (see the README). Prints one
 * line with its URL once it listens; Ctrl-C shuts it down gracefully
 * (clients see 1001).
 */
import process from "node:process";
import { readFileSync } from "node:fs";
import { detectRuntime, serve } from "../mod.ts";

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at === -1 || at + 1 >= args.length ? fallback : args[at + 1];
};
const port = Number(option("--port", "8080"));
const hostname = option("--host", "127.0.0.1");
const compression = !args.includes("--no-compression");
const certFile = option("--tls-cert", "");
const keyFile = option("--tls-key", "");
if ((certFile === "") !== (keyFile === "")) {
  console.error("--tls-cert and --tls-key go together");
  process.exit(2);
}
const tls = certFile
  ? { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") }
  : undefined;
// HTTP/2 with TLS (by ALPN) or with --h2c, where the runtime can serve it.
const http2 = (tls !== undefined || args.includes("--h2c")) && detectRuntime() !== "deno";
if (args.includes("--h2c") && !http2) {
  console.error("--h2c: HTTP/2 serving needs Node or Bun (Deno's node:http2 server is not used)");
  process.exit(2);
}
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port takes a port number, not ${option("--port", "")}`);
  process.exit(2);
}

const server = await serve({
  hostname,
  port,
  compression,
  tls,
  http2,
  fetch: () => new Response("sprig echo server: open a WebSocket to this URL\n"),
}, {
  in: (message) => ({ push: message }),
});

const stop = async () => {
  await server.shutdown({ deadlineMs: 5000 });
  process.exit(0);
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

console.log(
  `sprig echo server listening on ${server.url} (${detectRuntime()}, compression ${
    compression ? "on" : "off"
  }${http2 ? ", HTTP/2 too" : ""})`,
);
