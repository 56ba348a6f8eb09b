/**
 * The one queue of received messages of a client session. The async
 * iterator, `receive()` and the readable stream are views on it. It pauses
 * the socket at a high-water mark and resumes it at a low one.
 *
 * @module
 */

import type { MessageData } from "./types.ts";

/** A FIFO of messages with waiters and water marks. @internal */
export class MessageQueue {
  readonly #high: number;
  readonly #low: number;
  readonly #pause: () => void;
  readonly #resume: () => void;
  readonly #emptied: (() => void) | undefined;
  #items: MessageData[] = [];
  #head = 0;
  #paused = false;
  #waiters: Array<() => void> = [];

  /**
   * @param high pause at this many queued messages (≥ 1)
   * @param pause called when the queue reaches `high`
   * @param resume called when it falls back to half of that
   * @param emptied called when a reader took the last message
   */
  constructor(high: number, pause: () => void, resume: () => void, emptied?: () => void) {
    this.#high = Math.max(1, high);
    this.#low = Math.floor(this.#high / 2);
    this.#pause = pause;
    this.#resume = resume;
    this.#emptied = emptied;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds a message and wakes the waiting readers. */
  push(message: MessageData): void {
    this.#items.push(message);
    if (!this.#paused && this.size >= this.#high) {
      this.#paused = true;
      this.#pause();
    }
    this.wake();
  }

  /** Takes the oldest message, or undefined when empty. */
  shift(): MessageData | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const m = this.#items[this.#head];
    this.#items[this.#head++] = undefined as unknown as MessageData;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
      this.#emptied?.();
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.#paused && this.size <= this.#low) {
      this.#paused = false;
      this.#resume();
    }
    return m;
  }

  /** Resolves at the next message or at {@link wake}. */
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Adds a waiter that can be withdrawn (a reader that gives up). */
  addWaiter(wake: () => void): void {
    this.#waiters.push(wake);
  }

  /** Withdraws a waiter. */
  removeWaiter(wake: () => void): void {
    const i = this.#waiters.indexOf(wake);
    if (i !== -1) this.#waiters.splice(i, 1);
  }

  /** Wakes every waiting reader (a message, or the end). */
  wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (let i = 0; i < waiters.length; i++) waiters[i]();
  }
}
