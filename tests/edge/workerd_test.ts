// sprig's client inside workerd (Cloudflare's Workers runtime, from npm):
// examples/edge/worker.ts is bundled and run in workerd, and connects with
// `connect()` from `cloudflare:sockets` to servers this test starts on
// 127.0.0.1 — sprig's own and the `ws` package's — exchanging text, a
// compressed large message and binary, pinging, and closing cleanly. The
// test drives workerd as a subprocess, so it runs the same under Deno, Bun
// and Node.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { serve, type Server } from "../../mod.ts";
import { startWorkerd, type Workerd } from "../../examples/edge/workerd.ts";
import type { EdgeReport } from "../../examples/edge/worker.ts";
import { type Peer, startWsPeer } from "../_helpers/peer.ts";

const LARGE_CHARS = "sprig on the edge. ".length * 4096;

describe("sprig's client in workerd (cloudflare:sockets connect())", () => {
  let workerd: Workerd;
  let server: Server;
  let wsPeer: Peer;

  before(async () => {
    [workerd, server, wsPeer] = await Promise.all([
      startWorkerd({ entry: new URL("../../examples/edge/worker.ts", import.meta.url).pathname }),
      serve({ hostname: "127.0.0.1", port: 0 }, { in: (message) => ({ push: message }) }),
      startWsPeer("--deflate"),
    ]);
  });

  after(async () => {
    await Promise.all([workerd?.stop(), server?.shutdown(), wsPeer?.stop()]);
  });

  /** Has the worker talk to `target` and returns its report. */
  async function runWorker(target: string): Promise<EdgeReport> {
    const response = await fetch(new URL(`/?url=${encodeURIComponent(target)}`, workerd.url), {
      signal: AbortSignal.timeout(30_000),
    });
    assert.equal(response.status, 200, workerd.log);
    return await response.json() as EdgeReport;
  }

  function assertConversation(report: EdgeReport) {
    assert.equal(report.error, undefined, `the worker failed: ${report.error}`);
    assert.equal(report.extensions?.startsWith("permessage-deflate"), true);
    assert.deepEqual(report.replies, [
      "hello from workerd",
      `${LARGE_CHARS} chars, intact`,
      "binary 1,2,3",
    ]);
    // The large message left compressed (RSV1) and came back compressed.
    assert.equal(report.largestFrame!.sent.rsv, 4);
    assert.ok(report.largestFrame!.sent.bytes < LARGE_CHARS / 10);
    assert.equal(report.largestFrame!.received.rsv, 4);
    assert.ok(report.largestFrame!.received.bytes < LARGE_CHARS / 10);
    assert.equal(typeof report.pingMs, "number");
    // The worker closed with 1000 "done"; the close frame each server answered with carries 1000.
    assert.equal(report.close?.code, 1000);
    assert.equal(report.close?.wasClean, true);
    assert.equal(report.ok, true);
  }

  it("talks to sprig's server: text, compressed text, binary, ping, clean close", async () => {
    assertConversation(await runWorker(server.url.href));
  });

  it("talks to the ws package's server with permessage-deflate the same way", async () => {
    assertConversation(await runWorker(`ws://127.0.0.1:${wsPeer.port}/echo`));
  });

  it("reports a refused handshake as sprig's HandshakeError", async () => {
    const report = await runWorker(`ws://127.0.0.1:${wsPeer.port}/refuse`);
    assert.equal(report.ok, false);
    assert.match(report.error ?? "", /HandshakeError.*401/s);
  });
});
