/**
 * A bounded, repeatable fuzz of the Connection's receive path.
 *
 * Frame streams of the kind a peer sends (valid, or breaking one rule on
 * purpose) are mutated — bit flips, byte edits, truncation, insertion,
 * deletion, duplication, splices from other streams, tampered length
 * fields and first bytes — then fed to a server and a client Connection in
 * random chunkings. Seeds are fixed and each runs exactly CASES_PER_SEED
 * cases, so every run on every machine and runtime checks the same cases,
 * however fast it is (no time budget decides how many). A failure names the
 * seed, the case and the input bytes. For a deeper run, set
 * SPRIG_FUZZ_CASES_PER_SEED (cases 0 … n − 1 of each seed are the same
 * whatever n is).
 *
 * What must hold, whatever the bytes (RFC 6455 §5–§7 and the Connection's
 * contract):
 * - nothing escapes receive() or receiveEof(); violations come as events;
 * - at most one `error` and one `close`; `close` is the last event, and
 *   nothing is emitted after it;
 * - an `error` is a SprigError with close code 1002, 1007 or 1009 (no
 *   extension is negotiated, so nothing here is an internal error, 1011);
 *   the close event and the close frame written carry that code;
 * - a pong is written for each ping delivered, with the same payload;
 * - memory held for incomplete frames and messages stays within
 *   maxFrameBytes + maxMessageBytes, and a claimed huge length fails at the
 *   header, before any payload is buffered;
 * - unmutated streams give exactly the events a model predicts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Connection, type ConnectionEvent, type Role } from "../../lib/protocol/connection.ts";
import { type Frame, Opcode } from "../../lib/protocol/frame.ts";
import { FrameParser } from "../../lib/protocol/frame_parser.ts";
import { CloseCode, MessageTooBigError, SprigError } from "../../lib/errors.ts";
import { concat, hex, toHex, utf8 } from "../_helpers/bytes.ts";

const LIMITS = { maxFrameBytes: 16 * 1024, maxMessageBytes: 64 * 1024, maxFragments: 256 };
const BUFFER_BOUND = LIMITS.maxFrameBytes + LIMITS.maxMessageBytes;
const ALLOWED_CLOSE_CODES: readonly number[] = [
  CloseCode.ProtocolError,
  CloseCode.InvalidData,
  CloseCode.TooBig,
];

const SEEDS = [
  0x5eed0001,
  0x5eed0002,
  0x5eed0003,
  0x5eed0004,
  0x5eed0005,
  0x5eed0006,
  0x5eed0007,
  0x5eed0008,
];
/** 64 × 8 seeds = 512 cases per role: about 1–2 s on a busy 2-core machine. */
const CASES_PER_SEED = casesPerSeed(64);

function casesPerSeed(fallback: number): number {
  const given = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process
    ?.env?.SPRIG_FUZZ_CASES_PER_SEED;
  const n = Number(given);
  return given !== undefined && Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

// --------------------------------------------------------------- randomness

/** mulberry32: small, fast, and the same on every runtime. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  u32(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.u32() % n;
  }
  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
  /** A size that is usually small and sometimes large. */
  size(): number {
    const r = this.int(100);
    if (r < 70) return this.int(40);
    if (r < 90) return this.range(40, 300);
    if (r < 98) return this.range(300, 6000);
    return this.range(6000, 20000);
  }
}

// ------------------------------------------------------------ frame streams

/** A frame as it goes on the wire, kept in parts so its header can be tampered with. */
interface WireFrame {
  b0: number;
  key: Uint8Array | undefined;
  /** The payload as sent (masked when `key` is set). */
  wirePayload: Uint8Array;
}

function header(
  b0: number,
  key: Uint8Array | undefined,
  length: bigint,
  form: "min" | "16" | "64",
): Uint8Array {
  const maskBit = key ? 0x80 : 0;
  const use = form === "min" ? (length < 126n ? "7" : length < 65536n ? "16" : "64") : form;
  const out: number[] = [b0];
  if (use === "7") {
    out.push(maskBit | Number(length));
  } else if (use === "16") {
    out.push(maskBit | 126, Number((length >> 8n) & 0xffn), Number(length & 0xffn));
  } else {
    out.push(maskBit | 127);
    for (let shift = 56n; shift >= 0n; shift -= 8n) out.push(Number((length >> shift) & 0xffn));
  }
  if (key) out.push(...key);
  return new Uint8Array(out);
}

function wireBytes(f: WireFrame, claimed?: bigint, form: "min" | "16" | "64" = "min"): Uint8Array {
  return concat([
    header(f.b0, f.key, claimed ?? BigInt(f.wirePayload.length), form),
    f.wirePayload,
  ]);
}

function mask(payload: Uint8Array, key: Uint8Array | undefined): Uint8Array {
  if (!key) return payload.slice();
  return payload.map((b, i) => b ^ key[i & 3]);
}

/** What a model of RFC 6455 says the receiver reports for a stream. */
interface Model {
  events: ConnectionEvent[];
  /** The close code of the violation that ends the stream, if any. */
  violation?: number;
  /** The peer's close frame that ends the stream, if any. */
  close?: { code: number; reason: string };
}

class StreamBuilder {
  readonly frames: WireFrame[] = [];
  readonly model: Model = { events: [] };
  readonly #rng: Rng;
  /** Frames from a client are masked (the receiver is a server), and the reverse. */
  readonly #masked: boolean;

  constructor(rng: Rng, receiver: Role) {
    this.#rng = rng;
    this.#masked = receiver === "server";
  }

  get #ended(): boolean {
    return this.model.violation !== undefined || this.model.close !== undefined;
  }

  #expect(event: ConnectionEvent): void {
    if (!this.#ended) this.model.events.push(event);
  }

  #violate(code: number): void {
    if (!this.#ended) this.model.violation = code;
  }

  frame(
    fin: boolean,
    opcode: number,
    payload: Uint8Array,
    options: { rsv?: number; masked?: boolean } = {},
  ): void {
    const masked = options.masked ?? this.#masked;
    const key = masked ? this.#rng.bytes(4) : undefined;
    const b0 = (fin ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
    this.frames.push({ b0, key, wirePayload: mask(payload, key) });
  }

  ping(): void {
    const data = this.#rng.bytes(this.#rng.chance(0.2) ? 125 : this.#rng.int(20));
    const opcode = this.#rng.chance(0.7) ? Opcode.Ping : Opcode.Pong;
    this.frame(true, opcode, data);
    this.#expect({ type: opcode === Opcode.Ping ? "ping" : "pong", data });
  }

  /** A data message, whole or in fragments with control frames between them. */
  message(): void {
    const rng = this.#rng;
    const text = rng.chance(0.5);
    let payload: Uint8Array;
    if (text) {
      const pieces = ["Hello", "κόσμε", "€𝄞", "", "\uFEFF", "sprig ", "\u0000", "\u{10FFFF}"];
      let s = "";
      const n = rng.int(6);
      for (let i = 0; i < n; i++) {
        s += rng.chance(0.5)
          ? rng.pick(pieces)
          : String.fromCharCode(...rng.bytes(rng.size() % 64).map((b) => b & 0x7f));
      }
      payload = utf8(s);
      if (rng.chance(0.1)) {
        // Invalid UTF-8: a surrogate, a stray byte, an overlong form, or a code point cut short at the end.
        const bad = rng.pick([
          hex("ed a0 80"),
          hex("ff"),
          hex("c0 af"),
          hex("80"),
          hex("f4 90 80 80"),
        ]);
        payload = rng.chance(0.3)
          ? concat([payload, hex("e2 82")])
          : concat([payload, bad, utf8("tail")]);
      }
    } else {
      payload = rng.bytes(rng.size());
    }
    const fragments = rng.chance(0.4) ? rng.range(2, 6) : 1;
    const cuts = Array.from({ length: fragments - 1 }, () => rng.int(payload.length + 1)).sort((
      a,
      b,
    ) => a - b);
    const bounds = [0, ...cuts, payload.length];
    // The model fails where the receiver must: at the header of a frame over
    // maxFrameBytes, or at the fragment holding the first byte that cannot
    // continue valid UTF-8 (a streaming fatal TextDecoder finds the same
    // place), or at the end for a code point left open. Control frames after
    // that point are never delivered.
    const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    let decoded = "";
    let failed = false;
    for (let i = 0; i < fragments; i++) {
      const last = i === fragments - 1;
      const part = payload.subarray(bounds[i], bounds[i + 1]);
      this.frame(last, i === 0 ? (text ? Opcode.Text : Opcode.Binary) : Opcode.Continuation, part);
      if (!failed && part.length > LIMITS.maxFrameBytes) {
        this.#violate(CloseCode.TooBig);
        failed = true;
      } else if (!failed && text) {
        try {
          decoded += decoder.decode(part, { stream: !last });
        } catch {
          this.#violate(CloseCode.InvalidData);
          failed = true;
        }
      }
      if (!last && rng.chance(0.3)) this.ping();
    }
    if (!failed) {
      this.#expect(text ? { type: "text", data: decoded } : { type: "binary", data: payload });
    }
  }

  close(): void {
    const rng = this.#rng;
    const r = rng.int(10);
    if (r < 5) {
      const code = rng.pick([
        1000,
        1001,
        1002,
        1003,
        1007,
        1008,
        1009,
        1010,
        1011,
        1012,
        1013,
        1014,
        3000,
        4999,
      ]);
      const reason = rng.pick(["", "bye", "κόσμε", "x".repeat(123)]);
      this.frame(
        true,
        Opcode.Close,
        concat([new Uint8Array([code >> 8, code & 0xff]), utf8(reason)]),
      );
      this.#end({ code, reason });
    } else if (r < 6) {
      this.frame(true, Opcode.Close, new Uint8Array(0));
      this.#end({ code: CloseCode.NoStatus, reason: "" });
    } else if (r < 7) {
      this.frame(true, Opcode.Close, hex("03"));
      this.#violate(CloseCode.ProtocolError);
    } else if (r < 8) {
      const code = rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]);
      this.frame(true, Opcode.Close, new Uint8Array([code >> 8, code & 0xff]));
      this.#violate(CloseCode.ProtocolError);
    } else if (r < 9) {
      this.frame(true, Opcode.Close, hex("03 e8 ce ba ed a0 80"));
      this.#violate(CloseCode.InvalidData);
    } else {
      this.frame(true, Opcode.Close, hex("03 e8 e2 82"));
      this.#violate(CloseCode.InvalidData);
    }
  }

  #end(close: { code: number; reason: string }): void {
    if (this.#ended) return;
    this.model.close = close;
  }

  /** A frame or sequence that breaks one rule. */
  violation(): void {
    const rng = this.#rng;
    switch (rng.int(11)) {
      case 0:
        this.frame(true, Opcode.Continuation, rng.bytes(3));
        return this.#violate(CloseCode.ProtocolError);
      case 1:
        this.frame(true, rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), rng.bytes(rng.int(4)));
        return this.#violate(CloseCode.ProtocolError);
      case 2:
        this.frame(true, Opcode.Binary, rng.bytes(2), { rsv: rng.range(1, 7) });
        return this.#violate(CloseCode.ProtocolError);
      case 3:
        this.frame(false, rng.pick([Opcode.Ping, Opcode.Pong, Opcode.Close]), rng.bytes(2));
        return this.#violate(CloseCode.ProtocolError);
      case 4:
        this.frame(
          true,
          rng.pick([Opcode.Ping, Opcode.Pong, Opcode.Close]),
          rng.bytes(rng.range(126, 300)),
        );
        return this.#violate(CloseCode.ProtocolError);
      case 5:
        this.frame(true, Opcode.Text, utf8("x"), { masked: !this.#masked });
        return this.#violate(CloseCode.ProtocolError);
      case 6:
        this.frame(false, Opcode.Binary, rng.bytes(2));
        this.frame(true, Opcode.Text, utf8("y"));
        return this.#violate(CloseCode.ProtocolError);
      case 7:
        this.frame(true, Opcode.Binary, rng.bytes(LIMITS.maxFrameBytes + 1));
        return this.#violate(CloseCode.TooBig);
      case 8: {
        const n = Math.ceil(LIMITS.maxMessageBytes / LIMITS.maxFrameBytes) + 1;
        for (let i = 0; i < n; i++) {
          this.frame(
            i === n - 1,
            i === 0 ? Opcode.Binary : Opcode.Continuation,
            rng.bytes(LIMITS.maxFrameBytes),
          );
        }
        return this.#violate(CloseCode.TooBig);
      }
      case 9: {
        const n = LIMITS.maxFragments + 1;
        for (let i = 0; i < n; i++) {
          this.frame(i === n - 1, i === 0 ? Opcode.Binary : Opcode.Continuation, new Uint8Array(0));
        }
        return this.#violate(CloseCode.TooBig);
      }
      default:
        this.frame(true, Opcode.Ping, rng.bytes(2), { rsv: rng.range(1, 7) });
        return this.#violate(CloseCode.ProtocolError);
    }
  }
}

function generate(rng: Rng, receiver: Role): StreamBuilder {
  const b = new StreamBuilder(rng, receiver);
  const units = rng.range(0, 8);
  for (let i = 0; i < units; i++) {
    const r = rng.int(100);
    if (r < 55) b.message();
    else if (r < 75) b.ping();
    else if (r < 87) b.close();
    else b.violation();
  }
  return b;
}

// ---------------------------------------------------------------- mutations

const TAMPERED_LENGTHS = [
  0n,
  1n,
  125n,
  126n,
  127n,
  65535n,
  65536n,
  BigInt(LIMITS.maxFrameBytes),
  BigInt(LIMITS.maxFrameBytes + 1),
  2n ** 31n,
  2n ** 32n,
  2n ** 53n - 1n,
  2n ** 53n,
  2n ** 62n,
  2n ** 63n,
  2n ** 64n - 1n,
];

/** Header-level tampering on one frame: its length field, first byte or MASK bit. */
function tamperFrame(rng: Rng, frames: WireFrame[]): Uint8Array[] {
  const out = frames.map((f) => wireBytes(f));
  if (frames.length === 0) return out;
  const i = rng.int(frames.length);
  const f = frames[i];
  switch (rng.int(3)) {
    case 0: {
      const claimed = rng.chance(0.6)
        ? rng.pick(TAMPERED_LENGTHS)
        : BigInt(Math.max(0, f.wirePayload.length + rng.range(-3, 3)));
      const form = claimed >= 65536n
        ? "64"
        : rng.pick(["min", "64", claimed < 65536n ? "16" : "64"] as const);
      out[i] = wireBytes(f, claimed, form);
      break;
    }
    case 1:
      out[i] = wireBytes({ ...f, b0: rng.u32() & 0xff });
      break;
    default: {
      // Flip MASK without adding or removing the key: the rest desynchronises.
      const bytes = wireBytes(f);
      bytes[1] ^= 0x80;
      out[i] = bytes;
    }
  }
  return out;
}

/** Byte-level mutations of a whole stream. */
function mutateBytes(rng: Rng, input: Uint8Array, donor: Uint8Array): Uint8Array {
  let b = input;
  const edits = rng.range(1, 3);
  for (let e = 0; e < edits; e++) {
    const n = b.length;
    switch (rng.int(7)) {
      case 0: { // bit flips
        b = b.slice();
        for (let k = rng.range(1, 8); k > 0 && n > 0; k--) b[rng.int(n)] ^= 1 << rng.int(8);
        break;
      }
      case 1: { // bytes set to edge values
        b = b.slice();
        for (let k = rng.range(1, 4); k > 0 && n > 0; k--) {
          b[rng.int(n)] = rng.pick([0x00, 0x7e, 0x7f, 0x80, 0x81, 0x88, 0x89, 0xfe, 0xff]);
        }
        break;
      }
      case 2: // truncate
        b = b.subarray(0, rng.int(n + 1));
        break;
      case 3: { // insert random bytes
        const at = rng.int(n + 1);
        b = concat([b.subarray(0, at), rng.bytes(rng.range(1, 16)), b.subarray(at)]);
        break;
      }
      case 4: { // delete a range
        const at = rng.int(n + 1);
        b = concat([b.subarray(0, at), b.subarray(Math.min(n, at + rng.range(1, 32)))]);
        break;
      }
      case 5: { // duplicate a range elsewhere
        const from = rng.int(n + 1);
        const seg = b.subarray(from, Math.min(n, from + rng.range(1, 64)));
        const at = rng.int(n + 1);
        b = concat([b.subarray(0, at), seg, b.subarray(at)]);
        break;
      }
      default: { // splice in part of another stream (possibly of the other role)
        const at = rng.int(n + 1);
        const from = rng.int(donor.length + 1);
        const seg = donor.subarray(from, Math.min(donor.length, from + rng.range(1, 200)));
        b = concat([b.subarray(0, at), seg, b.subarray(Math.min(n, at + rng.int(8)))]);
      }
    }
  }
  return b;
}

function chunk(rng: Rng, bytes: Uint8Array): Uint8Array[] {
  const copy = bytes.slice();
  const mode = rng.int(10);
  if (mode === 0) return [copy];
  if (mode === 1 && copy.length <= 4000) return Array.from(copy, (_, i) => copy.subarray(i, i + 1));
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < copy.length;) {
    const size = rng.chance(0.5) ? rng.range(1, 8) : rng.range(1, Math.max(1, copy.length >> 1));
    chunks.push(copy.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

// ---------------------------------------------------------------- checking

interface Case {
  seed: number;
  index: number;
  role: Role;
  kind: string;
  chunks: Uint8Array[];
  eof: boolean;
  model?: Model;
}

function describeCase(c: Case): string {
  const all = concat(c.chunks);
  const shown = all.length <= 200
    ? toHex(all)
    : `${toHex(all.subarray(0, 200))} … (${all.length} bytes)`;
  return `seed 0x${
    c.seed.toString(16)
  } case ${c.index} (${c.role}, ${c.kind}, ${c.chunks.length} chunks of ${
    c.chunks.slice(0, 12).map((x) => x.length).join(",")
  }${c.chunks.length > 12 ? ",…" : ""}, eof ${c.eof}): ${shown}`;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function closeCodeOf(frame: Frame): number {
  return frame.payload.length === 0
    ? CloseCode.NoStatus
    : (frame.payload[0] << 8) | frame.payload[1];
}

/** Runs one case and checks every invariant; throws an AssertionError naming the case. */
function runCase(c: Case): void {
  const where = () => describeCase(c);
  const conn = new Connection({ role: c.role, ...LIMITS });
  const events: ConnectionEvent[] = [];
  const output: Uint8Array[] = [];
  let closedAt = -1;
  const take = (batch: ConnectionEvent[], what: string) => {
    if (closedAt !== -1 && batch.length > 0) {
      assert.fail(`${what} emitted [${batch.map((e) => e.type)}] after close: ${where()}`);
    }
    for (const e of batch) {
      events.push(e);
      if (e.type === "close") closedAt = events.length - 1;
    }
    output.push(...conn.takeOutput());
    assert.ok(
      conn.bufferedIncoming <= BUFFER_BOUND,
      `bufferedIncoming ${conn.bufferedIncoming} > ${BUFFER_BOUND}: ${where()}`,
    );
  };

  for (const [i, bytes] of c.chunks.entries()) {
    let batch: ConnectionEvent[];
    try {
      batch = conn.receive(bytes);
    } catch (error) {
      assert.fail(`receive() threw ${error} on chunk ${i}: ${where()}`);
    }
    take(batch, `receive() of chunk ${i}`);
  }
  if (c.eof) {
    let batch: ConnectionEvent[];
    try {
      batch = conn.receiveEof();
    } catch (error) {
      assert.fail(`receiveEof() threw ${error}: ${where()}`);
    }
    take(batch, "receiveEof()");
  }

  // Once closed, nothing more comes out, whatever goes in.
  if (closedAt !== -1) {
    assert.deepEqual(
      conn.receive(hex("81 85 37 fa 21 3d 7f 9f 4d 51 58 83 00")),
      [],
      `receive after close: ${where()}`,
    );
    assert.deepEqual(conn.receiveEof(), [], `receiveEof after close: ${where()}`);
    assert.equal(conn.outputBytes, 0, `output after close: ${where()}`);
    assert.equal(conn.state, "closed");
  }

  // At most one close, last; at most one error, right before it.
  const types = events.map((e) => e.type);
  const closes = types.filter((t) => t === "close").length;
  const errors = types.filter((t) => t === "error").length;
  assert.ok(closes <= 1, `${closes} close events: ${where()}`);
  if (closes === 1) {
    assert.equal(types[types.length - 1], "close", `close is not last [${types}]: ${where()}`);
  }
  assert.ok(errors <= 1, `${errors} error events: ${where()}`);
  if (c.eof) assert.equal(closes, 1, `no close after EOF: ${where()}`);

  // The bytes written: valid frames, in the mask direction of this role.
  const parser = new FrameParser({ mask: c.role === "client" ? "required" : "forbidden" });
  const written = parser.parse(concat(output));
  assert.equal(written.error, undefined, `output does not parse: ${written.error}: ${where()}`);
  assert.ok(parser.idle, `output ends inside a frame: ${where()}`);
  const pongs = written.frames.filter((f) => f.opcode === Opcode.Pong);
  const closeFrames = written.frames.filter((f) => f.opcode === Opcode.Close);
  assert.ok(
    written.frames.every((f) => f.opcode === Opcode.Pong || f.opcode === Opcode.Close),
    `unexpected frame written: ${where()}`,
  );
  assert.ok(closeFrames.length <= 1, `${closeFrames.length} close frames written: ${where()}`);
  if (closeFrames.length === 1) {
    assert.equal(
      written.frames[written.frames.length - 1].opcode,
      Opcode.Close,
      `a frame after our close frame: ${where()}`,
    );
  }

  // RFC 6455 §5.5.2: a pong per ping, same payload, in order.
  const pings = events.filter((e): e is { type: "ping"; data: Uint8Array } => e.type === "ping");
  assert.equal(
    pongs.length,
    pings.length,
    `${pings.length} pings but ${pongs.length} pongs: ${where()}`,
  );
  pings.forEach((p, i) =>
    assert.ok(equalBytes(pongs[i].payload, p.data), `pong ${i} payload: ${where()}`)
  );

  for (const e of events) {
    if (e.type === "ping" || e.type === "pong") assert.ok(e.data.length <= 125);
    if (e.type === "binary") assert.ok(e.data.length <= LIMITS.maxMessageBytes);
    if (e.type === "text") assert.ok(utf8(e.data).length <= LIMITS.maxMessageBytes);
  }

  const close = events[closedAt] as
    | ({ type: "close" } & { code: number; reason: string; wasClean: boolean })
    | undefined;
  if (errors === 1) {
    const errorEvent = events[types.indexOf("error")] as { type: "error"; error: unknown };
    const error = errorEvent.error;
    assert.ok(error instanceof SprigError, `error is not a SprigError: ${error}: ${where()}`);
    assert.ok(
      ALLOWED_CLOSE_CODES.includes(error.closeCode ?? -1),
      `error ${error.code} has close code ${error.closeCode}: ${where()}`,
    );
    assert.equal(
      types.indexOf("error"),
      types.length - 2,
      `error is not followed by close [${types}]: ${where()}`,
    );
    assert.deepEqual(close, {
      type: "close",
      code: error.closeCode,
      reason: error.closeReason,
      wasClean: false,
    }, where());
    assert.equal(conn.failure, error);
    // RFC 6455 §7.1.7: the close frame sent carries the code.
    assert.equal(closeFrames.length, 1, `no close frame after ${error.code}: ${where()}`);
    assert.equal(closeCodeOf(closeFrames[0]), error.closeCode, `close frame code: ${where()}`);
  } else if (close?.wasClean) {
    // The peer closed: echo its code (RFC 6455 §5.5.1).
    assert.equal(conn.failure, undefined);
    assert.equal(closeFrames.length, 1, `no close frame in reply: ${where()}`);
    assert.equal(closeCodeOf(closeFrames[0]), close.code, `echoed close code: ${where()}`);
  } else if (close) {
    // The transport ended first.
    assert.deepEqual(close, {
      type: "close",
      code: CloseCode.Abnormal,
      reason: "",
      wasClean: false,
    }, where());
    assert.equal(closeFrames.length, 0, `close frame written on EOF: ${where()}`);
  } else {
    assert.equal(closeFrames.length, 0);
  }
  if (close) {
    assert.deepEqual(conn.closeResult, {
      code: close.code,
      reason: close.reason,
      wasClean: close.wasClean,
    });
  }

  if (c.model) checkModel(c.model, events, c, where);
}

/** Unmutated streams: exactly the events the model predicts. */
function checkModel(model: Model, events: ConnectionEvent[], c: Case, where: () => string): void {
  const expected: ConnectionEvent[] = [...model.events];
  if (model.violation !== undefined) {
    expected.push({ type: "error", error: undefined as never });
    expected.push({ type: "close", code: model.violation, reason: "", wasClean: false });
  } else if (model.close) {
    expected.push({
      type: "close",
      code: model.close.code,
      reason: model.close.reason,
      wasClean: true,
    });
  } else if (c.eof) {
    expected.push({ type: "close", code: CloseCode.Abnormal, reason: "", wasClean: false });
  }
  assert.deepEqual(
    events.map((e) => e.type),
    expected.map((e) => e.type),
    `event types: ${where()}`,
  );
  for (let i = 0; i < expected.length; i++) {
    const a = events[i];
    const e = expected[i];
    if (e.type === "text") {
      assert.equal((a as { data: string }).data, e.data, `text ${i}: ${where()}`);
    }
    if (e.type === "binary" || e.type === "ping" || e.type === "pong") {
      assert.ok(
        equalBytes((a as { data: Uint8Array }).data, e.data),
        `${e.type} ${i} data: ${where()}`,
      );
    }
    if (e.type === "error") {
      assert.equal(
        (a as { error: SprigError }).error.closeCode,
        model.violation,
        `error code: ${where()}`,
      );
    }
    if (e.type === "close") {
      const ac = a as { code: number; reason: string; wasClean: boolean };
      assert.equal(ac.code, e.code, `close code: ${where()}`);
      assert.equal(ac.wasClean, e.wasClean, `close wasClean: ${where()}`);
      if (e.wasClean) assert.equal(ac.reason, e.reason, `close reason: ${where()}`);
    }
  }
}

function makeCase(rng: Rng, seed: number, index: number, role: Role): Case {
  const other: Role = role === "server" ? "client" : "server";
  const eof = rng.chance(0.7);
  const r = rng.int(100);
  if (r < 20) {
    const b = generate(rng, role);
    return {
      seed,
      index,
      role,
      kind: "valid",
      chunks: chunk(rng, concat(b.frames.map((f) => wireBytes(f)))),
      eof,
      model: b.model,
    };
  }
  if (r < 27) {
    const noise = rng.bytes(rng.size());
    // Often start like a frame so the noise gets past the first header.
    if (noise.length > 1 && rng.chance(0.5)) {
      noise[0] = rng.pick([0x81, 0x82, 0x01, 0x00, 0x80, 0x88, 0x89, 0x8a]);
    }
    return { seed, index, role, kind: "noise", chunks: chunk(rng, noise), eof };
  }
  const b = generate(rng, role);
  const donor = concat(
    generate(rng, rng.chance(0.5) ? role : other).frames.map((f) => wireBytes(f)),
  );
  let bytes: Uint8Array;
  let kind: string;
  if (r < 50) {
    bytes = concat(tamperFrame(rng, b.frames));
    kind = "tampered header";
    if (rng.chance(0.3)) bytes = mutateBytes(rng, bytes, donor);
  } else {
    bytes = mutateBytes(rng, concat(b.frames.map((f) => wireBytes(f))), donor);
    kind = "mutated bytes";
  }
  return { seed, index, role, kind, chunks: chunk(rng, bytes), eof };
}

/** Runs CASES_PER_SEED cases of every seed; case k of a seed is the same on every run. */
function fuzz(role: Role): { cases: number } {
  let cases = 0;
  for (const seed of SEEDS) {
    const rng = new Rng(seed ^ (role === "server" ? 0 : 0x7fff));
    for (let index = 0; index < CASES_PER_SEED; index++) {
      runCase(makeCase(rng, seed, index, role));
      cases++;
    }
  }
  return { cases };
}

// -------------------------------------------------------------------- tests

describe("fuzz: Connection.receive never throws and fails cleanly", () => {
  for (const role of ["server", "client"] as const) {
    it(`${role}: mutated and random streams in random chunkings`, () => {
      const { cases } = fuzz(role);
      assert.equal(cases, SEEDS.length * CASES_PER_SEED);
    });
  }
});

describe("fuzz regressions and limits", () => {
  /** A header claiming `length` bytes, masked as a client's would be. */
  function hugeHeader(role: Role, lengthBytes: string): Uint8Array {
    return role === "server"
      ? concat([hex("82 ff"), hex(lengthBytes), hex("37 fa 21 3d")])
      : concat([hex("82 7f"), hex(lengthBytes)]);
  }

  for (const role of ["server", "client"] as const) {
    const cases: Array<[string, string, number]> = [
      ["2^62", "40 00 00 00 00 00 00 00", LIMITS.maxFrameBytes],
      ["2^62", "40 00 00 00 00 00 00 00", Number.MAX_SAFE_INTEGER],
      ["2^53", "00 20 00 00 00 00 00 00", Number.MAX_SAFE_INTEGER],
      ["2^32", "00 00 00 01 00 00 00 00", LIMITS.maxFrameBytes],
      ["maxFrameBytes + 1", "00 00 00 00 00 00 40 01", LIMITS.maxFrameBytes],
    ];
    for (const [name, lengthBytes, maxFrameBytes] of cases) {
      it(`${role}: a claimed ${name}-byte frame fails at its header (maxFrameBytes ${maxFrameBytes}), whole or byte by byte`, () => {
        for (const bytewise of [false, true]) {
          const conn = new Connection({ role, ...LIMITS, maxFrameBytes });
          const head = hugeHeader(role, lengthBytes);
          const events: ConnectionEvent[] = [];
          for (const part of bytewise ? Array.from(head, (b) => new Uint8Array([b])) : [head]) {
            events.push(...conn.receive(part));
            assert.ok(conn.bufferedIncoming <= 14, `buffered ${conn.bufferedIncoming}`);
          }
          assert.deepEqual(events.map((e) => e.type), ["error", "close"]);
          const error = (events[0] as { error: SprigError }).error;
          // A 1009 from the header itself; an attempt to allocate would have
          // surfaced as a RangeError, reported as an internal error (1011).
          assert.ok(error instanceof MessageTooBigError, `got ${error}`);
          assert.equal(error.code, "FRAME_TOO_BIG");
          assert.equal(error.closeCode, 1009);
        }
      });
    }
  }

  it("a failed connection holds nothing: bufferedIncoming is 0 after the error, however the header came", () => {
    for (const bytewise of [false, true]) {
      const conn = new Connection({ role: "client", ...LIMITS });
      const head = hex("82 7f 40 00 00 00 00 00 00 00");
      for (const part of bytewise ? Array.from(head, (b) => new Uint8Array([b])) : [head]) {
        conn.receive(part);
      }
      assert.equal(conn.closeResult?.code, 1009);
      assert.equal(conn.bufferedIncoming, 0, `header fed ${bytewise ? "byte by byte" : "whole"}`);
    }
  });

  it("a frame within maxFrameBytes is buffered as its bytes arrive, not allocated whole from its header", () => {
    // maxFrameBytes may be up to 2^53 − 1 (limits.ts). A legal header that
    // claims 2^40 bytes must not make the receiver allocate 1 TiB up front:
    // that fails with a RangeError (reported as an internal error, 1011),
    // and with smaller claims lets 14 bytes of header pin maxFrameBytes of memory.
    for (const role of ["server", "client"] as const) {
      const conn = new Connection({
        role,
        maxFrameBytes: Number.MAX_SAFE_INTEGER,
        maxMessageBytes: Number.MAX_SAFE_INTEGER,
      });
      const head = hugeHeader(role, "00 00 01 00 00 00 00 00");
      const events = conn.receive(concat([head, new Uint8Array(100)]));
      assert.deepEqual(
        events.map((
          e,
        ) => (e.type === "error" ? `error ${e.error.code} (${e.error.closeCode})` : e.type)),
        [],
        role,
      );
      assert.equal(conn.state, "open");
      assert.equal(conn.bufferedIncoming, 100);
    }
  });

  it("a 64-bit length with its top bit set (2^63) is a protocol error, not a size", () => {
    const conn = new Connection({ role: "client", ...LIMITS });
    const events = conn.receive(hex("82 7f 80 00 00 00 00 00 00 00"));
    assert.equal((events[0] as { error: SprigError }).error.code, "LENGTH_MSB_SET");
    assert.equal(conn.closeResult?.code, 1002);
  });

  it("memory held for a message in 1-byte fragments stays within the limits, then fails with 1009", () => {
    const conn = new Connection({ role: "client", ...LIMITS, maxFragments: 1_000_000 });
    let max = 0;
    let error: SprigError | undefined;
    conn.receive(hex("02 01 00"));
    for (let i = 0; i < LIMITS.maxMessageBytes + 10 && !error; i++) {
      for (const e of conn.receive(hex("00 01 ab"))) if (e.type === "error") error = e.error;
      max = Math.max(max, conn.bufferedIncoming);
    }
    assert.ok(max <= LIMITS.maxMessageBytes, `held ${max}`);
    assert.equal(error?.code, "MESSAGE_TOO_BIG");
    assert.equal(conn.bufferedIncoming, 0);
  });

  // Found by the fuzz above: a close frame and more bytes in the same chunk.
  // RFC 6455 §5.5.1 / §7.1: after the peer's close frame nothing more is
  // processed, and the Connection promises `close` comes once, last.
  for (
    const [name, trailing] of [
      ["a reserved opcode", "83 80 00 00 00 00"],
      ["an unmasked frame", "81 01 41"],
      ["a valid text frame", "81 81 00 00 00 00 41"],
    ] as const
  ) {
    it(`bytes after the peer's close frame in the same chunk are ignored (${name})`, () => {
      const conn = new Connection({ role: "server", ...LIMITS });
      const closeFrame = hex("88 82 00 00 00 00 03 e8"); // masked, key 0: code 1000
      const events = conn.receive(concat([closeFrame, hex(trailing)]));
      assert.deepEqual(events, [{ type: "close", code: 1000, reason: "", wasClean: true }]);
      assert.equal(conn.failure, undefined);
      assert.deepEqual(conn.closeResult, { code: 1000, reason: "", wasClean: true });
    });
  }
});
