// Once shutdown() resolves, the port is free: a server restarted on the same
// port binds at once, and a client connecting in between is refused (not
// reset by a listening socket that is still being torn down). Deno used to
// release the port only after the pending accept settled, so an immediate
// restart failed with ADDRESS_IN_USE.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, ConnectionError, serve } from "../../../mod.ts";

describe("shutdown releases the port", () => {
  it("a new server binds the same port as soon as shutdown() resolves", async () => {
    const first = await serve({ hostname: "127.0.0.1", port: 0 }, { in: (m) => ({ push: m }) });
    const port = first.port;
    await first.shutdown();
    await assert.rejects(
      connect(`ws://127.0.0.1:${port}/`),
      (e) => e instanceof ConnectionError && e.code === "CONNECT_REFUSED",
    );
    const second = await serve({ hostname: "127.0.0.1", port }, { in: (m) => ({ push: m }) });
    try {
      assert.equal(second.port, port);
      const ws = await connect(`ws://127.0.0.1:${port}/`);
      await ws.send("again");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "again");
      await ws.close();
    } finally {
      await second.shutdown();
    }
  });

  it("also after serving a connection", async () => {
    for (let round = 0, port = 0; round < 3; round++) {
      const server = await serve({ hostname: "127.0.0.1", port }, { in: (m) => ({ push: m }) });
      port = server.port;
      const ws = await connect(`ws://127.0.0.1:${port}/`);
      await ws.send(`round ${round}`);
      assert.equal(await ws.receive({ timeoutMs: 5000 }), `round ${round}`);
      await server.shutdown();
      assert.equal((await ws.closed).code, 1001);
    }
  });
});
