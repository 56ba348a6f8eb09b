// Inbound backpressure through the whole server stack (SocketChannel +
// Driver) over an in-memory transport: while the handler is blocked, the
// server stops reading the socket once `maxQueuedMessages` wait; when the
// handler moves on, every message arrives, in order, once.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { memoryPair } from "../../_helpers/memory_transport.ts";
import { Connection } from "../../../lib/protocol/connection.ts";
import { Driver } from "../../../lib/server/handler/driver.ts";
import { Topics } from "../../../lib/server/handler/pubsub.ts";
import { SocketChannel } from "../../../lib/server/http/socket_channel.ts";
import type { AcceptedSocket } from "../../../lib/server/http/listener.ts";
import type { Handler } from "../../../lib/server/handler/handler.ts";
import { until } from "../_hosts.ts";

describe("inbound backpressure (server stack over memory)", () => {
  it("a blocked handler stops socket reads at maxQueuedMessages; all messages then arrive in order", async () => {
    const [serverEnd, clientEnd] = memoryPair();
    const socket: AcceptedSocket = {
      transport: serverEnd,
      close: () => serverEnd.close(),
      destroy: () => serverEnd.close(),
      secure: false,
    };
    const maxQueued = 4;
    const channel = new SocketChannel({
      socket,
      initial: new Uint8Array(0),
      extensions: [],
      maxSendBufferBytes: 1 << 30,
      writeTimeoutMs: 0,
      closeTimeoutMs: 10_000,
      keepalive: false,
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen: string[] = [];
    const handler: Handler<undefined, never, never> = {
      async in(message) {
        seen.push(message as string);
        if (seen.length === 1) await gate;
        return { push: message };
      },
    };
    const driver = new Driver(
      channel,
      handler as Handler<never, never, never>,
      {
        url: new URL("http://memory/"),
        headers: new Headers(),
        protocol: "",
        extensions: "",
        remoteAddress: undefined,
        httpVersion: "1.1",
        data: undefined,
      },
      { topics: new Topics(), reportError: () => {}, removed: () => {} },
      { idleTimeoutMs: 0, maxQueuedMessages: maxQueued },
    );
    driver.start();

    const client = new Connection({ role: "client" });
    const n = 200;
    for (let i = 0; i < n; i++) {
      client.send(`m${i}`);
      await clientEnd.write(client.takeOutput()); // one chunk per message
    }
    await until(() => seen.length === 1, "the first message");
    // Wait until the server stops reading: the read count stays put for 50 turns (bounded).
    let last = -1;
    let still = 0;
    for (let i = 0; i < 5000 && still < 50; i++) {
      still = serverEnd.reads === last ? still + 1 : 0;
      last = serverEnd.reads;
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(still, 50, "reads kept going");
    // One in the handler, maxQueued in the mailbox, one read pending.
    assert.ok(
      serverEnd.reads <= maxQueued + 3,
      `the server read ${serverEnd.reads} chunks while blocked`,
    );
    assert.equal(seen.length, 1);

    release();
    await until(() => seen.length === n, "all messages");
    assert.deepEqual(seen, Array.from({ length: n }, (_, i) => `m${i}`));
    // And every echo came back, in order (the memory transport delivers at once; each read is bounded).
    const received: string[] = [];
    for (let turns = 0; received.length < n && turns < 1000; turns++) {
      const chunk = await Promise.race([
        clientEnd.read(),
        new Promise<null>((r) => setTimeout(() => r(null), 1000)),
      ]);
      if (chunk === null) break;
      for (const e of client.receive(chunk)) if (e.type === "text") received.push(e.data);
    }
    assert.deepEqual(received, seen);
    channel.terminate();
  });
});
