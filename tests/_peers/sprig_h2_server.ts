// sprig's own server with http2: true, echoing, as a separate process run by
// Bun (node:http2 underneath): the HTTP/2 tests of Deno's client use it, so
// that Deno's client also meets a node:http2 server (Deno's own sprig server
// runs sprig's HTTP/2 endpoint, tested in tests/server/http2/server_test.ts).
// Prints "LISTENING <port>"; exits when stdin closes.
// --tls serves TLS with tests/_fixtures/server.pem.
import process from "node:process";
import { readFileSync } from "node:fs";
import { serve } from "../../mod.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../_fixtures/${name}`, import.meta.url), "utf8");
const server = await serve({
  hostname: "127.0.0.1",
  port: 0,
  http2: true,
  tls: process.argv.includes("--tls")
    ? { cert: fixture("server.pem"), key: fixture("server.key") }
    : undefined,
  protocols: ["chat"],
  fetch: (request) => new Response(`plain ${new URL(request.url).pathname}`),
}, {
  init: (ctx) => ({
    state: undefined,
    push: JSON.stringify({
      httpVersion: ctx.httpVersion,
      protocol: ctx.protocol,
      extensions: ctx.extensions,
      custom: ctx.headers.get("x-custom"),
    }),
  }),
  in: (message) => ({ push: message }),
});
console.log(`LISTENING ${server.port}`);
process.stdin.on("end", () => void server.shutdown().then(() => process.exit(0)));
process.stdin.resume();
