/**
 * What the `Deno.serve` and `Bun.serve` channels share: the host pushes
 * events (message, close) at sprig, and the driver pulls from a queue.
 *
 * @module
 */

import {
  CloseCode,
  MessageTooBigError,
  NotOpenError,
  type SprigError,
  TimeoutError,
} from "../../errors.ts";
import type { CloseInfo, MessageData } from "../../session.ts";
import { type Channel, type ChannelCapabilities, messageBytes } from "../channel.ts";
import type { OutgoingMessage } from "../handler.ts";

/** Limits a native channel enforces itself. @internal */
export interface NativeChannelOptions {
  maxMessageBytes: number;
  maxSendBufferBytes: number;
  closeTimeoutMs: number;
  /** Pause reads at this many queued messages (where the host can). */
  maxQueuedMessages: number;
}

/** A {@link Channel} fed by a host's event callbacks. @internal */
export abstract class NativeChannel implements Channel {
  abstract readonly capabilities: ChannelCapabilities;
  protected readonly options: NativeChannelOptions;
  #queue: MessageData[] = [];
  #head = 0;
  #waiter: ((m: MessageData | undefined) => void) | undefined;
  #ended = false;
  #closing = false;
  #error: Error | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: (info: CloseInfo) => void;
  readonly closed: Promise<CloseInfo> = new Promise((resolve) => (this.#resolveClosed = resolve));
  onControl: ((type: "ping" | "pong", data: Uint8Array) => void) | undefined;
  onActivity: (() => void) | undefined;
  onOverflow: ((bufferedBytes: number) => void) | undefined;

  constructor(options: NativeChannelOptions) {
    this.options = options;
  }

  /** Sends on the host's socket; throws when it cannot. */
  protected abstract sendNow(message: OutgoingMessage): void;
  /** Starts the host's closing handshake. */
  protected abstract closeNow(code: number, reason: string): void;
  /** Drops the host's socket, if it can. */
  protected abstract terminateNow(): void;
  /** Pauses or resumes socket reads, if the host can. */
  protected setPaused(_paused: boolean): void {}
  /** What `send` resolves with: where the host reports draining, a wait for it. */
  protected afterSend(): Promise<void> {
    return Promise.resolve();
  }
  abstract control(type: "ping" | "pong", data: Uint8Array): void;
  abstract readonly bufferedAmount: number;

  get isOpen(): boolean {
    return !this.#closing && !this.#ended;
  }

  /** The number of messages waiting for the handler. */
  protected get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** The host delivered a message. */
  receive(message: MessageData): void {
    if (this.#ended) return;
    this.onActivity?.();
    const size = typeof message === "string" ? message.length : message.byteLength;
    // A string's UTF-8 form is at least as long as its UTF-16 length, so this never undercounts.
    if (size > this.options.maxMessageBytes) {
      this.fail(
        new MessageTooBigError(
          "MESSAGE_TOO_BIG",
          `a message of ${size} bytes exceeds ${this.options.maxMessageBytes}`,
          this.options.maxMessageBytes,
        ),
      );
      return;
    }
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(message);
      return;
    }
    this.#queue.push(message);
    if (this.queued >= this.options.maxQueuedMessages) this.setPaused(true);
  }

  /** The host reported the end of the connection. */
  ended(info: CloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#closeTimer);
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.(undefined);
    this.#resolveClosed(this.#error && !info.error ? { ...info, error: this.#error } : info);
  }

  /** Closes for a violation (the code comes from the error). */
  protected fail(error: SprigError): void {
    this.#error ??= error;
    this.close(error.closeCode ?? CloseCode.InternalError, error.closeReason);
  }

  next(): Promise<MessageData | undefined> {
    if (this.#head < this.#queue.length) {
      const m = this.#queue[this.#head];
      this.#queue[this.#head++] = "";
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue = this.#queue.slice(this.#head);
        this.#head = 0;
      }
      if (this.queued < this.options.maxQueuedMessages / 2) this.setPaused(false);
      return Promise.resolve(m);
    }
    this.setPaused(false);
    if (this.#ended) return Promise.resolve(undefined);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  send(message: OutgoingMessage): Promise<void> {
    // A value that is no message is the handler's bug: thrown, so it closes with 1011 (as on every host).
    if (typeof message !== "string") messageBytes(message);
    if (!this.isOpen) return Promise.reject(new NotOpenError());
    try {
      this.sendNow(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const buffered = this.bufferedAmount;
    if (buffered > this.options.maxSendBufferBytes) {
      this.terminate();
      this.onOverflow?.(buffered);
      return Promise.resolve();
    }
    return this.afterSend();
  }

  close(code: number, reason: string): void {
    if (this.#closing || this.#ended) return;
    this.#closing = true;
    try {
      this.closeNow(code, reason);
    } catch (error) {
      this.#error ??= error as Error;
      this.terminate();
      return;
    }
    // Bounded like every close: a peer that never answers is dropped.
    const ms = this.options.closeTimeoutMs;
    this.#closeTimer = setTimeout(() => {
      this.#error ??= new TimeoutError("CLOSE_TIMEOUT", `no closing handshake within ${ms} ms`, ms);
      this.terminate();
    }, ms);
  }

  terminate(): void {
    this.#closing = true;
    try {
      this.terminateNow();
    } catch {
      // already gone
    }
    this.ended({ code: CloseCode.Abnormal, reason: "", wasClean: false, error: this.#error });
  }
}

/** Bytes of a host's binary message as a plain `Uint8Array` view. @internal */
export function plainBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
