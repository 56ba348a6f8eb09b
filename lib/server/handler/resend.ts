/**
 * The server's half of `reconnecting(url, { resend: true })`: a client's
 * messages arrive at the handler exactly once, in order, across
 * reconnects. The client numbers each message it sends (see
 * `resendWrap()`), keeps it until acknowledged, and re-sends what was not
 * acknowledged on its next connection; {@link resendable} wraps a handler
 * so that it unwraps each message, drops one it already took (a re-send
 * whose acknowledgement was lost with the connection), and acknowledges
 * cumulatively in batches, as an unsolicited pong the application never
 * sees. What the server remembers per client session is kept in a
 * {@link ResendStore}: for `windowMs` after the session's last connection
 * ended, at most `maxSessions` sessions.
 *
 * @module
 */

import type { MessageData } from "../../session/types.ts";
import { ackPayload, openResent, SESSION_PARAM } from "../../session/envelope.ts";
import type { ConnectionRef, Handler, HandlerResult, Push, Reply } from "./handler.ts";
import { ArgumentCheck } from "../../arguments.ts";

/** Options of {@link resendStore}. */
export interface ResendStoreOptions {
  /**
   * How long a client session is remembered after its last connection
   * ended, in milliseconds: a client that reconnects later is a new
   * session to the server (what it re-sends is taken again). Default
   * 300,000 (5 minutes); 1 to 2^31 − 1.
   */
  windowMs?: number;
  /**
   * The most sessions remembered; past it the one idle longest is
   * forgotten first (then, if none is idle, the least recently active).
   * Each costs about 150 bytes. Default 100,000; at least 1.
   */
  maxSessions?: number;
  /**
   * Acknowledge at least every this many messages of a connection. Default
   * 64; at least 1.
   */
  ackEvery?: number;
  /**
   * Acknowledge what is still unacknowledged at most this long after it was
   * taken, in milliseconds (one timer per store, running only while some
   * connection owes an acknowledgement). Default 20; 1 to 60,000.
   */
  ackDelayMs?: number;
}

/** The defaults of {@link ResendStoreOptions}. */
export const RESEND_DEFAULTS = {
  windowMs: 300_000,
  maxSessions: 100_000,
  ackEvery: 64,
  ackDelayMs: 20,
} as const;

interface Entry {
  /** The last sequence number handed to the handler. */
  last: number;
  /** Live connections of the session. */
  live: number;
  /** When the last connection ended (ms, `performance.now()`), while `live` is 0. */
  idleSince: number;
}

/** What one connection of a resend session carries besides the handler's state. */
interface Wrapped<S, I> {
  inner: S;
  entry: Entry | undefined;
  id: string;
  ref: ConnectionRef<I | typeof ACK>;
  /** The last seq acknowledged on this connection. */
  acked: number;
  /** In the store's set of connections that owe an acknowledgement. */
  owing: boolean;
}

const ACK: unique symbol = Symbol("sprig.resend.ack");

/**
 * What the server remembers of each client session. Create one with
 * {@link resendStore} and pass it to {@link resendable}; pass the same
 * store to the handler of a server started again in the same process and
 * the sessions survive the restart. A new process starts with an empty
 * store: then a message the client had sent and the server took, but whose
 * acknowledgement never reached the client, is taken a second time.
 */
export class ResendStore {
  /** How long a session is kept after its last connection ended, in ms (see the options). */
  readonly windowMs: number;
  /** The most sessions kept (see the options). */
  readonly maxSessions: number;
  /** An acknowledgement at least every this many messages taken (see the options). */
  readonly ackEvery: number;
  /** An acknowledgement at most this long after a message was taken, in ms (see the options). */
  readonly ackDelayMs: number;
  /** Sessions, the least recently used first. */
  readonly #sessions = new Map<string, Entry>();
  readonly #owing = new Set<Wrapped<unknown, unknown>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Counters: messages taken, duplicates dropped, sessions forgotten early (`maxSessions`). */
  readonly stats = { delivered: 0, duplicates: 0, evicted: 0, expired: 0 };

  /** @internal Use {@link resendStore}. */
  constructor(options: ResendStoreOptions = {}) {
    const check = new ArgumentCheck("resendStore()");
    const o = check.options("options", options);
    check.known("options", o, ["windowMs", "maxSessions", "ackEvery", "ackDelayMs"]);
    check.integer("options.windowMs", o.windowMs, 1, 2 ** 31 - 1);
    check.integer("options.maxSessions", o.maxSessions, 1, Number.MAX_SAFE_INTEGER);
    check.integer("options.ackEvery", o.ackEvery, 1, Number.MAX_SAFE_INTEGER);
    check.integer("options.ackDelayMs", o.ackDelayMs, 1, 60_000);
    this.windowMs = options.windowMs ?? RESEND_DEFAULTS.windowMs;
    this.maxSessions = options.maxSessions ?? RESEND_DEFAULTS.maxSessions;
    this.ackEvery = options.ackEvery ?? RESEND_DEFAULTS.ackEvery;
    this.ackDelayMs = options.ackDelayMs ?? RESEND_DEFAULTS.ackDelayMs;
  }

  /** Sessions remembered now. */
  get size(): number {
    return this.#sessions.size;
  }

  /** The last sequence number taken from session `id`, 0 when unknown. */
  last(id: string): number {
    return this.#sessions.get(id)?.last ?? 0;
  }

  /** @internal A connection of session `id` opened. */
  open(id: string): Entry {
    const sessions = this.#sessions;
    this.#expire(performance.now());
    let entry = sessions.get(id);
    if (entry) sessions.delete(id);
    else {
      entry = { last: 0, live: 0, idleSince: 0 };
      while (sessions.size >= this.maxSessions) this.#evict();
    }
    sessions.set(id, entry); // the most recently used last
    entry.live++;
    return entry;
  }

  /** @internal A connection of session `id` ended. */
  close(id: string, entry: Entry): void {
    if (--entry.live === 0) entry.idleSince = performance.now();
    if (this.#sessions.get(id) === entry) {
      this.#sessions.delete(id);
      this.#sessions.set(id, entry);
    }
  }

  /** @internal `w` owes an acknowledgement: the timer sends it unless `ackEvery` does first. */
  owe(w: Wrapped<unknown, unknown>): void {
    w.owing = true;
    this.#owing.add(w);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#tick, this.ackDelayMs);
      // A pending acknowledgement does not keep a process alive.
      (this.#timer as { unref?: () => void }).unref?.();
    }
  }

  /** @internal */
  settled(w: Wrapped<unknown, unknown>): void {
    w.owing = false;
    this.#owing.delete(w);
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const owing = [...this.#owing];
    this.#owing.clear();
    for (const w of owing) {
      w.owing = false;
      w.ref.post(ACK); // the ack goes out in the connection's own turn, after what it took
    }
  };

  /** Forgets sessions idle longer than the window (the least recently used are first). */
  #expire(now: number): void {
    for (const [id, entry] of this.#sessions) {
      if (entry.live > 0 || now - entry.idleSince <= this.windowMs) {
        if (entry.live === 0) break; // idle ones behind are younger
        continue;
      }
      this.#sessions.delete(id);
      this.stats.expired++;
    }
  }

  #evict(): void {
    let victim: string | undefined;
    for (const [id, entry] of this.#sessions) {
      if (entry.live === 0) {
        victim = id;
        break;
      }
      victim ??= id;
    }
    if (victim === undefined) return;
    this.#sessions.delete(victim);
    this.stats.evicted++;
  }
}

/**
 * A store of client sessions for {@link resendable}.
 *
 * @throws {InvalidArgumentError} (a `TypeError`) for an unknown option or one of the wrong type
 * @throws {ArgumentRangeError} (a `RangeError`) for a number out of its range
 */
export function resendStore(options: ResendStoreOptions = {}): ResendStore {
  return new ResendStore(options);
}

const SESSION_ID = /^[0-9A-Za-z_-]{16,64}$/;

/**
 * Wraps a handler so that the messages of clients using
 * `reconnecting(url, { resend: true })` reach it exactly once and in order
 * across their reconnects, within the store's window (see the module's
 * description). A connection without the session parameter
 * (`sprig-session`, {@link SESSION_PARAM}) is passed through unchanged.
 * `in` gets the message as the client's application sent it; a message
 * counts as taken when `in` was called with it, and is acknowledged at
 * most `ackEvery` messages or `ackDelayMs` later, after `in` returned (or
 * its promise settled). A message that is not numbered on such a
 * connection closes it with 1007.
 *
 * @param store where sessions are kept; default a new {@link resendStore}() (one per call)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reconnecting, resendable, serve } from "../../../mod.ts";
 * const got: string[] = [];
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, resendable({
 *   in: (message) => void got.push(String(message)),
 * }));
 * await using client = reconnecting(server.url, { resend: true });
 * await client.send("one"); // resolves once the server acknowledged it
 * await client.send("two");
 * assert.deepEqual(got, ["one", "two"]);
 * ```
 */
export function resendable<S, I, D>(
  handler: Handler<S, I, D>,
  store: ResendStore = new ResendStore(),
): Handler<unknown, I, D> {
  type W = Wrapped<S, I>;
  const map = (reply: Reply<S>, w: W, extra: Push | undefined): Reply<W> => {
    if (reply === undefined || reply === null) {
      return extra === undefined ? undefined : { push: extra };
    }
    const r = reply as HandlerResult<S>;
    const out: HandlerResult<W> = {};
    if ("state" in r) w.inner = r.state as S;
    if (r.push !== undefined || extra !== undefined) {
      const push: Push[] = r.push === undefined
        ? []
        : Array.isArray(r.push)
        ? [...r.push as readonly Push[]]
        : [r.push as Push];
      if (extra !== undefined) push.push(extra);
      out.push = push;
    }
    if (r.stop !== undefined) out.stop = r.stop;
    return out;
  };
  const then = (
    reply: Reply<S> | Promise<Reply<S>>,
    w: W,
    extra: () => Push | undefined,
  ): Reply<W> | Promise<Reply<W>> =>
    reply instanceof Promise ? reply.then((r) => map(r, w, extra())) : map(reply, w, extra());
  const ackNow = (w: W): Push | undefined => {
    const last = w.entry!.last;
    if (w.owing) store.settled(w as Wrapped<unknown, unknown>);
    if (last === w.acked) return undefined;
    w.acked = last;
    return { type: "pong", data: ackPayload(last) };
  };
  const isWrapped = (s: unknown): s is W =>
    typeof s === "object" && s !== null && (s as { [ACK]?: true })[ACK] === true;
  const wrapped: Handler<W | S, I | typeof ACK, D> = {
    init(ctx) {
      const id = ctx.url.searchParams.get(SESSION_PARAM);
      if (id === null || !SESSION_ID.test(id)) {
        return handler.init?.(ctx as never) as Reply<S>;
      }
      const entry = store.open(id);
      const w = {
        [ACK]: true,
        inner: undefined as S,
        entry,
        id,
        ref: ctx.ref as ConnectionRef<I | typeof ACK>,
        acked: -1,
        owing: false,
      } as W;
      let reply: Reply<S> | Promise<Reply<S>>;
      try {
        reply = handler.init?.(ctx as never);
      } catch (error) {
        store.close(id, entry);
        w.entry = undefined;
        throw error;
      }
      // The first acknowledgement tells the client where the server stands.
      const done = (r: Reply<S>): Reply<W> => {
        const out = map(r, w, ackNow(w)) ?? {};
        out.state = w;
        return out;
      };
      return reply instanceof Promise ? reply.then(done) : done(reply);
    },
    in(message: MessageData, state) {
      if (!isWrapped(state)) return handler.in(message, state as S) as Reply<W | S>;
      const w = state;
      const opened = openResent(message);
      if (opened === undefined) {
        return { stop: { code: 1007, reason: "a resend session's message has no number" } };
      }
      const entry = w.entry!;
      if (opened.seq <= entry.last) {
        store.stats.duplicates++;
        if (!w.owing) store.owe(w as Wrapped<unknown, unknown>);
        return undefined;
      }
      entry.last = opened.seq;
      store.stats.delivered++;
      const due = entry.last - w.acked >= store.ackEvery;
      if (!due && !w.owing) store.owe(w as Wrapped<unknown, unknown>);
      return then(handler.in(opened.data, w.inner), w, () => (due ? ackNow(w) : undefined));
    },
    info(message, state) {
      if (message === ACK) {
        return isWrapped(state) && state.entry ? map(undefined, state, ackNow(state)) : undefined;
      }
      const w = isWrapped(state) ? state : undefined;
      if (!handler.info) return undefined;
      const reply = handler.info(message as I, w ? w.inner : state as S);
      return w ? then(reply, w, () => undefined) : reply as Reply<W | S>;
    },
    terminate(reason, state) {
      const w = isWrapped(state) ? state : undefined;
      if (w?.entry) {
        if (w.owing) store.settled(w as Wrapped<unknown, unknown>);
        store.close(w.id, w.entry);
        w.entry = undefined;
      }
      return handler.terminate?.(reason, w ? w.inner : state as S);
    },
  };
  if (handler.control) {
    wrapped.control = (frame, state) => {
      const w = isWrapped(state) ? state : undefined;
      const reply = handler.control!(frame, w ? w.inner : state as S);
      return w ? then(reply, w, () => undefined) : reply as Reply<W | S>;
    };
  }
  return wrapped as unknown as Handler<unknown, I, D>;
}
