import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeFrame, type Frame, Opcode, RSV1 } from "../../lib/protocol/frame.ts";
import { FrameParser } from "../../lib/protocol/frame_parser.ts";
import { applyMask } from "../../lib/protocol/mask.ts";
import { MessageTooBigError, ProtocolError } from "../../lib/errors.ts";
import { concat, hex, pseudoRandomBytes, toHex, utf8 } from "../_helpers/bytes.ts";

const MASK = hex("37 fa 21 3d");

/** Parses `bytes` whole and split at every boundary; all must give the same frames. */
function parseEverySplit(bytes: Uint8Array, options = {}): Frame[] {
  const whole = new FrameParser(options).parse(bytes.slice());
  assert.equal(whole.error, undefined, String(whole.error));
  for (let cut = 1; cut < bytes.length; cut++) {
    const p = new FrameParser(options);
    const copy = bytes.slice();
    const a = p.parse(copy.subarray(0, cut));
    const b = p.parse(copy.subarray(cut));
    assert.equal(a.error ?? b.error, undefined);
    assert.deepEqual(
      [...a.frames, ...b.frames].map(plain),
      whole.frames.map(plain),
      `split at ${cut}`,
    );
  }
  // one byte at a time
  const p = new FrameParser(options);
  const oneByOne: Frame[] = [];
  for (const b of bytes.slice()) oneByOne.push(...p.parse(new Uint8Array([b])).frames);
  assert.deepEqual(oneByOne.map(plain), whole.frames.map(plain));
  return whole.frames;
}

const plain = (f: Frame) => ({
  fin: f.fin,
  rsv: f.rsv,
  opcode: f.opcode,
  payload: Array.from(f.payload),
});

describe("RFC 6455 §5.7 examples", () => {
  it("a single-frame unmasked text message", () => {
    const bytes = hex("81 05 48 65 6c 6c 6f");
    assert.equal(
      toHex(encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Text, payload: utf8("Hello") })),
      toHex(bytes),
    );
    const [f] = parseEverySplit(bytes, { mask: "forbidden" });
    assert.deepEqual(plain(f), plain({ fin: true, rsv: 0, opcode: 1, payload: utf8("Hello") }));
  });

  it("a single-frame masked text message", () => {
    const bytes = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
    const encoded = encodeFrame(
      { fin: true, rsv: 0, opcode: Opcode.Text, payload: utf8("Hello") },
      { mask: MASK },
    );
    assert.equal(toHex(encoded), toHex(bytes));
    const [f] = parseEverySplit(bytes, { mask: "required" });
    assert.equal(new TextDecoder().decode(f.payload), "Hello");
  });

  it("a fragmented unmasked text message", () => {
    const bytes = hex("01 03 48 65 6c 80 02 6c 6f");
    assert.equal(
      toHex(encodeFrame({ fin: false, rsv: 0, opcode: Opcode.Text, payload: utf8("Hel") })),
      "01 03 48 65 6c",
    );
    assert.equal(
      toHex(encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Continuation, payload: utf8("lo") })),
      "80 02 6c 6f",
    );
    const frames = parseEverySplit(bytes);
    assert.deepEqual(frames.map((f) => [f.fin, f.opcode, new TextDecoder().decode(f.payload)]), [
      [false, 1, "Hel"],
      [true, 0, "lo"],
    ]);
  });

  it("an unmasked ping and a masked pong", () => {
    assert.equal(
      toHex(encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Ping, payload: utf8("Hello") })),
      "89 05 48 65 6c 6c 6f",
    );
    const pong = hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58");
    assert.equal(
      toHex(
        encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Pong, payload: utf8("Hello") }, {
          mask: MASK,
        }),
      ),
      toHex(pong),
    );
    const [f] = parseEverySplit(pong);
    assert.equal(f.opcode, Opcode.Pong);
    assert.equal(new TextDecoder().decode(f.payload), "Hello");
  });

  it("256 bytes binary in a single unmasked frame (16-bit length)", () => {
    const payload = pseudoRandomBytes(256);
    const bytes = encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Binary, payload });
    assert.equal(toHex(bytes.subarray(0, 4)), "82 7e 01 00");
    assert.equal(bytes.length, 260);
    const { frames } = new FrameParser().parse(bytes);
    assert.deepEqual(frames[0].payload, payload);
  });

  it("64 KiB binary in a single unmasked frame (64-bit length)", () => {
    const payload = pseudoRandomBytes(65536);
    const bytes = encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Binary, payload });
    assert.equal(toHex(bytes.subarray(0, 10)), "82 7f 00 00 00 00 00 01 00 00");
    const { frames } = new FrameParser().parse(bytes);
    assert.deepEqual(frames[0].payload, payload);
  });
});

describe("lengths", () => {
  for (const n of [0, 1, 125, 126, 127, 65535, 65536, 70000]) {
    it(`${n} bytes round-trips masked and unmasked`, () => {
      const payload = pseudoRandomBytes(n, n + 7);
      for (const mask of [undefined, MASK]) {
        const bytes = encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Binary, payload }, { mask });
        const expectHeader = (n < 126 ? 2 : n < 65536 ? 4 : 10) + (mask ? 4 : 0);
        assert.equal(bytes.length, expectHeader + n);
        const { frames, error } = new FrameParser().parse(bytes);
        assert.equal(error, undefined);
        assert.deepEqual(frames[0].payload, payload);
      }
    });
  }

  it("a 64-bit length with the top bit set is a protocol error", () => {
    const { error } = new FrameParser().parse(hex("82 7f 80 00 00 00 00 00 00 01"));
    assert.ok(error instanceof ProtocolError);
    assert.equal(error.code, "LENGTH_MSB_SET");
    assert.equal(error.closeCode, 1002);
  });

  it("a frame over maxFrameBytes is refused with 1009 from its header alone", () => {
    const p = new FrameParser({ maxFrameBytes: 1000 });
    const { error } = p.parse(hex("82 7e 03 e9"));
    assert.ok(error instanceof MessageTooBigError);
    assert.equal(error.closeCode, 1009);
    assert.equal(p.buffered, 0);
  });
});

describe("frame-level rejections", () => {
  const cases: Array<[string, string, object, string, number]> = [
    ["RSV1 without an extension", "c1 00", {}, "RSV_SET", 1002],
    ["RSV2", "a1 00", {}, "RSV_SET", 1002],
    ["RSV3", "91 00", {}, "RSV_SET", 1002],
    ["RSV2 when only RSV1 is owned", "a1 00", { allowedRsv: RSV1 }, "RSV_SET", 1002],
    ["reserved data opcode 3", "83 00", {}, "OPCODE_RESERVED", 1002],
    ["reserved data opcode 7", "87 00", {}, "OPCODE_RESERVED", 1002],
    ["reserved control opcode B", "8b 00", {}, "OPCODE_RESERVED", 1002],
    ["reserved control opcode F", "8f 00", {}, "OPCODE_RESERVED", 1002],
    ["a fragmented ping", "09 00", {}, "CONTROL_FRAGMENTED", 1002],
    ["a ping of 126 bytes", "89 7e 00 7e", {}, "CONTROL_TOO_LONG", 1002],
    ["an unmasked frame to a server", "81 00", { mask: "required" }, "MASK_MISSING", 1002],
    [
      "a masked frame to a client",
      "81 80 00 00 00 00",
      { mask: "forbidden" },
      "MASK_UNEXPECTED",
      1002,
    ],
  ];
  for (const [name, bytes, options, code, closeCode] of cases) {
    it(`${name} → ${code} (${closeCode})`, () => {
      const p = new FrameParser(options);
      const { error } = p.parse(hex(bytes));
      assert.ok(error instanceof ProtocolError, `got ${error}`);
      assert.equal(error.code, code);
      assert.equal(error.closeCode, closeCode);
      // A failed parser stays failed.
      assert.equal(p.parse(hex("81 00")).error, error);
    });
  }

  it("RSV1 is accepted when an extension owns it", () => {
    const { frames, error } = new FrameParser({ allowedRsv: RSV1 }).parse(hex("c1 01 00"));
    assert.equal(error, undefined);
    assert.equal(frames[0].rsv, RSV1);
  });

  it("frames before the bad byte are delivered, then the error", () => {
    const bytes = concat([hex("81 02 68 69"), hex("82 01 ff"), hex("83 00"), hex("81 01 21")]);
    const { frames, error } = new FrameParser().parse(bytes);
    assert.equal(frames.length, 2);
    assert.equal(error?.code, "OPCODE_RESERVED");
  });

  it("the encoder refuses what a sender must not send", () => {
    assert.throws(
      () => encodeFrame({ fin: true, rsv: 0, opcode: 3, payload: new Uint8Array() }),
      ProtocolError,
    );
    assert.throws(
      () => encodeFrame({ fin: false, rsv: 0, opcode: Opcode.Ping, payload: new Uint8Array() }),
      ProtocolError,
    );
    assert.throws(
      () => encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Close, payload: new Uint8Array(126) }),
      ProtocolError,
    );
    assert.throws(
      () =>
        encodeFrame({ fin: true, rsv: 0, opcode: 1, payload: new Uint8Array() }, {
          mask: new Uint8Array(3),
        }),
      RangeError,
    );
  });
});

describe("masking", () => {
  function naive(data: Uint8Array, mask: Uint8Array, offset = 0): Uint8Array {
    return data.map((b, i) => b ^ mask[(i + offset) & 3]);
  }

  it("matches byte-wise XOR for every length, alignment and offset", () => {
    const backing = pseudoRandomBytes(300, 3);
    for (const len of [0, 1, 2, 3, 4, 5, 31, 32, 33, 64, 100, 127, 128, 129, 130, 131, 257]) {
      for (let start = 0; start < 4; start++) {
        for (let offset = 0; offset < 4; offset++) {
          const view = backing.slice().subarray(start, start + len);
          const expected = naive(view, MASK, offset);
          applyMask(view, MASK, offset);
          assert.deepEqual(view, expected, `len ${len} start ${start} offset ${offset}`);
        }
      }
    }
  });

  it("masking twice restores the data, and works in pieces", () => {
    const data = pseudoRandomBytes(10_000, 9);
    const copy = data.slice();
    applyMask(copy, MASK);
    assert.notDeepEqual(copy, data);
    applyMask(copy.subarray(0, 4321), MASK, 0);
    applyMask(copy.subarray(4321), MASK, 4321);
    assert.deepEqual(copy, data);
  });
});

describe("payloads that span reads", () => {
  /** Feeds `bytes` as a transport that reads in place would: into payloadTail() when offered. */
  function parseInPlace(parser: FrameParser, bytes: Uint8Array, readSize: number): Frame[] {
    const frames: Frame[] = [];
    let at = 0;
    while (at < bytes.length) {
      const tail = parser.payloadTail();
      const n = Math.min(readSize, bytes.length - at, tail?.length ?? Infinity);
      let chunk: Uint8Array;
      if (tail !== undefined) {
        tail.set(bytes.subarray(at, at + n)); // the "read" lands in the payload buffer
        chunk = tail.subarray(0, n);
      } else chunk = bytes.slice(at, at + n);
      parser.push(chunk, (f) => frames.push(f));
      at += n;
    }
    return frames;
  }

  it("bytes read into payloadTail() give the same frames as copied chunks, masked or not", () => {
    const payloads = [pseudoRandomBytes(70_000, 1), utf8("hi"), pseudoRandomBytes(300_000, 2)];
    for (const mask of [undefined, MASK]) {
      const wire = concat(
        payloads.map((payload) =>
          encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Binary, payload }, { mask })
        ),
      );
      for (const readSize of [1000, 4096, 65_536, 1 << 20]) {
        const frames = parseInPlace(new FrameParser(), wire, readSize);
        assert.deepEqual(
          frames.map((f) => toHex(f.payload)),
          payloads.map((p) => toHex(p)),
          `read size ${readSize}, masked ${mask !== undefined}`,
        );
      }
    }
  });

  it("offers no buffer between frames, and none for bytes it does not hold", () => {
    const parser = new FrameParser();
    assert.equal(parser.payloadTail(), undefined);
    const wire = encodeFrame({
      fin: true,
      rsv: 0,
      opcode: Opcode.Binary,
      payload: pseudoRandomBytes(10_000, 3),
    });
    parser.parse(wire.slice(0, 100));
    assert.equal(parser.payloadTail()?.length, wire.length - 100);
    parser.parse(wire.slice(100));
    assert.equal(parser.payloadTail(), undefined);
    parser.parse(wire.slice(0, 100));
    parser.dispose();
    assert.equal(parser.payloadTail(), undefined);
    assert.deepEqual(parser.parse(wire.slice(100)).frames, [], "a disposed parser parses nothing");
  });

  it("past the process-wide budget for buffers made ahead, payloads are held as pieces and still arrive whole", () => {
    // Each header claims 40 MiB and only part of the payload follows: two
    // such frames exceed the 64 MiB budget, so the second parser holds pieces.
    const claimed = 40 * 1024 * 1024;
    const head = encodeFrame({
      fin: true,
      rsv: 0,
      opcode: Opcode.Binary,
      payload: new Uint8Array(0),
    });
    const header = new Uint8Array(10);
    header[0] = head[0];
    header[1] = 127;
    new DataView(header.buffer).setUint32(6, claimed);
    const first = new FrameParser();
    const second = new FrameParser();
    first.parse(concat([header, new Uint8Array(16)]));
    second.parse(concat([header, new Uint8Array(16)]));
    assert.notEqual(first.payloadTail(), undefined, "the first gets its buffer");
    assert.equal(second.payloadTail(), undefined, "the second, past the budget, holds pieces");
    assert.equal(second.buffered, 16);
    const piece = pseudoRandomBytes(1024 * 1024, 4);
    let frame: Frame | undefined;
    for (let sent = 16; sent < claimed; sent += piece.length) {
      const n = Math.min(piece.length, claimed - sent);
      second.push(piece.slice(0, n), (f) => (frame = f));
    }
    assert.equal(frame?.payload.length, claimed);
    assert.deepEqual(frame!.payload.subarray(16, 16 + 64), piece.subarray(0, 64));
    // Disposing of the first gives its budget back: a new frame gets a buffer again.
    first.dispose();
    const third = new FrameParser();
    third.parse(concat([header, new Uint8Array(16)]));
    assert.notEqual(third.payloadTail(), undefined);
    third.dispose();
  });
});
