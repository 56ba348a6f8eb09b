/**
 * Abort helpers shared by the transports and the client.
 *
 * @module
 */

import { AbortError } from "../errors.ts";

/** The error to reject with when `signal` aborted: its reason if that is an Error, else an {@link AbortError}. */
export function abortReason(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof Error && reason.name !== "AbortError") return reason;
  return new AbortError(undefined, { cause: reason });
}
