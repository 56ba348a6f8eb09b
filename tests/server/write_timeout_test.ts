// A peer that keeps sending but never reads holds no connection forever
// (issue 17, kind 6): the server's echoes back up, it stops reading that
// socket, and once the peer has taken nothing for `writeTimeoutMs` the
// connection is dropped and `terminate` learns WRITE_TIMEOUT. The same
// bound on the client, against a server that stops reading.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { once } from "node:events";
import { connect, type TimeoutError } from "../../mod.ts";
import {
  hostsOfRuntime,
  labelOf,
  startHost,
  suiteHandler,
  type SuiteLog,
  type TestHost,
  until,
} from "./_hosts.ts";

/** A masked binary frame of `size` bytes (rawFrame writes short frames only). */
function bigFrame(size: number): Uint8Array {
  const out = new Uint8Array(14 + size);
  out[0] = 0x82;
  out[1] = 0x80 | 127;
  const view = new DataView(out.buffer);
  view.setUint32(6, size);
  out.set([1, 2, 3, 4], 10); // the key; the payload is zeros, masked
  for (let i = 0; i < size; i++) out[14 + i] = [1, 2, 3, 4][i & 3];
  return out;
}

/**
 * Upgrades, then writes big messages and never reads, until the server drops
 * the connection. It does not stop early when a write is slow to drain: under
 * CPU load a server that is merely slow would then get only a few MiB, whose
 * echoes fit the sockets' buffers, and never stop reading.
 */
async function floodWithoutReading(port: number, path: string): Promise<net.Socket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const [head] = (await once(socket, "data")) as [Buffer];
  assert.match(head.toString("latin1"), /^HTTP\/1\.1 101/);
  socket.pause(); // from here on, never read
  const frame = bigFrame(256 * 1024);
  // Bounded: at most 1 GiB offered, and the loop ends once the socket closes
  // (the server dropped it, maybe with a reset: an error ends the wait too) or
  // writes stop draining for 10 s.
  const ended = () => true;
  for (let i = 0; i < 4096 && !socket.destroyed; i++) {
    if (socket.write(frame)) continue;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      once(socket, "drain").then(ended, ended),
      once(socket, "close").then(ended, ended),
      new Promise<false>((r) => timer = setTimeout(() => r(false), 10_000)),
    ]);
    clearTimeout(timer);
    if (!drained) break;
  }
  return socket;
}

for (const kind of hostsOfRuntime().filter((k) => k !== "Deno.serve" && k !== "Bun.serve")) {
  describe(`write timeout on ${labelOf(kind)}`, () => {
    const log: SuiteLog = { terminated: [], maxActive: 0 };
    let host: TestHost;
    before(async () => {
      host = await startHost(kind, suiteHandler(log), {
        writeTimeoutMs: 400,
        maxSendBufferBytes: 1 << 30,
        maxMessageBytes: 1 << 20,
        idleTimeoutMs: 0,
        keepalive: false,
        onError: () => {},
      });
    });
    after(() => host.stop());

    it("a client that sends but never reads is dropped with WRITE_TIMEOUT", async () => {
      const socket = await floodWithoutReading(host.port, "/echo");
      await until(() => log.terminated.some((t) => t.path === "/echo"), "terminate", 15_000);
      const r = log.terminated.find((t) => t.path === "/echo")!.reason;
      assert.equal(r.type, "timeout");
      assert.equal(r.type === "timeout" && (r.error as TimeoutError).code, "WRITE_TIMEOUT");
      assert.equal(r.wasClean, false);
      socket.destroy();
    });
  });
}

describe("write timeout on the client", () => {
  let server: net.Server;
  let port = 0;
  const sockets = new Set<net.Socket>();
  before(async () => {
    // Completes the handshake, then stops reading for good.
    const { createHash } = await import("node:crypto");
    server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.once("data", (chunk: Buffer) => {
        const key = /sec-websocket-key:\s*(\S+)/i.exec(chunk.toString("latin1"))?.[1] ?? "";
        const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
          .digest("base64");
        socket.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        socket.pause(); // never reads again
      });
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });

  it("sends to a server that stops reading end with WRITE_TIMEOUT", async () => {
    const ws = await connect(`ws://127.0.0.1:${port}/`, {
      compression: false,
      keepalive: false,
      writeTimeoutMs: 400,
    });
    const chunk = new Uint8Array(256 * 1024);
    // Bounded: at most 4096 sends (1 GiB); they stop resolving once the buffers are full.
    const sending = (async () => {
      for (let i = 0; i < 4096; i++) await ws.send(chunk);
    })();
    const info = await ws.closed;
    await sending.catch(() => {});
    assert.equal(info.wasClean, false);
    assert.equal((info.error as TimeoutError).code, "WRITE_TIMEOUT");
  });
});
