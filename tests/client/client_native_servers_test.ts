// The client against the runtimes' own servers: Deno's (Deno.serve +
// Deno.upgradeWebSocket) and Bun's (Bun.serve, with permessage-deflate), each
// started in its own process on 127.0.0.1. Under every runtime, both run.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, ConnectionClosedError } from "../../mod.ts";
import { type Peer, startBunPeer, startDenoPeer } from "../_helpers/peer.ts";
import { pseudoRandomBytes } from "../_helpers/bytes.ts";

const peers: Record<string, Peer> = {};
before(async () => {
  [peers.deno, peers.bun] = await Promise.all([startDenoPeer(), startBunPeer()]);
});
after(async () => {
  await Promise.all(Object.values(peers).map((p) => p.stop()));
});

for (const name of ["deno", "bun"] as const) {
  const url = (path: string) => `ws://127.0.0.1:${peers[name].port}${path}`;

  describe(`client against ${name === "deno" ? "Deno.serve + Deno.upgradeWebSocket" : "Bun.serve"}`, () => {
    it("echoes text and binary, and closes cleanly", async () => {
      const ws = await connect(url("/echo"));
      if (name === "bun") assert.match(ws.extensions, /^permessage-deflate/);
      else assert.equal(ws.extensions, "");
      await ws.send("hi");
      await ws.send(new Uint8Array([0, 255]));
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "hi");
      assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array([0, 255]));
      assert.deepEqual(await ws.close(), { code: 1000, reason: "", wasClean: true });
    });

    it("headers and subprotocols arrive", async () => {
      const ws = await connect(url("/headers"), {
        protocols: ["chat.v2", "chat.v1"],
        headers: { "x-token": "abc" },
      });
      assert.equal(ws.protocol, "chat.v1");
      const headers = JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string);
      assert.equal(headers["x-token"], "abc");
      await ws.close();
    });

    it("the server's close code and reason arrive", async () => {
      const ws = await connect(url("/close/4100"));
      // A code other than 1000/1001 ends iteration with ConnectionClosedError (issue 26).
      await assert.rejects(
        async () => {
          for await (const _ of ws) { /* none */ }
        },
        (e: unknown) =>
          e instanceof ConnectionClosedError && e.closeCode === 4100 && e.reason === "bye",
      );
      const info = await ws.closed;
      assert.equal(info.code, 4100);
      assert.equal(info.reason, "bye");
      assert.equal(info.wasClean, true);
    });

    it("a 16 MiB message and 1,000 small ones round-trip", async () => {
      const ws = await connect(url("/echo"));
      const big = pseudoRandomBytes(16 * 1024 * 1024, 11);
      await ws.send(big);
      assert.deepEqual(await ws.receive({ timeoutMs: 60_000 }), big);
      for (let i = 0; i < 1000; i++) await ws.send(`#${i}`);
      for (let i = 0; i < 1000; i++) assert.equal(await ws.receive({ timeoutMs: 5000 }), `#${i}`);
      await ws.close();
    });
  });
}
