/**
 * What a topic does for a subscriber that does not read: its pending output
 * (bytes queued for it and not yet taken by the operating system) passes a
 * bound, and then its copies are dropped, conflated to the latest per key,
 * it is closed with 1013, or the publisher is asked to pause. The check is
 * one comparison per delivery, and only on subscriptions that have a policy.
 *
 * @module
 */

import type { Position } from "../../session/envelope.ts";
import type { PublishedMessage, Subscriber } from "./message.ts";

/**
 * A slow-subscriber policy, for a topic (`TopicOptions.slow`) or one
 * subscription (`ConnectionRef.subscribe(topic, { slow })`).
 *
 * - `drop`: this subscriber's copies are not queued while it is over the
 *   bound; each is counted, and the episode is reported once (`dropped`, with
 *   the first and last position dropped on a topic with history) when it is
 *   below the bound again or unsubscribes;
 * - `latest`: while over the bound, only the newest message per `key` is held
 *   (at most `maxKeys` keys; a new key beyond that is dropped and counted);
 *   the held ones are sent, in the order their keys first came, when its
 *   output drained or at the next message after it did; reported once per
 *   episode (`conflated`);
 * - `close`: the subscriber is closed with 1013 (Try Again Later) and
 *   `terminate` gets an `error` with code `SLOW_SUBSCRIBER`; reported
 *   (`closed`);
 * - `pause`: every copy is still queued, but the topic stops being
 *   writable (`server.isWritable(topic)` is false, `server.whenWritable(topic)`
 *   waits) until every `pause` subscriber is below the bound again;
 *   reported (`paused`, then `resumed`). A publisher that does not wait
 *   still meets `maxSendBufferBytes`, which drops the connection.
 *
 * Without a policy, a subscriber that does not read fills its send buffer
 * up to `maxSendBufferBytes` (16 MiB) and is then dropped (`SEND_BUFFER_FULL`).
 */
export interface SlowPolicy {
  /** What happens past the bound (see above). */
  policy: "drop" | "latest" | "close" | "pause";
  /** The bound on the subscriber's pending output, in bytes; 0 to 2^31. Default 1 MiB. */
  maxPendingBytes?: number;
  /**
   * `latest` only: the conflation key of a message, given its data as
   * published (before any envelope); called once per message, not per
   * subscriber. Default: one key for the whole
   * topic (only the newest message is held).
   */
  key?: (data: string | Uint8Array) => string;
  /** `latest` only: the most keys held per subscriber; 1 to 1,000,000. Default 1,024. */
  maxKeys?: number;
  /**
   * Receives every report; it runs in the publisher's (or the drain's)
   * turn, must not throw (errors go to `onError`) and should not publish.
   * Default: none (the counts are still kept in `stats`).
   */
  onReport?: (report: SlowReport) => void;
}

/**
 * Defaults of {@link SlowPolicy}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SLOW_DEFAULTS } from "./slow.ts";
 * assert.equal(SLOW_DEFAULTS.maxPendingBytes, 1024 * 1024);
 * ```
 */
export const SLOW_DEFAULTS = {
  maxPendingBytes: 1024 * 1024,
  maxKeys: 1024,
} as const;

/**
 * One episode of a slow subscriber, reported once.
 *
 * - `dropped`: it got none of `dropped` messages (`first` and `last`: their
 *   positions, on a topic with history);
 * - `conflated`: `conflated` messages were replaced by a newer one of their
 *   key, and `dropped` new keys beyond `maxKeys` were dropped; the newest of
 *   each held key was sent;
 * - `closed`: it was closed with 1013; `dropped` counts the messages it did
 *   not get at that point (1: the one that found it over the bound), plus
 *   those held by `latest`;
 * - `paused` / `resumed`: the topic stopped / started being writable because
 *   of this subscriber.
 */
export interface SlowReport {
  /** What happened (see above). */
  readonly type: "dropped" | "conflated" | "closed" | "paused" | "resumed";
  /** The topic the subscription is to. */
  readonly topic: string;
  /** The subscriber: on a server, the connection's `ConnectionRef`. */
  readonly subscriber: Subscriber;
  /** The policy that applied. */
  readonly policy: SlowPolicy["policy"];
  /** Messages this subscriber did not get in this episode. */
  readonly dropped: number;
  /** `latest`: messages replaced by a newer one of their key in this episode. */
  readonly conflated: number;
  /** Position of the first message dropped, on a topic with history. */
  readonly first?: Position;
  /** Position of the last message dropped, on a topic with history. */
  readonly last?: Position;
  /** The subscriber's pending output when reported, in bytes. */
  readonly pendingBytes: number;
}

/** What a {@link SlowSubscription} needs from its topic. @internal */
export interface SlowTopic {
  readonly name: string;
  /** A subscriber of this topic passed (true) or came back below (false) its `pause` bound. */
  pauseChanged(subscription: SlowSubscription, paused: boolean): void;
  /** A report for `onReport`, guarded. */
  report(policy: SlowPolicy, report: SlowReport): void;
  /** The conflation key of a message (computed once per message). */
  keyOf(message: PublishedMessage, key: (data: string | Uint8Array) => string): string;
}

/**
 * A subscription with a policy: stands in for its subscriber in the
 * topic's fan-out. @internal
 */
export class SlowSubscription {
  readonly target: Subscriber;
  readonly #policy: SlowPolicy;
  readonly #topic: SlowTopic;
  readonly #max: number;
  readonly #maxKeys: number;
  #dropped = 0;
  #conflated = 0;
  #first: Position | undefined;
  #last: Position | undefined;
  #held: Map<string, PublishedMessage> | undefined;
  #paused = false;
  #closed = false;

  constructor(target: Subscriber, policy: SlowPolicy, topic: SlowTopic) {
    this.target = target;
    this.#policy = policy;
    this.#topic = topic;
    this.#max = policy.maxPendingBytes ?? SLOW_DEFAULTS.maxPendingBytes;
    this.#maxKeys = policy.maxKeys ?? SLOW_DEFAULTS.maxKeys;
  }

  /** True while this subscriber holds its topic's publishers (`pause`). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Queues `message`, or applies the policy. True when queued now. */
  deliver(message: PublishedMessage): boolean {
    const target = this.target;
    const pending = target.pendingBytes ?? 0;
    if (pending <= this.#max) {
      if (this.#held !== undefined || this.#dropped > 0) this.#recover(pending);
      return target.deliver(message);
    }
    switch (this.#policy.policy) {
      case "drop":
        this.#drop(message);
        return false;
      case "latest":
        this.#hold(message);
        return false;
      case "close":
        if (this.#closed) return false;
        this.#closed = true;
        this.#drop(message);
        this.#dropped += this.#held?.size ?? 0;
        this.#held = undefined;
        this.#report("closed", pending);
        target.closeSlow?.();
        return false;
      case "pause": {
        const ok = target.deliver(message);
        if (!this.#paused) {
          this.#paused = true;
          target.watchDrain?.(this);
          this.#report("paused", pending);
          this.#topic.pauseChanged(this, true);
        }
        return ok;
      }
    }
  }

  /** The subscriber's output drained: held messages go, a pause may end. */
  drained(): void {
    const pending = this.target.pendingBytes ?? 0;
    if (pending > this.#max) return;
    if (this.#paused) {
      this.#paused = false;
      this.target.unwatchDrain?.(this);
      this.#report("resumed", pending);
      this.#topic.pauseChanged(this, false);
    }
    if (this.#held !== undefined || this.#dropped > 0) this.#recover(pending);
  }

  /** Unsubscribed or closed: an open episode is reported now. */
  end(): void {
    this.target.unwatchDrain?.(this);
    if (this.#paused) {
      this.#paused = false;
      this.#topic.pauseChanged(this, false);
    }
    if (this.#closed) return;
    const pending = this.target.pendingBytes ?? 0;
    if (this.#held !== undefined) {
      this.#dropped += this.#held.size;
      this.#held = undefined;
    }
    if (this.#dropped > 0 || this.#conflated > 0) {
      this.#report(this.#policy.policy === "latest" ? "conflated" : "dropped", pending);
    }
  }

  #drop(message: PublishedMessage): void {
    if (this.#dropped === 0) {
      this.#first = message.position;
      this.target.watchDrain?.(this);
    }
    this.#last = message.position;
    this.#dropped++;
  }

  #hold(message: PublishedMessage): void {
    const key = this.#policy.key ? this.#topic.keyOf(message, this.#policy.key) : "";
    let held = this.#held;
    if (held === undefined) {
      held = this.#held = new Map();
      this.target.watchDrain?.(this);
    }
    if (held.has(key)) {
      this.#conflated++;
      held.set(key, message);
    } else if (held.size < this.#maxKeys) {
      held.set(key, message);
    } else {
      this.#drop(message);
    }
  }

  /** Below the bound again: send what is held, report the episode. */
  #recover(pending: number): void {
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) {
      for (const message of held.values()) this.target.deliver(message);
    }
    const type = this.#policy.policy === "latest" ? "conflated" : "dropped";
    if (this.#dropped > 0 || this.#conflated > 0) this.#report(type, pending);
    if (!this.#paused) this.target.unwatchDrain?.(this);
  }

  #report(type: SlowReport["type"], pending: number): void {
    const report: SlowReport = {
      type,
      topic: this.#topic.name,
      subscriber: this.target,
      policy: this.#policy.policy,
      dropped: this.#dropped,
      conflated: this.#conflated,
      ...(this.#first ? { first: this.#first } : {}),
      ...(this.#last ? { last: this.#last } : {}),
      pendingBytes: pending,
    };
    if (type === "dropped" || type === "conflated") {
      this.#dropped = 0;
      this.#conflated = 0;
      this.#first = this.#last = undefined;
    }
    this.#topic.report(this.#policy, report);
  }
}

/**
 * Checks a policy given by the application.
 *
 * @throws {TypeError} for a value that is not a policy
 * @throws {RangeError} for a bound out of range
 */
export function checkSlowPolicy(name: string, policy: unknown): SlowPolicy | undefined {
  if (policy === undefined) return undefined;
  if (typeof policy !== "object" || policy === null) {
    throw new TypeError(`${name} is { policy: "drop" | "latest" | "close" | "pause", … }`);
  }
  const p = policy as SlowPolicy;
  if (!["drop", "latest", "close", "pause"].includes(p.policy)) {
    throw new TypeError(`${name}.policy is "drop", "latest", "close" or "pause"`);
  }
  const max = p.maxPendingBytes;
  if (max !== undefined && !(Number.isInteger(max) && max >= 0 && max <= 2 ** 31)) {
    throw new RangeError(`${name}.maxPendingBytes is an integer from 0 to 2^31`);
  }
  const keys = p.maxKeys;
  if (keys !== undefined && !(Number.isInteger(keys) && keys >= 1 && keys <= 1_000_000)) {
    throw new RangeError(`${name}.maxKeys is an integer from 1 to 1,000,000`);
  }
  if (p.key !== undefined && typeof p.key !== "function") {
    throw new TypeError(`${name}.key is a function`);
  }
  if (p.onReport !== undefined && typeof p.onReport !== "function") {
    throw new TypeError(`${name}.onReport is a function`);
  }
  return p;
}
