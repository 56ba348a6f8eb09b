/**
 * The time bound of a client's opening handshake.
 *
 * @module
 */

import { TimeoutError } from "../errors.ts";
import { abortReason } from "../transport/abort.ts";
import { noop } from "../util/noop.ts";

/**
 * The opening handshake's time bound and the abort signal, as one race:
 * what `connect()` awaits during the handshake (over HTTP/1.1 or HTTP/2)
 * fails with a {@link TimeoutError} (`HANDSHAKE_TIMEOUT`) or the signal's
 * reason, whichever comes first. @internal
 */
export class HandshakeBound {
  readonly #interrupted: Promise<never>;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onAbort: (() => void) | undefined;
  readonly #signal: AbortSignal | undefined;

  constructor(timeoutMs: number, signal: AbortSignal | undefined) {
    this.#signal = signal;
    this.#interrupted = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(
        () =>
          reject(
            new TimeoutError(
              "HANDSHAKE_TIMEOUT",
              `no handshake response within ${timeoutMs} ms`,
              timeoutMs,
            ),
          ),
        timeoutMs,
      );
      if (signal) {
        this.#onAbort = () => reject(abortReason(signal));
        if (signal.aborted) this.#onAbort();
        else signal.addEventListener("abort", this.#onAbort, { once: true });
      }
    });
    this.#interrupted.catch(noop);
  }

  race<T>(promise: Promise<T>): Promise<T> {
    return Promise.race([promise, this.#interrupted]);
  }

  clear(): void {
    clearTimeout(this.#timer);
    if (this.#onAbort) this.#signal!.removeEventListener("abort", this.#onAbort);
  }
}
