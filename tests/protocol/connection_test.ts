import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  Connection,
  type ConnectionEvent,
  type ConnectionOptions,
} from "../../lib/protocol/connection.ts";
import { encodeFrame, type Frame, Opcode, RSV1, RSV2 } from "../../lib/protocol/frame.ts";
import type { Extension } from "../../lib/protocol/extension.ts";
import { MessageTooBigError, NotOpenError, SprigError } from "../../lib/errors.ts";
import { FrameParser } from "../../lib/protocol/frame_parser.ts";
import { concat, fixedMask, hex, pseudoRandomBytes, toHex, utf8 } from "../_helpers/bytes.ts";

const MASK = hex("37 fa 21 3d");

/** A frame as a client would send it (masked). */
function fromClient(frame: Partial<Frame> & { opcode: number }): Uint8Array {
  return encodeFrame({ fin: true, rsv: 0, payload: new Uint8Array(0), ...frame }, { mask: MASK });
}
/** A frame as a server would send it. */
function fromServer(frame: Partial<Frame> & { opcode: number }): Uint8Array {
  return encodeFrame({ fin: true, rsv: 0, payload: new Uint8Array(0), ...frame });
}

/** Frames in a connection's pending output. */
function outputFrames(conn: Connection): Frame[] {
  const p = new FrameParser();
  return p.parse(concat(conn.takeOutput())).frames;
}

function server(options: Partial<ConnectionOptions> = {}) {
  return new Connection({ role: "server", ...options });
}
function client(options: Partial<ConnectionOptions> = {}) {
  return new Connection({ role: "client", maskKey: fixedMask(MASK), ...options });
}

function types(events: ConnectionEvent[]): string[] {
  return events.map((e) => e.type);
}

describe("Connection: sending back a text received in the same turn", () => {
  it("reuses its bytes when the string is the same, and encodes any other string", () => {
    const text = "héllo wörld ✓ ".repeat(200); // long, not ASCII
    const s = server();
    const events = s.receive(fromClient({ opcode: Opcode.Text, payload: utf8(text) }));
    assert.deepEqual(types(events), ["text"]);
    const got = (events[0] as { data: string }).data;
    s.send(got); // the same string: sent from the received bytes
    s.send("x".repeat(got.length)); // same length, other text: encoded
    const [echo, other] = outputFrames(s);
    assert.deepEqual(echo.payload, utf8(text));
    assert.deepEqual(other.payload, utf8("x".repeat(got.length)));
    // After the turn (takeOutput), the bytes are no longer held: a later send encodes afresh.
    s.send(got);
    assert.deepEqual(outputFrames(s)[0].payload, utf8(text));
  });

  it("remembers every long text of the turn, not only the last", () => {
    const a = "a".repeat(20_000);
    const b = "b".repeat(20_000);
    const s = server();
    const events = s.receive(
      concat([
        fromClient({ opcode: Opcode.Text, payload: utf8(a) }),
        fromClient({ opcode: Opcode.Text, payload: utf8(b) }),
      ]),
    );
    for (const e of events) s.send((e as { data: string }).data);
    const out = s.takeOutput();
    assert.equal(out.length, 2, "each echo is one buffer: its header went in front of its bytes");
    const frames = new FrameParser().parse(concat(out)).frames;
    assert.deepEqual(frames.map((f) => f.payload.length), [20_000, 20_000]);
    assert.deepEqual(frames[0].payload, utf8(a));
    assert.deepEqual(frames[1].payload, utf8(b));
  });

  it("writes the header in front of a received payload only over that frame's own header", () => {
    const text = "z".repeat(70_000);
    const wire = fromClient({ opcode: Opcode.Text, payload: utf8(text) });
    const expected = fromServer({ opcode: Opcode.Text, payload: utf8(text) });
    // Whole in one chunk, that chunk a view into a larger buffer holding other bytes in front;
    // header split across chunks at every point; payload spanning reads.
    const cuts = [0, 1, 2, 3, 5, 9, 13, 14, 15, 4096];
    for (const cut of cuts) {
      const s = server();
      const backing = new Uint8Array(64 + wire.length);
      backing.fill(0xee, 0, 64);
      backing.set(wire, 64);
      const before = backing.slice(0, 64);
      const chunks = cut === 0
        ? [backing.subarray(64)]
        : [backing.subarray(64, 64 + cut), backing.subarray(64 + cut)];
      const events = chunks.flatMap((c) => s.receive(c));
      assert.equal(events.length, 1, `cut ${cut}`);
      s.send((events[0] as { data: string }).data);
      const out = concat(s.takeOutput());
      assert.deepEqual(toHex(out.subarray(0, 16)), toHex(expected.subarray(0, 16)), `cut ${cut}`);
      assert.equal(out.length, expected.length, `cut ${cut}`);
      assert.deepEqual(
        backing.subarray(0, 64),
        before,
        `cut ${cut}: the bytes in front are untouched`,
      );
    }
  });
});

describe("Connection: messages", () => {
  it("a server decodes the RFC 6455 §5.7 masked Hello and answers unmasked", () => {
    const s = server();
    assert.deepEqual(s.receive(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")), [{
      type: "text",
      data: "Hello",
    }]);
    s.send("Hello");
    assert.equal(toHex(concat(s.takeOutput())), "81 05 48 65 6c 6c 6f");
  });

  it("a client masks everything it sends", () => {
    const c = client();
    c.send("Hello");
    c.ping("Hello");
    assert.equal(
      toHex(concat(c.takeOutput())),
      "81 85 37 fa 21 3d 7f 9f 4d 51 58 89 85 37 fa 21 3d 7f 9f 4d 51 58",
    );
  });

  it("a client draws a fresh random masking key per frame by default", () => {
    const c = new Connection({ role: "client" });
    const keys = new Set<string>();
    for (let i = 0; i < 300; i++) c.send("x");
    // Each frame is 7 bytes (2 header, 4 key, 1 payload); a turn's frames may come joined.
    const bytes = concat(c.takeOutput());
    assert.equal(bytes.length, 300 * 7);
    for (let at = 0; at < bytes.length; at += 7) keys.add(toHex(bytes.subarray(at + 2, at + 6)));
    assert.ok(keys.size > 290, `only ${keys.size} distinct keys`);
  });

  it("binary messages arrive as bytes", () => {
    const c = client();
    const payload = pseudoRandomBytes(70_000);
    const events = c.receive(fromServer({ opcode: Opcode.Binary, payload }));
    assert.equal(events.length, 1);
    assert.deepEqual(events[0], { type: "binary", data: payload });
  });

  it("reassembles a fragmented message with a ping in the middle, and answers the ping", () => {
    const s = server();
    const events = s.receive(concat([
      fromClient({ fin: false, opcode: Opcode.Text, payload: utf8("Hel") }),
      fromClient({ opcode: Opcode.Ping, payload: utf8("p") }),
      fromClient({ fin: true, opcode: Opcode.Continuation, payload: utf8("lo") }),
    ]));
    assert.deepEqual(types(events), ["ping", "text"]);
    assert.equal((events[1] as { data: string }).data, "Hello");
    const [pong] = outputFrames(s);
    assert.equal(pong.opcode, Opcode.Pong);
    assert.equal(new TextDecoder().decode(pong.payload), "p");
  });

  it("autoPong can be turned off, and a pong sent by hand", () => {
    const s = server({ autoPong: false });
    assert.deepEqual(types(s.receive(fromClient({ opcode: Opcode.Ping, payload: utf8("a") }))), [
      "ping",
    ]);
    assert.equal(s.outputBytes, 0);
    s.pong("a");
    assert.equal(outputFrames(s)[0].opcode, Opcode.Pong);
  });

  it("delivers pongs", () => {
    const c = client();
    assert.deepEqual(c.receive(fromServer({ opcode: Opcode.Pong, payload: utf8("t") })), [{
      type: "pong",
      data: utf8("t"),
    }]);
  });

  it("a 16 MiB message in one frame arrives intact", () => {
    const c = client();
    const payload = pseudoRandomBytes(16 * 1024 * 1024, 5);
    const bytes = fromServer({ opcode: Opcode.Binary, payload });
    const events: ConnectionEvent[] = [];
    for (let at = 0; at < bytes.length; at += 65536) {
      events.push(...c.receive(bytes.subarray(at, at + 65536)));
    }
    assert.equal(events.length, 1);
    assert.deepEqual((events[0] as { data: Uint8Array }).data, payload);
  });

  it("a 2 MiB text message in 1-byte fragments arrives, with memory proportional to its bytes", () => {
    const s = server();
    const text = "sprig ".repeat(350_000); // 2.1 MB
    const bytes = utf8(text);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) {
      frames.push(
        fromClient({
          fin: i === bytes.length - 1,
          opcode: i === 0 ? Opcode.Text : Opcode.Continuation,
          payload: bytes.subarray(i, i + 1),
        }),
      );
    }
    const wire = concat(frames);
    const events: ConnectionEvent[] = [];
    let maxHeld = 0;
    for (let at = 0; at < wire.length; at += 100_000) {
      events.push(...s.receive(wire.subarray(at, at + 100_000)));
      maxHeld = Math.max(maxHeld, s.bufferedIncoming);
    }
    assert.deepEqual(types(events), ["text"]);
    assert.equal((events[0] as { data: string }).data, text);
    assert.ok(maxHeld <= bytes.length + 16, `held ${maxHeld}`);
  });

  it("splits outgoing messages into frames of fragmentSize", () => {
    const s = server({ fragmentSize: 4 });
    s.send("Hello, world");
    const frames = outputFrames(s);
    assert.deepEqual(frames.map((f) => [f.fin, f.opcode, f.payload.length]), [
      [false, 1, 4],
      [false, 0, 4],
      [true, 0, 4],
    ]);
  });

  it("streams a message in fragments, with control frames between them", () => {
    const c = client();
    c.sendFragment("binary", new Uint8Array([1, 2]), false);
    c.ping();
    assert.throws(() => c.send("interleaved"), TypeError);
    c.sendFragment("binary", new Uint8Array([3]), true);
    c.send("next");
    const s = server();
    const events = s.receive(concat(c.takeOutput()));
    assert.deepEqual(types(events), ["ping", "binary", "text"]);
    assert.deepEqual((events[1] as { data: Uint8Array }).data, new Uint8Array([1, 2, 3]));
  });

  it("a client and a server talk to each other", () => {
    const c = new Connection({ role: "client" });
    const s = new Connection({ role: "server" });
    c.send("ping?");
    c.send(new Uint8Array([9, 8, 7]));
    const got = s.receive(concat(c.takeOutput()));
    for (const e of got) if (e.type === "text" || e.type === "binary") s.send(e.data);
    assert.deepEqual(c.receive(concat(s.takeOutput())), got);
  });
});

describe("Connection: closing handshake", () => {
  it("the peer closes first: we echo the code, and the handshake is clean", () => {
    const s = server();
    const events = s.receive(fromClient({ opcode: Opcode.Close, payload: hex("03 e8 62 79 65") }));
    assert.deepEqual(events, [{ type: "close", code: 1000, reason: "bye", wasClean: true }]);
    assert.equal(s.state, "closed");
    const [reply] = outputFrames(s);
    assert.equal(reply.opcode, Opcode.Close);
    assert.equal(toHex(reply.payload), "03 e8");
    assert.equal(s.shouldCloseTransport, true); // RFC 6455 §7.1.1: the server closes TCP first
    assert.throws(() => s.send("late"), NotOpenError);
  });

  it("an empty close frame is answered with an empty one and reads as 1005", () => {
    const c = client();
    assert.deepEqual(c.receive(fromServer({ opcode: Opcode.Close })), [{
      type: "close",
      code: 1005,
      reason: "",
      wasClean: true,
    }]);
    assert.equal(outputFrames(c)[0].payload.length, 0);
    assert.equal(c.shouldCloseTransport, false); // a client waits for the server to close
  });

  it("we close first: data still arrives until the peer's close", () => {
    const c = client();
    c.send("last words");
    c.close(1000, "done");
    assert.equal(c.state, "closing");
    const sent = outputFrames(c);
    assert.deepEqual(sent.map((f) => f.opcode), [Opcode.Text, Opcode.Close]); // data before the close frame
    assert.throws(() => c.send("more"), NotOpenError);
    assert.throws(() => c.ping(), NotOpenError);
    const events = c.receive(concat([
      fromServer({ opcode: Opcode.Text, payload: utf8("in flight") }),
      fromServer({ opcode: Opcode.Close, payload: hex("03 e8") }),
      fromServer({ opcode: Opcode.Text, payload: utf8("after close: ignored") }),
    ]));
    assert.deepEqual(events, [
      { type: "text", data: "in flight" },
      { type: "close", code: 1000, reason: "", wasClean: true },
    ]);
    assert.equal(c.state, "closed");
    assert.equal(c.outputBytes, 0); // nothing more after our close
    c.close(); // idempotent
    assert.equal(c.outputBytes, 0);
  });

  it("a transport that ends without a close frame closes with 1006", () => {
    const s = server();
    assert.deepEqual(s.receiveEof(), [{ type: "close", code: 1006, reason: "", wasClean: false }]);
    assert.equal(s.closeResult?.code, 1006);
  });

  it("refuses close codes and reasons that may not be sent", () => {
    const c = client();
    assert.throws(() => c.close(1005), RangeError);
    assert.throws(() => c.close(1000, "x".repeat(124)), RangeError);
    assert.equal(c.state, "open");
  });

  it("CONNECTING accepts nothing until open()", () => {
    const c = client({ connecting: true });
    assert.equal(c.state, "connecting");
    assert.throws(() => c.send("early"), NotOpenError);
    c.open();
    c.send("now");
    assert.equal(c.state, "open");
  });
});

describe("Connection: violations close with the right code", () => {
  const cases: Array<[string, () => Uint8Array, string, number]> = [
    [
      "continuation without a message",
      () => fromClient({ opcode: Opcode.Continuation, payload: utf8("x") }),
      "CONTINUATION_UNEXPECTED",
      1002,
    ],
    [
      "a new message inside a fragmented one",
      () =>
        concat([
          fromClient({ fin: false, opcode: Opcode.Text }),
          fromClient({ opcode: Opcode.Text }),
        ]),
      "MESSAGE_INTERLEAVED",
      1002,
    ],
    ["an unmasked frame", () => fromServer({ opcode: Opcode.Text }), "MASK_MISSING", 1002],
    [
      "RSV1 without an extension",
      () => fromClient({ opcode: Opcode.Text, rsv: RSV1 }),
      "RSV_SET",
      1002,
    ],
    [
      "a reserved opcode",
      () => fromClient({ opcode: Opcode.Text }).map((b, i) => (i === 0 ? 0x83 : b)),
      "OPCODE_RESERVED",
      1002,
    ],
    [
      "invalid UTF-8 in a text message",
      () => fromClient({ opcode: Opcode.Text, payload: hex("ce ba ed a0 80") }),
      "INVALID_UTF8",
      1007,
    ],
    [
      "a text message ending mid code point",
      () =>
        concat([
          fromClient({ fin: false, opcode: Opcode.Text, payload: hex("ce") }),
          fromClient({ opcode: Opcode.Continuation }),
        ]),
      "INVALID_UTF8",
      1007,
    ],
    [
      "a 1-byte close payload",
      () => fromClient({ opcode: Opcode.Close, payload: hex("03") }),
      "CLOSE_PAYLOAD_1_BYTE",
      1002,
    ],
    [
      "close code 1005 on the wire",
      () => fromClient({ opcode: Opcode.Close, payload: hex("03 ed") }),
      "CLOSE_CODE_INVALID",
      1002,
    ],
    [
      "a close reason that is not UTF-8",
      () => fromClient({ opcode: Opcode.Close, payload: hex("03 e8 ff") }),
      "CLOSE_REASON_INVALID_UTF8",
      1007,
    ],
    [
      "a ping of 126 bytes",
      () => concat([hex("89 fe 00 7e"), MASK, new Uint8Array(126)]),
      "CONTROL_TOO_LONG",
      1002,
    ],
    [
      "a fragmented ping",
      () => fromClient({ opcode: Opcode.Text }).map((b, i) => (i === 0 ? 0x09 : b)),
      "CONTROL_FRAGMENTED",
      1002,
    ],
  ];

  for (const [name, bytes, code, closeCode] of cases) {
    it(`${name} → ${code}, close ${closeCode}`, () => {
      const s = server();
      const events = s.receive(
        concat([fromClient({ opcode: Opcode.Text, payload: utf8("before") }), bytes()]),
      );
      assert.deepEqual(types(events), ["text", "error", "close"]);
      const error = (events[1] as { error: SprigError }).error;
      assert.ok(error instanceof SprigError);
      assert.equal(error.code, code);
      assert.equal(error.closeCode, closeCode);
      assert.deepEqual(events[2], {
        type: "close",
        code: closeCode,
        reason: error.closeReason,
        wasClean: false,
      });
      const [closeFrame] = outputFrames(s);
      assert.equal(closeFrame.opcode, Opcode.Close);
      assert.equal((closeFrame.payload[0] << 8) | closeFrame.payload[1], closeCode);
      assert.equal(s.state, "closed");
      assert.equal(s.shouldCloseTransport, true);
      assert.deepEqual(s.receive(fromClient({ opcode: Opcode.Text, payload: utf8("after") })), []);
    });
  }

  it("invalid UTF-8 fails fast, before the message's last fragment", () => {
    const s = server();
    const first = s.receive(
      fromClient({
        fin: false,
        opcode: Opcode.Text,
        payload: hex("ce ba e1 bd b9 ce bc ce b5 ed a0 80 65"),
      }),
    );
    assert.deepEqual(types(first), ["error", "close"]);
    assert.equal(s.closeResult?.code, 1007);
  });

  it("a UTF-8 code point split across fragments is fine", () => {
    const s = server();
    const events = s.receive(concat([
      fromClient({ fin: false, opcode: Opcode.Text, payload: hex("ce ba e1") }),
      fromClient({ fin: false, opcode: Opcode.Continuation, payload: hex("bd") }),
      fromClient({ fin: true, opcode: Opcode.Continuation, payload: hex("b9") }),
    ]));
    assert.deepEqual(events, [{ type: "text", data: "\u03ba\u1f79" }]);
  });

  it("a message over maxMessageBytes closes with 1009, counting every fragment", () => {
    const s = server({ maxMessageBytes: 100 });
    const events = s.receive(concat([
      fromClient({ fin: false, opcode: Opcode.Binary, payload: new Uint8Array(60) }),
      fromClient({ fin: false, opcode: Opcode.Continuation, payload: new Uint8Array(60) }),
    ]));
    const error = (events[0] as { error: SprigError }).error;
    assert.ok(error instanceof MessageTooBigError);
    assert.equal(error.closeCode, 1009);
    assert.equal(s.bufferedIncoming, 0);
  });

  it("a frame over maxFrameBytes closes with 1009 before its payload arrives", () => {
    const s = server({ maxFrameBytes: 1024 });
    const events = s.receive(hex("82 fe 10 00 37 fa 21 3d"));
    assert.equal((events[0] as { error: SprigError }).error.code, "FRAME_TOO_BIG");
    assert.equal(s.closeResult?.code, 1009);
  });

  it("a flood of empty fragments is stopped by maxFragments", () => {
    const s = server({ maxFragments: 1000 });
    const empty = fromClient({ fin: false, opcode: Opcode.Continuation });
    const wire = concat([
      fromClient({ fin: false, opcode: Opcode.Binary }),
      ...Array.from({ length: 2000 }, () => empty),
    ]);
    const events = s.receive(wire);
    assert.equal((events[0] as { error: SprigError }).error.code, "TOO_MANY_FRAGMENTS");
    assert.equal(s.closeResult?.code, 1009);
  });

  it("RSV bits on a control frame are refused", () => {
    const ext = fakeExtension();
    const s = server({ extensions: [ext] });
    const events = s.receive(fromClient({ opcode: Opcode.Ping, rsv: RSV2 }));
    assert.equal((events[0] as { error: SprigError }).error.code, "RSV_ON_CONTROL");
  });

  it("RSV bits on a continuation frame are refused", () => {
    const s = server({ extensions: [fakeExtension()] });
    const events = s.receive(concat([
      fromClient({ fin: false, opcode: Opcode.Binary, rsv: RSV2, payload: new Uint8Array([1]) }),
      fromClient({
        fin: true,
        opcode: Opcode.Continuation,
        rsv: RSV2,
        payload: new Uint8Array([2]),
      }),
    ]));
    assert.equal((events[0] as { error: SprigError }).error.code, "RSV_ON_CONTINUATION");
  });
});

/** An extension that reverses payloads and marks them with RSV2. */
function fakeExtension(): Extension {
  return {
    name: "x-reverse",
    rsv: RSV2,
    params: [],
    encode: (payload) => ({ payload: payload.slice().reverse(), rsv: RSV2 }),
    decode: (payload, rsv, maxBytes) => {
      if (!(rsv & RSV2)) return payload;
      if (payload.length > maxBytes) throw new MessageTooBigError("X_TOO_BIG", "too big", maxBytes);
      return payload.slice().reverse();
    },
  };
}

describe("Connection: extension hooks", () => {
  it("encodes on send, marks the first frame, decodes on receive", () => {
    const c = client({ extensions: [fakeExtension()], fragmentSize: 2 });
    c.send("abcde");
    const out = concat(c.takeOutput());
    const frames = new FrameParser({ allowedRsv: RSV2 }).parse(out.slice()).frames;
    assert.deepEqual(frames.map((f) => f.rsv), [RSV2, 0, 0]);
    const s = server({ extensions: [fakeExtension()] });
    assert.deepEqual(s.receive(out), [{ type: "text", data: "abcde" }]);
  });

  it("messages without the extension's bit pass through untouched", () => {
    const s = server({ extensions: [fakeExtension()] });
    assert.deepEqual(s.receive(fromClient({ opcode: Opcode.Text, payload: utf8("plain") })), [{
      type: "text",
      data: "plain",
    }]);
  });

  it("the onFrame hook sees frames both ways", () => {
    const seen: string[] = [];
    const s = server({ onFrame: (dir, f) => seen.push(`${dir}:${f.opcode}`) });
    s.receive(fromClient({ opcode: Opcode.Ping }));
    assert.deepEqual(seen, ["in:9", "out:10"]);
  });
});

describe("Connection.sendEncodedFrame", () => {
  it("queues a pre-encoded frame in order with other output, same bytes object", () => {
    const s = server();
    const shared = encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Text, payload: utf8("to all") });
    s.send("first");
    s.sendEncodedFrame(shared);
    s.ping();
    const out = s.takeOutput();
    assert.equal(out[1], shared);
    const c = client();
    assert.deepEqual(types(c.receive(concat(out))), ["text", "text", "ping"]);
  });

  it("refuses a client, and bytes that are not one final unmasked data frame", () => {
    const frame = encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Text, payload: utf8("x") });
    assert.throws(() => client().sendEncodedFrame(frame), TypeError);
    const s = server();
    assert.throws(
      () =>
        s.sendEncodedFrame(
          encodeFrame({ fin: false, rsv: 0, opcode: Opcode.Text, payload: utf8("x") }),
        ),
      TypeError,
    );
    assert.throws(
      () =>
        s.sendEncodedFrame(
          encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Ping, payload: utf8("x") }),
        ),
      TypeError,
    );
    assert.throws(
      () =>
        s.sendEncodedFrame(
          encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Text, payload: utf8("x") }, {
            mask: MASK,
          }),
        ),
      TypeError,
    );
    assert.throws(() => s.sendEncodedFrame(new Uint8Array([0x81])), TypeError);
    s.close();
    assert.throws(() => s.sendEncodedFrame(frame), NotOpenError);
  });
});
