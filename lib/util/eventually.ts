/**
 * A value that arrives once, readable as a promise that is only made when
 * someone asks for it. Live connections have several "it ended" promises
 * that nobody awaits most of the time; this keeps an idle connection from
 * paying for a promise and its resolving functions each.
 *
 * @module
 */

/** A settle-once value with a lazily made promise. @internal */
export class Eventually<T> {
  #settled = false;
  #value: T | undefined;
  #promise: Promise<T> | undefined;
  #resolve: ((value: T) => void) | undefined;

  /** True once {@link resolve} was called. */
  get settled(): boolean {
    return this.#settled;
  }

  /** Resolves with the value, now or once it arrives. Never rejects. */
  get promise(): Promise<T> {
    if (this.#promise === undefined) {
      this.#promise = this.#settled
        ? Promise.resolve(this.#value as T)
        : new Promise<T>((resolve) => (this.#resolve = resolve));
    }
    return this.#promise;
  }

  /** Settles with `value`; later calls do nothing. */
  resolve(value: T): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#value = value;
    const resolve = this.#resolve;
    this.#resolve = undefined;
    resolve?.(value);
  }
}
