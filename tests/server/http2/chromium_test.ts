// Headless Chromium (playwright-core driving /usr/bin/chromium) loads a page
// from sprig's TLS server over HTTP/2 and opens a WebSocket back to it: the
// browser opens it as an extended CONNECT on the page's HTTP/2 connection
// (RFC 8441) when the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL.
// On Node and Bun the server runs on node:http2; on Deno on sprig's own
// HTTP/2 endpoint (lib/protocol/http2/).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { serve } from "../../../mod.ts";
import { runJson } from "../../_helpers/peer.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../../_fixtures/${name}`, import.meta.url), "utf8");

/** Runs the Chromium peer on `url`; its one JSON line. */
function runChromium(url: string): Promise<{ result?: Record<string, unknown>; error?: string }> {
  return runJson("node", [
    new URL("../../_peers/chromium_client.mjs", import.meta.url).pathname,
    url,
    "30000",
    "--insecure",
  ]);
}

const PAGE = `<!doctype html><script>
(async () => {
  const nav = performance.getEntriesByType("navigation")[0];
  const ws = new WebSocket("wss://" + location.host + "/ws");
  ws.binaryType = "arraybuffer";
  const got = [];
  ws.onmessage = (e) => {
    got.push(typeof e.data === "string" ? e.data : Array.from(new Uint8Array(e.data)));
    if (got.length === 3) ws.close(1000, "done");
  };
  ws.onopen = () => { ws.send("hello over h2"); ws.send(new Uint8Array([1, 2, 3])); };
  ws.onclose = (e) => {
    globalThis.__result = { page: nav.nextHopProtocol, got, code: e.code, wasClean: e.wasClean };
  };
})();
</script>`;

{
  describe("headless Chromium over HTTP/2", () => {
    it("loads the page over h2 and runs its WebSocket as an extended CONNECT on that connection", async () => {
      const seen: string[] = [];
      await using server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        http2: true,
        tls: { cert: fixture("server.pem"), key: fixture("server.key") },
        fetch: () => new Response(PAGE, { headers: { "content-type": "text/html" } }),
      }, {
        init: (ctx) => {
          seen.push(ctx.httpVersion);
          return { state: undefined, push: `via HTTP/${ctx.httpVersion}` };
        },
        in: (m) => ({ push: m }),
      });
      const r = await runChromium(`https://127.0.0.1:${server.port}/`);
      assert.ok(!r.error, String(r.error));
      const result = r.result!;
      assert.equal(result.page, "h2");
      assert.deepEqual(result.got, ["via HTTP/2", "hello over h2", [1, 2, 3]]);
      assert.equal(result.code, 1000);
      assert.equal(result.wasClean, true);
      assert.deepEqual(seen, ["2"]);
    });
  });
}
