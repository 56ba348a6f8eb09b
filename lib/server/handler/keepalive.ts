/**
 * Server keepalive by counting: a shared {@link Ticker} visits every
 * connection; each one pings after `intervalMs` and is dropped when no pong
 * came within `timeoutMs`. No timer per connection.
 *
 * @module
 */

import { TimeoutError } from "../../errors.ts";
import type { KeepaliveOptions } from "../../session/session.ts";
import type { Tickable, Ticker } from "../../util/ticker.ts";

/** What a connection offers its keepalive. @internal */
export interface KeepaliveTarget {
  /** False once closing: the keepalive stops. */
  readonly isOpen: boolean;
  /** Pongs received so far. */
  readonly pongCount: number;
  /** True while reads are paused (a pong may sit unread: that is backpressure, not a dead peer). */
  readonly readsPaused: boolean;
  /** Sends a keepalive ping. */
  sendPing(): void;
  /** No pong came in time: drop the connection with `error`. */
  keepaliveFailed(error: TimeoutError): void;
}

/** The period a keepalive ticker needs for these options, or 0 when keepalive is off. @internal */
export function keepalivePeriod(options: KeepaliveOptions | false): number {
  if (!options) return 0;
  const interval = options.intervalMs ?? 0;
  if (!(interval > 0)) return 0;
  const timeout = options.timeoutMs ?? interval;
  return Math.max(1, Math.min(interval, timeout) / 2);
}

/** One connection's keepalive state, visited by a shared ticker. @internal */
export class Keepalive implements Tickable {
  readonly #target: KeepaliveTarget;
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #periodMs: number;
  #sincePing = 0;
  #waited = -1;
  #pongs = 0;

  constructor(target: KeepaliveTarget, options: KeepaliveOptions, ticker: Ticker) {
    this.#target = target;
    this.#intervalMs = options.intervalMs ?? 0;
    this.#timeoutMs = options.timeoutMs ?? this.#intervalMs;
    this.#periodMs = ticker.periodMs;
    ticker.add(this);
  }

  tick(): boolean {
    const t = this.#target;
    if (!t.isOpen) return false;
    const p = this.#periodMs;
    if (this.#waited >= 0) {
      if (t.pongCount !== this.#pongs) this.#waited = -1;
      else if (!t.readsPaused && (this.#waited += p) >= this.#timeoutMs) {
        const ms = this.#timeoutMs;
        t.keepaliveFailed(new TimeoutError("KEEPALIVE_TIMEOUT", `no pong within ${ms} ms`, ms));
        return false;
      }
    }
    this.#sincePing += p;
    if (this.#waited < 0 && this.#sincePing >= this.#intervalMs) {
      this.#sincePing = 0;
      this.#waited = 0;
      this.#pongs = t.pongCount;
      t.sendPing();
    }
    return true;
  }
}
