/**
 * Property tests of the protocol core (fast-check): the frame codec, the
 * connection in both directions, masking and UTF-8 validation, each against
 * a simple model, with inputs split at arbitrary points.
 *
 * Runs are kept modest so each property stays well under 2 s on Deno, Bun
 * and Node; a failure prints fast-check's seed and path to replay it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Connection, type ConnectionEvent, type Role } from "../../lib/protocol/connection.ts";
import {
  encodeFrame,
  type Frame,
  isControl,
  MAX_CONTROL_PAYLOAD,
  Opcode,
} from "../../lib/protocol/frame.ts";
import { FrameParser, type MaskPolicy } from "../../lib/protocol/frame_parser.ts";
import { applyMask } from "../../lib/protocol/mask.ts";
import { decodeValidatedUtf8, isValidUtf8, Utf8Validator } from "../../lib/protocol/utf8.ts";
import { concat, pseudoRandomBytes, toHex, utf8 } from "../_helpers/bytes.ts";

// ------------------------------------------------------------------ helpers

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Short description of bytes for assertion messages. */
function describeBytes(b: Uint8Array): string {
  return b.length <= 32 ? `[${toHex(b)}]` : `${b.length} bytes [${toHex(b.subarray(0, 16))} …]`;
}

/**
 * Splits a fresh copy of `bytes` at the given cut points (taken modulo
 * length + 1, so any integers will do). Empty chunks are kept: feeding one
 * must be harmless too.
 */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const copy = bytes.slice();
  const points = cuts.map((c) => c % (copy.length + 1)).sort((x, y) => x - y);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const p of points) {
    chunks.push(copy.subarray(at, p));
    at = p;
  }
  chunks.push(copy.subarray(at));
  return chunks;
}

const cutsArb = fc.array(fc.nat(), { maxLength: 12 });

/** Payload lengths that exercise the 7-bit / 16-bit / 64-bit length forms and their edges. */
const BOUNDARY_LENGTHS = [0, 1, 125, 126, 127, 65535, 65536, 70000];

// ------------------------------------------------------------- frame codec

interface FrameSpec {
  fin: boolean;
  opcode: number;
  length: number;
  seed: number;
  mask: Uint8Array | undefined;
}

const maskArb = fc.option(fc.uint8Array({ minLength: 4, maxLength: 4 }), { nil: undefined });

const controlSpecArb: fc.Arbitrary<FrameSpec> = fc.record({
  fin: fc.constant(true),
  opcode: fc.constantFrom(Opcode.Close, Opcode.Ping, Opcode.Pong),
  length: fc.oneof(
    fc.constantFrom(0, 1, 124, MAX_CONTROL_PAYLOAD),
    fc.integer({ min: 0, max: MAX_CONTROL_PAYLOAD }),
  ),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  mask: maskArb,
});

const dataSpecArb: fc.Arbitrary<FrameSpec> = fc.record({
  fin: fc.boolean(),
  opcode: fc.constantFrom(Opcode.Continuation, Opcode.Text, Opcode.Binary),
  length: fc.oneof(
    { arbitrary: fc.constantFrom(...BOUNDARY_LENGTHS), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: 300 }), weight: 3 },
    { arbitrary: fc.integer({ min: 0, max: 70000 }), weight: 1 },
  ),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  mask: maskArb,
});

function buildFrame(spec: FrameSpec): Frame {
  return {
    fin: spec.fin,
    rsv: 0,
    opcode: spec.opcode,
    payload: pseudoRandomBytes(spec.length, spec.seed),
  };
}

/** Parses `chunks` in order with one parser; asserts no error and that nothing is left over. */
function parseChunks(chunks: Uint8Array[], mask: MaskPolicy): Frame[] {
  const parser = new FrameParser({ mask });
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    const r = parser.parse(chunk);
    assert.equal(r.error, undefined, `unexpected parse error: ${r.error}`);
    frames.push(...r.frames);
  }
  assert.ok(parser.idle, "parser holds a partial frame after a complete stream");
  assert.equal(parser.buffered, 0);
  return frames;
}

function assertSameFrames(actual: Frame[], expected: Frame[]): void {
  assert.equal(actual.length, expected.length, "frame count");
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    assert.deepEqual([a.fin, a.rsv, a.opcode], [e.fin, e.rsv, e.opcode], `header of frame ${i}`);
    assert.ok(
      equalBytes(a.payload, e.payload),
      `payload of frame ${i}: ${describeBytes(a.payload)} ≠ ${describeBytes(e.payload)}`,
    );
  }
}

describe("property: encodeFrame ∘ FrameParser", () => {
  it("any sequence of valid frames, masked or not, split anywhere, decodes to the same frames", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(controlSpecArb, dataSpecArb), { minLength: 1, maxLength: 6 }),
        cutsArb,
        (specs, cuts) => {
          const frames = specs.map(buildFrame);
          const encoded = frames.map((f, i) => encodeFrame(f, { mask: specs[i].mask }));
          const wire = concat(encoded);

          // decode(encode(f)) = f, whole and in arbitrary chunks.
          assertSameFrames(parseChunks([wire.slice()], "any"), frames);
          const decoded = parseChunks(split(wire, cuts), "any");
          assertSameFrames(decoded, frames);

          // encode(decode(b)) = b: re-encoding with the same key gives the same bytes
          // (lengths use their shortest form, so the encoding is canonical).
          for (let i = 0; i < decoded.length; i++) {
            const again = encodeFrame(decoded[i], { mask: specs[i].mask });
            assert.ok(equalBytes(again, encoded[i]), `re-encoding frame ${i}`);
          }

          // The strict policies accept a stream whose frames all follow them.
          if (specs.every((s) => s.mask !== undefined)) {
            assertSameFrames(
              parseChunks(split(wire, cuts), "required"),
              frames,
            );
          }
          if (specs.every((s) => s.mask === undefined)) {
            assertSameFrames(
              parseChunks(split(wire, cuts), "forbidden"),
              frames,
            );
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("the header is as long as the length form requires (7, 16 or 64 bits)", () => {
    fc.assert(
      fc.property(dataSpecArb, (spec) => {
        const bytes = encodeFrame(buildFrame(spec), { mask: spec.mask });
        const n = spec.length;
        const expected = (n < 126 ? 2 : n < 65536 ? 4 : 10) + (spec.mask ? 4 : 0);
        assert.equal(bytes.length, expected + n);
        assert.equal((bytes[1] & 0x80) !== 0, spec.mask !== undefined, "MASK bit");
        assert.equal(bytes[1] & 0x7f, n < 126 ? n : n < 65536 ? 126 : 127, "7-bit length field");
      }),
      { numRuns: 300 },
    );
  });
});

// -------------------------------------------------------------- connection

/** One step of what the sending side does. */
type Op =
  | { kind: "ping"; payload: Uint8Array }
  | {
    kind: "message";
    type: "text" | "binary";
    /** The text, for text messages. */
    text: string;
    /** Bytes of a binary message: length and seed of pseudo-random data. */
    length: number;
    seed: number;
    /** Streamed with sendFragment, cut at these points, with optional pings between fragments. */
    stream: { cuts: number[]; pings: Array<Uint8Array | undefined> } | undefined;
  };

const textArb = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 100, size: "max" }),
  fc.string({ unit: "grapheme", maxLength: 40 }),
  fc.string({ maxLength: 3000, size: "max" }),
);

const streamArb = fc.option(
  fc.record({
    cuts: fc.array(fc.nat(), { maxLength: 5 }),
    pings: fc.array(
      fc.option(fc.uint8Array({ maxLength: MAX_CONTROL_PAYLOAD, size: "max" }), { nil: undefined }),
      { maxLength: 6 },
    ),
  }),
  { nil: undefined },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant("ping" as const),
      payload: fc.uint8Array({ maxLength: MAX_CONTROL_PAYLOAD, size: "max" }),
    }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant("message" as const),
      type: fc.constantFrom("text" as const, "binary" as const),
      text: textArb,
      length: fc.oneof(
        { arbitrary: fc.integer({ min: 0, max: 300 }), weight: 4 },
        { arbitrary: fc.integer({ min: 0, max: 5000 }), weight: 2 },
        { arbitrary: fc.constantFrom(125, 126, 65535, 65536, 70000), weight: 1 },
      ),
      seed: fc.integer({ min: 1, max: 0x7fffffff }),
      stream: streamArb,
    }),
    weight: 3,
  },
);

/** Outgoing fragment sizes: tiny (many frames), ordinary, or one frame per message. */
const fragmentSizeArb = fc.oneof(
  fc.integer({ min: 1, max: 8 }),
  fc.integer({ min: 9, max: 5000 }),
  fc.constant(Infinity),
);

const closeArb = fc.option(
  fc.record({
    code: fc.oneof(fc.constant(1000), fc.integer({ min: 3000, max: 4999 })),
    reason: fc.string({ unit: "binary", maxLength: 30, size: "max" }), // ≤ 120 bytes of UTF-8
  }),
  { nil: undefined },
);

interface Expected {
  events: ConnectionEvent[];
  pings: Uint8Array[];
}

function messageBytes(op: Extract<Op, { kind: "message" }>, fragmentSize: number): Uint8Array {
  if (op.type === "text") return utf8(op.text);
  // Keep the frame count bounded: with 1-byte fragments a 70000-byte message
  // is 70000 frames, which is slow on every runtime and proves nothing more.
  const length = fragmentSize <= 8 ? op.length % 2001 : op.length;
  return pseudoRandomBytes(length, op.seed);
}

/** Drives `sender` through `ops` and returns what the peer must see. */
function perform(sender: Connection, ops: Op[], fragmentSize: number): Expected {
  const events: ConnectionEvent[] = [];
  const pings: Uint8Array[] = [];
  const ping = (payload: Uint8Array) => {
    sender.ping(payload);
    pings.push(payload);
    events.push({ type: "ping", data: payload });
  };
  for (const op of ops) {
    if (op.kind === "ping") {
      ping(op.payload);
      continue;
    }
    const bytes = messageBytes(op, fragmentSize);
    if (op.stream === undefined) {
      sender.send(op.type === "text" ? op.text : bytes);
    } else {
      // Fragments may split a UTF-8 sequence: only the whole message must be valid.
      const pieces = split(bytes, op.stream.cuts);
      pieces.forEach((piece, i) => {
        const last = i === pieces.length - 1;
        sender.sendFragment(op.type, piece, last);
        const between = op.stream!.pings[i];
        if (!last && between !== undefined) ping(between);
      });
    }
    events.push(
      op.type === "text" ? { type: "text", data: op.text } : { type: "binary", data: bytes },
    );
  }
  return { events, pings };
}

function assertSameEvents(actual: ConnectionEvent[], expected: ConnectionEvent[]): void {
  assert.deepEqual(actual.map((e) => e.type), expected.map((e) => e.type), "event types");
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (e.type === "text") {
      assert.equal((a as { data: string }).data, e.data, `text of event ${i}`);
    } else if (e.type === "binary" || e.type === "ping" || e.type === "pong") {
      const data = (a as { data: Uint8Array }).data;
      assert.ok(data instanceof Uint8Array);
      assert.ok(
        equalBytes(data, e.data),
        `data of ${e.type} event ${i}: ${describeBytes(data)} ≠ ${describeBytes(e.data)}`,
      );
    } else {
      assert.deepEqual(a, e, `event ${i}`);
    }
  }
}

function feed(conn: Connection, wire: Uint8Array, cuts: number[]): ConnectionEvent[] {
  const events: ConnectionEvent[] = [];
  for (const chunk of split(wire, cuts)) events.push(...conn.receive(chunk));
  return events;
}

/** Frames a connection wrote, parsed with the mask rule its peer applies. */
function framesWritten(conn: Connection, wire: Uint8Array): Frame[] {
  return parseChunks([wire.slice()], conn.role === "client" ? "required" : "forbidden");
}

function roundTripProperty(senderRole: Role) {
  const receiverRole: Role = senderRole === "client" ? "server" : "client";
  return fc.property(
    fc.array(opArb, { maxLength: 8 }),
    fragmentSizeArb,
    closeArb,
    cutsArb,
    cutsArb,
    (ops, fragmentSize, close, cuts, backCuts) => {
      const sender = new Connection({ role: senderRole, fragmentSize });
      const receiver = new Connection({ role: receiverRole });
      const expected = perform(sender, ops, fragmentSize);
      if (close) sender.close(close.code, close.reason);
      const wire = concat(sender.takeOutput());

      // The sender masks iff it is a client; messages given to send() are cut
      // at fragmentSize (sendFragment's pieces are the caller's own).
      const sent = framesWritten(sender, wire);
      if (ops.every((op) => op.kind === "ping" || op.stream === undefined)) {
        for (const f of sent) {
          if (!isControl(f.opcode)) {
            assert.ok(f.payload.length <= fragmentSize, "a frame exceeds fragmentSize");
          }
        }
      }

      const events = feed(receiver, wire, cuts);
      const expectedEvents = [...expected.events];
      if (close) {
        expectedEvents.push({
          type: "close",
          code: close.code,
          reason: close.reason,
          wasClean: true,
        });
      }
      assertSameEvents(events, expectedEvents);
      assert.equal(receiver.failure, undefined);
      assert.equal(receiver.bufferedIncoming, 0);

      // The receiver owes a pong per ping, same payload, same order (RFC 6455
      // §5.5.2), then the close frame echoing the code (§5.5.1).
      const back = concat(receiver.takeOutput());
      const written = framesWritten(receiver, back);
      const owed: Frame[] = expected.pings.map((payload) => ({
        fin: true,
        rsv: 0,
        opcode: Opcode.Pong,
        payload,
      }));
      if (close) {
        owed.push({
          fin: true,
          rsv: 0,
          opcode: Opcode.Close,
          payload: new Uint8Array([close.code >> 8, close.code & 0xff]),
        });
      }
      assertSameFrames(written, owed);

      // …and the sender receives them as pongs, then the end of the closing handshake.
      const returned = feed(sender, back, backCuts);
      const expectedBack: ConnectionEvent[] = expected.pings.map((data) => ({
        type: "pong",
        data,
      }));
      if (close) expectedBack.push({ type: "close", code: close.code, reason: "", wasClean: true });
      assertSameEvents(returned, expectedBack);
      assert.equal(sender.state, close ? "closed" : "open");
      assert.equal(receiver.state, close ? "closed" : "open");
    },
  );
}

describe("property: Connection to Connection", () => {
  it("client → server: messages arrive whole and in order in any chunking, each ping owed a pong", () => {
    fc.assert(roundTripProperty("client"), { numRuns: 150 });
  });

  it("server → client: the same, in the other direction", () => {
    fc.assert(roundTripProperty("server"), { numRuns: 150 });
  });
});

// ------------------------------------------------------------------ masking

describe("property: applyMask", () => {
  it("equals a byte-wise XOR for any data, key, alignment and offset, touching nothing else", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 80, size: "max" }),
          fc.uint8Array({ maxLength: 600, size: "max" }),
        ),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 7 }), // bytes before the view in its buffer
        fc.integer({ min: 0, max: 7 }), // bytes after it
        fc.oneof(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 2 ** 40 })),
        (data, key, before, after, offset) => {
          const backing = pseudoRandomBytes(before + data.length + after, data.length + 1);
          backing.set(data, before);
          const original = backing.slice();
          const view = backing.subarray(before, before + data.length);
          applyMask(view, key, offset);
          const expected = data.map((b, i) => b ^ key[(offset % 4 + i) % 4]);
          assert.ok(
            equalBytes(view, expected),
            `masked bytes differ (offset ${offset}, start ${before})`,
          );
          assert.ok(
            equalBytes(backing.subarray(0, before), original.subarray(0, before)),
            "bytes before the view changed",
          );
          assert.ok(
            equalBytes(
              backing.subarray(before + data.length),
              original.subarray(before + data.length),
            ),
            "bytes after the view changed",
          );
          applyMask(view, key, offset);
          assert.ok(equalBytes(view, data), "masking twice is not the identity");
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("masking a payload in arbitrary pieces equals masking it whole", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3000 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        cutsArb,
        (length, key, cuts) => {
          const data = pseudoRandomBytes(length, length + 3);
          const whole = data.slice();
          applyMask(whole, key);
          const pieces = data.slice();
          let at = 0;
          for (const piece of split(pieces, cuts)) {
            // split() copies, so mask the matching range of `pieces` itself.
            applyMask(pieces.subarray(at, at + piece.length), key, at);
            at += piece.length;
          }
          assert.ok(equalBytes(pieces, whole));
        },
      ),
      { numRuns: 300 },
    );
  });
});

// -------------------------------------------------------------------- UTF-8

const reference = new TextDecoder("utf-8", { fatal: true });

function referenceAccepts(bytes: Uint8Array): boolean {
  try {
    reference.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

function validatorAccepts(pieces: Uint8Array[]): boolean {
  const v = new Utf8Validator();
  for (const p of pieces) if (!v.push(p)) return false;
  return v.complete;
}

/** Bytes at the edges of the UTF-8 tables (Unicode Table 3-7). */
const EDGE_BYTES = [
  0x00,
  0x41,
  0x7f,
  0x80,
  0x8f,
  0x90,
  0x9f,
  0xa0,
  0xbf,
  0xc0,
  0xc1,
  0xc2,
  0xdf,
  0xe0,
  0xe1,
  0xec,
  0xed,
  0xee,
  0xef,
  0xf0,
  0xf1,
  0xf3,
  0xf4,
  0xf5,
  0xf7,
  0xf8,
  0xfe,
  0xff,
];

/** Valid UTF-8 with one random edit (or none), so the bytes are near-valid. */
const nearValidArb = fc
  .tuple(
    fc.oneof(
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.string({ unit: "binary", maxLength: 200, size: "max" }),
    ),
    fc.constantFrom("none", "replace", "insert", "delete", "truncate"),
    fc.nat(),
    fc.oneof(fc.constantFrom(...EDGE_BYTES), fc.integer({ min: 0, max: 255 })),
  )
  .map(([text, edit, where, byte]) => {
    const b = Array.from(utf8(text));
    const at = where % (b.length + 1);
    if (edit === "replace" && b.length > 0) b[at % b.length] = byte;
    if (edit === "insert") b.splice(at, 0, byte);
    if (edit === "delete") b.splice(at, 1);
    if (edit === "truncate") b.length = at;
    return new Uint8Array(b);
  });

const utf8BytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 24 }),
  fc.array(fc.constantFrom(...EDGE_BYTES), { maxLength: 12 }).map((a) => new Uint8Array(a)),
  nearValidArb,
);

describe("property: Utf8Validator agrees with TextDecoder (fatal)", () => {
  it("on arbitrary bytes, whole and split at arbitrary points", () => {
    fc.assert(
      fc.property(utf8BytesArb, cutsArb, (bytes, cuts) => {
        const expected = referenceAccepts(bytes);
        assert.equal(validatorAccepts([bytes]), expected, `whole ${describeBytes(bytes)}`);
        assert.equal(isValidUtf8(bytes), expected);
        assert.equal(
          validatorAccepts(split(bytes, cuts)),
          expected,
          `split ${describeBytes(bytes)} at ${cuts}`,
        );
        // One byte at a time is the hardest split.
        assert.equal(
          validatorAccepts(Array.from(bytes, (b) => new Uint8Array([b]))),
          expected,
          `bytewise ${describeBytes(bytes)}`,
        );
      }),
      { numRuns: 5000 },
    );
  });

  it("accepts any string's encoding split at arbitrary points, and it decodes back", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: "binary", maxLength: 300, size: "max" }),
          fc.string({ unit: "grapheme", maxLength: 60, size: "max" }),
        ),
        cutsArb,
        (text, cuts) => {
          const bytes = utf8(text);
          assert.ok(referenceAccepts(bytes));
          assert.ok(
            validatorAccepts(split(bytes, cuts)),
            `rejected ${describeBytes(bytes)} split at ${cuts}`,
          );
          assert.equal(decodeValidatedUtf8(bytes), text);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("a validator that rejected can be reset and reused", () => {
    fc.assert(
      fc.property(utf8BytesArb, fc.string({ unit: "binary", maxLength: 20 }), (bad, text) => {
        const v = new Utf8Validator();
        v.push(bad);
        v.reset();
        assert.ok(v.push(utf8(text)) && v.complete);
      }),
      { numRuns: 300 },
    );
  });
});
