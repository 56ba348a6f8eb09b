/**
 * The driver: runs one {@link Handler} over one {@link Channel}, the same on
 * every host. The channel pushes messages in the socket's own turn and the
 * driver calls the handler at once, in that turn: a callback that returns a
 * plain result has its pushes queued on the channel (written once, at the end
 * of the turn) with no promise, closure or timer in between. A callback that
 * returns a promise holds the connection's next events in its one mailbox
 * until it settles, so callbacks for a connection still run one at a time,
 * in arrival order; once `maxQueuedMessages` wait, the socket stops being
 * read until the mailbox is half empty again.
 *
 * @module
 */

import {
  CloseCode,
  InvalidArgumentError,
  NotOpenError,
  SprigError,
  TimeoutError,
} from "../../errors.ts";
import { isValidReceivedCloseCode, MAX_CLOSE_REASON_BYTES } from "../../protocol/close.ts";
import { encodeUtf8 } from "../../protocol/utf8.ts";
import type { MessageData } from "../../session/session.ts";
import type { CloseInfo } from "../../errors.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import type { Channel, ChannelReceiver } from "./channel.ts";
import type {
  ConnectionContext,
  ConnectionRef,
  ControlFrame,
  ControlMessage,
  Handler,
  MessageItem,
  MessageOptions,
  Push,
  Reply,
  TerminateReason,
} from "./handler.ts";
import type { OutgoingMessage } from "./message.ts";
import type { SubscribeOptions, Topics } from "./pubsub.ts";
import { type DrainWatcher, messageBytes, PublishedMessage, type Subscriber } from "./message.ts";
import type { ResumeReport } from "./history.ts";
import type { Position } from "../../session/envelope.ts";
import { Eventually } from "../../util/eventually.ts";
import type { Tickable, Ticker } from "../../util/ticker.ts";
import type { TelemetryPublisher } from "../../telemetry.ts";

/** What the driver needs from the server (or adapter) that hosts it. @internal */
export interface DriverHost {
  readonly topics: Topics;
  /** A callback threw, or something failed that nobody awaits. */
  reportError(error: unknown, ref: ConnectionRef<never>): void;
  /** The connection ended and `terminate` ran. */
  removed(driver: Driver): void;
  /** Where lifecycle events go, when the host has a `telemetry` option. */
  readonly telemetry?: TelemetryPublisher;
}

/** Per-connection settings of the driver. @internal */
export interface DriverOptions {
  /** Close with 1001 after this long without a frame from the peer while the handler is idle; 0 = never. */
  idleTimeoutMs: number;
  /** Events waiting for a busy handler past which the socket stops being read. Default 16. */
  maxQueuedMessages?: number;
  /** The host's shared timer for idle checks, ticking every `idleTimeoutMs / 4`. */
  idleTicker?: Ticker;
  /** The connection's id, when allocated before the driver (see {@link allocateConnectionId}). */
  id?: number;
  /** Close with 1001 this long after `start()`, in ms (the jitter already added); 0 = never. */
  lifetimeMs?: number;
  /** The host's shared timer for the lifetime check (its period bounds the lateness). */
  lifetimeTicker?: Ticker;
}

/** Control frames kept for `control` while the handler is behind; later ones are not reported (pings are still answered). */
const MAX_QUEUED_CONTROL = 64;

const IN = 0;
const INFO = 1;
const CONTROL = 2;
const END = 3;
type Kind = typeof IN | typeof INFO | typeof CONTROL | typeof END;

/** The mailbox keeps kinds and values side by side: no object per queued event. */
type StopCause =
  & { code: number; reason: string }
  & ({ type: "normal" | "shutdown" | "lifetime" } | { type: "timeout" | "error"; error: Error });

let nextId = 1;

/** A new connection id (`ConnectionRef.id`), for a channel made before its driver. @internal */
export function allocateConnectionId(): number {
  return nextId++;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * Runs a handler over a channel and is the connection's
 * {@link ConnectionRef}. @internal
 */
export class Driver implements ConnectionRef<unknown>, Subscriber, ChannelReceiver, Tickable {
  readonly id: number;
  readonly url: URL;
  readonly protocol: string;
  readonly remoteAddress: TransportAddress | undefined;
  readonly #channel: Channel;
  readonly #handler: Handler<unknown, unknown, unknown>;
  readonly #host: DriverHost;
  readonly #idleTimeoutMs: number;
  readonly #maxQueued: number;
  #paused = false;
  /** Until `init` ran: the request's context is not kept for the connection's life. */
  #context: ConnectionContext<unknown, unknown> | undefined;
  readonly #topics = new Set<string>();

  #state: unknown = undefined;
  #kinds: Kind[] = [];
  #values: unknown[] = [];
  #head = 0;
  #queuedControl = 0;
  /** A callback's promise is pending. */
  #busy = false;
  #drainScheduled = false;
  #drainTask: (() => void) | undefined;
  #stopping: StopCause | undefined;
  /** How the channel ended, once it did. */
  #closedInfo: CloseInfo | undefined;
  #terminating = false;
  readonly #idleTicker: Ticker | undefined;
  /** Idle checks: the activity count last seen, and how many checks in a row saw none. */
  #idleLast = -1;
  #idleQuiet = 0;
  readonly #done = new Eventually<void>();
  /** Slow subscriptions waiting for this connection's output to drain. */
  #drainWatchers: Set<DrainWatcher> | undefined;
  readonly #lifetimeMs: number;
  readonly #lifetimeTicker: Ticker | undefined;

  constructor(
    channel: Channel,
    handler: Handler<never, never, never>,
    context: Omit<ConnectionContext<unknown, unknown>, "ref">,
    host: DriverHost,
    options: DriverOptions,
  ) {
    this.id = options.id ?? nextId++;
    this.#channel = channel;
    this.#handler = handler as unknown as Handler<unknown, unknown, unknown>;
    this.#host = host;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.#maxQueued = Math.max(1, options.maxQueuedMessages ?? 16);
    this.#idleTicker = options.idleTimeoutMs > 0 ? options.idleTicker : undefined;
    this.#lifetimeMs = options.lifetimeMs ?? 0;
    this.#lifetimeTicker = this.#lifetimeMs > 0 ? options.lifetimeTicker : undefined;
    this.url = context.url;
    this.protocol = context.protocol;
    this.remoteAddress = context.remoteAddress;
    this.#context = { ...context, ref: this };
  }

  /** Resolves after `terminate` ran (or failed). */
  get done(): Promise<void> {
    return this.#done.promise;
  }

  /** Runs `init`, then starts the channel. Once. */
  start(): void {
    const context = this.#context!;
    this.#context = undefined;
    const t = this.#host.telemetry;
    if (t && t.connected.hasSubscribers) {
      t.connected.publish({
        role: "server",
        id: `s${this.id}`,
        timestamp: Date.now(),
        url: this.url.href,
        protocol: this.protocol,
        extensions: context.extensions,
      });
    }
    this.#idleTicker?.add(this);
    if (this.#lifetimeTicker) this.#lifetimeTicker.add(new Lifetime(this, this.#lifetimeMs));
    const init = this.#handler.init;
    if (init) this.#call(() => init.call(this.#handler, context));
    this.#channel.start(this);
  }

  // ------------------------------------------------------------ ConnectionRef

  get isOpen(): boolean {
    return !this.#stopping && this.#closedInfo === undefined && this.#channel.isOpen;
  }

  get closed(): Promise<CloseInfo> {
    return this.#channel.closed;
  }

  post(message: unknown): boolean {
    if (!this.isOpen) return false;
    this.#enqueue(INFO, message);
    // Never re-entered: `info` runs in a later microtask, not inside the caller.
    if (!this.#busy && !this.#drainScheduled) {
      this.#drainScheduled = true;
      queueMicrotask(
        this.#drainTask ??= () => {
          this.#drainScheduled = false;
          this.#drain();
        },
      );
    }
    return true;
  }

  subscribe(topic: string, options?: SubscribeOptions): boolean {
    if (this.#closedInfo !== undefined || this.#terminating) return false;
    this.#host.topics.subscribe(topic, this, options);
    this.#topics.add(topic);
    return true;
  }

  resume(topic: string, from?: Position, options?: SubscribeOptions): Promise<ResumeReport> {
    if (this.#closedInfo !== undefined || this.#terminating) {
      return Promise.reject(new NotOpenError("resume() after the connection closed"));
    }
    let report: ResumeReport | Promise<ResumeReport>;
    try {
      report = this.#host.topics.resume(topic, this, from, options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#topics.add(topic);
    if (!(report instanceof Promise)) return Promise.resolve(report);
    // A history read from the broker's engine that failed leaves no subscription.
    return report.catch((error) => {
      if (!this.#host.topics.isSubscriber(topic, this)) this.#topics.delete(topic);
      throw error;
    });
  }

  unsubscribe(topic: string): boolean {
    if (!this.#topics.delete(topic)) return false;
    this.#host.topics.unsubscribe(topic, this);
    return true;
  }

  isSubscribed(topic: string): boolean {
    return this.#topics.has(topic);
  }

  get subscriptions(): readonly string[] {
    return [...this.#topics];
  }

  send(message: OutgoingMessage, options?: MessageOptions): boolean {
    const channel = this.#channel;
    if (this.#stopping || this.#closedInfo !== undefined || !channel.isOpen) {
      // A bad value is refused even then: it is the caller's bug.
      if (typeof message !== "string") messageBytes(message);
      return false;
    }
    channel.send(message, options === undefined ? undefined : compressOption(options.compress));
    return true;
  }

  publish(topic: string, message: OutgoingMessage, options?: MessageOptions): number {
    return this.#host.topics.publish(topic, publishable(message, options), this);
  }

  close(code: number = CloseCode.Normal, reason = ""): void {
    this.#stop({ type: "normal", ...checkStop(code, reason) });
  }

  /** Subscriber: the bytes waiting to be sent, for slow-subscriber policies. */
  get pendingBytes(): number {
    return this.#channel.bufferedAmount;
  }

  /** Subscriber: the `close` policy: 1013 Try Again Later. */
  closeSlow(): void {
    const error = new SprigError(
      "SLOW_SUBSCRIBER",
      "the subscriber did not read its topic's messages fast enough (the close policy)",
      CloseCode.TryAgainLater,
    );
    this.#stop({
      type: "error",
      error,
      code: CloseCode.TryAgainLater,
      reason: "too slow, try again later",
    });
  }

  watchDrain(watcher: DrainWatcher): void {
    (this.#drainWatchers ??= new Set()).add(watcher);
  }

  unwatchDrain(watcher: DrainWatcher): void {
    this.#drainWatchers?.delete(watcher);
  }

  /** Closes with 1001 once the connection's lifetime passed. */
  expire(): void {
    this.#stop({
      type: "lifetime",
      code: CloseCode.GoingAway,
      reason: "connection lifetime reached",
    });
  }

  /** True once stopping or closed: the lifetime check stops. */
  get ended(): boolean {
    return this.#stopping !== undefined || this.#closedInfo !== undefined;
  }

  /** Subscriber: sends a published message unless closing. */
  deliver(message: PublishedMessage): boolean {
    const channel = this.#channel;
    if (this.#stopping || !channel.isOpen) return false;
    if (channel.sendPublished) channel.sendPublished(message);
    else channel.send(message.data, message.compress ? undefined : false);
    return true;
  }

  // ------------------------------------------------------------ host control

  /** Closes with 1001 for a server shutdown. */
  shutdown(reason: string): void {
    this.#stop({ type: "shutdown", code: CloseCode.GoingAway, reason });
  }

  /** Drops the connection now (a shutdown deadline passed). */
  kill(): void {
    this.#channel.terminate();
  }

  // ------------------------------------------------------------ ChannelReceiver

  /** A message arrived: the handler's `in` runs now, unless it is behind. */
  message(data: MessageData): void {
    if (this.#stopping) return;
    if (this.#busy || this.#head < this.#kinds.length) this.#enqueue(IN, data);
    else this.#invoke(IN, data);
  }

  /** A ping or pong arrived: `control`, where the handler has it. */
  control(type: "ping" | "pong", data: Uint8Array): void {
    if (!this.#handler.control || this.#stopping) return;
    const frame: ControlMessage = { type, data };
    if (this.#busy || this.#head < this.#kinds.length) {
      if (this.#queuedControl >= MAX_QUEUED_CONTROL) return;
      this.#queuedControl++;
      this.#enqueue(CONTROL, frame);
    } else {
      this.#invoke(CONTROL, frame);
    }
  }

  /** The peer read what waited: the channel resumes reading by itself; slow subscriptions learn it. */
  drain(): void {
    const watchers = this.#drainWatchers;
    if (watchers === undefined || watchers.size === 0) return;
    for (const w of [...watchers]) w.drained();
  }

  /** A failure: the end carries it, and `terminate` learns it from there. */
  error(_error: Error): void {}

  /** True while a callback is pending or events wait: a close frame owed to the peer waits too. */
  holding(): boolean {
    return this.#busy || this.#head < this.#kinds.length;
  }

  /** The channel ended: `terminate` runs once the handler is idle. */
  end(info: CloseInfo): void {
    if (this.#closedInfo !== undefined) return;
    this.#closedInfo = info;
    const t = this.#host.telemetry;
    if (t && t.disconnected.hasSubscribers) {
      t.disconnected.publish({
        role: "server",
        id: `s${this.id}`,
        timestamp: Date.now(),
        code: info.code,
        reason: info.reason,
        wasClean: info.wasClean,
        ...(info.error ? { error: info.error } : {}),
      });
    }
    if (this.#busy || this.#head < this.#kinds.length) this.#enqueue(END, undefined);
    else this.#terminate();
  }

  // ------------------------------------------------------------ dispatch

  #enqueue(kind: Kind, value: unknown): void {
    this.#kinds.push(kind);
    this.#values.push(value);
    if (!this.#paused && this.#kinds.length - this.#head >= this.#maxQueued) {
      this.#paused = true;
      this.#channel.pause();
    }
  }

  /** Runs queued events in order until one goes asynchronous. */
  #drain(): void {
    while (!this.#busy && this.#head < this.#kinds.length) {
      const i = this.#head++;
      const kind = this.#kinds[i];
      const value = this.#values[i];
      this.#values[i] = undefined;
      if (this.#head === this.#kinds.length) {
        this.#kinds = [];
        this.#values = [];
        this.#head = 0;
      }
      if (kind === END) {
        this.#terminate();
        return;
      }
      if (kind === CONTROL) this.#queuedControl--;
      if (this.#stopping) continue; // after a stop only `terminate` runs
      this.#invoke(kind, value);
    }
    if (this.#paused && this.#kinds.length - this.#head <= this.#maxQueued >> 1) {
      this.#paused = false;
      this.#channel.resume();
    }
    if (!this.#busy && this.#head === this.#kinds.length) this.#channel.idle();
  }

  #invoke(kind: Kind, value: unknown): void {
    const handler = this.#handler;
    let result: unknown;
    try {
      if (kind === IN) result = handler.in(value as MessageData, this.#state);
      else if (kind === INFO) {
        if (!handler.info) return;
        result = handler.info(value, this.#state);
      } else result = handler.control!(value as ControlMessage, this.#state);
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (isThenable(result)) this.#await(result);
    else this.#applyOrFail(result as Reply<unknown>);
  }

  /** Runs a callback that may return a promise (`init`). */
  #call(callback: () => unknown): void {
    let result: unknown;
    try {
      result = callback();
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (isThenable(result)) this.#await(result);
    else this.#applyOrFail(result as Reply<unknown>);
  }

  /**
   * An asynchronous callback: events wait in the mailbox until it settles.
   * The settle callbacks are made once per connection, not per message; what
   * the settled callback pushes is written with the rest of the turn's output
   * (see `LiveConnection.scheduleFlush`).
   */
  #await(pending: PromiseLike<unknown>): void {
    this.#busy = true;
    pending.then(
      this.#settled ??= this.#onSettled.bind(this),
      this.#rejected ??= this.#onRejected.bind(this),
    );
  }

  #settled: ((result: unknown) => void) | undefined;
  #rejected: ((error: unknown) => void) | undefined;

  #onSettled(result: unknown): void {
    this.#busy = false;
    this.#applyOrFail(result as Reply<unknown>);
    this.#drain();
  }

  #onRejected(error: unknown): void {
    this.#busy = false;
    this.#fail(error);
    this.#drain();
  }

  #applyOrFail(result: Reply<unknown>): void {
    try {
      this.#apply(result);
    } catch (error) {
      this.#fail(error);
    }
  }

  #apply(result: Reply<unknown>): void {
    if (result === undefined || result === null) return;
    if (typeof result !== "object") {
      throw new TypeError(
        "a handler callback returns an object ({ state, push, stop }) or nothing",
      );
    }
    if ("state" in result) this.#state = result.state;
    const { push, stop } = result;
    // Checked before anything is sent, so a bad stop fails the whole result.
    const close = stop === undefined
      ? undefined
      : stop === true
      ? checkStop()
      : checkStop(stop.code, stop.reason);
    if (push !== undefined) {
      const channel = this.#channel;
      if (Array.isArray(push)) {
        for (const item of push as readonly Push[]) {
          if (this.#stopping || !channel.isOpen) break; // closing: nothing more goes out
          this.#push(item);
        }
      } else if (!this.#stopping && channel.isOpen) {
        this.#push(push as Push);
      }
    }
    if (close) this.#stop({ type: "normal", ...close });
  }

  #push(item: Push): void {
    if (typeof item === "string" || ArrayBuffer.isView(item)) this.#channel.send(item);
    else if (isControlFrame(item)) this.#channel.control(item.type, item.data ?? new Uint8Array(0));
    else if (isMessageItem(item)) this.#channel.send(item.data, compressOption(item.compress));
    else this.#channel.send(item);
  }

  #fail(error: unknown): void {
    const e = error instanceof Error ? error : new Error(String(error));
    this.#host.reportError(e, this);
    this.#stop({
      type: "error",
      error: e,
      code: CloseCode.InternalError,
      reason: "internal error",
    });
  }

  #stop(cause: StopCause): void {
    if (this.#stopping || this.#closedInfo !== undefined) return;
    this.#stopping = cause;
    if (this.#channel.isOpen) this.#channel.close(cause.code, cause.reason);
  }

  // ------------------------------------------------------------ the end

  #terminate(): void {
    if (this.#terminating) return;
    this.#terminating = true;
    this.#idleTicker?.delete(this);
    this.#kinds = [];
    this.#values = [];
    this.#head = 0;
    for (const topic of this.#topics) this.#host.topics.unsubscribe(topic, this);
    this.#topics.clear();
    const reason = this.#terminateReason(this.#closedInfo!);
    const finish = () => {
      this.#host.removed(this);
      const t = this.#host.telemetry;
      if (t && t.terminated.hasSubscribers) {
        t.terminated.publish({
          role: "server",
          id: `s${this.id}`,
          timestamp: Date.now(),
          reason: reason.type,
          ...("error" in reason && reason.error ? { error: reason.error } : {}),
        });
      }
      this.#done.resolve();
    };
    const terminate = this.#handler.terminate;
    if (!terminate) return finish();
    let result: unknown;
    try {
      result = terminate.call(this.#handler, reason, this.#state);
    } catch (error) {
      this.#host.reportError(error, this);
      return finish();
    }
    if (isThenable(result)) {
      result.then(finish, (error) => {
        this.#host.reportError(error, this);
        finish();
      });
    } else finish();
  }

  #terminateReason(closed: CloseInfo): TerminateReason {
    const { wasClean } = closed;
    const s = this.#stopping;
    if (s) {
      if (s.type === "error" || s.type === "timeout") {
        return { type: s.type, error: s.error, code: s.code, reason: s.reason, wasClean };
      }
      if (closed.error) {
        // The close we started did not complete (a timeout, a dropped peer).
        const type = closed.error instanceof TimeoutError ? "timeout" : "error";
        return { type, error: closed.error, code: s.code, reason: s.reason, wasClean };
      }
      return { type: s.type, code: s.code, reason: s.reason, wasClean };
    }
    if (closed.error) {
      const type = closed.error instanceof TimeoutError ? "timeout" : "error";
      return { type, error: closed.error, code: closed.code, reason: closed.reason, wasClean };
    }
    return { type: "remote", code: closed.code, reason: closed.reason, wasClean };
  }

  // ------------------------------------------------------------ idle timeout

  /**
   * Counters, not clocks: the host's ticker visits four times per period and
   * the connection is idle after four visits in a row that saw nothing
   * arrive while the handler had nothing to do (so it closes between one
   * and one and a quarter periods after the last frame).
   */
  tick(): boolean {
    if (this.#stopping || this.#closedInfo !== undefined) return false;
    const now = this.#channel.activity;
    if (now !== this.#idleLast || this.#busy || this.#head < this.#kinds.length) {
      this.#idleLast = now;
      this.#idleQuiet = 0;
      return true;
    }
    if (++this.#idleQuiet < 4) return true;
    const ms = this.#idleTimeoutMs;
    const error = new TimeoutError("IDLE_TIMEOUT", `nothing received for ${ms} ms`, ms);
    this.#stop({ type: "timeout", error, code: CloseCode.GoingAway, reason: "idle timeout" });
    return false;
  }
}

function isControlFrame(item: Push): item is ControlFrame {
  return typeof item === "object" && item !== null && !ArrayBuffer.isView(item) &&
    !(item instanceof ArrayBuffer) && "type" in item;
}

function isMessageItem(item: Push): item is MessageItem {
  return typeof item === "object" && item !== null && !ArrayBuffer.isView(item) &&
    !(item instanceof ArrayBuffer) && "data" in item;
}

/**
 * What `publish` hands the topics: the message itself, or, with
 * `compress: false`, a {@link PublishedMessage} that says so. @internal
 */
export function publishable(
  message: OutgoingMessage,
  options: MessageOptions | undefined,
): OutgoingMessage | PublishedMessage {
  if (options === undefined) return message;
  return compressOption(options.compress) === false
    ? new PublishedMessage(message, false)
    : message;
}

/**
 * A message's `compress` option, checked.
 *
 * @throws {InvalidArgumentError} when it is not a boolean
 */
function compressOption(compress: unknown): boolean | undefined {
  if (compress === undefined || typeof compress === "boolean") return compress;
  throw new InvalidArgumentError(
    "options.compress",
    `compress must be true or false, got ${typeof compress}`,
  );
}

/**
 * Checks a close code a handler asked for and cuts a long reason at a
 * character boundary.
 *
 * @throws {RangeError} for a code that may not be sent (RFC 6455 §7.4.1: 1005, 1006 and 1015 MUST NOT be sent)
 */
function checkStop(code: number = CloseCode.Normal, reason = ""): { code: number; reason: string } {
  if (!Number.isInteger(code) || !isValidReceivedCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent`);
  }
  // RFC 6455 §5.5: a control frame's payload, code included, is at most 125 bytes.
  if (encodeUtf8(reason).length > MAX_CLOSE_REASON_BYTES) {
    let cut = "";
    let bytes = 0;
    for (const ch of reason) {
      const n = encodeUtf8(ch).length;
      if (bytes + n > MAX_CLOSE_REASON_BYTES) break;
      cut += ch;
      bytes += n;
    }
    reason = cut;
  }
  return { code, reason };
}

/** The lifetime check of one connection, on the host's shared timer: one clock read per tick, none per message. */
class Lifetime implements Tickable {
  readonly #driver: Driver;
  readonly #deadline: number;

  constructor(driver: Driver, ms: number) {
    this.#driver = driver;
    this.#deadline = Date.now() + ms;
  }

  tick(): boolean {
    if (this.#driver.ended) return false;
    if (Date.now() < this.#deadline) return true;
    this.#driver.expire();
    return false;
  }
}
