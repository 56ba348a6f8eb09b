import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection } from "../../lib/protocol/connection.ts";
import { encodeFrame, Opcode } from "../../lib/protocol/frame.ts";
import { LiveConnection, type LiveReceiver } from "../../lib/session/live.ts";
import type { CloseInfo } from "../../lib/errors.ts";
import { memoryPair } from "../_helpers/memory_transport.ts";
import { hex } from "../_helpers/bytes.ts";

const MASK = hex("37 fa 21 3d");

function closeFrame(code: number): Uint8Array {
  return encodeFrame(
    { fin: true, rsv: 0, opcode: Opcode.Close, payload: new Uint8Array([code >> 8, code & 0xff]) },
    { mask: MASK },
  );
}

/** A server-side live connection over one end of a memory pair, with a socket that records how it was closed. */
function serverLive() {
  const [near, far] = memoryPair();
  const calls: string[] = [];
  const socket = {
    close: () => (calls.push("linger"), near.close()),
    destroy: () => (calls.push("destroy"), near.close()),
  };
  const live = new LiveConnection(near, new Connection({ role: "server" }), {
    closeTimeoutMs: 5000,
    socket,
  });
  const ended = new Promise<CloseInfo>((resolve) => {
    const receiver: LiveReceiver = {
      message() {},
      control() {},
      error() {},
      drain() {},
      end: resolve,
    };
    live.start(receiver);
  });
  return { live, far, calls, ended, near };
}

describe("LiveConnection: closing the socket", () => {
  it("after answering the peer's close, closes without a lingering read (the peer sends nothing more)", async () => {
    const { far, calls, ended, near } = serverLive();
    await far.write([closeFrame(1000)]);
    const info = await ended;
    assert.equal(info.code, 1000);
    assert.equal(info.wasClean, true);
    assert.deepEqual(calls, [], "the lingering close was not used");
    assert.equal(near.isClosed, true, "the transport itself was closed");
    // The close reply still went out first.
    const reply = await far.read();
    assert.deepEqual([...reply!.subarray(0, 4)], [0x88, 0x02, 0x03, 0xe8]);
  });

  it("after a close it started, lingers: the peer may still be sending", async () => {
    const { live, far, calls, ended } = serverLive();
    live.close(1001, "bye");
    const sent = await far.read();
    assert.equal(sent![0], 0x88);
    await far.write([closeFrame(1001)]);
    const info = await ended;
    assert.equal(info.code, 1001);
    assert.deepEqual(calls, ["linger"]);
  });
});

describe("LiveConnection: writing", () => {
  function textFrame(text: string): Uint8Array {
    return encodeFrame(
      { fin: true, rsv: 0, opcode: Opcode.Text, payload: new TextEncoder().encode(text) },
      { mask: MASK },
    );
  }

  it("replies to the reads of one turn leave in one write, in order", async () => {
    const [near, far] = memoryPair();
    const writes: Uint8Array[][] = [];
    const write = near.write.bind(near);
    near.write = (chunks) => (writes.push([...chunks]), write(chunks));
    const conn = new Connection({ role: "server" });
    const live = new LiveConnection(near, conn, { closeTimeoutMs: 5000 });
    let n = 0;
    live.start({
      message(data) {
        conn.sendText(`${data} ${++n}`);
      },
      control() {},
      error() {},
      drain() {},
      end() {},
    });
    // Three chunks the memory transport hands over one read at a time,
    // all within one turn of the event loop.
    await Promise.all([
      far.write([textFrame("a")]),
      far.write([textFrame("b")]),
      far.write([textFrame("c")]),
    ]);
    const out: string[] = [];
    for (let i = 0; i < 10 && out.length < 3; i++) {
      const chunk = await far.read();
      for (let at = 0; chunk && at < chunk.length; at += 2 + chunk[at + 1]) {
        out.push(new TextDecoder().decode(chunk.subarray(at + 2, at + 2 + chunk[at + 1])));
      }
    }
    assert.deepEqual(out, ["a 1", "b 2", "c 3"]);
    assert.equal(writes.length, 1, "one write for the turn");
    live.terminate();
  });
});
