// Hostile input against the sans-I/O HTTP/2 server connection and its HPACK
// decoder (RFC 9113, RFC 7541, RFC 8441): each case is an attack a client
// can make, with what the MUSTs require of the server in return.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeSettings,
  Flag,
  FrameReader,
  FrameType,
  H2ErrorCode,
  type RawFrame,
} from "../../lib/protocol/http2/frame.ts";
import { checkRequest, Http2ServerConnection } from "../../lib/protocol/http2/connection.ts";
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  HpackError,
} from "../../lib/protocol/http2/hpack.ts";

const GET: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/a"],
  [":authority", "x.test"],
];

function setup(options: ConstructorParameters<typeof Http2ServerConnection>[1] = {}) {
  const events: string[] = [];
  const h2 = new Http2ServerConnection({
    request: (id) => events.push(`request ${id}`),
    data: (id, _data, end) => events.push(`data ${id} ${end}`),
    closed: (id, code) => events.push(`closed ${id} ${code}`),
  }, options);
  const reader = new FrameReader(1 << 24);
  const frames = (): RawFrame[] => {
    for (const chunk of h2.takeOutput()) reader.push(chunk.slice());
    const out: RawFrame[] = [];
    for (let f = reader.next(); f !== undefined; f = reader.next()) {
      assert.notEqual(f, "too-large");
      out.push(f as RawFrame);
    }
    return out;
  };
  h2.receive(concat([CLIENT_PREFACE, encodeSettings([])]));
  frames();
  return { h2, events, frames };
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const headersRaw = (id: number, block: Uint8Array, flags: number = Flag.END_HEADERS) =>
  encodeFrame(FrameType.HEADERS, flags, id, block);

function goawayCode(frames: RawFrame[]): number | undefined {
  const g = frames.find((f) => f.type === FrameType.GOAWAY);
  return g && new DataView(g.payload.buffer, g.payload.byteOffset).getUint32(4);
}

function rstCode(frames: RawFrame[], id: number): number | undefined {
  const r = frames.find((f) => f.type === FrameType.RST_STREAM && f.streamId === id);
  return r && new DataView(r.payload.buffer, r.payload.byteOffset).getUint32(0);
}

describe("HPACK under attack (RFC 7541)", () => {
  it("refuses a prefix integer padded with zero continuation bytes past any sane length", () => {
    // 0x3f (size update, 5-bit prefix all ones) then 200 bytes of 0x80 and
    // a final 0x00: its value is 31, but a decoder that multiplies by 2^shift
    // reaches 0 × Infinity = NaN, and a NaN table limit never evicts.
    const block = new Uint8Array(202);
    block[0] = 0x3f;
    block.fill(0x80, 1, 201);
    block[201] = 0x00;
    assert.throws(() => new HpackDecoder().decode(block), HpackError);
  });

  it("keeps the dynamic table within its limit whatever the size updates say", () => {
    const decoder = new HpackDecoder({ maxTableSize: 4096 });
    const update = new Uint8Array(202);
    update[0] = 0x3f;
    update.fill(0x80, 1, 201);
    update[201] = 0x00;
    try {
      decoder.decode(update);
    } catch (error) {
      assert.ok(error instanceof HpackError);
    }
    // Literal with incremental indexing, new name, 100-byte value: 100 of them.
    const name = new TextEncoder().encode("x-a");
    const entry = [0x40, name.length, ...name, 100, ...new Uint8Array(100).fill(0x61)];
    const block = Uint8Array.from(Array.from({ length: 100 }, () => entry).flat());
    decoder.decode(block);
    assert.ok(decoder.tableSize <= 4096, `table size ${decoder.tableSize}`);
  });

  it("refuses a string length that is NaN or beyond the block", () => {
    // A literal without indexing, new name, name length 127 + zero continuations.
    const block = new Uint8Array(204);
    block[0] = 0x00;
    block[1] = 0x7f;
    block.fill(0x80, 2, 203);
    block[203] = 0x00;
    assert.throws(() => new HpackDecoder().decode(block), HpackError);
  });
});

describe("field validity under attack (RFC 9113 §8.2.1)", () => {
  it("refuses field names with octets 0x7f–0xff", () => {
    assert.notEqual(checkRequest([...GET, ["x-\u00e9", "1"]], true), undefined);
    assert.notEqual(checkRequest([...GET, ["x-\u0080", "1"]], true), undefined);
  });

  it("refuses a colon inside a regular field name", () => {
    assert.notEqual(checkRequest([...GET, ["x:y", "1"]], true), undefined);
    assert.notEqual(checkRequest([[":method", "GET"], [":pa:th", "/"]], true), undefined);
  });

  it("refuses trailers with pseudo-header fields as a malformed request", () => {
    const { h2, frames, events } = setup();
    h2.receive(headersRaw(1, encodeHeaderBlock([...GET, ["content-type", "a/b"]])));
    h2.receive(
      headersRaw(1, encodeHeaderBlock([[":path", "/b"]]), Flag.END_HEADERS | Flag.END_STREAM),
    );
    assert.equal(rstCode(frames(), 1), H2ErrorCode.PROTOCOL_ERROR);
    assert.ok(!events.includes("data 1 true"), events.join());
  });
});
