// What arrived before a fault or a close is answered before the close frame
// (issue 17, kind 1; RFC 6455 §5.2, §7.1.2, §7.1.7): a raw client writes a
// good message and then a bad frame (or a close) in one TCP write; the
// server's handler runs for the good message, its echo goes out, and only
// then the close frame. On every host where sprig speaks the protocol.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Frame } from "../../lib/protocol/frame.ts";
import { closePayload, rawClient, rawFrame } from "../_helpers/raw_peer.ts";
import { concat } from "../_helpers/bytes.ts";
import { hostsOfRuntime, startHost, type TestHost } from "./_hosts.ts";
import { defineHandler } from "../../lib/server/mod.ts";

const TEXT = 0x81; // FIN + text
const text = (s: string) => rawFrame(TEXT, s, true);
const ping = rawFrame(0x89, "p", true);

function describeFrames(frames: Frame[]): string[] {
  return frames.map((f) => {
    if (f.opcode === 1) return `text:${new TextDecoder().decode(f.payload)}`;
    if (f.opcode === 8) return `close:${(f.payload[0] << 8) | f.payload[1]}`;
    return `op${f.opcode}`;
  });
}

/** Bad frames that fail the connection with 1002 after a good message. */
const faults: Array<[string, Uint8Array]> = [
  ["a frame with RSV2 set", rawFrame(0x80 | 0x20 | 0x1, "bad", true)],
  ["reserved opcode 5", rawFrame(0x85, "", true)],
  ["reserved opcode 0xB", rawFrame(0x8b, "", true)],
];

// Sync and async handlers: both answer what came before the fault.
const handlers = {
  sync: defineHandler({ in: (m) => ({ push: m }) }),
  async: defineHandler({
    in: async (m) => {
      await new Promise((r) => setTimeout(r, 5));
      return { push: m };
    },
  }),
};

for (const kind of hostsOfRuntime().filter((k) => k !== "Deno.serve" && k !== "Bun.serve")) {
  for (const [style, handler] of Object.entries(handlers)) {
    describe(`fault order: ${style} handler on ${kind}`, () => {
      let host: TestHost;
      before(async () => {
        host = await startHost(kind, handler as never, { compression: false });
      });
      after(() => host.stop());

      for (const [name, bad] of faults) {
        it(`"Hello, world!" then ${name} (and a ping) in one write: the echo, then close 1002`, async () => {
          const c = await rawClient(host.port);
          c.write(concat([text("Hello, world!"), bad, ping]));
          const frames = await c.waitFrames(2);
          assert.deepEqual(describeFrames(frames).slice(0, 2), [
            "text:Hello, world!",
            "close:1002",
          ]);
          await c.ended;
        });
      }

      it("a fragmented message completed before an orphan continuation is echoed, then close 1002", async () => {
        const c = await rawClient(host.port);
        c.write(concat([
          rawFrame(0x01, "fragment1", true),
          rawFrame(0x80, "fragment2", true),
          rawFrame(0x80, "orphan", true),
        ]));
        const frames = await c.waitFrames(2);
        assert.deepEqual(describeFrames(frames).slice(0, 2), [
          "text:fragment1fragment2",
          "close:1002",
        ]);
        await c.ended;
      });

      it("messages sent with the peer's close are all answered before the close reply", async () => {
        const c = await rawClient(host.port);
        c.write(
          concat([text("a"), text("b"), text("c"), rawFrame(0x88, closePayload(1000), true)]),
        );
        const frames = await c.waitFrames(4);
        assert.deepEqual(describeFrames(frames), ["text:a", "text:b", "text:c", "close:1000"]);
        await c.ended;
      });
    });
  }
}
