/**
 * `redisBroker()`: topics shared by every instance of an application through
 * Redis pub/sub, with the Redis client the application already uses.
 *
 * Why pub/sub and not Streams: what a WebSocket server fans out is live
 * (a chat line, a price, a game tick); a subscriber that was not connected
 * when it was published has no use for it later, and a client that
 * reconnects to sprig loses what was sent meanwhile anyway. Pub/sub maps
 * one topic to one channel, subscribed while this instance has a local
 * subscriber and dropped with the last one, keeps nothing in Redis, and
 * delivers in the order one connection published. Streams would add a key
 * per topic to trim, a blocking reader per connection over a changing set
 * of keys, and replay nobody asked for. What pub/sub loses when a
 * connection drops is not hidden: every message carries its publisher's
 * sequence number for its topic, so a receiver sees the gap, and a
 * publisher counts what it could not hand over; both are reported as
 * `BrokerError` (code `BROKER_MESSAGES_LOST`, with the count).
 *
 * The wire format is text, so every client can carry it: Bun's client
 * delivers pub/sub messages as strings only. A message on channel
 * `prefix + topic` is `S1` + kind (`t` text, `b` binary) + the publisher's
 * key + space + its sequence number for the topic (base 36) + space + the
 * payload: text as it is, binary as base64 (RFC 4648 §4), so binary
 * messages stay binary and text stays text.
 *
 * @module
 */

import { BrokerError, InvalidArgumentError } from "../errors.ts";
import { ArgumentCheck } from "../arguments.ts";
import type {
  Broker,
  BrokerTarget,
  HistoryBounds,
  HistoryRead,
  SharedHistory,
} from "../server/handler/pubsub.ts";
import { PublishedMessage } from "../server/handler/message.ts";
import { newEpoch } from "../server/handler/history.ts";
import type { Position } from "../session/envelope.ts";
import { decodeBase64, encodeBase64 } from "../protocol/base64.ts";
import { noop } from "../util/noop.ts";

/** A pub/sub message listener: the payload and the channel it came on. */
export type RedisMessageListener = (message: string, channel: string) => void;

/**
 * The few calls `redisBroker()` needs from a Redis client, which
 * node-redis (the `redis` package, v4 and later) and Bun's `RedisClient`
 * (`Bun.redis`, `new RedisClient(url)`) have as they are; ioredis goes
 * through {@link ioredisClient}. The broker takes two connections, because
 * a connection that subscribes can do nothing else in Redis: one to publish
 * and one to subscribe.
 *
 * The connection's state is read where the client has it: `isReady`
 * (node-redis), `status === "ready"` (ioredis), `connected` (Bun); a
 * client with none is taken as connected, and only rejected publishes tell
 * the broker otherwise. Reconnection is announced by the `"ready"` event
 * (`on`, node-redis and ioredis) or `onconnect` (Bun, which the broker
 * chains, keeping the application's own); the broker then subscribes its
 * topics again, since Bun's client does not.
 */
export interface RedisPubSubClient {
  /** PUBLISH: sends `message` to the subscribers of `channel`. */
  publish(channel: string, message: string): Promise<unknown>;
  /** SUBSCRIBE: calls `listener` for every message on `channel`. */
  subscribe(channel: string, listener: RedisMessageListener): Promise<unknown>;
  /** UNSUBSCRIBE: stops calling `listener` for `channel`. */
  unsubscribe(channel: string, listener?: RedisMessageListener): Promise<unknown>;
  /** node-redis: true while connected and ready. */
  readonly isReady?: boolean;
  /** ioredis: `"ready"` while connected. */
  readonly status?: string;
  /** Bun: true while connected. */
  readonly connected?: boolean;
  /** node-redis, ioredis: events; the broker listens to `"ready"`. */
  on?(event: "ready", listener: () => void): unknown;
  /** Bun: called on every (re)connection; the broker chains its own call after this one. */
  onconnect?: (() => void) | null;
  /**
   * node-redis: any command, as its words (`["XADD", key, …]`). With
   * `history`, the publisher needs this or {@link send}.
   */
  sendCommand?(args: string[]): Promise<unknown>;
  /** Bun: any command, its name and arguments. */
  send?(command: string, args: string[]): Promise<unknown>;
}

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /** The connection to publish on. */
  publisher: RedisPubSubClient;
  /** The connection to subscribe on (another connection than `publisher`). */
  subscriber: RedisPubSubClient;
  /**
   * Prepended to every topic to make its Redis channel, so several
   * applications can share a Redis server. Default `"sprig:"`.
   */
  channelPrefix?: string;
  /**
   * Where failures and losses go (`BrokerError`). Default: the attached
   * server's `onError` (printed unless the server says otherwise).
   */
  onError?: (error: BrokerError) => void;
  /**
   * Gaps found in what other instances published are summed up and
   * reported at most once per this many milliseconds (a Redis restart may
   * reveal one gap per topic and publisher). Default 1,000; range 0 to
   * 2^31 − 1.
   */
  reportIntervalMs?: number;
  /**
   * Keep the history of topics with `retain` in Redis Streams, shared by
   * every instance, instead of each process's memory: one order per topic
   * for all instances (positions are stream entry ids `0-<seq>`), resumable
   * on any instance, kept across instance restarts. `true`, or
   * {@link RedisHistoryOptions}. The
   * publisher connection must take any command (`sendCommand` in
   * node-redis, `send` in Bun, `call` in ioredis through
   * {@link ioredisClient}) and Redis must be 6.2 or later, with scripting.
   * Default false. See the README's "Scaling out" for the guarantee and cost.
   */
  history?: boolean | RedisHistoryOptions;
}

/** The `history` option of {@link redisBroker}, when not just `true`. */
export interface RedisHistoryOptions {
  /**
   * The stream of a topic is `keyPrefix + "s:" + topic` and its epoch
   * `keyPrefix + "e:" + topic`. Default `"sprig:"`.
   */
  keyPrefix?: string;
  /**
   * A history read (a `resume`, a gap being filled) with no answer from
   * Redis after this many milliseconds fails with a `BrokerError`
   * (`BROKER_UNAVAILABLE`): clients that queue commands while Redis is
   * unreachable would otherwise hold a `resume()` until it is back. Default
   * 10,000; range 1 to 2^31 − 1.
   */
  readTimeoutMs?: number;
}

/** Counters of a {@link RedisBroker}, since it was made. */
export interface RedisBrokerStats {
  /** Messages handed to Redis. */
  published: number;
  /** Messages published here that could not be handed to Redis (it was unreachable). */
  notCarried: number;
  /** Messages from other instances delivered to local subscribers. */
  received: number;
  /** Messages from other instances dropped as already delivered, or as older than one delivered (a client's resend). */
  duplicates: number;
  /** Messages of other instances found missing (gaps in their sequence). */
  lost: number;
}

/** A {@link Broker} over Redis pub/sub, with its state for the application. */
export interface RedisBroker extends Broker {
  /** This instance's key in the messages it publishes (random, per broker). */
  readonly instance: string;
  /** True while both connections are up, as far as the clients tell. */
  readonly connected: boolean;
  /** The topics subscribed in Redis (those with a local subscriber). */
  readonly topics: readonly string[];
  /** Counters since the broker was made. */
  readonly stats: Readonly<RedisBrokerStats>;
  /** The Redis Stream history, with the `history` option. */
  readonly history: SharedHistory | undefined;
}

const VERSION = "S1";
/** The default of `history.readTimeoutMs`. */
const HISTORY_READ_TIMEOUT_MS = 10_000;
/** A stream entry: `S2` + kind + epoch + " " + seq (decimal) + " " + payload. */
const STREAM_VERSION = "S2";
/** A gap fill reads whatever the stream holds after the last delivered entry. */
const FILL_BOUNDS: HistoryBounds = { messages: 2 ** 52, ms: 0 };

/** Per topic with a stream history, on the receiving side. */
interface StreamState {
  /** The epoch of what was delivered ("" before the first entry). */
  epoch: string;
  /** The last seq delivered here in `epoch`. */
  last: number;
  /** While a gap is being filled from the stream: entries that came live meanwhile. */
  held: PublishedMessage[] | undefined;
  /**
   * `epoch` and `last` come from a read, not from an entry received: the
   * first entry received may be at or below `last` (published between the
   * subscription and the read) and starts the order there.
   */
  seeded: boolean;
}

/*
 * The stream scripts. Each runs atomically in Redis, so every instance's
 * appends take one order, and its PUBLISH reaches the subscribed instances
 * in that order. A topic's epoch lives beside its stream and is replaced
 * whenever the stream is missing (Redis restarted without persistence, or
 * the key was evicted), so positions of a lost history never match again.
 * Entry ids are `0-<seq>` (`XADD … 0-*`: Redis gives the next seq).
 */
const EPOCH_PROLOGUE = `
local epoch = redis.call('GET', KEYS[2])
if not epoch or redis.call('EXISTS', KEYS[1]) == 0 then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
end
`;
// ARGV: new epoch, max length, time (ms), kind, payload, channel.
const APPEND_SCRIPT = EPOCH_PROLOGUE + `
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '0-*', 't', ARGV[3], 'k', ARGV[4], 'd', ARGV[5])
redis.call('PUBLISH', ARGV[6], 'S2' .. ARGV[4] .. epoch .. ' ' .. string.sub(id, 3) .. ' ' .. ARGV[5])
return id
`;
// ARGV: new epoch, the reader's epoch, its seq (-1: only the position), max messages.
// Returns { epoch, last seq, entries after the reader's seq within the last max messages }.
const READ_SCRIPT = EPOCH_PROLOGUE + `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('XGROUP', 'CREATE', KEYS[1], 'sprig', '$', 'MKSTREAM')
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local lastId = '0-0'
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then lastId = info[i + 1] end
end
local last = tonumber(string.sub(lastId, 3))
local after = tonumber(ARGV[3])
if after < 0 then after = last elseif ARGV[2] ~= epoch then after = 0 end
local lo = math.max(after, last - tonumber(ARGV[4]))
local entries = {}
if lo < last then entries = redis.call('XRANGE', KEYS[1], '(0-' .. lo, '+') end
return { epoch, tostring(last), entries }
`;
/** The SHA-1 of a script, in hex, as `EVALSHA` names it (computed here: no `SCRIPT LOAD` round trip). */
async function scriptSha(script: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-1", new TextEncoder().encode(script)),
  );
  let s = "";
  for (const b of digest) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Redis does not have the script (restarted, or `SCRIPT FLUSH`): send it again with `EVAL`. */
function isNoScript(error: unknown): boolean {
  return errorText(error).startsWith("NOSCRIPT");
}

/** One append sent to Redis: its topic and its keys and arguments (after the script). */
interface Append {
  topic: string;
  args: string[];
}

const TEXT = "t";
const BINARY = "b";
/** Sequence numbers kept per topic before the publisher key changes (a bound on memory). */
const MAX_SEQUENCED_TOPICS = 100_000;
/** Publishers remembered per topic on the receiving side. */
const MAX_PUBLISHERS_PER_TOPIC = 1024;
const MAX_REPORTED_TOPICS = 100;

/**
 * A broker over Redis pub/sub (see the module notes for why pub/sub):
 * every instance given one with the same Redis server (and
 * `channelPrefix`) shares its topics with the others.
 *
 * Guarantees, per publishing instance and topic: every other instance's
 * subscribers get its messages at most once and in publish order; the
 * publishing instance's own subscribers get them at once, in the
 * publisher's turn, and never again from Redis (messages carry the
 * publisher's key, and a broker drops its own). While Redis is unreachable
 * local delivery goes on; `publish` returns false for messages that could
 * not be handed to Redis, the first is reported as `BROKER_UNAVAILABLE`, and
 * when Redis is back their count is reported as `BROKER_MESSAGES_LOST`.
 * Receivers report the messages they missed (a gap in a publisher's
 * sequence) as `BROKER_MESSAGES_LOST` too. Subscriptions are made again
 * after a reconnection.
 *
 * @throws {InvalidArgumentError} (a `TypeError`) when a client lacks
 *   `publish`, `subscribe` or `unsubscribe`, or both options name the same
 *   connection
 * @throws {ArgumentRangeError} (a `RangeError`) for `reportIntervalMs` out of range
 *
 * @example
 * ```ts ignore
 * // Not run: it needs a Redis server (tests/scale/redis_test.ts starts one and runs this).
 * import { createClient } from "redis";
 * import { serve } from "@sprig/websocket";
 * import { redisBroker } from "@sprig/websocket/scale";
 *
 * const publisher = createClient({ url: "redis://127.0.0.1:6379" });
 * const subscriber = publisher.duplicate();
 * await Promise.all([publisher.connect(), subscriber.connect()]);
 * const server = await serve({ port: 8080, broker: redisBroker({ publisher, subscriber }) }, {
 *   init: (ctx) => void ctx.ref.subscribe("chat"),
 *   in: (message) => void server.publish("chat", message), // every instance, sender included
 * });
 * ```
 */
export function redisBroker(options: RedisBrokerOptions): RedisBroker {
  const check = new ArgumentCheck("redisBroker()");
  const o = check.options("options", options);
  for (const name of ["publisher", "subscriber"] as const) {
    const client = check.options(`options.${name}`, o[name]);
    for (const method of ["publish", "subscribe", "unsubscribe"]) {
      if (typeof client[method] !== "function") {
        throw check.type(
          `options.${name}`,
          `a Redis client with ${method}() (node-redis, Bun's RedisClient, or ioredisClient(ioredis))`,
          o[name],
        );
      }
    }
  }
  if (o.publisher === o.subscriber) {
    throw check.problem(
      "options.subscriber",
      "must be another connection than options.publisher (a subscribed connection can only subscribe)",
    );
  }
  check.string("options.channelPrefix", o.channelPrefix);
  check.function("options.onError", o.onError);
  check.milliseconds("options.reportIntervalMs", o.reportIntervalMs);
  if (o.history !== undefined && typeof o.history !== "boolean") {
    const h = check.options("options.history", o.history);
    check.known("options.history", h, ["keyPrefix", "readTimeoutMs"]);
    check.string("options.history.keyPrefix", h.keyPrefix);
    check.milliseconds("options.history.readTimeoutMs", h.readTimeoutMs, 1);
  }
  if (o.history && commandOf(options.publisher) === undefined) {
    throw check.type(
      "options.publisher",
      "a Redis client that takes any command (sendCommand(), send(), or ioredisClient(ioredis)), for history",
      o.publisher,
    );
  }
  return new RedisPubSubBroker(options);
}

/** The broker behind {@link redisBroker}. */
class RedisPubSubBroker implements RedisBroker {
  readonly instance: string = randomKey();
  readonly #publisher: RedisPubSubClient;
  readonly #subscriber: RedisPubSubClient;
  readonly #prefix: string;
  readonly #onError: ((error: BrokerError) => void) | undefined;
  readonly #reportIntervalMs: number;
  #target: BrokerTarget | undefined;
  /** Topics subscribed in Redis. */
  readonly #topics = new Set<string>();
  /** UNSUBSCRIBEs sent and not yet answered: detach() waits for them. */
  readonly #unsubscribing = new Set<Promise<void>>();
  /** The publisher key: the instance and a generation, renewed when #sequences is cleared. */
  #generation = 0;
  #key: string;
  /** The last sequence number used per topic, publishing. */
  #sequences = new Map<string, number>();
  /** The last sequence number delivered per topic and publisher key, receiving. */
  readonly #delivered = new Map<string, Map<string, number>>();
  /** The outage seen by the publishing side: since when, how many not carried, on which topics. */
  #outage: { since: number; count: number; topics: Set<string> } | undefined;
  /** Gaps found, waiting for the next report. */
  #gaps: { count: number; topics: Set<string> } | undefined;
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  readonly stats: RedisBrokerStats = {
    published: 0,
    notCarried: 0,
    received: 0,
    duplicates: 0,
    lost: 0,
  };
  readonly history: SharedHistory | undefined;
  readonly #command: ((args: string[]) => Promise<unknown>) | undefined;
  /** The scripts' SHA-1s once computed; `EVAL` until then. */
  #appendSha: string | undefined;
  #readSha: string | undefined;
  /**
   * Whether Redis has the append script, as far as this connection saw: set
   * when an `EVAL` of it succeeded, cleared at every (re)connection and on
   * `NOSCRIPT`. Until then appends go with `EVAL`, so a Redis that started
   * (or restarted) empty never answers `NOSCRIPT` to an append.
   */
  #appendLoaded = false;
  /** Appends sent and not answered yet. */
  #inflight = 0;
  /**
   * After a `NOSCRIPT`: the appends that got it, in order, and whether a
   * later one ran anyway (another instance loaded the script in between),
   * while the ones in flight are answered; appends made meanwhile wait in
   * `#heldAppends`, so that no append overtakes one sent again.
   */
  #noScript: { failed: Append[]; overtaken: boolean } | undefined;
  #heldAppends: Append[] = [];
  readonly #keyPrefix: string;
  readonly #readTimeoutMs: number;
  /** Per subscribed topic: the SUBSCRIBE in Redis, settled (a history read waits for it). */
  readonly #subscribed = new Map<string, Promise<void>>();
  /** Per topic with a stream history: what was delivered here, and what waits on a gap being filled. */
  readonly #streams = new Map<string, StreamState>();

  constructor(options: RedisBrokerOptions) {
    this.#publisher = options.publisher;
    this.#subscriber = options.subscriber;
    this.#prefix = options.channelPrefix ?? "sprig:";
    this.#onError = options.onError;
    this.#reportIntervalMs = options.reportIntervalMs ?? 1000;
    this.#key = `${this.instance}.0`;
    const history = options.history;
    this.#keyPrefix = (typeof history === "object" ? history.keyPrefix : undefined) ?? "sprig:";
    this.#readTimeoutMs = (typeof history === "object" ? history.readTimeoutMs : undefined) ??
      HISTORY_READ_TIMEOUT_MS;
    this.#command = history ? commandOf(this.#publisher) : undefined;
    if (this.#command) {
      scriptSha(APPEND_SCRIPT).then((sha) => (this.#appendSha = sha), noop);
      scriptSha(READ_SCRIPT).then((sha) => (this.#readSha = sha), noop);
    }
    this.history = history
      ? {
        append: (topic, message, bounds) => this.#append(topic, message, bounds),
        read: (topic, from, bounds) => this.#read(topic, from, bounds),
      }
      : undefined;
    onReady(this.#subscriber, () => this.#resubscribe());
    onReady(this.#publisher, () => {
      this.#appendLoaded = false; // maybe another Redis, with an empty script cache
      this.#recovered();
    });
  }

  get connected(): boolean {
    return isUp(this.#publisher) && isUp(this.#subscriber);
  }

  get topics(): readonly string[] {
    return [...this.#topics];
  }

  // ------------------------------------------------------------ Broker

  attach(target: BrokerTarget): void {
    if (this.#target === target) return;
    if (this.#target) {
      throw new InvalidArgumentError(
        "options.broker",
        "this broker already serves another server; make one broker per server",
      );
    }
    this.#target = target;
  }

  /**
   * Unsubscribes every topic; resolves once Redis answered each UNSUBSCRIBE
   * still in flight (or its client failed it), so that a server's shutdown
   * resolves after them.
   */
  detach(target: BrokerTarget): Promise<void> {
    if (this.#target !== target) return Promise.resolve();
    for (const topic of [...this.#topics]) this.unsubscribe(topic);
    this.#target = undefined;
    clearTimeout(this.#gapTimer);
    this.#gapTimer = undefined;
    this.#flushGaps();
    return Promise.all(this.#unsubscribing).then(() => {});
  }

  subscribe(topic: string): void {
    if (this.#topics.has(topic)) return;
    this.#topics.add(topic);
    // A new subscription starts a new history: what came before is not a gap.
    this.#delivered.delete(topic);
    this.#streams.delete(topic);
    this.#subscribed.set(
      topic,
      this.#subscriber.subscribe(this.#prefix + topic, this.#listener).then(
        () => {},
        (error) => this.#subscribeFailed(topic, error),
      ),
    );
  }

  unsubscribe(topic: string): void {
    if (!this.#topics.delete(topic)) return;
    this.#delivered.delete(topic);
    this.#streams.delete(topic);
    this.#subscribed.delete(topic);
    const done: Promise<void> = this.#subscriber.unsubscribe(this.#prefix + topic, this.#listener)
      .then(
        () => {},
        (error) =>
          this.#report(
            new BrokerError(
              "BROKER_SUBSCRIBE_FAILED",
              `could not unsubscribe from Redis channel ${this.#prefix + topic}: ${
                errorText(error)
              }`,
              { topics: [topic] },
              { cause: error },
            ),
          ),
      )
      .then(() => void this.#unsubscribing.delete(done));
    this.#unsubscribing.add(done);
  }

  publish(topic: string, message: PublishedMessage): boolean {
    const seq = this.#nextSequence(topic);
    if (!isUp(this.#publisher)) {
      this.#notCarried(topic, undefined);
      return false;
    }
    if (this.#outage) this.#recovered();
    const data = message.data;
    const envelope = typeof data === "string"
      ? `${VERSION}${TEXT}${this.#key} ${seq.toString(36)} ${data}`
      : `${VERSION}${BINARY}${this.#key} ${seq.toString(36)} ${encodeBase64(data)}`;
    let sent: Promise<unknown>;
    try {
      sent = this.#publisher.publish(this.#prefix + topic, envelope);
    } catch (error) {
      this.#notCarried(topic, error);
      return false;
    }
    this.stats.published++;
    sent.then(undefined, (error) => this.#notCarried(topic, error));
    return true;
  }

  // ------------------------------------------------------------ receiving

  /** One listener for every channel (a method bound once: no closure per message). */
  readonly #listener: RedisMessageListener = (message, channel) => this.#received(message, channel);

  #received(message: string, channel: string): void {
    const target = this.#target;
    if (!target || !channel.startsWith(this.#prefix)) return;
    const topic = channel.slice(this.#prefix.length);
    if (!this.#topics.has(topic)) return; // unsubscribed; a late message
    if (message.startsWith(STREAM_VERSION)) return this.#receivedEntry(topic, message, channel);
    const kind = message[2];
    const keyEnd = message.indexOf(" ", 3);
    const seqEnd = keyEnd < 0 ? -1 : message.indexOf(" ", keyEnd + 1);
    if (!message.startsWith(VERSION) || (kind !== TEXT && kind !== BINARY) || seqEnd < 0) {
      this.#report(
        new BrokerError(
          "BROKER_MESSAGE_INVALID",
          `dropped a message on Redis channel ${channel} that is not in sprig's format ` +
            `(is another program publishing there? see channelPrefix)`,
          { topics: [topic] },
        ),
      );
      return;
    }
    const key = message.slice(3, keyEnd);
    // Our own message back from Redis: the local subscribers already have it.
    if (key.startsWith(this.instance) && key.charCodeAt(this.instance.length) === 0x2e) return;
    const seq = parseInt(message.slice(keyEnd + 1, seqEnd), 36);
    if (!(seq > 0)) return;
    let publishers = this.#delivered.get(topic);
    if (!publishers) this.#delivered.set(topic, publishers = new Map());
    const last = publishers.get(key);
    if (last !== undefined) {
      if (seq <= last) {
        this.stats.duplicates++;
        return;
      }
      if (seq > last + 1) this.#gap(topic, seq - last - 1);
      publishers.delete(key); // re-inserted last: the map's order is least recently heard first
    } else if (publishers.size >= MAX_PUBLISHERS_PER_TOPIC) {
      publishers.delete(publishers.keys().next().value!);
    }
    publishers.set(key, seq);
    let payload: string | Uint8Array | null;
    if (kind === TEXT) payload = message.slice(seqEnd + 1);
    else {
      payload = decodeBase64(message.slice(seqEnd + 1));
      if (payload === null) {
        this.#report(
          new BrokerError(
            "BROKER_MESSAGE_INVALID",
            `dropped a binary message on Redis channel ${channel} whose payload is not base64`,
            { topics: [topic] },
          ),
        );
        return;
      }
    }
    this.stats.received++;
    target.deliver(topic, new PublishedMessage(payload));
  }

  // ------------------------------------------------------------ stream history

  /** Appends to the topic's stream and publishes the entry, in one script: one order for all. */
  #append(topic: string, message: PublishedMessage, bounds: HistoryBounds): boolean {
    const command = this.#command!;
    if (!isUp(this.#publisher)) {
      this.#notCarried(topic, undefined);
      return false;
    }
    if (this.#outage) this.#recovered();
    const data = message.data;
    const kind = typeof data === "string" ? TEXT : BINARY;
    const append: Append = {
      topic,
      args: [
        "2",
        this.#keyPrefix + "s:" + topic,
        this.#keyPrefix + "e:" + topic,
        newEpoch(),
        String(bounds.messages),
        String(Date.now()),
        kind,
        typeof data === "string" ? data : encodeBase64(data),
        this.#prefix + topic,
      ],
    };
    if (this.#noScript) {
      this.#heldAppends.push(append); // after the ones sent again: the publish order holds
      this.stats.published++;
      return true;
    }
    if (!this.#sendAppend(command, append, false)) return false;
    this.stats.published++;
    return true;
  }

  /**
   * Sends one append: `EVALSHA` (the script's text crosses once per Redis
   * start, not per message), or `EVAL` before the SHA is known and when
   * sending again after `NOSCRIPT`. Returns false when the client threw.
   */
  #sendAppend(
    command: (args: string[]) => Promise<unknown>,
    append: Append,
    evalText: boolean,
  ): boolean {
    const sha = evalText || !this.#appendLoaded ? undefined : this.#appendSha;
    let sent: Promise<unknown>;
    try {
      sent = command(
        sha === undefined
          ? ["EVAL", APPEND_SCRIPT, ...append.args]
          : ["EVALSHA", sha, ...append.args],
      );
    } catch (error) {
      this.#notCarried(append.topic, error);
      return false;
    }
    this.#inflight++;
    sent.then(
      () => {
        this.#inflight--;
        if (sha === undefined) this.#appendLoaded = true;
        // Answers come in order: this one ran after an earlier one got NOSCRIPT.
        if (this.#noScript) this.#noScript.overtaken = true;
        this.#afterNoScript(command);
      },
      (error) => {
        this.#inflight--;
        if (sha !== undefined && isNoScript(error)) {
          this.#appendLoaded = false;
          (this.#noScript ??= { failed: [], overtaken: false }).failed.push(append);
        } else this.#notCarried(append.topic, error);
        this.#afterNoScript(command);
      },
    );
    return true;
  }

  /**
   * Once every append in flight after a `NOSCRIPT` is answered: the failed
   * ones go again with `EVAL` (which loads the script), in order, then the
   * held ones. If one sent after a failed one ran anyway, sending the
   * failed ones again would put them after it: they are counted as not
   * carried instead (reported, as any message Redis did not take), and the
   * order holds.
   */
  #afterNoScript(command: (args: string[]) => Promise<unknown>): void {
    const state = this.#noScript;
    if (state === undefined || this.#inflight > 0) return;
    this.#noScript = undefined;
    const held = this.#heldAppends;
    this.#heldAppends = [];
    for (const append of state.failed) {
      if (state.overtaken) {
        this.#notCarried(
          append.topic,
          new Error("NOSCRIPT, and a later message ran first: not sent again, to keep the order"),
        );
      } else this.#sendAppend(command, append, true);
    }
    for (const append of held) this.#sendAppend(command, append, false);
  }

  /** Reads the topic's stream after `from`, once its live messages reach this instance; bounded in time. */
  #read(topic: string, from: Position | undefined, bounds: HistoryBounds): Promise<HistoryRead> {
    return new Promise((resolve, reject) => {
      const ms = this.#readTimeoutMs;
      const timer = setTimeout(() => {
        reject(
          new BrokerError(
            "BROKER_UNAVAILABLE",
            `no answer from Redis to a history read of topic ${JSON.stringify(topic)} ` +
              `within ${ms} ms`,
            { topics: [topic] },
          ),
        );
      }, ms);
      this.#readNow(topic, from, bounds).then(
        (read) => {
          clearTimeout(timer);
          resolve(read);
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  async #readNow(
    topic: string,
    from: Position | undefined,
    bounds: HistoryBounds,
  ): Promise<HistoryRead> {
    await this.#subscribed.get(topic);
    let reply: unknown;
    const args = [
      "2",
      this.#keyPrefix + "s:" + topic,
      this.#keyPrefix + "e:" + topic,
      newEpoch(),
      from?.epoch ?? "",
      from === undefined ? "-1" : String(from.seq),
      String(bounds.messages),
    ];
    try {
      const sha = this.#readSha;
      try {
        reply = await this.#command!(
          sha === undefined ? ["EVAL", READ_SCRIPT, ...args] : ["EVALSHA", sha, ...args],
        );
      } catch (error) {
        // A read has no order to keep: sent again at once, with the text.
        if (sha === undefined || !isNoScript(error)) throw error;
        reply = await this.#command!(["EVAL", READ_SCRIPT, ...args]);
      }
    } catch (error) {
      throw new BrokerError(
        "BROKER_UNAVAILABLE",
        `could not read the history of topic ${JSON.stringify(topic)} from Redis: ${
          errorText(error)
        }`,
        { topics: [topic] },
        { cause: error },
      );
    }
    const read = parseRead(topic, reply, bounds.ms);
    // Where this instance stands if its subscription drops before any entry came.
    if (this.#topics.has(topic) && !this.#streams.has(topic)) {
      this.#streams.set(topic, {
        epoch: read.epoch,
        last: read.last,
        held: undefined,
        seeded: true,
      });
    }
    return read;
  }

  /** A stream entry published by any instance (this one too): delivered in seq order, gaps filled. */
  #receivedEntry(topic: string, message: string, channel: string): void {
    const kind = message[2];
    const epochEnd = message.indexOf(" ", 3);
    const seqEnd = epochEnd < 0 ? -1 : message.indexOf(" ", epochEnd + 1);
    const seq = seqEnd < 0 ? NaN : Number(message.slice(epochEnd + 1, seqEnd));
    const payload = kind === TEXT
      ? message.slice(seqEnd + 1)
      : kind === BINARY
      ? decodeBase64(message.slice(seqEnd + 1))
      : null;
    if (payload === null || !(seq > 0)) {
      this.#report(
        new BrokerError(
          "BROKER_MESSAGE_INVALID",
          `dropped a history message on Redis channel ${channel} that is not in sprig's format`,
          { topics: [topic] },
        ),
      );
      return;
    }
    const m = new PublishedMessage(payload);
    m.position = { epoch: message.slice(3, epochEnd), seq };
    let state = this.#streams.get(topic);
    if (state === undefined) {
      this.#streams.set(topic, state = { epoch: "", last: 0, held: undefined, seeded: false });
    }
    this.#inOrder(topic, state, m);
  }

  #inOrder(topic: string, state: StreamState, m: PublishedMessage): void {
    if (state.held !== undefined) {
      state.held.push(m);
      return;
    }
    const { epoch, seq } = m.position!;
    if (state.seeded) {
      state.seeded = false;
      if (epoch === state.epoch && seq <= state.last) state.last = seq - 1;
    }
    if (state.epoch === "") {
      // The first entry since this instance subscribed: the order starts here.
      state.epoch = epoch;
      state.last = seq - 1;
    } else if (epoch !== state.epoch) {
      this.#historyReset(topic, state.epoch, epoch);
      state.epoch = epoch;
      state.last = 0;
    }
    if (seq <= state.last) {
      this.stats.duplicates++;
      return;
    }
    if (seq > state.last + 1) {
      state.held = [m];
      this.#fill(topic, state);
      return;
    }
    state.last = seq;
    this.#deliverEntry(topic, m);
  }

  #deliverEntry(topic: string, m: PublishedMessage): void {
    const target = this.#target;
    if (!target || this.#streams.get(topic) === undefined) return;
    this.stats.received++;
    target.deliver(topic, m);
  }

  /** Reads what `state` misses from the stream, delivers it, then what was held meanwhile. */
  async #fill(topic: string, state: StreamState): Promise<void> {
    const expected = state.last + 1;
    let read: HistoryRead | undefined;
    try {
      read = await this.#read(topic, { epoch: state.epoch, seq: state.last }, FILL_BOUNDS);
    } catch (error) {
      this.#report(error as BrokerError);
    }
    if (this.#streams.get(topic) !== state) return; // unsubscribed meanwhile
    const held = state.held ?? [];
    state.held = undefined;
    state.seeded = false;
    if (read !== undefined) {
      if (read.epoch !== state.epoch) {
        this.#historyReset(topic, state.epoch, read.epoch);
        state.epoch = read.epoch;
        state.last = 0;
      } else if (read.first > expected) {
        this.#gap(topic, read.first - expected);
      }
      for (const m of read.messages) {
        if (m.position!.seq <= state.last) continue;
        state.last = m.position!.seq;
        this.#deliverEntry(topic, m);
      }
    } else {
      const next = held.find((m) => m.position!.epoch === state.epoch);
      if (next !== undefined && next.position!.seq > expected) {
        this.#gap(topic, next.position!.seq - expected);
        state.last = next.position!.seq - 1;
      }
    }
    for (let i = 0; i < held.length; i++) {
      // After another gap, a new fill runs and holds the rest.
      const waiting = state.held as PublishedMessage[] | undefined;
      if (waiting !== undefined) waiting.push(held[i]);
      else this.#inOrder(topic, state, held[i]);
    }
  }

  #historyReset(topic: string, from: string, to: string): void {
    this.#report(
      new BrokerError(
        "BROKER_HISTORY_RESET",
        `the Redis Stream history of topic ${JSON.stringify(topic)} was lost (epoch ${from}); ` +
          `it starts again at epoch ${to} (resumes from an older position report "epoch")`,
        { topics: [topic] },
      ),
    );
  }

  // ------------------------------------------------------------ connection state

  /** The subscriber connection is (back) up: subscribe every topic again. */
  #resubscribe(): void {
    for (const topic of this.#topics) {
      const subscribed = this.#subscriber.subscribe(this.#prefix + topic, this.#listener).then(
        () => {},
        (error) => this.#subscribeFailed(topic, error),
      );
      this.#subscribed.set(topic, subscribed);
      // What a stream topic published while this connection was down is in its stream.
      const state = this.#streams.get(topic);
      if (state !== undefined && state.held === undefined && state.epoch !== "") {
        state.held = [];
        subscribed.then(() => this.#fill(topic, state));
      }
    }
  }

  /** The publisher is (back) up: report what the outage cost, once. */
  #recovered(): void {
    const outage = this.#outage;
    if (!outage) return;
    this.#outage = undefined;
    this.#report(
      new BrokerError(
        "BROKER_MESSAGES_LOST",
        `Redis is reachable again: ${outage.count} message(s) published here from ` +
          `${new Date(outage.since).toISOString()} to ${new Date().toISOString()} ` +
          `reached this instance's subscribers only`,
        { lost: outage.count, topics: [...outage.topics] },
      ),
    );
  }

  #notCarried(topic: string, error: unknown): void {
    this.stats.notCarried++;
    let outage = this.#outage;
    if (!outage) {
      this.#outage = outage = { since: Date.now(), count: 0, topics: new Set() };
      this.#report(
        error === undefined
          ? new BrokerError(
            "BROKER_UNAVAILABLE",
            "Redis is unreachable: messages published here reach this instance's " +
              "subscribers only until it is back (their count is reported then)",
            { topics: [topic] },
          )
          : new BrokerError(
            "BROKER_PUBLISH_FAILED",
            `a publish to Redis failed (${errorText(error)}): messages published here ` +
              "may reach this instance's subscribers only until it works again",
            { topics: [topic] },
            { cause: error },
          ),
      );
    }
    outage.count++;
    if (outage.topics.size < MAX_REPORTED_TOPICS) outage.topics.add(topic);
    // A rejection found while the client says it is up: nothing will announce recovery.
    if (error !== undefined && isUp(this.#publisher)) queueMicrotask(() => this.#recovered());
  }

  #subscribeFailed(topic: string, error: unknown): void {
    this.#report(
      new BrokerError(
        "BROKER_SUBSCRIBE_FAILED",
        `could not subscribe to Redis channel ${this.#prefix + topic} (${errorText(error)}); ` +
          "it is tried again when the connection is back",
        { topics: [topic] },
        { cause: error },
      ),
    );
  }

  #gap(topic: string, count: number): void {
    this.stats.lost += count;
    const gaps = this.#gaps ??= { count: 0, topics: new Set() };
    gaps.count += count;
    if (gaps.topics.size < MAX_REPORTED_TOPICS) gaps.topics.add(topic);
    if (this.#gapTimer === undefined) {
      this.#gapTimer = setTimeout(() => {
        this.#gapTimer = undefined;
        this.#flushGaps();
      }, this.#reportIntervalMs);
    }
  }

  #flushGaps(): void {
    const gaps = this.#gaps;
    if (!gaps) return;
    this.#gaps = undefined;
    const topics = [...gaps.topics];
    this.#report(
      new BrokerError(
        "BROKER_MESSAGES_LOST",
        `${gaps.count} message(s) published by other instances did not reach this one ` +
          `(gaps in their sequence, e.g. while Redis or this connection was down), on ` +
          `${topics.length === 1 ? "topic" : "topics"} ${topics.slice(0, 5).join(", ")}` +
          `${topics.length > 5 ? ", …" : ""}`,
        { lost: gaps.count, topics },
      ),
    );
  }

  #report(error: BrokerError): void {
    try {
      if (this.#onError) this.#onError(error);
      else if (this.#target) this.#target.reportError(error);
      else console.error("sprig: broker:", error);
    } catch {
      // An error reporter that throws has nobody left to report to.
    }
  }

  #nextSequence(topic: string): number {
    let sequences = this.#sequences;
    let seq = sequences.get(topic);
    if (seq === undefined && sequences.size >= MAX_SEQUENCED_TOPICS) {
      // A new publisher key: receivers start a new history for it, so restarting at 1 is no replay.
      this.#sequences = sequences = new Map();
      this.#key = `${this.instance}.${(++this.#generation).toString(36)}`;
    }
    seq = (seq ?? 0) + 1;
    sequences.set(topic, seq);
    return seq;
  }
}

/** True unless the client says it is not connected. */
function isUp(client: RedisPubSubClient): boolean {
  if (typeof client.isReady === "boolean") return client.isReady;
  if (typeof client.status === "string") return client.status === "ready";
  if (typeof client.connected === "boolean") return client.connected;
  return true;
}

/** Calls `fn` on every (re)connection of `client`, as the client announces it. */
function onReady(client: RedisPubSubClient, fn: () => void): void {
  if (typeof client.on === "function") {
    client.on("ready", fn);
  } else if ("onconnect" in client) {
    const own = client.onconnect;
    client.onconnect = function (this: unknown) {
      if (typeof own === "function") own.call(this);
      fn();
    };
  }
}

function randomKey(): string {
  const bytes = new Uint8Array(9);
  crypto.getRandomValues(bytes);
  // Base64 without "." or " " (the separators): letters, digits, "+" and "/".
  return encodeBase64(bytes);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How to send any command on `client`, where it can. */
function commandOf(client: RedisPubSubClient): ((args: string[]) => Promise<unknown>) | undefined {
  if (typeof client.sendCommand === "function") return (args) => client.sendCommand!(args);
  if (typeof client.send === "function") return ([name, ...args]) => client.send!(name!, args);
  return undefined;
}

/** Bulk strings come as strings, or as bytes from some clients. */
function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return String(value);
}

/**
 * The read script's reply: `[epoch, last, [[id, [field, value, …]], …]]`.
 * Entries older than `ms` (by the time their publisher stamped) are gone.
 *
 * @throws {BrokerError} `BROKER_MESSAGE_INVALID` for a reply of another shape
 */
function parseRead(topic: string, reply: unknown, ms: number): HistoryRead {
  if (!Array.isArray(reply) || reply.length !== 3 || !Array.isArray(reply[2])) {
    throw new BrokerError(
      "BROKER_MESSAGE_INVALID",
      `the history of topic ${JSON.stringify(topic)} read from Redis has an unexpected shape`,
      { topics: [topic] },
    );
  }
  const epoch = text(reply[0]);
  const last = Number(text(reply[1]));
  const cutoff = ms > 0 ? Date.now() - ms : -Infinity;
  const messages: PublishedMessage[] = [];
  for (const entry of reply[2] as unknown[]) {
    if (!Array.isArray(entry) || !Array.isArray(entry[1])) continue;
    const seq = Number(text(entry[0]).slice(2));
    const fields = entry[1] as unknown[];
    let time = 0, kind = TEXT, data = "";
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = text(fields[i]);
      if (name === "t") time = Number(text(fields[i + 1]));
      else if (name === "k") kind = text(fields[i + 1]);
      else if (name === "d") data = text(fields[i + 1]);
    }
    if (time < cutoff) {
      messages.length = 0; // what is older than one gone is gone too
      continue;
    }
    const payload = kind === BINARY ? decodeBase64(data) : data;
    if (payload === null) continue;
    const m = new PublishedMessage(payload);
    m.position = { epoch, seq };
    messages.push(m);
  }
  return {
    epoch,
    last,
    messages,
    first: messages.length > 0 ? messages[0].position!.seq : last + 1,
  };
}

// ---------------------------------------------------------------------------
// ioredis

/** The part of an ioredis client that {@link ioredisClient} uses. */
export interface IoredisLike {
  /** PUBLISH. */
  publish(channel: string, message: string): Promise<unknown>;
  /** SUBSCRIBE (messages come as `"message"` events). */
  subscribe(channel: string): Promise<unknown>;
  /** UNSUBSCRIBE. */
  unsubscribe(channel: string): Promise<unknown>;
  /** `"ready"` while connected. */
  readonly status: string;
  /** A message on a subscribed channel. */
  on(event: "message", listener: (channel: string, message: string) => void): unknown;
  /** The connection is (again) ready. */
  on(event: "ready", listener: () => void): unknown;
  /** Any command (what `redisBroker({ history })` sends scripts with). */
  call?(command: string, ...args: string[]): Promise<unknown>;
}

/**
 * An ioredis client as a {@link RedisPubSubClient}: ioredis delivers
 * messages as events rather than to a listener per subscription, and calls
 * a function given to `subscribe` with the reply, not the messages. Wrap
 * each of the two connections.
 *
 * @example
 * ```ts ignore
 * // Not run: it needs a Redis server (tests/scale/redis_test.ts starts one and runs this).
 * import { Redis } from "ioredis";
 * import { ioredisClient, redisBroker } from "@sprig/websocket/scale";
 * const broker = redisBroker({
 *   publisher: ioredisClient(new Redis("redis://127.0.0.1:6379")),
 *   subscriber: ioredisClient(new Redis("redis://127.0.0.1:6379")),
 * });
 * ```
 */
export function ioredisClient(redis: IoredisLike): RedisPubSubClient {
  const listeners = new Map<string, Set<RedisMessageListener>>();
  let listening = false;
  return {
    publish: (channel, message) => redis.publish(channel, message),
    subscribe(channel, listener) {
      if (!listening) {
        listening = true;
        redis.on("message", (channel: string, message: string) => {
          const set = listeners.get(channel);
          if (set) { for (const l of set) l(message, channel); }
        });
      }
      let set = listeners.get(channel);
      if (!set) listeners.set(channel, set = new Set());
      set.add(listener);
      return redis.subscribe(channel);
    },
    unsubscribe(channel, listener) {
      const set = listeners.get(channel);
      if (set && listener) set.delete(listener);
      if (set && set.size > 0 && listener) return Promise.resolve();
      listeners.delete(channel);
      return redis.unsubscribe(channel);
    },
    get status() {
      return redis.status;
    },
    on: (event, listener) => redis.on(event, listener),
    ...(typeof redis.call === "function"
      ? { sendCommand: ([name, ...args]: string[]) => redis.call!(name!, ...args) }
      : {}),
  };
}
