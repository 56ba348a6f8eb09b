// The client's side of issue 17, kinds 1 and 2, against a raw server that
// writes exact bytes:
// - a good message followed by a bad frame in one write is delivered, then
//   the connection fails with 1002 (RFC 6455 §7.1.7);
// - a closing handshake that completed is clean even when the server keeps
//   TCP open past the close timeout (RFC 6455 §7.1.1, §7.1.4).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, ConnectionClosedError, ConnectionClosedOK } from "../../mod.ts";
import { closePayload, rawFrame, rawServer, type RawSocket } from "../_helpers/raw_peer.ts";
import { concat } from "../_helpers/bytes.ts";

type Script = (s: RawSocket) => void;

describe("client: what came before a fault or a close", () => {
  let script: Script = () => {};
  const sockets: RawSocket[] = [];
  let server: Awaited<ReturnType<typeof rawServer>>;
  before(async () => {
    server = await rawServer((s) => {
      sockets.push(s);
      script(s);
    });
  });
  after(() => server.close());

  const faults: Array<[string, number]> = [
    ["RSV2 set", 0x80 | 0x20 | 0x1],
    ["reserved opcode 5", 0x85],
    ["reserved opcode 0xB", 0x8b],
  ];
  for (const [name, b0] of faults) {
    it(`a message then a frame with ${name} in one write: the message, then 1002`, async () => {
      script = (s) => {
        const good = rawFrame(0x81, "Hello, world!", false);
        const bad = rawFrame(b0, "x", false);
        const ping = rawFrame(0x89, "p", false);
        const all = new Uint8Array(good.length + bad.length + ping.length);
        all.set(good);
        all.set(bad, good.length);
        all.set(ping, good.length + bad.length);
        s.write(all);
      };
      const ws = await connect(server.url, { compression: false, keepalive: false });
      const got: unknown[] = [];
      await assert.rejects(async () => {
        for await (const m of ws) got.push(m);
      }, (e: unknown) => e instanceof ConnectionClosedError && e.info.code === 1002);
      assert.deepEqual(got, ["Hello, world!"]);
      const peer = sockets[sockets.length - 1];
      const frames = await peer.waitFrames(1);
      assert.equal(frames[0].opcode, 8);
      assert.equal((frames[0].payload[0] << 8) | frames[0].payload[1], 1002);
    });
  }

  // Issue 24: the same as an application writes it, answering each message
  // through the iterator, receive() or readable: the reply to the message
  // that came before the bad frame leaves before the failure's close frame
  // (Autobahn 3.2-3.4, 4.1.3-4.1.5, 4.2.3-4.2.5 ask for this order).
  type Reader = (ws: Awaited<ReturnType<typeof connect>>) => Promise<void>;
  const readers: Array<[string, Reader]> = [
    ["for await", async (ws) => {
      for await (const m of ws) await ws.send(m);
    }],
    ["receive()", async (ws) => {
      while (true) await ws.send(await ws.receive());
    }],
    ["readable", async (ws) => {
      const reader = ws.readable.getReader();
      while (true) {
        const { done, value } = await reader.read();
        if (done) return;
        await ws.send(value);
      }
    }],
  ];
  for (const [how, read] of readers) {
    it(`${how} answers the message before a bad frame, then the 1002 close goes`, async () => {
      script = (s) => {
        s.write(
          concat([rawFrame(0x81, "Hello, world!", false), rawFrame(0x80 | 0x20 | 0x1, "x", false)]),
        );
      };
      const ws = await connect(server.url, { compression: false, keepalive: false });
      await assert.rejects(
        read(ws),
        (e: unknown) => e instanceof ConnectionClosedError && e.info.code === 1002,
      );
      const frames = await sockets[sockets.length - 1].waitFrames(2);
      assert.equal(frames[0].opcode, 1, "the echo comes first");
      assert.equal(new TextDecoder().decode(frames[0].payload), "Hello, world!");
      assert.equal(frames[1].opcode, 8);
      assert.equal((frames[1].payload[0] << 8) | frames[1].payload[1], 1002);
    });

    it(`${how} answers messages that came with the server's Close before replying to it`, async () => {
      script = (s) => {
        s.write(concat([
          rawFrame(0x81, "one", false),
          rawFrame(0x81, "two", false),
          rawFrame(0x88, closePayload(1000, "bye"), false),
        ]));
      };
      const ws = await connect(server.url, {
        compression: false,
        keepalive: false,
        closeTimeoutMs: 300,
      });
      await read(ws).catch((e) => {
        // receive() reports the normal end (1000) as ConnectionClosedOK.
        if (!(e instanceof ConnectionClosedOK && e.info.wasClean)) throw e;
      });
      const frames = await sockets[sockets.length - 1].waitFrames(3);
      const decode = (i: number) => new TextDecoder().decode(frames[i].payload);
      assert.deepEqual([frames[0].opcode, decode(0)], [1, "one"]);
      assert.deepEqual([frames[1].opcode, decode(1)], [1, "two"]);
      assert.equal(frames[2].opcode, 8);
      assert.equal((frames[2].payload[0] << 8) | frames[2].payload[1], 1000);
      assert.equal((await ws.closed).code, 1000);
    });
  }

  it("the server's Close 1000 is answered; TCP left open, the end is still clean 1000", async () => {
    script = (s) => s.write(rawFrame(0x88, closePayload(1000, "done"), false));
    const ws = await connect(server.url, {
      compression: false,
      keepalive: false,
      closeTimeoutMs: 200,
    });
    const got: unknown[] = [];
    for await (const m of ws) got.push(m); // ends without throwing: the close was clean
    const info = await ws.closed;
    assert.deepEqual(got, []);
    assert.equal(info.code, 1000);
    assert.equal(info.reason, "done");
    assert.equal(info.wasClean, true);
    assert.equal(info.error, undefined);
    const frames = await sockets[sockets.length - 1].waitFrames(1);
    assert.equal(frames[0].opcode, 8); // our reply
  });

  it("close(1000) echoed by the server, TCP left open: close() resolves clean 1000", async () => {
    script = (s) => {
      void s.waitFrames(1).then((frames) => {
        if (frames[0].opcode === 8) s.write(rawFrame(0x88, frames[0].payload, false));
      });
    };
    const ws = await connect(server.url, {
      compression: false,
      keepalive: false,
      closeTimeoutMs: 200,
    });
    const info = await ws.close(1000, "bye");
    assert.equal(info.code, 1000);
    assert.equal(info.wasClean, true);
    assert.equal(info.error, undefined);
  });

  it("close() to a server that never answers is still 1006, CLOSE_TIMEOUT", async () => {
    script = () => {};
    const ws = await connect(server.url, {
      compression: false,
      keepalive: false,
      closeTimeoutMs: 200,
    });
    const info = await ws.close(1000);
    assert.equal(info.code, 1006);
    assert.equal(info.wasClean, false);
    assert.equal((info.error as { code?: string }).code, "CLOSE_TIMEOUT");
  });
});
