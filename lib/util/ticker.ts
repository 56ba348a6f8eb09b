/**
 * One interval timer for many connections. Idle timeouts and keepalive
 * pings are checked by counting ticks, so ten thousand idle connections
 * share one timer instead of holding two each. The timer runs only while
 * something is registered, and never keeps a process alive by itself (it
 * is unref'd): what it checks are live connections, whose sockets do.
 *
 * @module
 */

/** Something checked on every tick. */
export interface Tickable {
  /** Called once per period; returning false unregisters it. */
  tick(): boolean;
}

/** A shared interval calling `tick()` on every registered item. @internal */
export class Ticker {
  /** The period, in milliseconds. */
  readonly periodMs: number;
  readonly #items = new Set<Tickable>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(periodMs: number) {
    this.periodMs = Math.max(1, Math.round(periodMs));
  }

  /** Registers `item` until its `tick()` returns false or {@link delete}. */
  add(item: Tickable): void {
    this.#items.add(item);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#run(), this.periodMs);
      unrefTimer(this.#timer);
    }
  }

  /** Unregisters `item`. */
  delete(item: Tickable): void {
    this.#items.delete(item);
    if (this.#items.size === 0) this.#stop();
  }

  #run(): void {
    for (const item of this.#items) {
      let keep = false;
      try {
        keep = item.tick();
      } catch {
        // One connection's failure is not the others'.
      }
      if (!keep) this.#items.delete(item);
    }
    if (this.#items.size === 0) this.#stop();
  }

  #stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Lets the process exit while `timer` is pending: `unref()` on Node's and
 * Bun's timer objects, `Deno.unrefTimer` for Deno's numeric ids. @internal
 */
export function unrefTimer(timer: unknown): void {
  if (typeof timer === "object" && timer !== null) {
    (timer as { unref?: () => void }).unref?.();
  } else if (typeof timer === "number") {
    (globalThis as { Deno?: { unrefTimer?: (id: number) => void } }).Deno?.unrefTimer?.(timer);
  }
}
