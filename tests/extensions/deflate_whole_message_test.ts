// permessage-deflate over real sockets, both roles: a compressed message is
// delivered whole or the connection fails with 1007 (RFC 7692 §7.2.2, RFC
// 6455 §7.4.1). The peer is a raw node:net socket that writes exact bytes:
// a second DEFLATE stream after a final block ("Hel" then "lo"), a stream
// cut inside a block, each whole and fragmented, after a good message that
// must still arrive.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { deflateRawSync } from "node:zlib";
import { connect, ConnectionClosedError, type TerminateReason } from "../../mod.ts";
import { acceptKey } from "../../lib/protocol/handshake.ts";
import { encodeFrame, type Frame, Opcode, RSV1 } from "../../lib/protocol/frame.ts";
import { FrameParser } from "../../lib/protocol/frame_parser.ts";
import { concat, hex, utf8 } from "../_helpers/bytes.ts";
import { hostsOfRuntime, labelOf, startHost, type TestHost, until } from "../server/_hosts.ts";

/** "Hello" compressed (RFC 7692 §7.2.3.1), a good message to come first. */
const HELLO = hex("f2 48 cd c9 c9 07 00");
/** "Hel" in a final block, then "lo" in a second stream (issue 17). */
const HEL_THEN_LO = hex("f3 48 cd 01 00 cb c9 07 00");
/** A 2,000-byte text compressed, then cut inside its block. */
const CUT = (() => {
  const text = utf8("the quick brown fox jumps over the lazy dog; ".repeat(45));
  const whole = deflateRawSync(text, { finishFlush: 2 });
  return whole.subarray(0, Math.floor(whole.length / 2));
})();

/** The bad payloads, each as one frame and as two fragments (RSV1 on the first only). */
const CASES: Array<{ name: string; frames: Frame[] }> = [];
for (
  const [name, payload] of [["data after the final block", HEL_THEN_LO], [
    "a stream cut inside a block",
    CUT,
  ]] as const
) {
  CASES.push({ name, frames: [{ fin: true, rsv: RSV1, opcode: Opcode.Text, payload }] });
  const half = payload.length >> 1;
  CASES.push({
    name: `${name}, in two fragments`,
    frames: [
      { fin: false, rsv: RSV1, opcode: Opcode.Text, payload: payload.subarray(0, half) },
      { fin: true, rsv: 0, opcode: Opcode.Continuation, payload: payload.subarray(half) },
    ],
  });
}

const MASK = new Uint8Array([1, 2, 3, 4]);

/** Reads from a socket until `done(bytes)` or the socket ends; bounded by `timeoutMs`. */
function readUntil(
  socket: net.Socket,
  done: (bytes: Uint8Array) => boolean,
  timeoutMs = 5000,
): Promise<Uint8Array> {
  return new Promise((resolve) => {
    let bytes: Uint8Array = new Uint8Array(0);
    const finish = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", finish);
      resolve(bytes);
    };
    const onData = (chunk: Uint8Array) => {
      bytes = concat([bytes, chunk]);
      if (done(bytes)) finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on("data", onData);
    socket.on("close", finish);
  });
}

const headEnd = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes).indexOf("\r\n\r\n");

/** The close code in the frames of `bytes`, if a close frame is there. */
function closeCodeIn(bytes: Uint8Array, mask: "required" | "forbidden"): number | undefined {
  const { frames } = new FrameParser({ mask }).parse(bytes.slice()); // it unmasks in place
  const close = frames.find((f) => f.opcode === Opcode.Close);
  return close && close.payload.length >= 2
    ? (close.payload[0] << 8) | close.payload[1]
    : undefined;
}

describe("client: a compressed message is delivered whole or the connection fails with 1007", () => {
  for (const c of CASES) {
    it(`${c.name}: "Hello" arrives, then iteration fails with 1007 and the client sends 1007`, async () => {
      let sentToClient = false;
      let fromClient: Promise<Uint8Array> | undefined;
      const server = net.createServer(async (socket) => {
        socket.on("error", () => {});
        const request = await readUntil(socket, (b) => headEnd(b) !== -1);
        const key = /sec-websocket-key: *(\S+)/i.exec(new TextDecoder().decode(request))![1];
        // The client's Close, then TCP is dropped (within 5 s either way, so
        // the iteration below always ends).
        fromClient = readUntil(socket, (b) => closeCodeIn(b, "required") !== undefined);
        void fromClient.then(() => socket.destroy());
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
            `Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
        );
        // The good message and the bad one in one write.
        socket.write(concat([
          encodeFrame({ fin: true, rsv: RSV1, opcode: Opcode.Text, payload: HELLO }),
          ...c.frames.map((f) => encodeFrame(f)),
        ]));
        sentToClient = true;
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      try {
        const port = (server.address() as net.AddressInfo).port;
        const ws = await connect(`ws://127.0.0.1:${port}/`, { keepalive: false });
        assert.equal(ws.extensions, "permessage-deflate");
        const got: unknown[] = [];
        const error = await (async () => {
          for await (const m of ws) got.push(m);
        })().then(() => undefined, (e: unknown) => e);
        assert.ok(sentToClient);
        assert.deepEqual(got, ["Hello"], "only the whole message is delivered");
        assert.ok(error instanceof ConnectionClosedError, String(error));
        assert.equal(error.info.code, 1007);
        assert.match(
          (error.info.error as { code?: string }).code ?? "",
          /^INFLATE_(?:TRAILING_DATA|TRUNCATED|FAILED)$/,
        );
        assert.equal(closeCodeIn(await fromClient!, "required"), 1007);
      } finally {
        server.close();
      }
    });
  }
});

/** Opens a raw WebSocket to `host` offering permessage-deflate; resolves after the 101. */
async function rawClient(host: TestHost): Promise<{ socket: net.Socket; extensions: string }> {
  const socket = net.connect(host.port, "127.0.0.1");
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  const head = readUntil(socket, (b) => headEnd(b) !== -1);
  socket.write(
    `GET /deflate HTTP/1.1\r\nHost: 127.0.0.1:${host.port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n`,
  );
  const text = new TextDecoder().decode(await head);
  assert.match(text, /^HTTP\/1\.1 101 /);
  return { socket, extensions: /sec-websocket-extensions: *([^\r]*)/i.exec(text)?.[1] ?? "" };
}

// Only where sprig speaks the protocol: Deno.serve does not negotiate
// compression, and Bun.serve inflates with uWebSockets' own decoder, which
// delivers "Hel" and a cut stream's prefix (Bun 1.x) — sprig never sees the
// compressed bytes there (documented in the adapter).
for (const kind of hostsOfRuntime().filter((k) => k !== "Deno.serve" && k !== "Bun.serve")) {
  describe(`server (${labelOf(kind)}): a compressed message is delivered whole or the connection fails with 1007`, () => {
    let host: TestHost;
    const received: string[] = [];
    const terminated: TerminateReason[] = [];
    before(async () => {
      host = await startHost(kind, {
        in: (message) => void received.push(String(message)),
        terminate: (reason) => void terminated.push(reason),
      }, { keepalive: false });
    });
    after(() => host?.stop());

    for (const c of CASES) {
      it(`${c.name}: "Hello" reaches the handler, then the server closes with 1007`, async () => {
        const { socket, extensions } = await rawClient(host);
        assert.match(extensions, /^permessage-deflate/);
        const before = { received: received.length, terminated: terminated.length };
        const reply = readUntil(socket, (b) => closeCodeIn(b, "forbidden") !== undefined);
        socket.write(concat([
          encodeFrame({ fin: true, rsv: RSV1, opcode: Opcode.Text, payload: HELLO }, {
            mask: MASK,
          }),
          ...c.frames.map((f) => encodeFrame(f, { mask: MASK })),
        ]));
        assert.equal(closeCodeIn(await reply, "forbidden"), 1007);
        socket.destroy();
        await until(() => terminated.length > before.terminated, "terminate");
        assert.deepEqual(received.slice(before.received), ["Hello"]);
        assert.equal(terminated[terminated.length - 1].code, 1007);
      });
    }
  });
}
