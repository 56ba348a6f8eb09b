/**
 * The wire formats a client and a server both read: sprig's envelope
 * around a topic's message ({@link envelope}, {@link openEnvelope}), the
 * positions a reconnecting client carries in its URL
 * ({@link POSITIONS_PARAM}). This module imports nothing of the server, so
 * the client (and a browser page) can use it alone.
 *
 * @module
 */

/**
 * Where a message stands in its topic's history. `seq` grows by one per
 * message of the topic, from 1; `epoch` names the history it counts in and
 * changes when that history is lost (a process restart for the in-memory
 * ring), so a position of an older epoch says nothing about the new one.
 */
export interface Position {
  /** An opaque id of the history, 16 hex digits for the in-memory ring. */
  readonly epoch: string;
  /** 1 for the topic's first message in `epoch`, then +1 per message. */
  readonly seq: number;
}

/** The fields of an enveloped message. */
export interface EnvelopeFields {
  /** The topic the message was published on. */
  readonly topic: string;
  /** The message's position in the topic's history. */
  readonly position: Position;
  /** The message as published: text as a string, binary as bytes. */
  readonly data: string | Uint8Array;
}

const BINARY_MAGIC = 0x73; // "s"

/**
 * sprig's envelope: a text message becomes the JSON text
 * `{"topic":…,"epoch":…,"seq":…,"data":"…"}`; a binary one becomes the bytes
 * `0x73`, the header's length (uint32, big-endian), the UTF-8 JSON header
 * `{"topic":…,"epoch":…,"seq":…}`, then the payload. {@link openEnvelope}
 * reads both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { envelope, openEnvelope } from "./envelope.ts";
 * const text = envelope({ topic: "t", position: { epoch: "e", seq: 7 }, data: "hi" });
 * assert.equal(text, '{"topic":"t","epoch":"e","seq":7,"data":"hi"}');
 * assert.deepEqual(openEnvelope(text), { topic: "t", position: { epoch: "e", seq: 7 }, data: "hi" });
 * const bin = envelope({ topic: "t", position: { epoch: "e", seq: 8 }, data: new Uint8Array([1, 2]) });
 * assert.deepEqual(openEnvelope(bin)!.data, new Uint8Array([1, 2]));
 * ```
 */
export function envelope(fields: EnvelopeFields): string | Uint8Array {
  const { topic, position, data } = fields;
  if (typeof data === "string") {
    return JSON.stringify({ topic, epoch: position.epoch, seq: position.seq, data });
  }
  const header = new TextEncoder().encode(
    JSON.stringify({ topic, epoch: position.epoch, seq: position.seq }),
  );
  const out = new Uint8Array(5 + header.length + data.length);
  out[0] = BINARY_MAGIC;
  new DataView(out.buffer).setUint32(1, header.length);
  out.set(header, 5);
  out.set(data, 5 + header.length);
  return out;
}

/**
 * Reads a message made by {@link envelope} (on the client, say), or
 * returns undefined for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openEnvelope } from "./envelope.ts";
 * assert.equal(openEnvelope("plain text"), undefined);
 * ```
 */
export function openEnvelope(
  message: string | Uint8Array,
): { topic: string; position: Position; data: string | Uint8Array } | undefined {
  try {
    if (typeof message === "string") {
      if (!message.startsWith('{"topic":')) return undefined;
      const o = JSON.parse(message);
      if (!isHeader(o) || typeof o.data !== "string") return undefined;
      return { topic: o.topic, position: { epoch: o.epoch, seq: o.seq }, data: o.data };
    }
    if (message.length < 5 || message[0] !== BINARY_MAGIC) return undefined;
    const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
    const length = view.getUint32(1);
    if (5 + length > message.length) return undefined;
    const o = JSON.parse(new TextDecoder().decode(message.subarray(5, 5 + length)));
    if (!isHeader(o)) return undefined;
    return {
      topic: o.topic,
      position: { epoch: o.epoch, seq: o.seq },
      data: message.subarray(5 + length),
    };
  } catch {
    return undefined;
  }
}

function isHeader(o: unknown): o is { topic: string; epoch: string; seq: number; data?: unknown } {
  if (typeof o !== "object" || o === null) return false;
  const h = o as Record<string, unknown>;
  return typeof h.topic === "string" && typeof h.epoch === "string" &&
    Number.isSafeInteger(h.seq);
}

/**
 * The query parameter in which `reconnecting(url, { positions: true })`
 * carries the last position it received per topic into its next attempt:
 * `sprig-from`, whose value is the JSON object `{"<topic>":["<epoch>",<seq>],…}`
 * (URL-encoded). {@link resumeFrom} reads it on the server.
 */
export const POSITIONS_PARAM = "sprig-from";

/** The most topics {@link positionsParam} writes and {@link resumePositions} reads. */
export const MAX_CARRIED_POSITIONS = 100;

/**
 * The value of {@link POSITIONS_PARAM} for `positions` (at most
 * {@link MAX_CARRIED_POSITIONS}, the last ones of the iteration), or
 * undefined when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { positionsParam } from "./envelope.ts";
 * assert.equal(positionsParam([["feed", { epoch: "e1", seq: 4 }]]), '{"feed":["e1",4]}');
 * ```
 */
export function positionsParam(positions: Iterable<[string, Position]>): string | undefined {
  const all = [...positions];
  if (all.length === 0) return undefined;
  const o: Record<string, [string, number]> = {};
  for (const [topic, p] of all.slice(-MAX_CARRIED_POSITIONS)) o[topic] = [p.epoch, p.seq];
  return JSON.stringify(o);
}

/**
 * The positions a client carried in its request's {@link POSITIONS_PARAM}
 * (what `reconnecting(url, { positions: true })` sends), by topic. Anything
 * malformed or forged is left out (a bad entry, or all of a value that is
 * not that JSON object): the server then resumes those topics live. At most
 * {@link MAX_CARRIED_POSITIONS} topics are read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumePositions } from "./envelope.ts";
 * const url = new URL('ws://h/feed?sprig-from={"feed":["e1",4],"bad":[1]}');
 * assert.deepEqual([...resumePositions(url)], [["feed", { epoch: "e1", seq: 4 }]]);
 * ```
 */
export function resumePositions(url: URL | string): Map<string, Position> {
  const out = new Map<string, Position>();
  let raw: string | null;
  try {
    raw = (typeof url === "string" ? new URL(url) : url).searchParams.get(POSITIONS_PARAM);
  } catch {
    return out;
  }
  if (raw === null) return out;
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch {
    return out;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return out;
  for (const [topic, value] of Object.entries(o)) {
    if (out.size >= MAX_CARRIED_POSITIONS) break;
    if (!Array.isArray(value) || value.length !== 2) continue;
    const [epoch, seq] = value as unknown[];
    if (typeof epoch !== "string" || !Number.isSafeInteger(seq) || (seq as number) < 0) continue;
    out.set(topic, { epoch, seq: seq as number });
  }
  return out;
}

/**
 * The position a client carried for `topic` (see {@link resumePositions}),
 * to pass to `ctx.ref.resume(topic, from)`; undefined when it carried none,
 * so the topic is resumed live.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resumeFrom } from "./envelope.ts";
 * const url = 'ws://h/?sprig-from={"feed":["e1",4]}';
 * assert.deepEqual(resumeFrom(url, "feed"), { epoch: "e1", seq: 4 });
 * assert.equal(resumeFrom(url, "news"), undefined);
 * ```
 */
export function resumeFrom(url: URL | string, topic: string): Position | undefined {
  return resumePositions(url).get(topic);
}

// ---------------------------------------------------------------- resend

/**
 * The query parameter in which `reconnecting(url, { resend: true })`
 * carries its session id (16 to 64 characters of `[0-9A-Za-z_-]`), the key
 * under which the server (`resendable()`) remembers the last message it
 * took from that client across connections.
 */
export const SESSION_PARAM = "sprig-session";

/** The first byte of a binary message sent with `resend` ("q"), before the 8-byte sequence number. */
const RESEND_MAGIC = 0x71;
/** The first two bytes of an acknowledgement's pong payload ("sa"), before the 8-byte sequence number. */
const ACK_MAGIC_0 = 0x73;
const ACK_MAGIC_1 = 0x61;

/**
 * A client message numbered for `resend`: text becomes `<seq>:<text>`
 * (the decimal number, a colon, the text); binary becomes the byte `0x71`,
 * the number as an unsigned 64-bit big-endian integer, then the payload
 * (one copy). {@link openResent} reads both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openResent, resendWrap } from "./envelope.ts";
 * assert.equal(resendWrap(7, "hi"), "7:hi");
 * assert.deepEqual(openResent("7:hi"), { seq: 7, data: "hi" });
 * const bin = resendWrap(8, new Uint8Array([1, 2])) as Uint8Array;
 * assert.equal(bin.length, 11);
 * assert.deepEqual(openResent(bin), { seq: 8, data: new Uint8Array([1, 2]) });
 * assert.equal(openResent("no number"), undefined);
 * ```
 */
export function resendWrap(seq: number, data: string | Uint8Array): string | Uint8Array {
  if (typeof data === "string") return `${seq}:${data}`;
  const out = new Uint8Array(9 + data.length);
  out[0] = RESEND_MAGIC;
  writeU64(out, 1, seq);
  out.set(data, 9);
  return out;
}

/** Reads a message made by {@link resendWrap}, or undefined when it is not one. */
export function openResent(
  message: string | Uint8Array,
): { seq: number; data: string | Uint8Array } | undefined {
  if (typeof message === "string") {
    const colon = message.indexOf(":");
    if (colon < 1 || colon > 16) return undefined;
    let seq = 0;
    for (let i = 0; i < colon; i++) {
      const d = message.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return undefined;
      seq = seq * 10 + d;
    }
    if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
    return { seq, data: message.slice(colon + 1) };
  }
  if (message.length < 9 || message[0] !== RESEND_MAGIC) return undefined;
  const seq = readU64(message, 1);
  if (seq === undefined || seq < 1) return undefined;
  return { seq, data: message.subarray(9) };
}

/**
 * The payload of the pong that acknowledges every client message up to
 * `seq` (cumulative): `0x73 0x61` ("sa"), then `seq` as an unsigned 64-bit
 * big-endian integer. An unsolicited pong (RFC 6455 §5.5.3) needs no
 * answer and reaches no application, so acknowledgements take no message
 * of the application's own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ackPayload, readAck } from "./envelope.ts";
 * assert.equal(readAck(ackPayload(41)), 41);
 * assert.equal(readAck(new Uint8Array([0x73, 0x70, 0, 0, 0, 1])), undefined); // a keepalive's
 * ```
 */
export function ackPayload(seq: number): Uint8Array {
  const out = new Uint8Array(10);
  out[0] = ACK_MAGIC_0;
  out[1] = ACK_MAGIC_1;
  writeU64(out, 2, seq);
  return out;
}

/** The sequence number a pong made by {@link ackPayload} acknowledges, or undefined. */
export function readAck(payload: Uint8Array): number | undefined {
  if (payload.length !== 10 || payload[0] !== ACK_MAGIC_0 || payload[1] !== ACK_MAGIC_1) {
    return undefined;
  }
  return readU64(payload, 2);
}

function writeU64(out: Uint8Array, at: number, n: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(at, Math.floor(n / 0x1_0000_0000));
  view.setUint32(at + 4, n >>> 0);
}

function readU64(bytes: Uint8Array, at: number): number | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(at) * 0x1_0000_0000 + view.getUint32(at + 4);
  return Number.isSafeInteger(n) ? n : undefined;
}
