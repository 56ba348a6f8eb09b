/**
 * The function that does nothing: the `catch` of a promise whose failure is
 * reported elsewhere (or does not matter), the listener that is required
 * but has nothing to do.
 *
 * @module
 */

/** Does nothing. */
export function noop(): void {}
