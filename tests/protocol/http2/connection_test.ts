// The sans-I/O HTTP/2 server connection (RFC 9113, RFC 8441): driven with
// frames built here, its output read back with FrameReader. Frames split at
// every byte, requests and the extended CONNECT, flow control both ways,
// limits, and protocol errors as GOAWAY or RST_STREAM with the right code.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeSettings,
  encodeWindowUpdate,
  Flag,
  FrameReader,
  FrameType,
  H2ErrorCode,
  type RawFrame,
  Setting,
} from "../../../lib/protocol/http2/frame.ts";
import { Http2ServerConnection } from "../../../lib/protocol/http2/connection.ts";
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
} from "../../../lib/protocol/http2/hpack.ts";
import { concat } from "../../_helpers/bytes.ts";
import { GET, goawayCode, rstCode } from "../../_helpers/http2.ts";

const WS: HeaderField[] = [
  [":method", "CONNECT"],
  [":protocol", "websocket"],
  [
    ":scheme",
    "http",
  ],
  [":path", "/chat"],
  [":authority", "x.test"],
  ["sec-websocket-version", "13"],
];

interface Event {
  kind: "request" | "data" | "closed";
  id: number;
  fields?: HeaderField[];
  data?: Uint8Array;
  end?: boolean;
  code?: number;
}

/** A server connection, what it reported, and its output as frames. */
function setup(options: ConstructorParameters<typeof Http2ServerConnection>[1] = {}) {
  const events: Event[] = [];
  const h2 = new Http2ServerConnection({
    request: (id, fields, end) => events.push({ kind: "request", id, fields, end }),
    data: (id, data, end) => events.push({ kind: "data", id, data: data.slice(), end }),
    closed: (id, code) => events.push({ kind: "closed", id, code }),
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
  return { h2, events, frames };
}

/** The client's preface and an empty SETTINGS. */
const start = () => concat([CLIENT_PREFACE, encodeSettings([])]);
const headers = (id: number, fields: HeaderField[], flags: number = Flag.END_HEADERS) =>
  encodeFrame(FrameType.HEADERS, flags, id, encodeHeaderBlock(fields));
const data = (id: number, bytes: Uint8Array, flags: number = 0) =>
  encodeFrame(FrameType.DATA, flags, id, bytes);

describe("HTTP/2 server connection: preface, settings, requests", () => {
  it("sends SETTINGS first with ENABLE_CONNECT_PROTOCOL and acknowledges the client's", () => {
    const { h2, frames } = setup();
    const first = frames();
    assert.equal(first[0].type, FrameType.SETTINGS);
    const view = new DataView(first[0].payload.buffer, first[0].payload.byteOffset);
    const settings = new Map<number, number>();
    for (let at = 0; at < first[0].payload.length; at += 6) {
      settings.set(view.getUint16(at), view.getUint32(at + 2));
    }
    assert.equal(settings.get(Setting.ENABLE_CONNECT_PROTOCOL), 1);
    assert.equal(settings.get(Setting.MAX_CONCURRENT_STREAMS), 100);
    h2.receive(start());
    const ack = frames().find((f) => f.type === FrameType.SETTINGS);
    assert.equal(ack?.flags, Flag.ACK);
  });

  it("parses the same bytes split at every byte boundary", () => {
    const bytes = concat([
      start(),
      headers(1, WS),
      data(1, new Uint8Array([1, 2, 3])),
      headers(3, GET, Flag.END_HEADERS | Flag.END_STREAM),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const { h2, events } = setup();
      h2.receive(bytes.subarray(0, cut));
      h2.receive(bytes.subarray(cut));
      assert.deepEqual(events.map((e) => `${e.kind} ${e.id} ${e.end}`), [
        "request 1 false",
        "data 1 false",
        "request 3 true",
      ], `cut at ${cut}`);
      assert.deepEqual(events[0].fields, WS);
      assert.deepEqual(events[1].data, new Uint8Array([1, 2, 3]));
    }
    // And one byte at a time.
    const { h2, events } = setup();
    for (let i = 0; i < bytes.length; i++) h2.receive(bytes.subarray(i, i + 1));
    assert.equal(events.length, 3);
  });

  it("joins HEADERS and CONTINUATION; answers a PING", () => {
    const { h2, events, frames } = setup();
    const block = encodeHeaderBlock(GET);
    h2.receive(concat([
      start(),
      encodeFrame(FrameType.HEADERS, Flag.END_STREAM, 1, block.subarray(0, 5)),
      encodeFrame(FrameType.CONTINUATION, 0, 1, block.subarray(5, 9)),
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, block.subarray(9)),
      encodeFrame(FrameType.PING, 0, 0, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])),
    ]));
    assert.deepEqual(events[0].fields, GET);
    const pong = frames().find((f) => f.type === FrameType.PING);
    assert.equal(pong?.flags, Flag.ACK);
    assert.deepEqual(pong?.payload, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  });

  it("responds with HEADERS and DATA and closes the stream when both sides ended", () => {
    const { h2, events, frames } = setup();
    h2.receive(concat([start(), headers(1, GET, Flag.END_HEADERS | Flag.END_STREAM)]));
    frames();
    h2.respond(1, [[":status", "200"]], false);
    h2.send(1, [new Uint8Array([9, 9])], true);
    const out = frames();
    assert.equal(out[0].type, FrameType.HEADERS);
    assert.deepEqual(new HpackDecoder().decode(out[0].payload).fields, [[":status", "200"]]);
    assert.equal(out[1].type, FrameType.DATA);
    assert.equal(out[1].flags & Flag.END_STREAM, Flag.END_STREAM);
    assert.deepEqual(events.at(-1), { kind: "closed", id: 1, code: 0 });
    assert.equal(h2.streamCount, 0);
  });
});

describe("HTTP/2 server connection: flow control", () => {
  it("sends no more than the client's windows allow, and the rest after WINDOW_UPDATE", () => {
    const { h2, frames } = setup();
    // The client's streams start with a 100-byte window.
    h2.receive(
      concat([
        CLIENT_PREFACE,
        encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 100]]),
        headers(1, GET, Flag.END_HEADERS | Flag.END_STREAM),
      ]),
    );
    frames();
    h2.respond(1, [[":status", "200"]], false);
    h2.send(1, [new Uint8Array(250)], true);
    const sent = () =>
      frames().filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + f.payload.length, 0);
    assert.equal(sent(), 100);
    assert.equal(h2.queued(1), 150);
    h2.receive(encodeWindowUpdate(1, 100));
    assert.equal(sent(), 100);
    h2.receive(encodeWindowUpdate(1, 1000));
    const rest = frames();
    assert.equal(
      rest.filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + f.payload.length, 0),
      50,
    );
    assert.ok(rest.some((f) => f.type === FrameType.DATA && (f.flags & Flag.END_STREAM)));
  });

  it("honours the connection window across streams", () => {
    const { h2, frames } = setup();
    h2.receive(
      concat([
        CLIENT_PREFACE,
        encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 1 << 20]]),
        headers(1, GET, Flag.END_HEADERS | Flag.END_STREAM),
        headers(3, GET, Flag.END_HEADERS | Flag.END_STREAM),
      ]),
    );
    frames();
    for (const id of [1, 3]) {
      h2.respond(id, [[":status", "200"]], false);
      h2.send(id, [new Uint8Array(50_000)], true);
    }
    const total = frames().filter((f) => f.type === FrameType.DATA).reduce(
      (n, f) => n + f.payload.length,
      0,
    );
    assert.equal(total, 65535, "the connection's initial window");
    h2.receive(encodeWindowUpdate(0, 100_000));
    const more = frames().filter((f) => f.type === FrameType.DATA).reduce(
      (n, f) => n + f.payload.length,
      0,
    );
    assert.equal(more, 100_000 - 65535);
  });

  it("credits a stream only when its data is consumed, and the connection as data arrives", () => {
    const window = 1000;
    const { h2, frames } = setup({ streamWindow: window, connectionWindow: 65535 });
    h2.receive(concat([start(), headers(1, WS)]));
    frames();
    h2.receive(data(1, new Uint8Array(window)));
    // More than the stream's window: a stream error, the others unaffected.
    h2.receive(data(1, new Uint8Array(1)));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.FLOW_CONTROL_ERROR);

    const b = setup({ streamWindow: window, connectionWindow: 65535 });
    b.h2.receive(concat([start(), headers(1, WS)]));
    b.frames();
    b.h2.receive(data(1, new Uint8Array(window)));
    assert.equal(
      b.frames().filter((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1).length,
      0,
    );
    b.h2.consume(1, window);
    const update = b.frames().find((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1);
    assert.equal(
      new DataView(update!.payload.buffer, update!.payload.byteOffset).getUint32(0),
      window,
    );
    b.h2.receive(data(1, new Uint8Array(window)));
    assert.equal(rstCode(b.frames(), 1), undefined);
  });

  it("credits the connection as DATA arrives, so unread streams do not block the others", () => {
    const { h2, frames } = setup({ streamWindow: 1 << 20, connectionWindow: 65535 });
    h2.receive(concat([start(), headers(1, WS), headers(3, WS)]));
    frames();
    // Stream 1 is never consumed; 160 000 bytes, more than the connection window, still arrive.
    for (let i = 0; i < 10; i++) h2.receive(data(1, new Uint8Array(16000)));
    const out = frames();
    assert.equal(goawayCode(out), undefined);
    assert.ok(out.some((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 0));
    assert.ok(!out.some((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1));
    h2.receive(data(3, new Uint8Array(16000)));
    assert.equal(goawayCode(frames()), undefined);
  });
});

describe("HTTP/2 server connection: limits and errors", () => {
  const cases: Array<[string, Uint8Array[], number]> = [
    [
      "a bad preface",
      [new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")],
      H2ErrorCode.PROTOCOL_ERROR,
    ],
    ["a first frame other than SETTINGS", [
      CLIENT_PREFACE,
      encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8)),
    ], H2ErrorCode.PROTOCOL_ERROR],
    [
      "a frame above MAX_FRAME_SIZE",
      [start(), data(1, new Uint8Array(16385))],
      H2ErrorCode.FRAME_SIZE_ERROR,
    ],
    ["SETTINGS of a bad length", [
      CLIENT_PREFACE,
      encodeFrame(FrameType.SETTINGS, 0, 0, new Uint8Array(5)),
    ], H2ErrorCode.FRAME_SIZE_ERROR],
    [
      "ENABLE_PUSH of 2",
      [CLIENT_PREFACE, encodeSettings([[Setting.ENABLE_PUSH, 2]])],
      H2ErrorCode.PROTOCOL_ERROR,
    ],
    ["INITIAL_WINDOW_SIZE above 2^31-1", [
      CLIENT_PREFACE,
      encodeSettings([[Setting.INITIAL_WINDOW_SIZE, 2 ** 31]]),
    ], H2ErrorCode.FLOW_CONTROL_ERROR],
    ["MAX_FRAME_SIZE below 16384", [
      CLIENT_PREFACE,
      encodeSettings([[Setting.MAX_FRAME_SIZE, 100]]),
    ], H2ErrorCode.PROTOCOL_ERROR],
    [
      "PING of 7 bytes",
      [start(), encodeFrame(FrameType.PING, 0, 0, new Uint8Array(7))],
      H2ErrorCode.FRAME_SIZE_ERROR,
    ],
    ["HEADERS on stream 0", [start(), headers(0, GET)], H2ErrorCode.PROTOCOL_ERROR],
    ["HEADERS on an even stream", [start(), headers(2, GET)], H2ErrorCode.PROTOCOL_ERROR],
    ["a header block interrupted", [
      start(),
      headers(1, GET, 0),
      encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8)),
    ], H2ErrorCode.PROTOCOL_ERROR],
    ["CONTINUATION without HEADERS", [
      start(),
      encodeFrame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, new Uint8Array(0)),
    ], H2ErrorCode.PROTOCOL_ERROR],
    ["a bad HPACK block", [
      start(),
      encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, Uint8Array.of(0x80)),
    ], H2ErrorCode.COMPRESSION_ERROR],
    ["DATA on an idle stream", [start(), data(5, new Uint8Array(1))], H2ErrorCode.PROTOCOL_ERROR],
    ["DATA on stream 0", [start(), data(0, new Uint8Array(1))], H2ErrorCode.PROTOCOL_ERROR],
    [
      "PUSH_PROMISE",
      [start(), encodeFrame(FrameType.PUSH_PROMISE, 0, 1, new Uint8Array(4))],
      H2ErrorCode.PROTOCOL_ERROR,
    ],
    [
      "WINDOW_UPDATE of 0 on the connection",
      [start(), encodeWindowUpdate(0, 0)],
      H2ErrorCode.PROTOCOL_ERROR,
    ],
    [
      "a connection window past 2^31-1",
      [start(), encodeWindowUpdate(0, 0x7fffffff)],
      H2ErrorCode.FLOW_CONTROL_ERROR,
    ],
    ["RST_STREAM on an idle stream", [
      start(),
      encodeFrame(FrameType.RST_STREAM, 0, 7, new Uint8Array(4)),
    ], H2ErrorCode.PROTOCOL_ERROR],
    ["HEADERS on a closed stream", [
      start(),
      headers(1, GET, Flag.END_HEADERS | Flag.END_STREAM),
      encodeFrame(FrameType.RST_STREAM, 0, 1, new Uint8Array(4)),
      headers(1, GET, Flag.END_HEADERS | Flag.END_STREAM),
    ], H2ErrorCode.STREAM_CLOSED],
  ];
  for (const [name, parts, code] of cases) {
    it(`${name}: GOAWAY ${code}, and nothing more is read`, () => {
      const { h2, frames, events } = setup();
      h2.receive(concat(parts));
      assert.equal(goawayCode(frames()), code);
      assert.equal(h2.done, true);
      const before = events.length;
      h2.receive(concat([headers(9, GET, Flag.END_HEADERS | Flag.END_STREAM)]));
      assert.equal(events.length, before);
    });
  }

  const streamCases: Array<[string, HeaderField[], number]> = [
    ["an upper-case field name", [...GET, ["X-A", "1"]], H2ErrorCode.PROTOCOL_ERROR],
    ["a pseudo-header after a field", [[":method", "GET"], ["a", "1"], [":path", "/"], [
      ":scheme",
      "http",
    ]], H2ErrorCode.PROTOCOL_ERROR],
    ["a connection-specific field", [...GET, ["connection", "close"]], H2ErrorCode.PROTOCOL_ERROR],
    ["no :path", [[":method", "GET"], [":scheme", "http"]], H2ErrorCode.PROTOCOL_ERROR],
    [
      "an unknown pseudo-header",
      [...GET.slice(0, 1), [":status", "200"], ...GET.slice(1)],
      H2ErrorCode.PROTOCOL_ERROR,
    ],
    [":protocol without CONNECT", [...GET, [":protocol", "websocket"]], H2ErrorCode.PROTOCOL_ERROR],
    [
      "an extended CONNECT without :path",
      WS.filter(([n]) => n !== ":path"),
      H2ErrorCode.PROTOCOL_ERROR,
    ],
    // Issue 28: RFC 9113 §8.3.1, an empty :path is malformed for CONNECT with :protocol too.
    [
      "an extended CONNECT with an empty :path",
      WS.map(([n, v]): HeaderField => [n, n === ":path" ? "" : v]),
      H2ErrorCode.PROTOCOL_ERROR,
    ],
  ];
  for (const [name, fields, code] of streamCases) {
    it(`${name}: RST_STREAM ${code}; the connection goes on`, () => {
      const { h2, frames, events } = setup();
      h2.receive(concat([start(), headers(1, fields, Flag.END_HEADERS | Flag.END_STREAM)]));
      const out = frames();
      assert.equal(rstCode(out, 1), code);
      assert.equal(goawayCode(out), undefined);
      assert.equal(events.length, 0);
      h2.receive(headers(3, GET, Flag.END_HEADERS | Flag.END_STREAM));
      assert.equal(events[0]?.id, 3);
    });
  }

  it("a PRIORITY frame making a stream depend on itself: RST_STREAM PROTOCOL_ERROR (§5.3.1)", () => {
    const { h2, frames, events } = setup();
    const priority = (id: number, dep: number) => {
      const p = new Uint8Array(5);
      new DataView(p.buffer).setUint32(0, dep);
      return encodeFrame(FrameType.PRIORITY, 0, id, p);
    };
    h2.receive(concat([start(), headers(1, WS), priority(1, 1), priority(3, 3), priority(5, 1)]));
    const out = frames();
    assert.equal(rstCode(out, 1), H2ErrorCode.PROTOCOL_ERROR);
    assert.equal(rstCode(out, 3), H2ErrorCode.PROTOCOL_ERROR);
    assert.equal(rstCode(out, 5), undefined);
    assert.equal(goawayCode(out), undefined);
    assert.deepEqual(events.map((e) => `${e.kind} ${e.id}`), ["request 1", "closed 1"]);
  });

  it("knows when the client acknowledged its SETTINGS (§6.5.3), for the I/O layer's timeout", () => {
    const { h2 } = setup();
    h2.receive(start());
    assert.equal(h2.settingsAcknowledged, false);
    h2.receive(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0, new Uint8Array(0)));
    assert.equal(h2.settingsAcknowledged, true);
  });

  it("an extended CONNECT is malformed when the setting was not sent", () => {
    const { h2, frames } = setup({ enableConnectProtocol: false });
    h2.receive(concat([start(), headers(1, WS)]));
    assert.equal(rstCode(frames(), 1), H2ErrorCode.PROTOCOL_ERROR);
  });

  it("refuses streams past MAX_CONCURRENT_STREAMS with REFUSED_STREAM", () => {
    const { h2, frames, events } = setup({ maxConcurrentStreams: 2 });
    h2.receive(concat([start(), headers(1, WS), headers(3, WS), headers(5, WS)]));
    assert.equal(rstCode(frames(), 5), H2ErrorCode.REFUSED_STREAM);
    assert.equal(events.length, 2);
    h2.reset(1);
    h2.receive(headers(7, WS));
    assert.equal(events.at(-1)?.id, 7);
  });

  it("answers a header list past MAX_HEADER_LIST_SIZE with 431", () => {
    const { h2, frames, events } = setup({ maxHeaderListSize: 200 });
    h2.receive(
      concat([
        start(),
        headers(1, [...GET, ["x-big", "v".repeat(300)]], Flag.END_HEADERS | Flag.END_STREAM),
      ]),
    );
    const out = frames().find((f) => f.type === FrameType.HEADERS);
    assert.deepEqual(new HpackDecoder().decode(out!.payload).fields, [[":status", "431"]]);
    assert.equal(events.length, 0);
  });

  it("refuses a CONTINUATION flood with ENHANCE_YOUR_CALM", () => {
    const { h2, frames } = setup();
    const parts = [start(), encodeFrame(FrameType.HEADERS, 0, 1, new Uint8Array(0))];
    for (let i = 0; i < 200; i++) {
      parts.push(encodeFrame(FrameType.CONTINUATION, 0, 1, new Uint8Array(0)));
    }
    h2.receive(concat(parts));
    assert.equal(goawayCode(frames()), H2ErrorCode.ENHANCE_YOUR_CALM);
  });

  it("a reset by the client ends the stream with its code", () => {
    const { h2, events } = setup();
    h2.receive(concat([start(), headers(1, WS)]));
    const rst = new Uint8Array(4);
    rst[3] = H2ErrorCode.CANCEL;
    h2.receive(encodeFrame(FrameType.RST_STREAM, 0, 1, rst));
    assert.deepEqual(events.at(-1), { kind: "closed", id: 1, code: H2ErrorCode.CANCEL });
  });

  it("shutdown sends GOAWAY(NO_ERROR), refuses new streams and is done once the last ends", () => {
    const { h2, frames, events } = setup();
    h2.receive(concat([start(), headers(1, WS)]));
    h2.shutdown();
    const out = frames();
    assert.equal(goawayCode(out), H2ErrorCode.NO_ERROR);
    assert.equal(h2.done, false);
    h2.receive(headers(3, WS));
    assert.equal(rstCode(frames(), 3), H2ErrorCode.REFUSED_STREAM);
    h2.respond(1, [[":status", "200"]], false);
    h2.send(1, [], true);
    h2.receive(data(1, new Uint8Array(0), Flag.END_STREAM));
    assert.deepEqual(events.at(-1), { kind: "closed", id: 1, code: 0 });
    assert.equal(h2.done, true);
  });
});
