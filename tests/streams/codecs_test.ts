/**
 * The stream codecs: FrameDecoderStream, FrameEncoderStream and
 * MessageStream, driven through ReadableStreams built here and cut at
 * arbitrary points.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FrameDecoderStream } from "../../lib/streams/frame_decoder_stream.ts";
import { FrameEncoderStream } from "../../lib/streams/frame_encoder_stream.ts";
import { type MessageOrControl, MessageStream } from "../../lib/streams/message_stream.ts";
import { encodeFrame, type Frame, Opcode } from "../../lib/protocol/frame.ts";
import type { FrameParserOptions } from "../../lib/protocol/frame_parser.ts";
import {
  InvalidDataError,
  MessageTooBigError,
  ProtocolError,
  type SprigError,
} from "../../lib/errors.ts";
import { concat, hex, pseudoRandomBytes, toHex, utf8 } from "../_helpers/bytes.ts";

// ------------------------------------------------------------------ helpers

/**
 * A stream of `chunks`, handed out one per pull, that records how it was
 * cancelled. With `filler` it never ends: `filler()` follows the chunks.
 */
function sourceOf<T>(
  chunks: readonly T[],
  filler?: () => T,
): { stream: ReadableStream<T>; cancelled: () => unknown } {
  let i = 0;
  let reason: unknown;
  const stream = new ReadableStream<T>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else if (filler) controller.enqueue(filler());
      else controller.close();
    },
    cancel(r) {
      reason = r;
    },
  });
  return { stream, cancelled: () => reason };
}

/** Lets a pipe finish shutting down (it cancels its source after erroring its destination). */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Everything a stream yields, then how it ended. */
async function drain<T>(stream: ReadableStream<T>): Promise<{ items: T[]; error: unknown }> {
  const items: T[] = [];
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { items, error: undefined };
      items.push(value);
    }
  } catch (error) {
    return { items, error };
  }
}

/** Deterministic cut points for `bytes` (chunks of 1 to `maxChunk` bytes), as fresh chunks. */
function chunked(bytes: Uint8Array, seed: number, maxChunk = 64): Uint8Array[] {
  const copy = bytes.slice();
  const chunks: Uint8Array[] = [];
  let s = seed >>> 0;
  for (let at = 0; at < copy.length;) {
    // mulberry32
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const size = 1 + (((t ^ (t >>> 14)) >>> 0) % maxChunk);
    chunks.push(copy.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/** Every way of cutting `bytes` in two, plus one byte at a time. */
function everySplit(bytes: Uint8Array): Uint8Array[][] {
  const ways: Uint8Array[][] = [];
  for (let cut = 0; cut <= bytes.length; cut++) {
    const copy = bytes.slice();
    ways.push([copy.subarray(0, cut), copy.subarray(cut)]);
  }
  const copy = bytes.slice();
  ways.push(Array.from(copy, (_, i) => copy.subarray(i, i + 1)));
  return ways;
}

async function decode(chunks: Uint8Array[], options: FrameParserOptions = {}) {
  return await drain(sourceOf(chunks).stream.pipeThrough(new FrameDecoderStream(options)));
}

const plain = (f: Frame) => ({
  fin: f.fin,
  rsv: f.rsv,
  opcode: f.opcode,
  payload: toHex(f.payload),
});
const frame = (opcode: number, payload: Uint8Array | string, fin = true): Frame => ({
  fin,
  rsv: 0,
  opcode,
  payload: typeof payload === "string" ? utf8(payload) : payload,
});

function summary(m: MessageOrControl): string {
  if (m.type === "text") return `text:${m.data}`;
  if (m.type === "binary") return `binary:${m.data.length}:${toHex(m.data.subarray(0, 4))}`;
  return `control:${m.frame.opcode}:${toHex(m.frame.payload)}`;
}

function assertSprigError(
  error: unknown,
  type: new (...args: never[]) => SprigError,
  code: string,
  closeCode: number,
): void {
  assert.ok(error instanceof type, `expected ${type.name} ${code}, got ${error}`);
  assert.equal((error as SprigError).code, code);
  assert.equal((error as SprigError).closeCode, closeCode);
}

// ------------------------------------------------------- RFC 6455 §5.7 vectors

const BIN256 = pseudoRandomBytes(256, 11);
const BIN64K = pseudoRandomBytes(65536, 12);

/** The examples of RFC 6455 §5.7 and the frames they hold. */
const VECTORS: Array<{ name: string; bytes: Uint8Array; frames: Frame[] }> = [
  {
    name: "unmasked text",
    bytes: hex("81 05 48 65 6c 6c 6f"),
    frames: [frame(Opcode.Text, "Hello")],
  },
  {
    name: "masked text",
    bytes: hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
    frames: [frame(Opcode.Text, "Hello")],
  },
  {
    name: "fragmented unmasked text",
    bytes: hex("01 03 48 65 6c 80 02 6c 6f"),
    frames: [frame(Opcode.Text, "Hel", false), frame(Opcode.Continuation, "lo")],
  },
  {
    name: "unmasked ping",
    bytes: hex("89 05 48 65 6c 6c 6f"),
    frames: [frame(Opcode.Ping, "Hello")],
  },
  {
    name: "masked pong",
    bytes: hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
    frames: [frame(Opcode.Pong, "Hello")],
  },
  {
    name: "256 bytes binary",
    bytes: concat([hex("82 7e 01 00"), BIN256]),
    frames: [frame(Opcode.Binary, BIN256)],
  },
  {
    name: "64 KiB binary",
    bytes: concat([hex("82 7f 00 00 00 00 00 01 00 00"), BIN64K]),
    frames: [frame(Opcode.Binary, BIN64K)],
  },
];

describe("FrameDecoderStream: RFC 6455 §5.7 vectors", () => {
  for (const v of VECTORS.filter((v) => v.bytes.length < 64)) {
    it(`${v.name}: split at every byte, and a byte at a time`, async () => {
      for (const chunks of everySplit(v.bytes)) {
        const { items, error } = await decode(chunks);
        assert.equal(error, undefined);
        assert.deepEqual(
          items.map(plain),
          v.frames.map(plain),
          `chunks ${chunks.map((c) => c.length)}`,
        );
      }
    });
  }

  it("all vectors in one stream, in arbitrary chunkings", async () => {
    const all = concat(VECTORS.map((v) => v.bytes));
    const expected = VECTORS.flatMap((v) => v.frames).map(plain);
    for (let seed = 1; seed <= 12; seed++) {
      const { items, error } = await decode(chunked(all, seed, seed % 2 ? 16 : 9000));
      assert.equal(error, undefined);
      assert.deepEqual(items.map(plain), expected, `seed ${seed}`);
    }
    const whole = await decode([all.slice()]);
    assert.deepEqual(whole.items.map(plain), expected);
  });

  it('masked vectors pass mask: "required", unmasked ones mask: "forbidden"', async () => {
    for (const v of VECTORS) {
      const masked = (v.bytes[1] & 0x80) !== 0;
      const ok = await decode(chunked(v.bytes, 3), { mask: masked ? "required" : "forbidden" });
      assert.equal(ok.error, undefined, v.name);
      const bad = await decode(chunked(v.bytes, 3), { mask: masked ? "forbidden" : "required" });
      assertSprigError(bad.error, ProtocolError, masked ? "MASK_UNEXPECTED" : "MASK_MISSING", 1002);
      assert.equal(bad.items.length, 0);
    }
  });

  it("MessageStream turns the vectors into messages and control frames", async () => {
    const all = concat(VECTORS.map((v) => v.bytes));
    for (const seed of [5, 6, 7]) {
      const { items, error } = await drain(
        sourceOf(chunked(all, seed)).stream.pipeThrough(new FrameDecoderStream()).pipeThrough(
          new MessageStream(),
        ),
      );
      assert.equal(error, undefined);
      assert.deepEqual(items.map(summary), [
        "text:Hello",
        "text:Hello",
        "text:Hello",
        "control:9:48 65 6c 6c 6f",
        "control:10:48 65 6c 6c 6f",
        `binary:256:${toHex(BIN256.subarray(0, 4))}`,
        `binary:65536:${toHex(BIN64K.subarray(0, 4))}`,
      ]);
      const big = items[6] as { data: Uint8Array };
      assert.deepEqual(big.data, BIN64K);
    }
  });
});

// -------------------------------------------------------- encoder → decoder

/** A mix of frames: every length form, control frames, a fragmented message. */
function sampleFrames(): Frame[] {
  return [
    frame(Opcode.Text, "Hello"),
    frame(Opcode.Binary, new Uint8Array(0)),
    frame(Opcode.Binary, pseudoRandomBytes(125, 1)),
    frame(Opcode.Binary, pseudoRandomBytes(126, 2)),
    frame(Opcode.Ping, pseudoRandomBytes(125, 3)),
    frame(Opcode.Text, "κόσ", false),
    frame(Opcode.Pong, "p"),
    frame(Opcode.Continuation, "με", true),
    frame(Opcode.Binary, pseudoRandomBytes(65535, 4)),
    frame(Opcode.Binary, pseudoRandomBytes(65536, 5)),
    frame(Opcode.Close, hex("03 e8 62 79 65")),
  ];
}

describe("FrameEncoderStream → FrameDecoderStream", () => {
  it('mask: true round-trips through mask: "required", one chunk per frame, fresh keys', async () => {
    const frames = sampleFrames();
    const expected = frames.map(plain);
    const encoded = await drain(
      sourceOf(frames).stream.pipeThrough(new FrameEncoderStream({ mask: true })),
    );
    assert.equal(encoded.error, undefined);
    assert.equal(encoded.items.length, frames.length, "one chunk per frame");
    const keys = new Set<string>();
    for (const [i, chunk] of encoded.items.entries()) {
      assert.ok(chunk[1] & 0x80, `frame ${i} is not masked`);
      const n = frames[i].payload.length;
      const at = n < 126 ? 2 : n < 65536 ? 4 : 10;
      keys.add(toHex(chunk.subarray(at, at + 4)));
      assert.equal(chunk.length, at + 4 + n);
    }
    assert.ok(keys.size >= frames.length - 1, `masking keys repeat: ${[...keys]}`);
    // The encoder copies: the frames given to it are unchanged.
    assert.deepEqual(frames.map(plain), expected);

    for (let seed = 1; seed <= 6; seed++) {
      const { items, error } = await decode(chunked(concat(encoded.items), seed, seed * 3000), {
        mask: "required",
      });
      assert.equal(error, undefined);
      assert.deepEqual(items.map(plain), expected, `seed ${seed}`);
    }
  });

  it("chained directly: frames → encoder → decoder → MessageStream", async () => {
    const { items, error } = await drain(
      sourceOf(sampleFrames())
        .stream.pipeThrough(new FrameEncoderStream({ mask: true }))
        .pipeThrough(new FrameDecoderStream({ mask: "required" }))
        .pipeThrough(new MessageStream()),
    );
    assert.equal(error, undefined);
    assert.deepEqual(
      items.map((m) =>
        m.type === "control"
          ? `control:${m.frame.opcode}`
          : m.type === "text"
          ? `text:${m.data}`
          : `binary:${m.data.length}`
      ),
      [
        "text:Hello",
        "binary:0",
        "binary:125",
        "binary:126",
        "control:9",
        "control:10",
        "text:κόσμε",
        "binary:65535",
        "binary:65536",
        "control:8",
      ],
    );
  });

  it('without mask the encoder writes server frames: they pass "forbidden" and fail "required"', async () => {
    const frames = sampleFrames();
    const encoded = await drain(sourceOf(frames).stream.pipeThrough(new FrameEncoderStream()));
    assert.ok(encoded.items.every((c) => (c[1] & 0x80) === 0));
    const bytes = concat(encoded.items);
    const ok = await decode(chunked(bytes, 9, 500), { mask: "forbidden" });
    assert.deepEqual(ok.items.map(plain), frames.map(plain));
    const bad = await decode(chunked(bytes, 9, 500), { mask: "required" });
    assertSprigError(bad.error, ProtocolError, "MASK_MISSING", 1002);
  });

  it("the encoder errors its stream on a frame a sender must not send", async () => {
    const { items, error } = await drain(
      sourceOf([frame(Opcode.Text, "ok"), frame(Opcode.Ping, new Uint8Array(126))]).stream
        .pipeThrough(new FrameEncoderStream()),
    );
    assert.equal(items.length, 1);
    assertSprigError(error, ProtocolError, "CONTROL_TOO_LONG", 1002);
  });
});

// ------------------------------------------------------------ MessageStream

describe("MessageStream", () => {
  const interleaved = [
    frame(Opcode.Text, "He", false),
    frame(Opcode.Ping, "p1"),
    frame(Opcode.Continuation, "l", false),
    frame(Opcode.Pong, "p2"),
    frame(Opcode.Continuation, "lo", true),
    frame(Opcode.Binary, hex("01 02 03")),
    frame(Opcode.Close, hex("03 e8")),
  ];
  const expected = [
    "control:9:70 31",
    "control:10:70 32",
    "text:Hello",
    "binary:3:01 02 03",
    "control:8:03 e8",
  ];

  it("reassembles fragments; control frames pass through in order, between the messages around them", async () => {
    const { items, error } = await drain(
      sourceOf(interleaved).stream.pipeThrough(new MessageStream()),
    );
    assert.equal(error, undefined);
    assert.deepEqual(items.map(summary), expected);
  });

  it("the same from bytes cut anywhere", async () => {
    const bytes = concat(interleaved.map((f) => encodeFrame(f, { mask: hex("01 02 03 04") })));
    for (const chunks of [...everySplit(bytes), chunked(bytes, 4, 5)]) {
      const { items, error } = await drain(
        sourceOf(chunks).stream.pipeThrough(new FrameDecoderStream({ mask: "required" }))
          .pipeThrough(new MessageStream()),
      );
      assert.equal(error, undefined);
      assert.deepEqual(items.map(summary), expected, `chunks ${chunks.map((c) => c.length)}`);
    }
  });

  const violations: Array<[string, Frame[], new (...args: never[]) => SprigError, string, number]> =
    [
      [
        "a continuation with no message",
        [frame(Opcode.Continuation, "x")],
        ProtocolError,
        "CONTINUATION_UNEXPECTED",
        1002,
      ],
      [
        "a new message inside a fragmented one",
        [frame(Opcode.Binary, "a", false), frame(Opcode.Text, "b")],
        ProtocolError,
        "MESSAGE_INTERLEAVED",
        1002,
      ],
      [
        "invalid UTF-8",
        [frame(Opcode.Text, hex("ce ba ed a0 80"))],
        InvalidDataError,
        "INVALID_UTF8",
        1007,
      ],
      [
        "a message over maxMessageBytes",
        [
          frame(Opcode.Binary, new Uint8Array(60), false),
          frame(Opcode.Continuation, new Uint8Array(60)),
        ],
        MessageTooBigError,
        "MESSAGE_TOO_BIG",
        1009,
      ],
    ];
  for (const [name, bad, type, code, closeCode] of violations) {
    it(`${name} errors the stream (${code}) after delivering what came before`, async () => {
      const frames = [
        frame(Opcode.Text, "first"),
        frame(Opcode.Ping, "p"),
        frame(Opcode.Binary, hex("ff")),
        ...bad,
      ];
      const source = sourceOf(frames, () => frame(Opcode.Text, "never"));
      const { items, error } = await drain(
        source.stream.pipeThrough(new MessageStream({ maxMessageBytes: 100 })),
      );
      assert.deepEqual(items.map(summary), ["text:first", "control:9:70", "binary:1:ff"]);
      assertSprigError(error, type, code, closeCode);
      // The error travels back up the pipe: the (endless) source is cancelled with it.
      await settle();
      assert.equal(source.cancelled(), error, "the source is cancelled with the error");
    });
  }
});

// ------------------------------------------------- violations and truncation

describe("FrameDecoderStream: a violation errors the stream after earlier frames", () => {
  const good = [
    encodeFrame(frame(Opcode.Text, "one")),
    encodeFrame(frame(Opcode.Binary, pseudoRandomBytes(300, 8))),
    encodeFrame(frame(Opcode.Ping, "p")),
  ];
  const goodFrames = [
    frame(Opcode.Text, "one"),
    frame(Opcode.Binary, pseudoRandomBytes(300, 8)),
    frame(Opcode.Ping, "p"),
  ].map(plain);
  const after = encodeFrame(frame(Opcode.Text, "never"));

  const cases: Array<
    [string, Uint8Array, FrameParserOptions, new (...args: never[]) => SprigError, string, number]
  > = [
    ["a reserved opcode", hex("83 00"), {}, ProtocolError, "OPCODE_RESERVED", 1002],
    ["RSV1 without an extension", hex("c1 00"), {}, ProtocolError, "RSV_SET", 1002],
    ["a fragmented ping", hex("09 00"), {}, ProtocolError, "CONTROL_FRAGMENTED", 1002],
    [
      "a 64-bit length with its top bit set",
      hex("82 7f 80 00 00 00 00 00 00 00"),
      {},
      ProtocolError,
      "LENGTH_MSB_SET",
      1002,
    ],
    [
      "a frame over maxFrameBytes",
      hex("82 7e 04 00"),
      { maxFrameBytes: 1000 },
      MessageTooBigError,
      "FRAME_TOO_BIG",
      1009,
    ],
  ];

  for (const [name, bad, options, type, code, closeCode] of cases) {
    it(`${name} → ${code}: each frame in its own chunk`, async () => {
      const { items, error } = await decode([...good, bad, after].map((c) => c.slice()), options);
      assert.deepEqual(items.map(plain), goodFrames);
      assertSprigError(error, type, code, closeCode);
    });

    // STYLE §5 and the class's own contract: "errors the stream after every
    // frame before it was delivered" — also when they share a chunk with the bad byte.
    it(`${name} → ${code}: the good frames and the bad byte in one chunk`, async () => {
      const { items, error } = await decode([concat([...good, bad, after])], options);
      assert.deepEqual(items.map(plain), goodFrames);
      assertSprigError(error, type, code, closeCode);
    });

    it(`${name} → ${code}: arbitrary chunkings`, async () => {
      const bytes = concat([...good, bad, after]);
      for (let seed = 1; seed <= 8; seed++) {
        const chunks = chunked(bytes, seed, 60 * seed); // up to 480 bytes: some chunks hold several frames
        const { items, error } = await decode(chunks, options);
        assert.deepEqual(items.map(plain), goodFrames, `chunks ${chunks.map((c) => c.length)}`);
        assertSprigError(error, type, code, closeCode);
      }
    });
  }

  it("a mask violation cancels the source with the same error", async () => {
    const source = sourceOf(
      [encodeFrame(frame(Opcode.Text, "x"))],
      () => encodeFrame(frame(Opcode.Text, "y")),
    );
    const { error } = await drain(
      source.stream.pipeThrough(new FrameDecoderStream({ mask: "required" })),
    );
    assertSprigError(error, ProtocolError, "MASK_MISSING", 1002);
    await settle();
    assert.equal(source.cancelled(), error);
  });
});

describe("truncated streams", () => {
  const a = encodeFrame(frame(Opcode.Text, "complete"));
  const b = encodeFrame(frame(Opcode.Binary, pseudoRandomBytes(200, 2)), {
    mask: hex("37 fa 21 3d"),
  });

  it("a stream ending inside a frame errors with STREAM_TRUNCATED after the complete frames, wherever it ends", async () => {
    // Every cut inside b: in its first byte, its extended length, its key, its payload.
    for (let cut = 1; cut < b.length; cut++) {
      const bytes = concat([a, b.subarray(0, cut)]);
      for (const chunks of [[bytes.slice()], chunked(bytes, cut, 7)]) {
        const { items, error } = await decode(chunks);
        assert.deepEqual(items.map(plain), [plain(frame(Opcode.Text, "complete"))], `cut ${cut}`);
        assertSprigError(error, ProtocolError, "STREAM_TRUNCATED", 1002);
      }
    }
  });

  it("a stream ending between frames, or empty, is not truncated", async () => {
    const cases: Array<[Uint8Array[], number]> = [
      [[], 0],
      [[new Uint8Array(0)], 0],
      [[a.slice()], 1],
      [[a.slice(), b.slice()], 2],
      [chunked(concat([a, b]), 3, 10), 2],
    ];
    for (const [chunks, count] of cases) {
      const { items, error } = await decode(chunks);
      assert.equal(error, undefined);
      assert.equal(items.length, count);
    }
  });

  it("MessageStream: a stream ending inside a fragmented message errors with STREAM_TRUNCATED after earlier messages", async () => {
    const frames = [
      frame(Opcode.Text, "whole"),
      frame(Opcode.Ping, "p"),
      frame(Opcode.Binary, "par", false),
      frame(Opcode.Continuation, "t", false),
    ];
    const { items, error } = await drain(sourceOf(frames).stream.pipeThrough(new MessageStream()));
    assert.deepEqual(items.map(summary), ["text:whole", "control:9:70"]);
    assertSprigError(error, ProtocolError, "STREAM_TRUNCATED", 1002);
  });

  it("the full pipeline: bytes ending at a frame boundary inside a message", async () => {
    const bytes = concat(
      [frame(Opcode.Text, "whole"), frame(Opcode.Text, "half", false)].map((f) => encodeFrame(f)),
    );
    for (const chunks of [[bytes.slice()], chunked(bytes, 2, 3)]) {
      const { items, error } = await drain(
        sourceOf(chunks).stream.pipeThrough(new FrameDecoderStream()).pipeThrough(
          new MessageStream(),
        ),
      );
      assert.deepEqual(items.map(summary), ["text:whole"]);
      assertSprigError(error, ProtocolError, "STREAM_TRUNCATED", 1002);
    }
  });
});
