/**
 * HTTP/2 frames (RFC 9113 §4, §6): the frame header, the type, flag, error
 * and setting numbers, and the serialisers of the frames a server sends.
 *
 * @module
 */

/** Frame types (RFC 9113 §6, RFC 9113 §11.2). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6). */
export const Flag = {
  /** DATA, HEADERS. */
  END_STREAM: 0x1,
  /** SETTINGS, PING. */
  ACK: 0x1,
  /** HEADERS, CONTINUATION. */
  END_HEADERS: 0x4,
  /** DATA, HEADERS. */
  PADDED: 0x8,
  /** HEADERS. */
  PRIORITY: 0x20,
} as const;

/** Error codes of RST_STREAM and GOAWAY (RFC 9113 §7). */
export const H2ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

/** SETTINGS parameters (RFC 9113 §6.5.2; RFC 8441 §3 for ENABLE_CONNECT_PROTOCOL). */
export const Setting = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
  ENABLE_CONNECT_PROTOCOL: 0x8,
} as const;

/** The client connection preface (RFC 9113 §3.4). */
export const CLIENT_PREFACE: Uint8Array = new TextEncoder().encode(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

/**
 * The preface's first bytes, `PRI `: the method RFC 9113 §11.1 (RFC 7540
 * §11.6) reserves for the preface alone, which no HTTP/1.1 client sends.
 */
const PREFACE_METHOD_BYTES = 4;

/**
 * Whether the first bytes of a cleartext connection are HTTP/2's preface
 * (h2c by prior knowledge, RFC 9113 §3.3): true once all of it is there, or
 * once bytes that begin with its `PRI ` method differ from it later (an
 * HTTP/2 client with a broken preface: the HTTP/2 endpoint answers it with
 * a connection error, GOAWAY PROTOCOL_ERROR, RFC 9113 §3.4, where HTTP/1.1
 * would answer 400); false as soon as a byte differs within `PRI ` (an
 * HTTP/1.1 request differs within its first bytes); undefined while what
 * came so far is a prefix of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CLIENT_PREFACE, matchPreface } from "./frame.ts";
 * assert.equal(matchPreface(CLIENT_PREFACE.subarray(0, 3)), undefined);
 * assert.equal(matchPreface(CLIENT_PREFACE), true);
 * assert.equal(matchPreface(new TextEncoder().encode("GET / HTTP/1.1")), false);
 * assert.equal(matchPreface(new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nXX")), true);
 * ```
 */
export function matchPreface(bytes: Uint8Array): boolean | undefined {
  const n = Math.min(bytes.length, CLIENT_PREFACE.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== CLIENT_PREFACE[i]) return i >= PREFACE_METHOD_BYTES;
  }
  return n === CLIENT_PREFACE.length ? true : undefined;
}

/** The frame header's length (RFC 9113 §4.1). */
export const FRAME_HEADER_BYTES = 9;

/** SETTINGS_MAX_FRAME_SIZE's initial value and lower bound (RFC 9113 §6.5.2). */
export const DEFAULT_MAX_FRAME_SIZE = 16384;

/** SETTINGS_MAX_FRAME_SIZE's upper bound, 2^24 − 1 (RFC 9113 §6.5.2). */
export const MAX_MAX_FRAME_SIZE = 16777215;

/** The largest flow-control window, 2^31 − 1 (RFC 9113 §6.9.1). */
export const MAX_WINDOW = 0x7fffffff;

/** The initial flow-control window of streams and of the connection (RFC 9113 §6.9.2). */
export const DEFAULT_WINDOW = 65535;

/**
 * One frame: a 9-byte header and `payload` (RFC 9113 §4.1).
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameType } from "./frame.ts";
 * const ping = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8));
 * if (ping.length !== 17) throw new Error("bad");
 * ```
 */
export function encodeFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array,
): Uint8Array {
  const length = payload.length;
  const out = new Uint8Array(FRAME_HEADER_BYTES + length);
  writeFrameHeader(out, 0, length, type, flags, streamId);
  out.set(payload, FRAME_HEADER_BYTES);
  return out;
}

/** Writes a frame header at `at`. */
export function writeFrameHeader(
  out: Uint8Array,
  at: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[at] = length >>> 16;
  out[at + 1] = (length >>> 8) & 0xff;
  out[at + 2] = length & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  new DataView(out.buffer, out.byteOffset + at + 5, 4).setUint32(0, streamId & MAX_WINDOW);
}

/** A SETTINGS frame with these parameters (RFC 9113 §6.5.1), or its ACK when `ack`. */
export function encodeSettings(settings: ReadonlyArray<[number, number]>, ack = false): Uint8Array {
  const payload = new Uint8Array(ack ? 0 : settings.length * 6);
  const view = new DataView(payload.buffer);
  if (!ack) {
    settings.forEach(([id, value], i) => {
      view.setUint16(i * 6, id);
      view.setUint32(i * 6 + 2, value);
    });
  }
  return encodeFrame(FrameType.SETTINGS, ack ? Flag.ACK : 0, 0, payload);
}

/** A WINDOW_UPDATE frame (RFC 9113 §6.9). */
export function encodeWindowUpdate(streamId: number, increment: number): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, increment);
  return encodeFrame(FrameType.WINDOW_UPDATE, 0, streamId, payload);
}

/** A RST_STREAM frame (RFC 9113 §6.4). */
export function encodeRstStream(streamId: number, code: number): Uint8Array {
  const payload = new Uint8Array(4);
  new DataView(payload.buffer).setUint32(0, code);
  return encodeFrame(FrameType.RST_STREAM, 0, streamId, payload);
}

/** A GOAWAY frame (RFC 9113 §6.8); `debug` is opaque diagnostic data. */
export function encodeGoaway(lastStreamId: number, code: number, debug = ""): Uint8Array {
  const text = new TextEncoder().encode(debug);
  const payload = new Uint8Array(8 + text.length);
  const view = new DataView(payload.buffer);
  view.setUint32(0, lastStreamId);
  view.setUint32(4, code);
  payload.set(text, 8);
  return encodeFrame(FrameType.GOAWAY, 0, 0, payload);
}

/** A frame as {@link FrameReader} hands it out; `payload` is a view. */
export interface RawFrame {
  /** The frame type. */
  type: number;
  /** The flags. */
  flags: number;
  /** The stream identifier (the reserved bit cleared). */
  streamId: number;
  /** The payload, padding included. */
  payload: Uint8Array;
}

/**
 * Splits bytes into frames, whatever the chunk boundaries; holds a partial
 * frame until the rest arrives. Frames longer than `maxFrameSize` are
 * reported (RFC 9113 §4.2: a FRAME_SIZE_ERROR) rather than buffered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, FrameReader, FrameType } from "./frame.ts";
 * const reader = new FrameReader();
 * const frame = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8));
 * reader.push(frame.subarray(0, 4));
 * assert.equal(reader.next(), undefined); // not yet: half a frame
 * reader.push(frame.subarray(4));
 * const next = reader.next();
 * assert.ok(next !== undefined && next !== "too-large");
 * assert.equal(next.type, FrameType.PING);
 * ```
 */
export class FrameReader {
  /** Bytes from `#at` to `#end` are unread; past `#end`, room when `#owned`. */
  #buffer: Uint8Array = new Uint8Array(0);
  #at = 0;
  #end = 0;
  /** `#buffer` was allocated here (not a caller's chunk), so its room may be written. */
  #owned = false;
  /** SETTINGS_MAX_FRAME_SIZE as this side advertised it. */
  maxFrameSize: number;

  /** A reader that accepts frames of at most `maxFrameSize` payload bytes (default 16384). */
  constructor(maxFrameSize = DEFAULT_MAX_FRAME_SIZE) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes from the connection. The chunk must not be changed afterwards (frames are views on it). */
  push(chunk: Uint8Array): void {
    const rest = this.#end - this.#at;
    if (rest === 0) {
      this.#buffer = chunk;
      this.#at = 0;
      this.#end = chunk.length;
      this.#owned = false;
      return;
    }
    if (this.#owned && this.#end + chunk.length <= this.#buffer.length) {
      // Room after the unread bytes (frames handed out lie before them).
      this.#buffer.set(chunk, this.#end);
      this.#end += chunk.length;
      return;
    }
    // Grow to at least twice what is held, so a frame arriving in many
    // small chunks is copied a bounded number of times, not once per chunk.
    const joined = new Uint8Array(Math.max(2 * (rest + chunk.length), 4 * FRAME_HEADER_BYTES));
    joined.set(this.#buffer.subarray(this.#at, this.#end));
    joined.set(chunk, rest);
    this.#buffer = joined;
    this.#at = 0;
    this.#end = rest + chunk.length;
    this.#owned = true;
  }

  /** Bytes held that are not yet a whole frame. */
  get buffered(): number {
    return this.#end - this.#at;
  }

  /**
   * The next whole frame, `undefined` until one is complete, or `"too-large"`
   * when the next frame's length exceeds {@link maxFrameSize}.
   */
  next(): RawFrame | "too-large" | undefined {
    const b = this.#buffer;
    const at = this.#at;
    if (this.#end - at < FRAME_HEADER_BYTES) return undefined;
    const length = (b[at] << 16) | (b[at + 1] << 8) | b[at + 2];
    if (length > this.maxFrameSize) return "too-large";
    if (this.#end - at < FRAME_HEADER_BYTES + length) return undefined;
    const streamId = ((b[at + 5] & 0x7f) * 0x1000000) + (b[at + 6] << 16) + (b[at + 7] << 8) +
      b[at + 8];
    const frame: RawFrame = {
      type: b[at + 3],
      flags: b[at + 4],
      streamId,
      payload: b.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length),
    };
    this.#at = at + FRAME_HEADER_BYTES + length;
    return frame;
  }
}
