/**
 * Topics and publishing, as Bun offers them: connections subscribe to
 * topics, `publish(topic, message)` reaches every subscriber once, and the
 * frame is encoded once for every subscriber that sends it unchanged.
 *
 * @module
 */

import { encodeFrame, Opcode } from "../../protocol/frame.ts";
import { encodeUtf8 } from "../../protocol/utf8.ts";
import { messageBytes } from "./channel.ts";
import type { OutgoingMessage } from "./handler.ts";

/**
 * One published message, shared by all its subscribers. The UTF-8 payload
 * and the unmasked server frame (RFC 6455 §5.1: a server MUST NOT mask) are
 * computed on first use and then reused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PublishedMessage } from "./pubsub.ts";
 * const m = new PublishedMessage("Hello");
 * assert.deepEqual([...m.frame], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]); // RFC 6455 §5.7
 * assert.equal(m.frame, m.frame); // encoded once, then shared
 * ```
 */
export class PublishedMessage {
  /** The message as given: text as a string, binary as bytes. */
  readonly data: string | Uint8Array;
  #payload: Uint8Array | undefined;
  #frame: Uint8Array | undefined;

  /** A string goes as text, bytes as binary. Bytes are not copied: leave them unchanged. */
  constructor(message: OutgoingMessage) {
    this.data = typeof message === "string" ? message : messageBytes(message);
  }

  /** True for a text message. */
  get isText(): boolean {
    return typeof this.data === "string";
  }

  /** The payload bytes (UTF-8 for text). */
  get payload(): Uint8Array {
    return this.#payload ??= typeof this.data === "string" ? encodeUtf8(this.data) : this.data;
  }

  /** The whole frame, FIN set, no RSV bits, unmasked: what an uncompressed subscriber gets. */
  get frame(): Uint8Array {
    return this.#frame ??= encodeFrame({
      fin: true,
      rsv: 0,
      opcode: this.isText ? Opcode.Text : Opcode.Binary,
      payload: this.payload,
    });
  }
}

/** Something that can subscribe: a live connection. */
export interface Subscriber {
  /** Sends a published message; false when it could not (closing). */
  deliver(message: PublishedMessage): boolean;
}

/**
 * The topic registry of one server (or adapter). Subscriber sets are
 * iterated in subscription order; publishing to a topic with no subscriber
 * encodes nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Topics } from "./pubsub.ts";
 * const topics = new Topics();
 * const got: string[] = [];
 * const sub = { deliver: (m: { data: string | Uint8Array }) => (got.push(String(m.data)), true) };
 * topics.subscribe("news", sub);
 * assert.equal(topics.publish("news", "hello"), 1); // reached one subscriber
 * assert.equal(topics.publish("sports", "goal"), 0); // nobody there
 * assert.deepEqual(got, ["hello"]);
 * ```
 */
export class Topics {
  readonly #topics = new Map<string, Set<Subscriber>>();

  /** Adds a subscription; false when it already existed. */
  subscribe(topic: string, subscriber: Subscriber): boolean {
    let set = this.#topics.get(topic);
    if (!set) this.#topics.set(topic, set = new Set());
    if (set.has(subscriber)) return false;
    set.add(subscriber);
    return true;
  }

  /** Removes a subscription; false when there was none. */
  unsubscribe(topic: string, subscriber: Subscriber): boolean {
    const set = this.#topics.get(topic);
    if (!set || !set.delete(subscriber)) return false;
    if (set.size === 0) this.#topics.delete(topic);
    return true;
  }

  /** How many connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  /** The topics with at least one subscriber. */
  get topics(): string[] {
    return [...this.#topics.keys()];
  }

  /**
   * Sends `message` to every subscriber of `topic` (except `except`) and
   * returns how many took it. Subscribers are snapshotted first, so one that
   * unsubscribes or subscribes during delivery changes nothing for this
   * message.
   */
  publish(topic: string, message: OutgoingMessage | PublishedMessage, except?: Subscriber): number {
    const set = this.#topics.get(topic);
    if (!set || set.size === 0) return 0;
    const shared = message instanceof PublishedMessage ? message : new PublishedMessage(message);
    let count = 0;
    for (const subscriber of [...set]) {
      if (subscriber !== except && subscriber.deliver(shared)) count++;
    }
    return count;
  }
}
