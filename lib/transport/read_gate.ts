/**
 * The pause of a push-mode read loop over a stream that only pulls (Deno's
 * `Conn`, a WebSocket-like socket): while held, the loop waits on
 * {@link ReadGate.held} before its next read.
 *
 * @module
 */

/** Held while the consumer asked to stop reading. @internal */
export class ReadGate {
  #held: Promise<void> | undefined;
  #release: (() => void) | undefined;

  /** A promise while held (the loop awaits it), else undefined. */
  get held(): Promise<void> | undefined {
    return this.#held;
  }

  /** Holds the loop before its next read. */
  hold(): void {
    this.#held ??= new Promise((resolve) => (this.#release = resolve));
  }

  /** Lets the loop read again. */
  release(): void {
    const release = this.#release;
    this.#held = this.#release = undefined;
    release?.();
  }
}
