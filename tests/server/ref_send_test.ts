// `ref.send(data)`: writing to a connection from anywhere in the app, on
// every host this runtime has. Ordered in call order with the handler's
// pushes (a callback's pushes are queued when it returns), false once the
// connection is gone.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, type ConnectionRef, defineHandler } from "../../mod.ts";
import { hostsOfRuntime, labelOf, startHost, type TestHost, until } from "./_hosts.ts";

const refs = new Map<string, ConnectionRef<string>>();

const handler = defineHandler<{ name: string }, string>({
  init(ctx) {
    const name = ctx.url.searchParams.get("name") ?? "";
    refs.set(name, ctx.ref);
    // Sent during init: before init's own push.
    ctx.ref.send("from init, by ref");
    return { state: { name }, push: "init's push" };
  },
  async in(message, state) {
    if (message === "async") {
      // While the callback is pending: goes out at once, before this callback's push.
      refs.get(state.name)!.send("by ref while in() waits");
      await new Promise((resolve) => setTimeout(resolve, 10));
      return { push: "in's push" };
    }
    if (typeof message === "string" && message.startsWith("to ")) {
      // Another connection's handler writes to this one's peer.
      const ok = refs.get(message.slice(3))!.send(`from ${state.name}`);
      return { push: `sent: ${ok}` };
    }
    return { push: message };
  },
});

for (const kind of hostsOfRuntime()) {
  describe(`ref.send on ${labelOf(kind)}`, () => {
    let host: TestHost;
    before(async () => {
      host = await startHost(kind, handler);
    });
    after(async () => {
      await host?.stop();
    });

    it("is ordered with the handler's pushes", async () => {
      await using ws = await connect(host.url("/?name=a"));
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "from init, by ref");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "init's push");
      await ws.send("async");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "by ref while in() waits");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "in's push");
      // From a timer, after a push: after it.
      await ws.send("echo");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "echo");
      const ref = refs.get("a")!;
      for (let i = 0; i < 3; i++) assert.equal(ref.send(`timer ${i}`), true);
      for (let i = 0; i < 3; i++) assert.equal(await ws.receive({ timeoutMs: 5000 }), `timer ${i}`);
      // Bytes go as binary.
      assert.equal(ref.send(new Uint8Array([1, 2])), true);
      assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array([1, 2]));
      assert.throws(() => ref.send(42 as unknown as string), TypeError);
    });

    it("reaches a connection from another connection's handler", async () => {
      await using b = await connect(host.url("/?name=b"));
      await using c = await connect(host.url("/?name=c"));
      for (const ws of [b, c]) {
        await ws.receive({ timeoutMs: 5000 });
        await ws.receive({ timeoutMs: 5000 });
      }
      await c.send("to b");
      assert.equal(await c.receive({ timeoutMs: 5000 }), "sent: true");
      assert.equal(await b.receive({ timeoutMs: 5000 }), "from c");
    });

    it("returns false once the connection is gone, and sends nothing", async () => {
      const ws = await connect(host.url("/?name=d"));
      await ws.receive({ timeoutMs: 5000 });
      await ws.receive({ timeoutMs: 5000 });
      const ref = refs.get("d")!;
      await ws.close();
      await until(() => !ref.isOpen, "the server saw the close");
      assert.equal(ref.send("too late"), false);
      await ref.closed;
      assert.equal(ref.send("later still"), false);
    });
  });
}
