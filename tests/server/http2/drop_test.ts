// serve({ http2: true }) survives HTTP/2 clients that leave in the middle
// of transfers of several MiB: by dropping the TCP connection while
// sending, while receiving, or by an orderly GOAWAY after the echo. Deno's
// node:http2 server aborted the process in this situation
// (scripts/http2_probe/), which is why Deno runs sprig's own HTTP/2
// endpoint; the test runs on every runtime, as every server must survive it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { serve } from "../../../mod.ts";

const MESSAGE_BYTES = 4 << 20;
const ROUNDS = 10;

/** One binary WebSocket frame as a client sends it (masked, key 0: the payload stays as it is). */
function clientFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(14 + payload.length);
  out[0] = 0x82;
  out[1] = 0x80 | 127;
  new DataView(out.buffer).setBigUint64(2, BigInt(payload.length));
  out.set(payload, 14);
  return out;
}

function openWebSocket(session: http2.ClientHttp2Session, port: number) {
  return session.request({
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": "http",
    ":path": "/echo",
    ":authority": `127.0.0.1:${port}`,
    "sec-websocket-version": "13",
  }, { endStream: false });
}

/** A plain GET over a fresh HTTP/2 connection: the server still answers. */
function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const stream = session.request({ ":path": "/alive" });
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (c: string) => (body += c));
    stream.on("end", () => {
      session.close();
      resolve(body);
    });
    stream.on("error", reject);
  });
}

describe("serve({ http2: true }) and clients that leave mid-transfer", () => {
  it(`survives ${ROUNDS} rounds of dropped and closed connections carrying ${MESSAGE_BYTES >> 20} MiB messages`, async () => {
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      http2: true,
      fetch: () => new Response("alive"),
    }, { in: (m) => ({ push: m }) });
    const port = server.port;
    const payload = new Uint8Array(MESSAGE_BYTES).map((_, i) => i * 7 & 255);
    const frame = clientFrame(payload);
    for (let round = 0; round < ROUNDS; round++) {
      const how = (["drop-sending", "drop-receiving", "goaway"] as const)[round % 3];
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on("error", () => {});
      const streams = [openWebSocket(session, port), openWebSocket(session, port)];
      await Promise.all(streams.map((stream) =>
        new Promise<void>((resolve, reject) => {
          let got = 0;
          const timer = setTimeout(
            () => reject(new Error(`round ${round} (${how}) stalled`)),
            30_000,
          );
          const done = () => {
            clearTimeout(timer);
            resolve();
          };
          stream.on("error", () => {});
          stream.on("close", () => {
            // An orderly round must have had its whole echo first.
            if (how === "goaway" && got < MESSAGE_BYTES + 10) {
              clearTimeout(timer);
              reject(new Error(`round ${round}: the stream closed after ${got} bytes`));
            } else done();
          });
          stream.on("response", (h) => {
            if (h[":status"] !== 200) return reject(new Error(`status ${h[":status"]}`));
            stream.write(frame);
            if (how === "drop-sending") setImmediate(() => session.destroy());
          });
          stream.on("data", (chunk: Uint8Array) => {
            got += chunk.length;
            if (how === "drop-receiving" && got > 0) session.destroy();
            // The echo: a 10-byte header and the payload.
            if (how === "goaway" && got === MESSAGE_BYTES + 10) {
              stream.end();
              done();
            }
          });
        })
      ));
      if (how === "goaway") session.close();
      assert.equal(await get(port), "alive", `round ${round} (${how})`);
    }
    // Every WebSocket of the dropped connections is gone.
    for (let i = 0; i < 200 && server.connections.size > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(server.connections.size, 0);
  });
});
