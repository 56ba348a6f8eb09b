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

import { type OutgoingMessage, PublishedMessage, type Subscriber } from "./message.ts";
import {
  type EnvelopeOption,
  MemoryHistory,
  type ResumeReport,
  type RetainOptions,
  retention,
} from "./history.ts";
import { envelope as sprigEnvelope, type Position } from "../../session/envelope.ts";
import {
  checkSlowPolicy,
  type SlowPolicy,
  type SlowReport,
  SlowSubscription,
  type SlowTopic,
} from "./slow.ts";
import { unrefTimer } from "../../util/ticker.ts";
import { noop } from "../../util/noop.ts";

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
  /**
   * Present when the broker keeps topic history in its engine, shared by
   * every instance (`redisBroker({ history: true })`: a Redis Stream per
   * topic). Topics with `retain` then use it instead of an in-memory ring.
   */
  readonly history?: SharedHistory;
}

/**
 * A topic history kept in the broker's engine and shared by every instance:
 * one order per topic, positions given by the engine. A message appended
 * reaches every instance, this one included, through
 * {@link BrokerTarget.deliver} with its `position` set, in position order
 * per topic (a gap, as after a lost connection, is filled from the history
 * before what follows is delivered).
 */
export interface SharedHistory {
  /**
   * Appends a message to `topic`'s history and carries it to every
   * instance. Returns false when it could not be handed to the engine: then
   * nobody gets it (the broker reports it, as for `publish`). Must not throw.
   */
  append(topic: string, message: PublishedMessage, bounds: HistoryBounds): boolean;
  /**
   * Reads the topic's history after `from` (from its start when `from` is
   * of another epoch; nothing but the current position when `from` is
   * undefined), within `bounds`. Resolves once messages published after the
   * read are sure to reach this instance live (the broker subscribed), so a
   * caller holding live messages and de-duplicating by `seq` misses none.
   *
   * @throws {BrokerError} (rejects) when the engine cannot be read
   */
  read(topic: string, from: Position | undefined, bounds: HistoryBounds): Promise<HistoryRead>;
}

/** Retention bounds, checked: `messages` ≥ 1; `ms` 0 for none. */
export interface HistoryBounds {
  /** The last this many sequence numbers are kept. */
  readonly messages: number;
  /** Messages older than this many milliseconds are gone; 0: no age bound. */
  readonly ms: number;
}

/** What {@link SharedHistory.read} found. */
export interface HistoryRead {
  /** The topic's current epoch. */
  readonly epoch: string;
  /** The last seq given out in `epoch` (0: none yet). */
  readonly last: number;
  /** The kept messages after the position read from, oldest first, `position` set. */
  readonly messages: PublishedMessage[];
  /**
   * The first seq kept after the position read from: `messages[0]`'s, or
   * `last + 1` when none is; what lies between that position and it is gone.
   */
  readonly first: number;
}

/** What a topic is, decided by `TopicsOptions.topics` when it is first used. */
export interface TopicOptions {
  /**
   * Keep history: `true` for the default bound (the last 1,000 messages),
   * or `{ messages?, ms? }` (see {@link RetainOptions}). A topic with
   * history gives each message a {@link Position}, keeps its history while
   * nobody is subscribed, and can be resumed from a position. Default: no
   * history (a message reaches who is subscribed now, and is gone).
   */
  retain?: RetainOptions | boolean;
  /** What every subscription of the topic does when its subscriber is slow; a subscription may set its own. Default none (see {@link SlowPolicy}). */
  slow?: SlowPolicy;
  /**
   * With history: how positions reach the clients. `true` wraps each
   * message in sprig's envelope (`envelope()`, read with `openEnvelope()`);
   * a function builds the message subscribers get (once per message). The
   * history keeps the wrapped message, so a replay re-encodes nothing.
   * Default false (messages go out as published; positions stay on the server).
   *
   * @throws {TypeError} (from `topics`) when set without `retain`
   */
  envelope?: EnvelopeOption;
}

/** Options of one subscription. */
export interface SubscribeOptions {
  /** This subscription's slow-subscriber policy, instead of the topic's. */
  slow?: SlowPolicy;
}

/** Options of {@link Topics}. */
export interface TopicsOptions {
  /** Carries topics to and from other instances. Default: none (this process only). */
  broker?: Broker;
  /** Where broker failures and throwing `onReport`s go. Default: `console.error`. */
  onError?: (error: unknown) => void;
  /**
   * Decides a topic's options ({@link TopicOptions}: history, slow policy,
   * envelope) when it is first used; called again only after a topic
   * without history lost its last subscriber, and on each publish to a
   * topic nobody subscribes to (so keep it cheap). Return undefined for a
   * plain topic. Default: every topic is plain.
   */
  topics?: (topic: string) => TopicOptions | undefined;
}

/** The position of the topic's last message known here, if any. */
/**
 * The last sequence a resume from `from` already has, in a history of
 * `epoch` whose newest message is `last`: all of it (`from.seq`), none
 * (0: another epoch), or everything (`last`: a position past it).
 */
function resumeAfter(from: Position, epoch: string, last: number): number {
  return from.epoch !== epoch ? 0 : from.seq > last ? last : from.seq;
}

/**
 * What a resume from `from` reports, replaying after `after` from a history
 * of `epoch` that keeps the sequences `first` … `last`: `epoch` (another
 * epoch; `missed` is what the current one already lost), `ahead` (past
 * `last`), `gap` (messages after `after` already left; `missed` is exactly
 * those) or `complete`.
 */
function resumeStatus(
  from: Position,
  after: number,
  epoch: string,
  last: number,
  first: number,
): { status: "epoch" | "ahead" | "gap" | "complete"; missed: ResumeReport["missed"] } {
  if (from.epoch !== epoch) {
    return { status: "epoch", missed: first > 1 ? { epoch, from: 1, to: first - 1 } : undefined };
  }
  if (from.seq > last) return { status: "ahead", missed: undefined };
  if (after + 1 < first) {
    return { status: "gap", missed: { epoch, from: after + 1, to: first - 1 } };
  }
  return { status: "complete", missed: undefined };
}

function positionOf(t: Topic): Position | undefined {
  const h = t.history;
  if (h !== undefined) return h.last > 0 ? { epoch: h.epoch, seq: h.last } : undefined;
  return t.last > 0 ? { epoch: t.epoch, seq: t.last } : undefined;
}

/** What a fan-out hands a message to: a subscriber, or its policy standing in for it. */
type Entry = Pick<Subscriber, "deliver">;

/** One topic's subscriptions, history and pause state. */
class Topic implements SlowTopic {
  readonly name: string;
  /** Subscriber → what the fan-out calls (itself, or its {@link SlowSubscription}), in subscription order. */
  readonly entries: Map<Subscriber, Entry> = new Map();
  /** The in-memory ring, on a topic with `retain` and no shared history. */
  readonly history: MemoryHistory | undefined;
  /** The retention bounds, on a topic with `retain`. */
  readonly bounds: HistoryBounds | undefined;
  /** The broker's history, on a topic with `retain` when the broker keeps one. */
  readonly shared: SharedHistory | undefined;
  /** With `shared`: the position of the last message delivered here (dedupe, `lastPosition`). */
  epoch = "";
  last = 0;
  readonly slow: SlowPolicy | undefined;
  readonly envelope:
    | ((
      fields: { topic: string; position: Position; data: string | Uint8Array },
    ) => string | Uint8Array)
    | undefined;
  readonly #owner: Topics;
  #paused: Set<SlowSubscription> | undefined;
  #waiters: Array<() => void> | undefined;

  constructor(
    name: string,
    options: TopicOptions | undefined,
    owner: Topics,
    shared: SharedHistory | undefined,
  ) {
    this.name = name;
    this.#owner = owner;
    const bounds = retention(options?.retain);
    this.bounds = bounds;
    this.shared = bounds && shared;
    this.history = bounds && !shared ? new MemoryHistory(bounds) : undefined;
    this.slow = checkSlowPolicy(`topic ${JSON.stringify(name)}: slow`, options?.slow);
    const env = options?.envelope;
    if (env && !bounds) {
      throw new TypeError(
        `topic ${JSON.stringify(name)}: envelope needs retain (positions come from the history)`,
      );
    }
    this.envelope = env === true ? sprigEnvelope : typeof env === "function" ? env : undefined;
  }

  get writable(): boolean {
    return this.#paused === undefined || this.#paused.size === 0;
  }

  whenWritable(): Promise<void> {
    if (this.writable) return Promise.resolve();
    return new Promise((resolve) => (this.#waiters ??= []).push(resolve));
  }

  pauseChanged(subscription: SlowSubscription, paused: boolean): void {
    if (paused) (this.#paused ??= new Set()).add(subscription);
    else if (this.#paused?.delete(subscription) && this.#paused.size === 0) {
      const waiters = this.#waiters;
      this.#waiters = undefined;
      if (waiters) { for (const w of waiters) w(); }
    }
  }

  report(policy: SlowPolicy, report: SlowReport): void {
    const onReport = policy.onReport;
    if (!onReport) return;
    try {
      onReport(report);
    } catch (error) {
      this.#owner.reportError(error);
    }
  }

  keyOf(message: PublishedMessage, key: (data: string | Uint8Array) => string): string {
    return message.conflationKey ??= key(message.unwrapped ?? message.data);
  }
}

/**
 * The topic registry of one server (or adapter). Subscriber sets are
 * iterated in subscription order; publishing to a topic with no subscriber
 * (and no history) encodes nothing.
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
 *
 * @example With history, a subscriber resumes from the last position it saw
 * ```ts
 * import assert from "node:assert/strict";
 * import { Topics } from "./pubsub.ts";
 * const topics = new Topics({ topics: () => ({ retain: { messages: 100 } }) });
 * topics.publish("feed", "one");
 * topics.publish("feed", "two");
 * const seen = topics.lastPosition("feed")!; // { epoch, seq: 2 }
 * topics.publish("feed", "three"); // while the client was away
 * const got: string[] = [];
 * const sub = { deliver: (m: { data: string | Uint8Array }) => (got.push(String(m.data)), true) };
 * const report = topics.resume("feed", sub, { epoch: seen.epoch, seq: 1 }); // settled at once in memory
 * assert.equal((await report).status, "complete");
 * assert.deepEqual(got, ["two", "three"]); // then live
 * topics.close();
 * ```
 */
export class Topics implements BrokerTarget {
  readonly #topics = new Map<string, Topic>();
  readonly #broker: Broker | undefined;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #config: ((topic: string) => TopicOptions | undefined) | undefined;
  /** The coarse clock of timed histories, in ms; running only while one exists. */
  #now = 0;
  #clock: ReturnType<typeof setInterval> | undefined;
  #clockPeriod = Infinity;

  /**
   * With `options.broker`, attaches to it at once.
   *
   * @throws {InvalidArgumentError} when the broker already serves other topics
   */
  constructor(options: TopicsOptions = {}) {
    this.#broker = options.broker;
    this.#onError = options.onError;
    this.#config = options.topics;
    this.#broker?.attach(this);
  }

  /** The broker carrying these topics to other instances, if any. */
  get broker(): Broker | undefined {
    return this.#broker;
  }

  /** The topic's state, made when `create` (or when its options keep history). */
  #topic(name: string, create: boolean): Topic | undefined {
    let topic = this.#topics.get(name);
    if (topic !== undefined) return topic;
    if (!create && this.#config === undefined) return undefined;
    const options = this.#config?.(name);
    const keeps = options !== undefined && options.retain !== undefined && options.retain !== false;
    if (!create && !keeps) return undefined;
    const shared = keeps ? this.#broker?.history : undefined;
    topic = new Topic(name, options, this, shared);
    // Publishing to a shared history needs no local state: the message comes back through the broker.
    if (!create && shared) return topic;
    this.#topics.set(name, topic);
    if (topic.history?.timed) this.#startClock(retention(options!.retain)!.ms);
    this.#broker?.subscribe(name);
    return topic;
  }

  #startClock(ms: number): void {
    const period = Math.min(1000, Math.max(10, Math.floor(ms / 8)));
    if (period >= this.#clockPeriod) return;
    if (this.#clock !== undefined) clearInterval(this.#clock);
    this.#clockPeriod = period;
    this.#now = Date.now();
    this.#clock = setInterval(() => (this.#now = Date.now()), period);
    unrefTimer(this.#clock);
  }

  /** A topic without subscribers or history is forgotten. */
  #release(topic: Topic): void {
    if (topic.entries.size > 0 || topic.history !== undefined) return;
    this.#topics.delete(topic.name);
    this.#broker?.unsubscribe(topic.name);
  }

  /**
   * Adds a subscription; false when it already existed.
   *
   * @throws {TypeError} for a bad `options.slow`, or bad topic options from `topics`
   */
  subscribe(topic: string, subscriber: Subscriber, options?: SubscribeOptions): boolean {
    const slow = checkSlowPolicy("options.slow", options?.slow);
    const known = this.#topics.has(topic);
    const t = this.#topic(topic, true)!;
    if (t.entries.has(subscriber)) return false;
    this.#add(t, subscriber, slow);
    // A shared history's first subscription here: read where the topic stands now, so that if
    // the broker's connection drops before the first entry arrives, what was published meanwhile
    // is still read back from the history (a failed read leaves that case open, and is reported
    // by the next gap it causes, if any).
    if (!known && t.shared !== undefined) t.shared.read(topic, undefined, t.bounds!).catch(noop);
    return true;
  }

  #add(t: Topic, subscriber: Subscriber, slow: SlowPolicy | undefined): void {
    const policy = slow ?? t.slow;
    t.entries.set(subscriber, policy ? new SlowSubscription(subscriber, policy, t) : subscriber);
  }

  /**
   * Subscribes "from position `from`": the messages of the topic's history
   * after `from` are queued to `subscriber` at once (whatever its slow
   * policy), then it gets every later message live, so it sees each message
   * once, in order. The report says exactly what could not be recovered.
   * Without `from`, subscribes from now and reports the current position.
   *
   * The report comes at once from an in-memory history (and without
   * history); on a topic whose history the broker keeps it is a promise,
   * settled once the history was read and replayed (live messages meanwhile
   * are held, then follow the replay, each once). A failed read rejects
   * (`BrokerError`) and leaves no subscription.
   *
   * @throws {TypeError} for a bad `options.slow`, or bad topic options from `topics`
   */
  resume(
    topic: string,
    subscriber: Subscriber,
    from: Position | undefined,
    options?: SubscribeOptions,
  ): ResumeReport | Promise<ResumeReport> {
    const slow = checkSlowPolicy("options.slow", options?.slow);
    const t = this.#topic(topic, true)!;
    const h = t.history;
    const epoch = h?.epoch ?? t.epoch;
    const position = (): Position | undefined => positionOf(t);
    if (t.entries.has(subscriber)) {
      return { topic, status: "subscribed", replayed: 0, epoch, position: position() };
    }
    if (t.shared !== undefined) return this.#resumeShared(t, t.shared, subscriber, from, slow);
    if (h === undefined || from === undefined) {
      this.#add(t, subscriber, slow);
      return { topic, status: h ? "live" : "no-history", replayed: 0, epoch, position: position() };
    }
    const now = this.#now;
    const after = resumeAfter(from, h.epoch, h.last);
    const replay = h.after(after, now); // expires first: `first` is current below
    const { status, missed } = resumeStatus(from, after, epoch, h.last, h.first);
    // Messages published while the replay is being delivered (a subscriber
    // that publishes, or a history that answers later) wait in `held` and
    // follow the replay, each once: the boundary has no gap and no duplicate.
    const held: PublishedMessage[] = [];
    const hold: Entry = { deliver: (m) => (held.push(m), true) };
    t.entries.set(subscriber, hold);
    let last = after;
    for (let i = 0; i < replay.length; i++) {
      subscriber.deliver(replay[i]);
      last = replay[i].position!.seq;
    }
    for (let i = 0; i < held.length; i++) {
      const seq = held[i].position!.seq;
      if (seq <= last) continue;
      last = seq;
      subscriber.deliver(held[i]);
    }
    // Unless it unsubscribed meanwhile, the subscription now takes messages live.
    if (t.entries.get(subscriber) === hold) this.#add(t, subscriber, slow);
    return {
      topic,
      status,
      replayed: replay.length,
      ...(missed ? { missed } : {}),
      epoch,
      position: position(),
    };
  }

  /**
   * {@link resume} on a topic whose history the broker keeps: live messages
   * are held while the history is read, then the replay goes out, then what
   * was held, each seq once (a live message may also be in the read).
   */
  async #resumeShared(
    t: Topic,
    shared: SharedHistory,
    subscriber: Subscriber,
    from: Position | undefined,
    slow: SlowPolicy | undefined,
  ): Promise<ResumeReport> {
    const topic = t.name;
    const held: PublishedMessage[] = [];
    const hold: Entry = { deliver: (m) => (held.push(m), true) };
    t.entries.set(subscriber, hold);
    let read: HistoryRead;
    try {
      read = await shared.read(topic, from, t.bounds!);
    } catch (error) {
      if (t.entries.get(subscriber) === hold) {
        t.entries.delete(subscriber);
        this.#release(t);
      }
      throw error;
    }
    const epoch = read.epoch;
    const after = from === undefined ? read.last : resumeAfter(from, epoch, read.last);
    const { status, missed } = from === undefined
      ? { status: "live" as const, missed: undefined }
      : resumeStatus(from, after, epoch, read.last, read.first);
    let replayed = 0;
    let last = after;
    if (t.entries.get(subscriber) === hold) { // else it unsubscribed (closed) meanwhile
      const replay = status === "live" || status === "ahead" ? [] : read.messages;
      for (let i = 0; i < replay.length; i++) {
        const m = this.#wrap(t, replay[i]);
        last = m.position!.seq;
        subscriber.deliver(m);
      }
      replayed = replay.length;
      for (let i = 0; i < held.length; i++) {
        const p = held[i].position!;
        if (p.epoch === epoch) {
          if (p.seq <= last) continue;
          last = p.seq;
        }
        subscriber.deliver(held[i]);
      }
      const policy = slow ?? t.slow;
      const live: Entry = policy ? new SlowSubscription(subscriber, policy, t) : subscriber;
      if (t.epoch === epoch && t.last >= last) t.entries.set(subscriber, live);
      else {
        // The read can be ahead of what reached this instance live: until the
        // live messages pass the replay's last, they were replayed already.
        const through = last;
        const filter: Entry = {
          deliver: (m) => {
            const p = m.position;
            if (p !== undefined && p.epoch === epoch && p.seq <= through) return false;
            if (t.entries.get(subscriber) === filter) t.entries.set(subscriber, live);
            return live.deliver(m);
          },
        };
        t.entries.set(subscriber, filter);
      }
    }
    return {
      topic,
      status,
      replayed,
      ...(missed ? { missed } : {}),
      epoch,
      ...(Math.max(read.last, last) > 0
        ? { position: { epoch, seq: Math.max(read.last, last) } }
        : {}),
    };
  }

  /** A message of a shared-history topic as its subscribers get it: in the topic's envelope, if any. */
  #wrap(t: Topic, message: PublishedMessage): PublishedMessage {
    if (t.envelope === undefined) return message;
    const position = message.position!;
    const m = new PublishedMessage(
      t.envelope({ topic: t.name, position, data: message.data }),
      message.compress,
    );
    m.position = position;
    m.unwrapped = message.data;
    return m;
  }

  /** Removes a subscription; false when there was none. */
  unsubscribe(topic: string, subscriber: Subscriber): boolean {
    const t = this.#topics.get(topic);
    const entry = t?.entries.get(subscriber);
    if (!t || entry === undefined) return false;
    t.entries.delete(subscriber);
    if (entry instanceof SlowSubscription) entry.end();
    this.#release(t);
    return true;
  }

  /** True when `subscriber` is subscribed to `topic` (or resuming it). */
  isSubscriber(topic: string, subscriber: Subscriber): boolean {
    return this.#topics.get(topic)?.entries.has(subscriber) ?? false;
  }

  /** How many connections are subscribed to `topic`. */
  subscriberCount(topic: string): number {
    return this.#topics.get(topic)?.entries.size ?? 0;
  }

  /** The topics with at least one subscriber. */
  get topics(): string[] {
    const names: string[] = [];
    for (const [name, t] of this.#topics) if (t.entries.size > 0) names.push(name);
    return names;
  }

  /** The position of the topic's last message, on a topic with history that had one. */
  lastPosition(topic: string): Position | undefined {
    const t = this.#topics.get(topic);
    return t && positionOf(t);
  }

  /** False while a subscriber with the `pause` policy is over its bound. */
  isWritable(topic: string): boolean {
    return this.#topics.get(topic)?.writable ?? true;
  }

  /** Resolves when {@link isWritable} is true (at once when it is). */
  whenWritable(topic: string): Promise<void> {
    return this.#topics.get(topic)?.whenWritable() ?? Promise.resolve();
  }

  /**
   * Sends `message` to every subscriber of `topic` (except `except`) and
   * returns how many took it now (a slow subscriber's dropped or held copy
   * does not count). On a topic with history the message gets its position
   * and is kept, with or without subscribers. Subscribers are snapshotted
   * first, so one that unsubscribes or subscribes during delivery changes
   * nothing for this message.
   *
   * On a topic whose history the broker keeps (`redisBroker({ history })`),
   * the message is handed to the broker and reaches every subscriber, here
   * too and `except` included, when it comes back with its position, in the
   * topic's one order: this returns 0, and nobody gets it if the broker
   * could not take it (it reports that).
   *
   * @throws {TypeError} when `topics` gives this new topic bad options (`envelope` without `retain`)
   * @throws {RangeError} when `topics` gives it a bound out of range
   */
  publish(topic: string, message: OutgoingMessage | PublishedMessage, except?: Subscriber): number {
    const t = this.#topics.get(topic) ?? this.#topic(topic, false);
    const broker = this.#broker;
    if (!broker && t === undefined) return 0;
    const shared = message instanceof PublishedMessage ? message : new PublishedMessage(message);
    if (t?.shared !== undefined) {
      // One order for every instance: the engine gives the position, and the
      // message reaches the subscribers here, this one included, when it comes back.
      t.shared.append(topic, shared, t.bounds!);
      return 0;
    }
    const count = t ? this.#fanOut(t, shared, except) : 0;
    // After the local subscribers: they get it in this turn whatever the broker does.
    broker?.publish(topic, shared);
    return count;
  }

  /**
   * A message from another instance (through the broker): sent to every
   * local subscriber of `topic`, and not passed back to the broker.
   */
  deliver(topic: string, message: PublishedMessage): number {
    const t = this.#topics.get(topic);
    return t ? this.#fanOut(t, message, undefined) : 0;
  }

  /** Records the message in the topic's history (if any), then sends it to a snapshot of the subscribers. */
  #fanOut(t: Topic, message: PublishedMessage, except: Subscriber | undefined): number {
    let m = message;
    const h = t.history;
    if (t.shared !== undefined) {
      const p = message.position;
      if (p !== undefined) {
        if (p.epoch === t.epoch && p.seq <= t.last) return 0; // delivered here already
        t.epoch = p.epoch;
        t.last = p.seq;
        m = this.#wrap(t, message);
      }
    } else if (h !== undefined) {
      if (t.envelope !== undefined) {
        // The position is known only now: the wrapped message is what is kept and sent.
        const seq = h.last + 1;
        const position = { epoch: h.epoch, seq };
        m = new PublishedMessage(
          t.envelope({ topic: t.name, position, data: message.data }),
          message.compress,
        );
        m.position = position;
        m.unwrapped = message.data;
        h.append(m, this.#now);
      } else {
        if (message.position !== undefined) {
          m = new PublishedMessage(message.data, message.compress); // another topic's
        }
        m.position = { epoch: h.epoch, seq: h.append(m, this.#now) };
      }
    }
    const entries = t.entries;
    if (entries.size === 0) return 0;
    const skip = except === undefined ? undefined : entries.get(except);
    let count = 0;
    for (const entry of [...entries.values()]) {
      if (entry !== skip && entry.deliver(m)) count++;
    }
    return count;
  }

  /** A broker failure (or a throwing `onReport`): to `onError`, or printed. */
  reportError(error: unknown): void {
    try {
      if (this.#onError) this.#onError(error);
      else console.error("sprig: broker:", error);
    } catch {
      // An error reporter that throws has nobody left to report to.
    }
  }

  /**
   * Detaches from the broker (a server's shutdown finished), stops the
   * clock, and resolves once the broker says its unsubscriptions are done,
   * or after `waitMs`. Idempotent.
   */
  close(waitMs = 0): Promise<void> {
    if (this.#clock !== undefined) clearInterval(this.#clock);
    this.#clock = undefined;
    this.#clockPeriod = Infinity;
    const done = this.#broker?.detach(this);
    if (!done || typeof done.then !== "function") return Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      Promise.resolve(done).catch(() => {}),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs))),
    ]).finally(() => clearTimeout(timer));
  }
}
