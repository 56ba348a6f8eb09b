/**
 * A small typed event emitter for the session's diagnostic events. A
 * listener that throws does not break the connection.
 *
 * @module
 */

type Listener<T> = (value: T) => void;

/** Listeners by event name. @internal */
export class Emitter<E> {
  readonly #listeners = new Map<keyof E, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(type: K, listener: (value: E[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as Listener<never>);
    return () => void set!.delete(listener as Listener<never>);
  }

  /** True when `type` has a listener (to skip computing what nobody hears). */
  has(type: keyof E): boolean {
    const set = this.#listeners.get(type);
    return set !== undefined && set.size > 0;
  }

  /** Calls every listener of `type`. */
  emit<K extends keyof E>(type: K, value: E[K]): void {
    const set = this.#listeners.get(type);
    if (set === undefined || set.size === 0) return;
    for (const listener of set) {
      try {
        (listener as Listener<E[K]>)(value);
      } catch {
        // A listener's failure is not the connection's.
      }
    }
  }
}
