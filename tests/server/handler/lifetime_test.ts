// maxLifetimeMs: every host closes a connection with 1001 after its
// lifetime plus a random jitter, and `terminate` learns why (`lifetime`);
// without the option nothing is closed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect } from "../../../mod.ts";
import type { TerminateReason } from "../../../lib/server/handler/handler.ts";
import { hostsOfRuntime, labelOf, startHost } from "../_hosts.ts";

const LIFETIME_MS = 150;
const JITTER_MS = 300;

describe("maxLifetimeMs", () => {
  for (const kind of hostsOfRuntime()) {
    it(`${labelOf(kind)}: closes with 1001 after the lifetime plus jitter`, async () => {
      const ended: TerminateReason[] = [];
      const host = await startHost(kind, {
        in: (message) => ({ push: message }),
        terminate: (reason) => void ended.push(reason),
      }, { maxLifetimeMs: LIFETIME_MS, lifetimeJitterMs: JITTER_MS, keepalive: false });
      try {
        const n = 8;
        const opened = Date.now();
        const clients = await Promise.all(
          Array.from({ length: n }, () => connect(host.url("/"), { keepalive: false })),
        );
        // Alive and echoing before the lifetime.
        await clients[0].send("still here");
        assert.equal(await clients[0].receive({ timeoutMs: 5000 }), "still here");
        const closedAt = await Promise.all(
          clients.map((c) => c.closed.then((info) => ({ info, at: Date.now() - opened }))),
        );
        for (const { info, at } of closedAt) {
          assert.equal(info.code, 1001);
          assert.equal(info.reason, "connection lifetime reached");
          // Never before the lifetime (the clock's resolution aside).
          assert.ok(at >= LIFETIME_MS - 5, `closed after ${at} ms`);
        }
        // The jitter spreads the closes (8 draws over 300 ms: never all in one 10 ms tick).
        const times = closedAt.map((c) => c.at);
        assert.ok(Math.max(...times) - Math.min(...times) >= 10, `closes at ${times}`);
        for (let i = 0; i < 1000 && ended.length < n; i++) {
          await new Promise((r) => setTimeout(r, 5));
        }
        assert.equal(ended.length, n);
        for (const reason of ended) {
          assert.deepEqual(
            { type: reason.type, code: reason.code, reason: reason.reason },
            { type: "lifetime", code: 1001, reason: "connection lifetime reached" },
          );
        }
      } finally {
        await host.stop();
      }
    });
  }

  it("is off by default", async () => {
    const host = await startHost("serve", { in: (message) => ({ push: message }) }, {
      keepalive: false,
    });
    try {
      const ws = await connect(host.url("/"), { keepalive: false });
      await ws.send("a");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "a");
      await ws.close(1000);
      assert.equal((await ws.closed).code, 1000);
    } finally {
      await host.stop();
    }
  });

  it("checks its options", async () => {
    await assert.rejects(
      startHost("serve", { in: () => {} }, { maxLifetimeMs: -1 }),
      (e: Error) => /maxLifetimeMs/.test(e.message),
    );
  });
});
