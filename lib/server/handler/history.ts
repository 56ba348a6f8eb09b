/**
 * Topic history: positions, retention, and what a resumed subscriber is
 * told. In one process the history is an in-memory ring
 * ({@link MemoryHistory}); the same shapes ({@link Position},
 * {@link RetainOptions}, {@link ResumeReport}) are what a history kept in
 * an engine (a Redis Stream, ids `0-<seq>`) hands out, so an application
 * does not change when its history moves there.
 *
 * @module
 */

import type { PublishedMessage } from "./pubsub.ts";

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

/**
 * How much history a topic keeps. Either bound, or both (a message goes
 * when it passes either). Setting only `ms` still caps the count at
 * {@link HISTORY_DEFAULTS}`.maxMessages`, so memory is always bounded.
 */
export interface RetainOptions {
  /** The last this many messages; 1 to 1,000,000. Default 1,000 (10,000 when only `ms` is set). */
  messages?: number;
  /**
   * Messages younger than this, in milliseconds; ≥ 1. Default none. Age is
   * read from a shared coarse clock (one timer per server while such a topic
   * exists, ticking every `ms / 8`, 10 ms to 1 s), so a message may stay up
   * to one tick longer.
   */
  ms?: number;
}

/**
 * Defaults and bounds of {@link RetainOptions}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HISTORY_DEFAULTS } from "./history.ts";
 * assert.equal(HISTORY_DEFAULTS.messages, 1000);
 * ```
 */
export const HISTORY_DEFAULTS = {
  /** Messages kept when `retain` sets no bound (or is `true`). */
  messages: 1000,
  /** The count cap when only `ms` is set. */
  maxMessages: 10_000,
  /** The largest `retain.messages` accepted. */
  limit: 1_000_000,
} as const;

/** An inclusive range of sequence numbers in one epoch. */
export interface SeqRange {
  /** The epoch the range counts in. */
  readonly epoch: string;
  /** The first missing `seq`. */
  readonly from: number;
  /** The last missing `seq` (inclusive); `to - from + 1` messages. */
  readonly to: number;
}

/**
 * What a subscription "from position P" got, as `ConnectionRef.resume`
 * reports it. Messages replayed were queued to the subscriber before any
 * live message that followed, so the subscriber sees the topic in order,
 * each message once, from the first replayed one on.
 *
 * `status`:
 * - `complete`: everything after `from` was replayed (`replayed` messages);
 * - `gap`: `from` is older than the history; `missed` is the exact range
 *   that is gone, and what followed it was replayed;
 * - `epoch`: `from` belongs to a history that no longer exists (`from.epoch`
 *   ≠ `epoch`); what was published after `from` in the old epoch is unknown.
 *   The current epoch's history was replayed from its first kept message,
 *   and `missed` is the range of the current epoch already gone, if any;
 * - `ahead`: `from.seq` is past the topic's last message in this epoch (a
 *   forged or corrupt position); nothing was replayed;
 * - `live`: no `from` was given: subscribed from now on;
 * - `no-history`: the topic keeps no history (`retain` not set); subscribed
 *   from now on, nothing can be recovered;
 * - `subscribed`: the connection was already subscribed; nothing changed.
 */
export interface ResumeReport {
  /** The topic resumed. */
  readonly topic: string;
  /** What happened: see above. */
  readonly status: "complete" | "gap" | "epoch" | "ahead" | "live" | "no-history" | "subscribed";
  /** How many messages were replayed. */
  readonly replayed: number;
  /** What could not be recovered, where it is known exactly. */
  readonly missed?: SeqRange;
  /** The topic's current epoch (`""` without history). */
  readonly epoch: string;
  /**
   * The position of the topic's last message when the subscription began:
   * the subscriber has everything up to it (but `missed`), and gets every
   * later one live. Undefined when the topic has had no message in this epoch.
   */
  readonly position?: Position;
}

/**
 * What a topic does with positions on the wire. `true` uses sprig's
 * envelope ({@link envelope}); a function makes the message the
 * subscribers get from the published data and its position (called once
 * per message and instance, never per subscriber).
 */
export type EnvelopeOption =
  | boolean
  | ((message: EnvelopeFields) => string | Uint8Array);

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
 * import { envelope, openEnvelope } from "./history.ts";
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
 * import { openEnvelope } from "./history.ts";
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

/** A new epoch: 64 random bits as 16 hex digits. @internal */
export function newEpoch(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  let s = "";
  for (let i = 0; i < 8; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

/**
 * The retention bounds of `retain`, checked, or undefined when history is off.
 *
 * @throws {RangeError} for a bound out of range
 */
export function retention(
  retain: RetainOptions | boolean | undefined,
): { messages: number; ms: number } | undefined {
  if (retain === undefined || retain === false) return undefined;
  const r = retain === true ? {} : retain;
  if (typeof r !== "object" || r === null) {
    throw new TypeError("retain is true, false or { messages?, ms? }");
  }
  const { messages, ms } = r;
  if (
    messages !== undefined &&
    !(Number.isInteger(messages) && messages >= 1 && messages <= HISTORY_DEFAULTS.limit)
  ) {
    throw new RangeError(`retain.messages is an integer from 1 to ${HISTORY_DEFAULTS.limit}`);
  }
  if (ms !== undefined && !(Number.isFinite(ms) && ms >= 1)) {
    throw new RangeError("retain.ms is a number of milliseconds, at least 1");
  }
  return {
    messages: messages ??
      (ms === undefined ? HISTORY_DEFAULTS.messages : HISTORY_DEFAULTS.maxMessages),
    ms: ms ?? 0,
  };
}

/**
 * The last messages of one topic in one process: a ring of at most
 * `messages` entries, each with its arrival time when `ms` bounds age.
 * Sequence numbers are implicit: the entry `i` places after the oldest has
 * `first + i`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryHistory } from "./history.ts";
 * import { PublishedMessage } from "./pubsub.ts";
 * const h = new MemoryHistory({ messages: 2, ms: 0 });
 * for (const m of ["a", "b", "c"]) h.append(new PublishedMessage(m), 0);
 * assert.equal(h.first, 2); // "a" (seq 1) fell out
 * assert.equal(h.last, 3);
 * assert.deepEqual(h.after(1, 0).map((m) => m.data), ["b", "c"]);
 * ```
 */
export class MemoryHistory {
  readonly epoch: string = newEpoch();
  readonly #capacity: number;
  readonly #ms: number;
  readonly #items: (PublishedMessage | undefined)[];
  #times: Float64Array | undefined;
  /** Index of the oldest entry. */
  #head = 0;
  #size = 0;
  /** The seq the next message gets. */
  #next = 1;

  constructor(bounds: { messages: number; ms: number }) {
    this.#capacity = bounds.messages;
    this.#ms = bounds.ms;
    // Grown on demand up to the capacity: a topic with few messages holds little.
    this.#items = [];
    this.#times = bounds.ms > 0 ? new Float64Array(Math.min(bounds.messages, 64)) : undefined;
  }

  /** True when entries expire by age (the owner keeps a clock running). */
  get timed(): boolean {
    return this.#ms > 0;
  }

  /** The oldest kept seq (`last + 1` when empty). */
  get first(): number {
    return this.#next - this.#size;
  }

  /** The newest seq given out (0 before the first message). */
  get last(): number {
    return this.#next - 1;
  }

  /** Appends a message and returns its seq. `now` is the coarse clock, in ms (ignored without `ms`). */
  append(message: PublishedMessage, now: number): number {
    const cap = this.#capacity;
    let index: number;
    if (this.#size < cap) {
      index = (this.#head + this.#size) % cap;
      this.#size++;
    } else {
      index = this.#head;
      this.#head = (this.#head + 1) % cap;
    }
    if (index === this.#items.length) this.#items.push(message);
    else this.#items[index] = message;
    if (this.#times) {
      let times = this.#times;
      if (index >= times.length) {
        const grown = new Float64Array(Math.min(cap, times.length * 2));
        grown.set(times);
        times = this.#times = grown;
      }
      times[index] = now;
      this.#expire(now);
    }
    return this.#next++;
  }

  /** Drops entries older than `ms` at `now`. */
  #expire(now: number): void {
    const times = this.#times;
    if (!times) return;
    const limit = now - this.#ms;
    const cap = this.#capacity;
    while (this.#size > 0 && times[this.#head] < limit) {
      this.#items[this.#head] = undefined;
      this.#head = (this.#head + 1) % cap;
      this.#size--;
    }
  }

  /** The kept messages with a seq above `seq`, oldest first, after expiring by `now`. */
  after(seq: number, now: number): PublishedMessage[] {
    this.#expire(now);
    const from = Math.max(seq + 1, this.first);
    const out: PublishedMessage[] = [];
    const cap = this.#capacity;
    for (let s = from; s <= this.last; s++) {
      out.push(this.#items[(this.#head + (s - this.first)) % cap]!);
    }
    return out;
  }
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
 * import { positionsParam } from "./history.ts";
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
 * import { resumePositions } from "./history.ts";
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
 * import { resumeFrom } from "./history.ts";
 * const url = 'ws://h/?sprig-from={"feed":["e1",4]}';
 * assert.deepEqual(resumeFrom(url, "feed"), { epoch: "e1", seq: 4 });
 * assert.equal(resumeFrom(url, "news"), undefined);
 * ```
 */
export function resumeFrom(url: URL | string, topic: string): Position | undefined {
  return resumePositions(url).get(topic);
}
