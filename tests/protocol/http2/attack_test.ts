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
} from "../../../lib/protocol/http2/frame.ts";
import { checkRequest, Http2ServerConnection } from "../../../lib/protocol/http2/connection.ts";
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
  HpackError,
} from "../../../lib/protocol/http2/hpack.ts";
import { concat } from "../../_helpers/bytes.ts";
import { GET, goawayCode, rstCode } from "../../_helpers/http2.ts";

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

const headersRaw = (id: number, block: Uint8Array, flags: number = Flag.END_HEADERS) =>
  encodeFrame(FrameType.HEADERS, flags, id, block);

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

  it("refuses field names that are not tokens (RFC 9110 §5.1), which Headers would throw on", () => {
    for (const name of ["x(y", 'x"y', "x{y}", "x/y", "x,y", "x;y", "x@y", "x=y"]) {
      assert.notEqual(checkRequest([...GET, [name, "1"]], true), undefined, name);
    }
    for (const name of ["x-y", "x_y", "x.y", "x~y", "x!#$%&'*+^`|y"]) {
      assert.equal(checkRequest([...GET, [name, "1"]], true), undefined, name);
    }
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

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const settingsRaw = (pairs: Array<[number, number]>) => {
  const b = new Uint8Array(pairs.length * 6);
  const v = new DataView(b.buffer);
  pairs.forEach(([id, value], i) => {
    v.setUint16(i * 6, id);
    v.setUint32(i * 6 + 2, value);
  });
  return encodeFrame(FrameType.SETTINGS, 0, 0, b);
};

/** Sends `bytes` to a fresh connection and returns the GOAWAY code (undefined: none). */
function connectionErrorOf(bytes: Uint8Array[]): number | undefined {
  const { h2, frames } = setup();
  for (const b of bytes) h2.receive(b);
  return goawayCode(frames());
}

const get = (id: number, flags = Flag.END_HEADERS | Flag.END_STREAM) =>
  headersRaw(id, encodeHeaderBlock(GET), flags);

describe("frames under attack (RFC 9113 §4–§6)", () => {
  const P = H2ErrorCode.PROTOCOL_ERROR;
  const F = H2ErrorCode.FRAME_SIZE_ERROR;
  const cases: Array<[string, Uint8Array[], number]> = [
    ["DATA on stream 0", [encodeFrame(FrameType.DATA, 0, 0, new Uint8Array(1))], P],
    ["DATA on an idle stream", [encodeFrame(FrameType.DATA, 0, 5, new Uint8Array(1))], P],
    ["HEADERS on an even stream", [get(2)], P],
    ["HEADERS on stream 0", [get(0)], P],
    ["PING of 7 bytes", [encodeFrame(FrameType.PING, 0, 0, new Uint8Array(7))], F],
    ["PING on a stream", [encodeFrame(FrameType.PING, 0, 1, new Uint8Array(8))], P],
    ["SETTINGS of 5 bytes", [encodeFrame(FrameType.SETTINGS, 0, 0, new Uint8Array(5))], F],
    ["SETTINGS ACK with payload", [encodeFrame(FrameType.SETTINGS, 1, 0, new Uint8Array(6))], F],
    ["SETTINGS on a stream", [encodeFrame(FrameType.SETTINGS, 0, 1, new Uint8Array(0))], P],
    [
      "WINDOW_UPDATE of 3 bytes",
      [encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(1).subarray(1))],
      F,
    ],
    [
      "WINDOW_UPDATE of 0 on the connection",
      [encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0))],
      P,
    ],
    [
      "WINDOW_UPDATE overflowing the connection window",
      [encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))],
      H2ErrorCode.FLOW_CONTROL_ERROR,
    ],
    ["RST_STREAM of 3 bytes", [
      get(1, Flag.END_HEADERS),
      encodeFrame(FrameType.RST_STREAM, 0, 1, new Uint8Array(3)),
    ], F],
    ["RST_STREAM on an idle stream", [encodeFrame(FrameType.RST_STREAM, 0, 7, u32(8))], P],
    [
      "INITIAL_WINDOW_SIZE of 2^31",
      [settingsRaw([[4, 0x80000000]])],
      H2ErrorCode.FLOW_CONTROL_ERROR,
    ],
    ["MAX_FRAME_SIZE of 16383", [settingsRaw([[5, 16383]])], P],
    ["MAX_FRAME_SIZE of 2^24", [settingsRaw([[5, 1 << 24]])], P],
    ["ENABLE_PUSH of 2", [settingsRaw([[2, 2]])], P],
    ["PUSH_PROMISE", [encodeFrame(FrameType.PUSH_PROMISE, 4, 1, new Uint8Array(4))], P],
    ["a frame over MAX_FRAME_SIZE", [encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(16385))], F],
    [
      "padding as long as the frame",
      [headersRaw(1, Uint8Array.from([6, 0x82, 0, 0, 0, 0]), Flag.END_HEADERS | Flag.PADDED)],
      P,
    ],
    [
      // Pad length 2 in 7 bytes: 1 + 5 (priority) + 2 leaves -1 for the block.
      "padding that eats into HEADERS' priority fields",
      [headersRaw(
        1,
        Uint8Array.from([2, 0, 0, 0, 0, 0, 0]),
        Flag.END_HEADERS | Flag.PADDED | Flag.PRIORITY,
      )],
      P,
    ],
    ["HEADERS too short for its priority fields", [
      headersRaw(1, Uint8Array.from([0, 0, 0, 0]), Flag.END_HEADERS | Flag.PRIORITY),
    ], F],
    [
      "an unknown frame inside a header block",
      [
        get(1, 0),
        encodeFrame(0xfa, 0, 0, new Uint8Array(3)),
        encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, new Uint8Array(0)),
      ],
      P,
    ],
    [
      "a CONTINUATION on another stream",
      [get(1, 0), encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 3, new Uint8Array(0))],
      P,
    ],
    ["a CONTINUATION alone", [
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, new Uint8Array(0)),
    ], P],
    ["HEADERS on a lower, never used stream", [get(5), get(3)], P],
    [
      "HEADERS on a stream the client reset",
      [get(3, Flag.END_HEADERS), encodeFrame(FrameType.RST_STREAM, 0, 3, u32(8)), get(5), get(3)],
      H2ErrorCode.STREAM_CLOSED,
    ],
    ["HPACK index 0", [headersRaw(1, Uint8Array.from([0x80]))], H2ErrorCode.COMPRESSION_ERROR],
    [
      "HPACK index out of range",
      [headersRaw(1, Uint8Array.from([0xbe]))],
      H2ErrorCode.COMPRESSION_ERROR,
    ],
    [
      "HPACK size update above the setting",
      [headersRaw(1, Uint8Array.from([0x3f, 0xe2, 0x1f, ...encodeHeaderBlock(GET)]))],
      H2ErrorCode.COMPRESSION_ERROR,
    ],
    [
      "HPACK size update after a field",
      [headersRaw(1, Uint8Array.from([...encodeHeaderBlock(GET), 0x20]))],
      H2ErrorCode.COMPRESSION_ERROR,
    ],
    [
      // "a" is 00011; then 8 bits of ones: padding over 7 bits.
      "Huffman padding of 8 bits",
      [headersRaw(1, Uint8Array.from([0x00, 0x82, 0x1f, 0xff, 0x01, 0x61]))],
      H2ErrorCode.COMPRESSION_ERROR,
    ],
    [
      // "a" (00011) then padding 000: not the ones of EOS.
      "Huffman padding of zeros",
      [headersRaw(1, Uint8Array.from([0x00, 0x81, 0x18, 0x01, 0x61]))],
      H2ErrorCode.COMPRESSION_ERROR,
    ],
    [
      // EOS (30 ones) then two bits of padding: EOS inside the string.
      "Huffman EOS",
      [headersRaw(1, Uint8Array.from([0x00, 0x84, 0xff, 0xff, 0xff, 0xff, 0x01, 0x61]))],
      H2ErrorCode.COMPRESSION_ERROR,
    ],
  ];
  for (const [name, bytes, code] of cases) {
    it(`${name}: connection error ${code}`, () => {
      assert.equal(connectionErrorOf(bytes), code);
    });
  }

  it("ignores unknown frame types and settings, and PRIORITY", () => {
    const { h2, frames, events } = setup();
    h2.receive(encodeFrame(0xfa, 0xff, 0, new Uint8Array(30)));
    h2.receive(encodeFrame(0xfa, 0, 9, new Uint8Array(0)));
    h2.receive(settingsRaw([[0x99, 0xffffffff]]));
    h2.receive(encodeFrame(FrameType.PRIORITY, 0, 11, new Uint8Array(5)));
    h2.receive(get(1));
    const out = frames();
    assert.equal(goawayCode(out), undefined);
    assert.deepEqual(events, ["request 1"]);
  });

  it("answers stream-level faults with RST_STREAM and keeps the connection", () => {
    const { h2, frames, events } = setup();
    h2.receive(get(1, Flag.END_HEADERS));
    h2.receive(encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, u32(0)));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.PROTOCOL_ERROR);
    h2.receive(get(3, Flag.END_HEADERS));
    h2.receive(encodeFrame(FrameType.WINDOW_UPDATE, 0, 3, u32(0x7fffffff)));
    assert.equal(rstCode(frames(), 3), H2ErrorCode.FLOW_CONTROL_ERROR);
    h2.receive(encodeFrame(FrameType.PRIORITY, 0, 5, new Uint8Array(4)));
    assert.equal(rstCode(frames(), 5), H2ErrorCode.FRAME_SIZE_ERROR);
    // Malformed requests (RFC 9113 §8.1.1, RFC 8441 §4).
    const bad: HeaderField[][] = [
      [[":path", "/"], [":method", "GET"], ["x", "1"], [":scheme", "http"]],
      [[":method", "GET"], [":scheme", "http"], [":path", "/"], ["X-Up", "1"]],
      [...GET, ["connection", "close"]],
      [...GET, ["te", "gzip"]],
      [[":method", "CONNECT"], [":protocol", "websocket"], [":authority", "a"], [
        ":scheme",
        "http",
      ]],
      [[":method", "GET"], [":protocol", "websocket"], [":authority", "a"], [":scheme", "http"], [
        ":path",
        "/",
      ]],
    ];
    let id = 7;
    for (const fields of bad) {
      h2.receive(headersRaw(id, encodeHeaderBlock(fields), Flag.END_HEADERS | Flag.END_STREAM));
      assert.equal(rstCode(frames(), id), H2ErrorCode.PROTOCOL_ERROR, JSON.stringify(fields));
      id += 2;
    }
    assert.equal(goawayCode(frames()), undefined);
    assert.deepEqual(events.filter((e) => e.startsWith("request")), ["request 1", "request 3"]);
  });

  it("refuses a stream over MAX_CONCURRENT_STREAMS with REFUSED_STREAM", () => {
    const { h2, frames, events } = setup({ maxConcurrentStreams: 2 });
    h2.receive(
      concat([get(1, Flag.END_HEADERS), get(3, Flag.END_HEADERS), get(5, Flag.END_HEADERS)]),
    );
    assert.equal(rstCode(frames(), 5), H2ErrorCode.REFUSED_STREAM);
    assert.deepEqual(events, ["request 1", "request 3"]);
  });

  it("refuses :protocol when ENABLE_CONNECT_PROTOCOL was not sent", () => {
    const { h2, frames } = setup({ enableConnectProtocol: false });
    const ws: HeaderField[] = [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "a"],
    ];
    h2.receive(headersRaw(1, encodeHeaderBlock(ws)));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.PROTOCOL_ERROR);
  });

  it("refuses a body longer or shorter than its content-length (RFC 9113 §8.1.1)", () => {
    const { h2, frames, events } = setup();
    const post: HeaderField[] = [[":method", "POST"], ...GET.slice(1), ["content-length", "3"]];
    h2.receive(headersRaw(1, encodeHeaderBlock(post)));
    h2.receive(encodeFrame(FrameType.DATA, Flag.END_STREAM, 1, new Uint8Array(5)));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.PROTOCOL_ERROR);
    assert.ok(!events.includes("data 1 true"), events.join());
    h2.receive(headersRaw(3, encodeHeaderBlock(post)));
    h2.receive(encodeFrame(FrameType.DATA, Flag.END_STREAM, 3, new Uint8Array(2)));
    assert.equal(rstCode(frames(), 3), H2ErrorCode.PROTOCOL_ERROR);
    assert.ok(!events.includes("data 3 true"), events.join());
    h2.receive(headersRaw(5, encodeHeaderBlock(post)));
    h2.receive(encodeFrame(FrameType.DATA, Flag.END_STREAM, 5, new Uint8Array(3)));
    assert.ok(events.includes("data 5 true"), events.join());
  });
});

describe("floods (RFC 9113 §10.5)", () => {
  it("ends a rapid-reset flood (CVE-2023-44487) with ENHANCE_YOUR_CALM", () => {
    const { h2, frames, events } = setup();
    let id = 1;
    for (let i = 0; i < 5000 && !h2.done; i++, id += 2) {
      h2.receive(
        concat([get(id, Flag.END_HEADERS), encodeFrame(FrameType.RST_STREAM, 0, id, u32(8))]),
      );
    }
    assert.equal(goawayCode(frames()), H2ErrorCode.ENHANCE_YOUR_CALM);
    assert.ok(h2.done);
    const started = events.filter((e) => e.startsWith("request")).length;
    assert.ok(started < 5000, `${started} requests started`);
  });

  it("lets a client cancel requests as long as it lets more finish", () => {
    const { h2, frames, events } = setup();
    let id = 1;
    for (let i = 0; i < 3000; i++, id += 2) {
      h2.receive(get(id));
      if (i % 3 === 0) h2.receive(encodeFrame(FrameType.RST_STREAM, 0, id, u32(8)));
      else h2.respond(id, [[":status", "204"]], true);
    }
    assert.equal(goawayCode(frames()), undefined);
    assert.equal(events.filter((e) => e.startsWith("request")).length, 3000);
  });

  it("answers a PING flood one ACK per PING, the output no larger than the input", () => {
    const { h2 } = setup();
    const ping = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8));
    const burst = concat(Array.from({ length: 1000 }, () => ping));
    h2.receive(burst);
    const out = h2.takeOutput().reduce((n, c) => n + c.length, 0);
    assert.ok(out <= burst.length, `${out} bytes out for ${burst.length} in`);
  });
});

describe("floods: answered streams", () => {
  it("does not count resets of streams already answered (WebSockets the client drops)", () => {
    const { h2, frames } = setup();
    let id = 1;
    for (let i = 0; i < 1000; i++, id += 2) {
      h2.receive(get(id, Flag.END_HEADERS));
      h2.respond(id, [[":status", "200"]], false);
      h2.receive(encodeFrame(FrameType.RST_STREAM, 0, id, u32(8)));
    }
    assert.equal(goawayCode(frames()), undefined);
  });
});

describe("fairness between streams (RFC 9113 §5.3)", () => {
  it("shares the connection window between streams instead of serving the first one's queue", () => {
    const { h2, frames } = setup();
    // Large stream windows: only the connection window (65535 at first) limits.
    h2.receive(settingsRaw([[4, 1 << 24]]));
    h2.receive(get(1));
    h2.receive(get(3));
    h2.respond(1, [[":status", "200"]], false);
    h2.respond(3, [[":status", "200"]], false);
    frames();
    const chunk = new Uint8Array(1 << 20);
    h2.send(1, [chunk]);
    h2.send(3, [chunk]);
    const sent = new Map<number, number>();
    const count = () => {
      for (const f of frames()) {
        if (f.type === FrameType.DATA) {
          sent.set(f.streamId, (sent.get(f.streamId) ?? 0) + f.payload.length);
        }
      }
    };
    // Stream 1 had the initial window to itself (stream 3 queued after); from now on, both wait.
    count();
    sent.clear();
    for (let i = 0; i < 8; i++) {
      h2.receive(encodeFrame(FrameType.WINDOW_UPDATE, 0, 0, u32(65535)));
      count();
    }
    const a = sent.get(1) ?? 0;
    const b = sent.get(3) ?? 0;
    assert.ok(a > 0 && b > 0, `stream 1 got ${a} bytes, stream 3 ${b}`);
    // Round robin by frame: neither gets more than one frame ahead per turn.
    assert.ok(Math.abs(a - b) <= 2 * 16384, `stream 1 got ${a} bytes, stream 3 ${b}`);
  });
});

describe("frame reader under attack", () => {
  it("takes a large frame one byte at a time without copying it once per byte", () => {
    // Copying what is held on every push costs n²/2 bytes: for this frame
    // about 2^39, far past the deadline; growing the buffer by doubling, 2n.
    const size = 1 << 20;
    const reader = new FrameReader(1 << 24);
    const frame = encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(size).fill(7));
    const deadline = Date.now() + 20_000;
    for (let i = 0; i < frame.length; i++) {
      reader.push(frame.subarray(i, i + 1));
      if ((i & 0xfff) === 0) assert.ok(Date.now() < deadline, `stuck at byte ${i}`);
      if (i < frame.length - 1) assert.equal(reader.next(), undefined);
    }
    const f = reader.next() as RawFrame;
    assert.equal(f.payload.length, size);
    assert.ok(f.payload.every((b) => b === 7));
    assert.equal(reader.buffered, 0);
  });

  it("keeps handed-out payloads intact while later bytes arrive", () => {
    const reader = new FrameReader();
    const a = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8).fill(1));
    const b = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8).fill(2));
    const both = concat([a, b, a]);
    const out: RawFrame[] = [];
    for (let i = 0; i < both.length; i += 5) {
      reader.push(both.slice(i, i + 5));
      for (let f = reader.next(); f !== undefined; f = reader.next()) out.push(f as RawFrame);
    }
    assert.deepEqual(out.map((f) => f.payload[0]), [1, 2, 1]);
    assert.ok(out.every((f) => f.payload.every((x) => x === f.payload[0])));
  });
});

describe("flow control and stream states under attack (RFC 9113 §5.1, §6.9)", () => {
  it("resets a stream whose DATA passes its window", () => {
    const { h2, frames } = setup({ streamWindow: 100 });
    h2.receive(headersRaw(1, encodeHeaderBlock([[":method", "POST"], ...GET.slice(1)])));
    h2.receive(encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(101)));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.FLOW_CONTROL_ERROR);
    assert.equal(goawayCode(frames()), undefined);
  });

  it("answers DATA or HEADERS after the client's END_STREAM with STREAM_CLOSED", () => {
    const { h2, frames } = setup();
    h2.receive(get(1));
    h2.receive(encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(1)));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.STREAM_CLOSED);
    h2.receive(get(3));
    h2.receive(get(3));
    assert.equal(goawayCode(frames()), H2ErrorCode.STREAM_CLOSED);
  });

  it("resets trailers without END_STREAM (RFC 9113 §8.1)", () => {
    const { h2, frames } = setup();
    h2.receive(get(1, Flag.END_HEADERS));
    h2.receive(headersRaw(1, encodeHeaderBlock([["x-t", "1"]])));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.PROTOCOL_ERROR);
  });

  it("ends the connection when INITIAL_WINDOW_SIZE pushes an open stream's window past 2^31 - 1", () => {
    const { h2, frames } = setup();
    h2.receive(get(1, Flag.END_HEADERS));
    h2.receive(encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, u32(0x7fffffff - 65535)));
    assert.equal(rstCode(frames(), 1), undefined);
    h2.receive(settingsRaw([[4, 65536]]));
    assert.equal(goawayCode(frames()), H2ErrorCode.FLOW_CONTROL_ERROR);
  });

  it("lets INITIAL_WINDOW_SIZE make a window negative, and sends nothing until it is positive", () => {
    const { h2, frames } = setup();
    h2.receive(get(1));
    h2.respond(1, [[":status", "200"]], false);
    h2.send(1, [new Uint8Array(1000)]);
    frames();
    h2.receive(settingsRaw([[4, 0]]));
    h2.send(1, [new Uint8Array(10)]);
    assert.ok(!frames().some((f) => f.type === FrameType.DATA));
    h2.receive(encodeFrame(FrameType.WINDOW_UPDATE, 0, 1, u32(1000 + 5)));
    const data = frames().filter((f) => f.type === FrameType.DATA);
    assert.equal(data.reduce((n, f) => n + f.payload.length, 0), 5);
  });
});

describe("floods: provoked resets", () => {
  it('ends a flood of provoked stream errors ("MadeYouReset") like a rapid reset', () => {
    const { h2, frames, events } = setup();
    let id = 1;
    for (let i = 0; i < 5000 && !h2.done; i++, id += 2) {
      // WINDOW_UPDATE of 0 on the stream: a stream error the server must send.
      h2.receive(
        concat([get(id, Flag.END_HEADERS), encodeFrame(FrameType.WINDOW_UPDATE, 0, id, u32(0))]),
      );
    }
    assert.equal(goawayCode(frames()), H2ErrorCode.ENHANCE_YOUR_CALM);
    const started = events.filter((e) => e.startsWith("request")).length;
    assert.ok(started < 5000, `${started} requests started`);
  });
});
