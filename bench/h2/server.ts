/**
 * sprig's `serve()` for the HTTP/2 benchmark (`bench/h2/run.mjs`), on the
 * runtime that runs this file:
 *
 *   deno run -A bench/h2/server.ts [--tls] [--http2 true|sprig|node:http2]
 *   bun bench/h2/server.ts ... ; node --import tsx bench/h2/server.ts ...
 *
 * An echo handler (each message pushed back) for WebSocket upgrades, over
 * HTTP/1.1 and, with `--http2`, over HTTP/2 too (RFC 8441; h2c by prior
 * knowledge, or ALPN `h2` with `--tls`); plain requests get a 5-byte 200
 * from `fetch` (for h2load). `--tls` serves the test certificate of
 * tests/_fixtures (localhost, 127.0.0.1). Listens on 127.0.0.1, a free
 * port, prints one line ending in `listening on 127.0.0.1:PORT` when
 * ready, and exits on SIGTERM or SIGINT.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { serve } from "../../mod.ts";

const argv = process.argv.slice(2);
const valueOf = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const http2Arg = valueOf("--http2");
const http2 = http2Arg === undefined ? false : http2Arg === "true" ? true : http2Arg;
if (http2 !== false && http2 !== true && http2 !== "sprig" && http2 !== "node:http2") {
  console.error("--http2 is one of true, sprig, node:http2");
  process.exit(2);
}
const fixture = (name: string) =>
  readFileSync(new URL(`../../tests/_fixtures/${name}`, import.meta.url), "utf8");
const tls = argv.includes("--tls")
  ? { cert: fixture("server.pem"), key: fixture("server.key") }
  : undefined;

const HELLO = new TextEncoder().encode("hello");
const server = await serve({
  hostname: "127.0.0.1",
  port: 0,
  tls,
  http2,
  fetch: () => new Response(HELLO),
  compression: false,
  keepalive: false,
}, {
  in: (message) => ({ push: message }),
});
console.log(`sprig h2 bench server (http2: ${http2}) listening on 127.0.0.1:${server.port}`);
const stop = () => void server.shutdown({ deadlineMs: 500 }).then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
