/**
 * The driver: runs one {@link Handler} over one {@link Channel}. It owns the
 * connection's mailbox (messages, posted info, control frames), calls the
 * handler one event at a time, applies what the handler returns, and
 * reports how the connection ended. It is the same on every host.
 *
 * @module
 */

import { CloseCode, SprigError, TimeoutError } from "../errors.ts";
import { isValidReceivedCloseCode, MAX_CLOSE_REASON_BYTES } from "../protocol/close.ts";
import { encodeUtf8 } from "../protocol/utf8.ts";
import type { CloseInfo, MessageData } from "../session.ts";
import type { TransportAddress } from "../transport/transport.ts";
import type { Channel } from "./channel.ts";
import type {
  ConnectionContext,
  ConnectionRef,
  ControlFrame,
  ControlMessage,
  Handler,
  OutgoingMessage,
  Push,
  Reply,
  TerminateReason,
} from "./handler.ts";
import type { PublishedMessage, Subscriber, Topics } from "./pubsub.ts";

/** What the driver needs from the server (or adapter) that hosts it. @internal */
export interface DriverHost {
  readonly topics: Topics;
  /** A callback threw, or something failed that nobody awaits. */
  reportError(error: unknown, ref: ConnectionRef<never>): void;
  /** The connection ended and `terminate` ran. */
  removed(driver: Driver): void;
}

/** Per-connection settings of the driver. @internal */
export interface DriverOptions {
  /** Close with 1001 after this long without a frame from the peer while the handler is idle; 0 = never. */
  idleTimeoutMs: number;
}

/** Control frames kept for `control` while the handler is behind; later ones are not reported (pings are still answered). */
const MAX_QUEUED_CONTROL = 64;
/** Once this many bytes wait to be sent, a callback's pushes are awaited before the next callback (backpressure). */
const SEND_HIGH_WATER_BYTES = 64 * 1024;

type Event =
  | { type: "in"; data: MessageData }
  | { type: "info"; data: unknown }
  | { type: "control"; frame: ControlMessage }
  | { type: "end" };

const END: Event = { type: "end" };

type StopCause =
  & { code: number; reason: string }
  & ({ type: "normal" | "shutdown" } | { type: "timeout" | "error"; error: Error });

let nextId = 1;
const noop = () => {};

/**
 * Runs a handler over a channel and is the connection's
 * {@link ConnectionRef}. @internal
 */
export class Driver implements ConnectionRef<unknown>, Subscriber {
  readonly id: number = nextId++;
  readonly url: URL;
  readonly protocol: string;
  readonly remoteAddress: TransportAddress | undefined;
  readonly #channel: Channel;
  readonly #handler: Handler<unknown, unknown, unknown>;
  readonly #host: DriverHost;
  readonly #idleTimeoutMs: number;
  readonly #context: ConnectionContext<unknown, unknown>;
  readonly #topics = new Set<string>();

  #state: unknown = undefined;
  #mailbox: Event[] = [];
  #head = 0;
  #queuedControl = 0;
  #wake: (() => void) | undefined;
  #stopping: StopCause | undefined;
  #ended = false;
  #busy = false;
  #lastActivity = Date.now();
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves after `terminate` ran (or failed); set by {@link start}. */
  done: Promise<void> = Promise.resolve();

  constructor(
    channel: Channel,
    handler: Handler<never, never, never>,
    context: Omit<ConnectionContext<unknown, unknown>, "ref">,
    host: DriverHost,
    options: DriverOptions,
  ) {
    this.#channel = channel;
    this.#handler = handler as unknown as Handler<unknown, unknown, unknown>;
    this.#host = host;
    this.#idleTimeoutMs = options.idleTimeoutMs;
    this.url = context.url;
    this.protocol = context.protocol;
    this.remoteAddress = context.remoteAddress;
    this.#context = { ...context, ref: this };
    channel.onActivity = () => (this.#lastActivity = Date.now());
    channel.onOverflow = (bytes) => this.#overflow(bytes);
    if (this.#handler.control) {
      channel.onControl = (type, data) => {
        if (this.#queuedControl >= MAX_QUEUED_CONTROL || this.#stopping) return;
        this.#queuedControl++;
        this.#enqueue({ type: "control", frame: { type, data } });
      };
    }
  }

  /** Runs `init`, then the handler, until the connection ends. Once. */
  start(): Promise<void> {
    return (this.done = this.#run());
  }

  // ------------------------------------------------------------ ConnectionRef

  get isOpen(): boolean {
    return !this.#stopping && !this.#ended && this.#channel.isOpen;
  }

  get closed(): Promise<CloseInfo> {
    return this.#channel.closed;
  }

  post(message: unknown): boolean {
    if (!this.isOpen) return false;
    this.#enqueue({ type: "info", data: message });
    return true;
  }

  subscribe(topic: string): boolean {
    if (this.#ended) return false;
    this.#topics.add(topic);
    this.#host.topics.subscribe(topic, this);
    return true;
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

  publish(topic: string, message: OutgoingMessage): number {
    return this.#host.topics.publish(topic, message, this);
  }

  close(code: number = CloseCode.Normal, reason = ""): void {
    this.#stop({ type: "normal", ...checkStop(code, reason) });
  }

  /** Subscriber: sends a published message unless closing. */
  deliver(message: PublishedMessage): boolean {
    const channel = this.#channel;
    if (this.#stopping || !channel.isOpen) return false;
    if (channel.sendPublished) channel.sendPublished(message);
    else channel.send(message.data).catch(noop);
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

  // ------------------------------------------------------------ the loop

  async #run(): Promise<void> {
    this.#armIdle(this.#idleTimeoutMs);
    await this.#call(() => this.#handler.init?.(this.#context));
    if (!this.#stopping) this.#pull();
    while (!this.#stopping) {
      const event = await this.#take();
      if (event.type === "end") break;
      if (event.type === "in") {
        await this.#call(() => this.#handler.in(event.data, this.#state));
        if (!this.#stopping) this.#pull();
      } else if (event.type === "info") {
        const info = this.#handler.info;
        if (info) await this.#call(() => info.call(this.#handler, event.data, this.#state));
      } else {
        this.#queuedControl--;
        await this.#call(() => this.#handler.control!(event.frame, this.#state));
      }
    }
    const closed = await this.#channel.closed;
    this.#ended = true;
    clearTimeout(this.#idleTimer);
    this.#mailbox = [];
    this.#head = 0;
    for (const topic of this.#topics) this.#host.topics.unsubscribe(topic, this);
    this.#topics.clear();
    try {
      await this.#handler.terminate?.(this.#terminateReason(closed), this.#state);
    } catch (error) {
      this.#host.reportError(error, this);
    }
    this.#host.removed(this);
  }

  #terminateReason(closed: CloseInfo): TerminateReason {
    const { wasClean } = closed;
    const s = this.#stopping;
    if (s) {
      if (s.type === "error" || s.type === "timeout") {
        return { type: s.type, error: s.error, code: s.code, reason: s.reason, wasClean };
      }
      return { type: s.type, code: s.code, reason: s.reason, wasClean };
    }
    if (closed.error) {
      const type = closed.error instanceof TimeoutError ? "timeout" : "error";
      return { type, error: closed.error, code: closed.code, reason: closed.reason, wasClean };
    }
    return { type: "remote", code: closed.code, reason: closed.reason, wasClean };
  }

  #pull(): void {
    this.#channel.next().then(
      (data) => this.#enqueue(data === undefined ? END : { type: "in", data }),
      () => this.#enqueue(END),
    );
  }

  #enqueue(event: Event): void {
    this.#mailbox.push(event);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #take(): Promise<Event> {
    while (true) {
      if (this.#head < this.#mailbox.length) {
        const event = this.#mailbox[this.#head];
        this.#mailbox[this.#head++] = END;
        if (this.#head > 1024 && this.#head * 2 > this.#mailbox.length) {
          this.#mailbox = this.#mailbox.slice(this.#head);
          this.#head = 0;
        }
        return event;
      }
      if (this.#stopping) return END;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  /** Runs one callback and applies its result; a throw closes with 1011. */
  async #call(callback: () => unknown): Promise<void> {
    this.#busy = true;
    try {
      await this.#apply((await callback()) as Reply<unknown>);
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#busy = false;
      this.#lastActivity = Date.now();
    }
  }

  async #apply(result: Reply<unknown>): Promise<void> {
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
      let last: Promise<void> | undefined;
      const list: readonly Push[] = Array.isArray(push) ? push : [push as Push];
      for (const item of list) {
        if (this.#stopping || !this.#channel.isOpen) break; // the connection is closing: nothing more goes out
        if (isControlFrame(item)) {
          this.#channel.control(item.type, item.data ?? new Uint8Array(0));
        } else {
          last = this.#channel.send(item);
          last.catch(noop);
        }
      }
      // Backpressure: a peer that reads slowly slows its handler down.
      if (last && this.#channel.bufferedAmount > SEND_HIGH_WATER_BYTES) await last.catch(noop);
    }
    if (close) this.#stop({ type: "normal", ...close });
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
    if (this.#stopping || this.#ended) return;
    this.#stopping = cause;
    clearTimeout(this.#idleTimer);
    if (this.#channel.isOpen) this.#channel.close(cause.code, cause.reason);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #overflow(bytes: number): void {
    // The channel already dropped the connection: a close frame would only
    // queue behind the data the peer is not reading.
    const error = new SprigError(
      "SEND_BUFFER_FULL",
      `the peer did not read: ${bytes} bytes were waiting to be sent`,
      CloseCode.PolicyViolation,
    );
    if (this.#stopping || this.#ended) return;
    this.#stopping = {
      type: "error",
      error,
      code: CloseCode.PolicyViolation,
      reason: "send buffer full",
    };
    clearTimeout(this.#idleTimer);
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #armIdle(ms: number): void {
    if (!(this.#idleTimeoutMs > 0)) return;
    this.#idleTimer = setTimeout(() => this.#checkIdle(), ms);
  }

  #checkIdle(): void {
    if (this.#stopping || this.#ended) return;
    const timeout = this.#idleTimeoutMs;
    const idle = Date.now() - this.#lastActivity;
    // Not idle while the handler works or has work waiting: then it is the server that is not reading.
    if (this.#busy || this.#head < this.#mailbox.length) return this.#armIdle(timeout);
    if (idle < timeout) return this.#armIdle(timeout - idle);
    const error = new TimeoutError("IDLE_TIMEOUT", `nothing received for ${timeout} ms`, timeout);
    this.#stop({ type: "timeout", error, code: CloseCode.GoingAway, reason: "idle timeout" });
  }
}

function isControlFrame(item: Push): item is ControlFrame {
  return typeof item === "object" && item !== null && !ArrayBuffer.isView(item) &&
    !(item instanceof ArrayBuffer) && "type" in item;
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
