// wss:// against a TLS server with a certificate from a test-only CA.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { connect, ConnectionError } from "../../mod.ts";
import { type Peer, startWsPeer } from "../_helpers/peer.ts";

const ca = readFileSync(new URL("../_fixtures/ca.pem", import.meta.url), "utf8");
let peer: Peer;
before(async () => {
  peer = await startWsPeer("--tls");
});
after(async () => {
  await peer?.stop();
});

describe("client over TLS", () => {
  it("verifies the server against the given CA and talks", async () => {
    const ws = await connect(`wss://127.0.0.1:${peer.port}/echo`, { tls: { caCerts: [ca] } });
    await ws.send("over tls");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "over tls");
    assert.equal((await ws.close()).wasClean, true);
  });

  it("verifies a host name too (localhost)", async () => {
    const ws = await connect(`wss://localhost:${peer.port}/echo`, { tls: { caCerts: [ca] } });
    await ws.send("by name");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "by name");
    await ws.close();
  });

  it("refuses a server it cannot verify (verification is on by default)", async () => {
    await assert.rejects(
      connect(`wss://127.0.0.1:${peer.port}/echo`),
      (e: unknown) => e instanceof ConnectionError && e.code === "TLS_FAILED",
    );
  });

  it("insecure: true skips verification, explicitly", async () => {
    const ws = await connect(`wss://127.0.0.1:${peer.port}/echo`, { tls: { insecure: true } });
    await ws.send("unverified");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "unverified");
    await ws.close();
  });
});
