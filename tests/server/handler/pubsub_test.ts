// Pub/sub without sockets: the shared frame is encoded once and written as
// the same bytes to every subscriber that sends it unchanged (no extension,
// or permessage-deflate below its threshold); compressed subscribers get
// their own frame; every client decodes every message; order holds.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Topics } from "../../../lib/server/handler/pubsub.ts";
import { PublishedMessage } from "../../../lib/server/handler/message.ts";
import { SocketChannel } from "../../../lib/server/http/socket_channel.ts";
import type { AcceptedSocket } from "../../../lib/server/http/listener.ts";
import { Connection } from "../../../lib/protocol/connection.ts";
import { PerMessageDeflate } from "../../../lib/extensions/permessage_deflate.ts";
import type { Extension } from "../../../lib/protocol/extension.ts";
import type { Transport } from "../../../lib/transport/transport.ts";
import { until } from "../_hosts.ts";
import { concat } from "../../_helpers/bytes.ts";

/** All bytes a recording transport was given, in order. */
function bytesOf(t: RecordingTransport): Uint8Array {
  return concat(t.chunks);
}

/** A transport that records every chunk written and never delivers anything. */
class RecordingTransport implements Transport {
  chunks: Uint8Array[] = [];
  #resolveClosed!: () => void;
  readonly closed: Promise<void> = new Promise((r) => (this.#resolveClosed = r));
  #reader: ((v: Uint8Array | null) => void) | undefined;
  read(): Promise<Uint8Array | null> {
    return new Promise((r) => (this.#reader = r));
  }
  write(chunks: readonly Uint8Array[]): Promise<void> {
    this.chunks.push(...chunks);
    return Promise.resolve();
  }
  close(): void {
    this.#reader?.(null);
    this.#resolveClosed();
  }
}

function channel(extensions: Extension[], deflateThreshold?: number) {
  const transport = new RecordingTransport();
  const socket: AcceptedSocket = {
    transport,
    close: () => transport.close(),
    destroy: () => transport.close(),
    secure: false,
  };
  const ch = new SocketChannel({
    socket,
    initial: new Uint8Array(0),
    extensions,
    maxSendBufferBytes: 1 << 30,
    writeTimeoutMs: 0,
    closeTimeoutMs: 10_000,
    keepalive: false,
    deflateThreshold,
  });
  return { ch, transport };
}

const agreed = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

describe("pub/sub", () => {
  it("a published message encodes its frame once (RFC 6455 §5.7 bytes)", () => {
    const m = new PublishedMessage("Hello");
    assert.deepEqual([...m.frame], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert.equal(m.frame, m.frame);
    const b = new PublishedMessage(new Uint16Array([1]));
    assert.deepEqual([...b.frame], [0x82, 0x02, 1, 0]);
  });

  it("Topics: each subscriber once, except the sender; a snapshot per publish; empty topics vanish", () => {
    const topics = new Topics();
    const got: string[] = [];
    const mk = (name: string) => ({
      deliver: (m: PublishedMessage) => {
        got.push(`${name}:${m.data}`);
        if (name === "a") topics.subscribe("t", late); // joins during delivery: not for this message
        return true;
      },
    });
    const a = mk("a"), b = mk("b"), late = mk("late");
    topics.subscribe("t", a);
    assert.equal(topics.subscribe("t", a), false);
    topics.subscribe("t", b);
    assert.equal(topics.publish("t", "1"), 2);
    assert.deepEqual(got, ["a:1", "b:1"]);
    assert.equal(topics.publish("t", "2", b), 2);
    assert.deepEqual(got.slice(2), ["a:2", "late:2"]);
    for (const s of [a, b, late]) topics.unsubscribe("t", s);
    assert.equal(topics.subscriberCount("t"), 0);
    assert.deepEqual(topics.topics, []);
    assert.equal(topics.publish("t", "3"), 0);
  });

  it("writes the same frame bytes to plain subscribers and to deflate ones below the threshold; compresses above", async () => {
    const plain = [channel([]), channel([])];
    const deflated = channel([new PerMessageDeflate("server", agreed, { threshold: 1024 })], 1024);
    const small = new PublishedMessage("small message");
    const big = new PublishedMessage("a compressible message ".repeat(100));
    for (const m of [small, big]) {
      for (const c of [...plain, deflated]) c.ch.sendPublished(m);
    }
    await until(() => bytesOf(deflated.transport).length > small.frame.length, "writes");
    // Plain subscribers get exactly the shared frames, in order (one write
    // may join them: a turn's output goes out in one buffer).
    for (const c of plain) {
      assert.deepEqual(bytesOf(c.transport), concat([small.frame, big.frame]));
    }
    const written = bytesOf(deflated.transport);
    assert.deepEqual(written.subarray(0, small.frame.length), small.frame);
    const compressed = [written.subarray(small.frame.length)];
    assert.notDeepEqual(compressed[0], big.frame);
    assert.equal(compressed[0][0] & 0x40, 0x40); // RSV1: compressed (RFC 7692 §6)
    // A client with the matching extension decodes both.
    const client = new Connection({
      role: "client",
      extensions: [new PerMessageDeflate("client", agreed)],
    });
    const events = client.receive(written);
    assert.deepEqual(events.map((e) => e.type === "text" ? e.data : e.type), [
      small.data,
      big.data,
    ]);
    for (const c of [...plain, deflated]) c.ch.terminate();
  });

  it("keeps a connection's own messages and published ones in call order", async () => {
    const c = channel([]);
    void c.ch.send("own 1");
    c.ch.sendPublished(new PublishedMessage("published"));
    void c.ch.send("own 2");
    const client = new Connection({ role: "client" });
    const texts: string[] = [];
    await until(() => {
      for (const x of c.transport.chunks.splice(0)) {
        for (const e of client.receive(x)) if (e.type === "text") texts.push(e.data);
      }
      return texts.length >= 3;
    }, "writes");
    assert.deepEqual(texts, ["own 1", "published", "own 2"]);
    c.ch.terminate();
  });
});
