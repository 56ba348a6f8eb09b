/**
 * Topics and publishing, as Bun offers them: connections subscribe to
 * topics, `publish(topic, message)` reaches every subscriber once, and the
 * frame is encoded once for every subscriber that sends it unchanged.
 *
 * Beyond one process, a {@link Broker} carries what is published here to
 * the other instances of the application and hands what they publish to
 * the subscribers here. Local subscribers get a local message at once, in
 * the publisher's turn, whatever the broker does; the broker never sends it
 * back to them.
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
 * What a {@link Broker} is attached to: the topics of one server (or
 * adapter). {@link Topics} is one.
 */
export interface BrokerTarget {
  /**
   * Sends a message published on another instance to this instance's
   * subscribers of `topic`, once each, the frame encoded once; returns how
   * many took it. Never passes it back to the broker.
   */
  deliver(topic: string, message: PublishedMessage): number;
  /** Reports a failure nobody awaits (the server's `onError`). */
  reportError(error: unknown): void;
}

/**
 * Carries topics between the instances of an application (processes,
 * machines), through an engine such as Redis (`redisBroker()` in
 * `@sprig/websocket/scale`). A server given one in its `broker` option
 * attaches itself, tells it when a topic gets its first local subscriber
 * and loses its last, and hands it every message published here, after the
 * local subscribers got it. The broker delivers what the other instances
 * publish through {@link BrokerTarget.deliver}.
 *
 * A broker serves one server at a time (attach throws otherwise); the
 * server detaches when its shutdown finished.
 */
export interface Broker {
  /**
   * Starts serving `target`. Topics it already has are subscribed.
   *
   * @throws {InvalidArgumentError} when already attached to another target
   */
  attach(target: BrokerTarget): void;
  /**
   * Stops serving `target` and drops every remote subscription. Idempotent.
   * May return a promise that settles once the engine has done the
   * unsubscriptions (those of this call and those still in flight): the
   * server's shutdown waits for it, within its deadline.
   */
  detach(target: BrokerTarget): void | Promise<void>;
  /** `topic` got its first local subscriber: receive what other instances publish on it. */
  subscribe(topic: string): void;
  /** `topic` lost its last local subscriber: stop receiving it. */
  unsubscribe(topic: string): void;
  /**
   * Carries a message published here to the other instances. Returns false
   * when it could not be handed to the engine (it is unreachable): the
   * message then reached this instance's subscribers only, and the broker
   * reports it (`BrokerError`, code `BROKER_UNAVAILABLE`). Must not throw.
   */
  publish(topic: string, message: PublishedMessage): boolean;
}

/** Options of {@link Topics}. */
export interface TopicsOptions {
  /** Carries topics to and from other instances. Default: none (this process only). */
  broker?: Broker;
  /** Where broker failures go. Default: `console.error`. */
  onError?: (error: unknown) => void;
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
export class Topics implements BrokerTarget {
  readonly #topics = new Map<string, Set<Subscriber>>();
  readonly #broker: Broker | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;

  /**
   * With `options.broker`, attaches to it at once.
   *
   * @throws {InvalidArgumentError} when the broker already serves other topics
   */
  constructor(options: TopicsOptions = {}) {
    this.#broker = options.broker;
    this.#onError = options.onError;
    this.#broker?.attach(this);
  }

  /** The broker carrying these topics to other instances, if any. */
  get broker(): Broker | undefined {
    return this.#broker;
  }

  /** Adds a subscription; false when it already existed. */
  subscribe(topic: string, subscriber: Subscriber): boolean {
    let set = this.#topics.get(topic);
    if (!set) {
      this.#topics.set(topic, set = new Set());
      this.#broker?.subscribe(topic);
    }
    if (set.has(subscriber)) return false;
    set.add(subscriber);
    return true;
  }

  /** Removes a subscription; false when there was none. */
  unsubscribe(topic: string, subscriber: Subscriber): boolean {
    const set = this.#topics.get(topic);
    if (!set || !set.delete(subscriber)) return false;
    if (set.size === 0) {
      this.#topics.delete(topic);
      this.#broker?.unsubscribe(topic);
    }
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
    const broker = this.#broker;
    if (!broker && (!set || set.size === 0)) return 0;
    const shared = message instanceof PublishedMessage ? message : new PublishedMessage(message);
    const count = set ? fanOut(set, shared, except) : 0;
    // After the local subscribers: they get it in this turn whatever the broker does.
    broker?.publish(topic, shared);
    return count;
  }

  /**
   * A message from another instance (through the broker): sent to every
   * local subscriber of `topic`, and not passed back to the broker.
   */
  deliver(topic: string, message: PublishedMessage): number {
    const set = this.#topics.get(topic);
    return set ? fanOut(set, message, undefined) : 0;
  }

  /** A broker failure: to `onError`, or printed. */
  reportError(error: unknown): void {
    try {
      if (this.#onError) this.#onError(error);
      else console.error("sprig: broker:", error);
    } catch {
      // An error reporter that throws has nobody left to report to.
    }
  }

  /**
   * Detaches from the broker (a server's shutdown finished) and resolves
   * once the broker says its unsubscriptions are done, or after `waitMs`.
   * Idempotent.
   */
  close(waitMs = 0): Promise<void> {
    const done = this.#broker?.detach(this);
    if (!done || typeof done.then !== "function") return Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      Promise.resolve(done).catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]).finally(() => clearTimeout(timer));
  }
}

/** Sends to a snapshot of `set`, so (un)subscribing during delivery changes nothing for this message. */
function fanOut(
  set: Set<Subscriber>,
  message: PublishedMessage,
  except: Subscriber | undefined,
): number {
  let count = 0;
  for (const subscriber of [...set]) {
    if (subscriber !== except && subscriber.deliver(message)) count++;
  }
  return count;
}
