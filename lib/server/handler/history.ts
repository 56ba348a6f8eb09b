/**
 * Topic history: positions, retention, and what a resumed subscriber is
 * told. In one process the history is an in-memory ring
 * ({@link MemoryHistory}); the same shapes (`Position`,
 * {@link RetainOptions}, {@link ResumeReport}) are what a history kept in
 * an engine (a Redis Stream, ids `0-<seq>`) hands out, so an application
 * does not change when its history moves there.
 *
 * @module
 */

import type { EnvelopeFields, Position } from "../../session/envelope.ts";
import type { PublishedMessage } from "./message.ts";

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
 * import { PublishedMessage } from "./message.ts";
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
