/**
 * `reconnecting()`: a client with a life of its own. It connects, hands out
 * one live {@link Session} per connection (as an async iterable, or through
 * `connected` / `message` / `disconnected` callbacks), and when a
 * connection is lost or an attempt fails it waits and connects again, with
 * fresh headers (and optionally a new URL) each time, until closed,
 * aborted, or told to stop by its policy.
 *
 * The default policy: exponential backoff with full jitter — attempt `n`
 * after a lost connection or a failed attempt waits a random time from 0 to
 * `min(maxDelayMs, initialDelayMs × multiplier^(n−1))`, so the first
 * reconnection is randomised as RFC 6455 §7.2.3 asks (many clients dropped
 * at once do not return at once) and later ones back off. A run of
 * attempts starts again at 1 only after a connection stayed open for
 * `stableAfterMs` (5 s by default); a connection that ends sooner — a
 * server that accepts and drops at once, or closes with 1011 at once —
 * counts as one more failed attempt, so delays keep growing (RFC 6455
 * §7.2.3: repeated abnormal closures back off) and `maxAttempts` applies.
 * It retries network failures, timeouts and refusals with a 5xx status
 * (or 408/429), waiting at least what `Retry-After` asks (seconds or an
 * HTTP-date, RFC 9110 §10.2.3); it stops after `close()` or an abort,
 * after a handshake refused with another 4xx, after a close code listed in
 * `stopOnCloseCodes` (1008 by default), after an error it does not know to
 * be transient, and once `maxAttempts` attempts in a row failed. The
 * `disconnected` callback sees that decision and may overrule it with an
 * explicit {@link ReconnectDecision} (except after `close()` and abort).
 *
 * @module
 */

import { ArgumentCheck, MAX_TIMER_MS } from "../arguments.ts";
import {
  ConnectionError,
  HandshakeError,
  InvalidArgumentError,
  NotConnectedError,
  ProxyError,
  SendQueueFullError,
  TimeoutError,
} from "../errors.ts";
import { HandshakeCode } from "../protocol/handshake.ts";
import { parseHttpDate, retryAfterMs } from "../protocol/http_date.ts";
import {
  checkClose,
  readEndsQuietly,
  type SendData,
  type SendOptions,
  type Session,
} from "../session/session.ts";
import type { CloseInfo } from "../errors.ts";
import type { MessageData } from "../session/types.ts";
import {
  openEnvelope,
  type Position,
  POSITIONS_PARAM,
  positionsParam,
  readAck,
  resendWrap,
  SESSION_PARAM,
} from "../session/envelope.ts";
import { type TelemetryPublisher, telemetryPublisher } from "../telemetry.ts";
import type { Connector } from "../transport/transport.ts";
import { connect, prepareConnect } from "./connect.ts";
import { CONNECT_OPTION_NAMES, type ConnectOptions, FOREIGN_CONNECT_OPTIONS } from "./options.ts";
import { noop } from "../util/noop.ts";

/** What the per-attempt functions (`url`, `headers`) are told. */
export interface AttemptInfo {
  /**
   * The attempt in the current run of attempts: 1 at first and after a
   * connection that stayed open `stableAfterMs`.
   */
  attempt: number;
  /** Connections made so far (before this attempt). */
  connections: number;
}

/** Backoff between attempts (see the module's description). */
export interface BackoffOptions {
  /** The cap of the first delay, in milliseconds. Default 1,000; 0 to 2^31 − 1. */
  initialDelayMs?: number;
  /** The largest delay, in milliseconds. Default 30,000; 0 to 2^31 − 1. */
  maxDelayMs?: number;
  /** The growth of the cap per attempt. Default 2; at least 1. */
  multiplier?: number;
  /**
   * Attempts in a row that may fail before the client gives up; a
   * connection that ended within `stableAfterMs` counts as a failed
   * attempt. Default unlimited.
   */
  maxAttempts?: number;
  /**
   * How long a connection must stay open, in milliseconds, for the run of
   * attempts to start again at 1 (and the delays at `initialDelayMs`). One
   * that ends sooner counts as a failed attempt: the next waits longer.
   * Default 5,000; 0 to 2^31 − 1 (0: every connection restarts the run, as
   * a server that closes right after each exchange by design may want).
   */
  stableAfterMs?: number;
}

/** The send queue of a client between connections. */
export interface SendQueueOptions {
  /** Messages kept. Default 1,024; at least 1. */
  maxMessages?: number;
  /** Bytes kept (binary length; UTF-8 length of text). Default 16 MiB. */
  maxBytes?: number;
  /**
   * What a send does when the queue is full: `"reject"` (default) rejects
   * that send with a {@link SendQueueFullError}; `"drop-oldest"` drops the
   * oldest queued messages to make room, rejecting their sends with it.
   */
  whenFull?: "reject" | "drop-oldest";
}

/** The bounds of what a client with `resend` keeps until the server acknowledged it. */
export interface ResendOptions {
  /** Messages kept unacknowledged. Default 1,024; at least 1. */
  maxMessages?: number;
  /** Bytes kept unacknowledged (binary length; UTF-8 length of text). Default 16 MiB. */
  maxBytes?: number;
}

/** What `connected` is told. */
export interface ConnectedEvent {
  /** The new live connection. */
  session: Session;
  /** The server's handshake response headers. */
  headers: Headers;
  /**
   * The attempt that made it (1: the first try after starting or after a
   * connection that stayed open `stableAfterMs`).
   */
  attempt: number;
  /** Connections made so far, this one included. */
  connection: number;
  /** The URL connected to. */
  url: string;
}

/** What `disconnected` is told: a connection ended, or an attempt failed. */
export type DisconnectedEvent =
  & (
    | {
      /** A live connection ended. */
      type: "closed";
      /** The close code (1006 when the connection was lost without one). */
      code: number;
      reason: string;
      wasClean: boolean;
      /** What went wrong, when the close was not clean. */
      error?: Error;
      /** The connection that ended. */
      session: Session;
    }
    | {
      /** An attempt to connect failed. */
      type: "failed";
      /** Why: a HandshakeError (with the server's status), ConnectionError, TimeoutError, ProxyError… */
      error: Error;
    }
  )
  & {
    /** Connections made so far. */
    connections: number;
    /**
     * For `"closed"`: whether the connection ended within `stableAfterMs`
     * of opening, and so counts as a failed attempt. Always true for
     * `"failed"`.
     */
    failure: boolean;
    /** What the default policy decided. */
    reconnect: boolean;
    /** The delay the policy chose for the next attempt, in milliseconds. */
    delayMs: number;
  };

/**
 * What `disconnected` may answer, as an explicit shape:
 * - `{ retry: false }` stops the client (`"decided"`);
 * - `{ retry: true }` reconnects after the policy's delay, also where the
 *   policy would stop;
 * - `{ delayMs }` (with or without `retry: true`) reconnects after that
 *   many milliseconds (0 to 2^31 − 1).
 *
 * Anything else — `undefined`, and any value that is not one of these
 * objects (the number `log.push(event)` returns, a boolean) — follows the
 * policy, so that a callback that only logs cannot decide by accident.
 * (TypeScript refuses such a callback's other return types.)
 */
export type ReconnectDecision =
  | { retry: false }
  | { retry: true; delayMs?: number }
  | { retry?: true; delayMs: number };

/** Why a reconnecting client stopped, as `closed` reports it. */
export interface ReconnectingEnd {
  /**
   * `"closed"` (`close()`, or the iterating loop was left), `"aborted"`
   * (`signal`), `"refused"` (a refusal the policy does not retry: 4xx,
   * a proxy's refusal), `"close-code"` (a code in `stopOnCloseCodes`),
   * `"gave-up"` (`maxAttempts`), `"decided"` (`disconnected` returned
   * false), `"failed"` (an error the policy does not retry, or one thrown
   * by a callback or the `url`/`headers` functions).
   */
  reason: "closed" | "aborted" | "refused" | "close-code" | "gave-up" | "decided" | "failed";
  /** The error that stopped it, for `"refused"`, `"gave-up"` and `"failed"`. */
  error?: Error;
  /** The last connection's end, if one was made. */
  lastClose?: CloseInfo;
  /** Connections made in all. */
  connections: number;
}

/** Options of {@link reconnecting}. */
export interface ReconnectingOptions
  extends Omit<ConnectOptions, "headers" | "transport" | "signal" | "id" | "telemetryContext"> {
  /**
   * Request headers, or a function called before every attempt that returns
   * them (a fresh token each time). Default none. A function that throws
   * stops the client (`"failed"`), unless `disconnected` says otherwise.
   */
  headers?: HeadersInit | ((info: AttemptInfo) => HeadersInit | Promise<HeadersInit>);
  /** Opens each connection's transport; a function only (each attempt needs a new one). */
  transport?: Connector;
  /** Ends the client: the connection closes with 1001 and no attempt follows. */
  signal?: AbortSignal;
  /** Backoff between attempts. */
  backoff?: BackoffOptions;
  /** Close codes from the server after which the client does not reconnect. Default `[1008]`. */
  stopOnCloseCodes?: readonly number[];
  /**
   * Sends while disconnected: `false` (default) rejects them with a
   * {@link NotConnectedError}; `true` or an object keeps them in a
   * bounded queue, sent in order, once each, as soon as the next
   * connection is open (after `connected` returned). A queued send resolves
   * when the socket accepted it on that connection, and rejects with
   * {@link NotConnectedError} if the client stops first.
   */
  sendQueue?: boolean | SendQueueOptions;
  /**
   * Carry the last position received per topic into the next attempt, for
   * a server whose topics use sprig's envelope (`envelope: true`): every
   * message that arrives is read with `openEnvelope()`, its topic's
   * position kept ({@link ReconnectingClient.positions}), and each
   * attempt's URL gets the query parameter `sprig-from`
   * (`POSITIONS_PARAM`) with them, which the server's handler reads with
   * `resumeFrom(ctx.url, topic)` and passes to `ctx.ref.resume()`. A
   * position counts once the message arrived, in the socket's turn, whether
   * or not the application read it yet (messages that arrived are all
   * delivered before a session's iteration ends). At most 100 topics
   * (`MAX_CARRIED_POSITIONS`), the most recently updated, are carried.
   * Costs one envelope parse per message. Default false.
   */
  positions?: boolean;
  /**
   * Exactly once, in order, for what the application sends through
   * {@link ReconnectingClient.send}, with a server whose handler is wrapped
   * in `resendable()`: each message is numbered (`resendWrap()`: the text
   * `<n>:` before text, 9 bytes before binary, one copy), kept until the
   * server acknowledges it (cumulative acknowledgements, as pongs the
   * application does not see, at least every 64 messages or 20 ms), and
   * sent again, in order, on the next connection when the connection it
   * went out on ended first; the server drops a number it already took.
   * Each attempt's URL carries the client's session id (`sprig-session`,
   * {@link ReconnectingClient.sessionId}). `send()` resolves when the server
   * acknowledged the message, and sends between connections are kept (this
   * replaces `sendQueue`, which may not be set with it). Bounded by
   * `maxMessages` and `maxBytes` of unacknowledged messages: a send past
   * them rejects with {@link SendQueueFullError} (nothing is dropped).
   * Sends through a session itself (`ws.send()`, also in `connected`) are
   * not numbered, and `resendable()` closes the connection with 1007 on
   * one: send through the client only. The
   * guarantee holds while the server remembers the session (its store's
   * window, in its process); see docs/client.md. Default false.
   */
  resend?: boolean | ResendOptions;
  /**
   * A connection opened: re-subscribe here. Sends through `event.session`
   * go before the queued ones; the queue is flushed once this returns (or
   * its promise settles).
   */
  connected?(event: ConnectedEvent): void | Promise<void>;
  /**
   * A message arrived (in the socket's turn). With this callback, messages
   * go here rather than to the session's iteration.
   */
  message?(data: MessageData, session: Session): void;
  /**
   * A connection ended or an attempt failed (not after `close()` or an
   * abort). Returns nothing to follow the policy (`event.reconnect`,
   * `event.delayMs`), or a {@link ReconnectDecision} to overrule it:
   * `{ retry: false }`, `{ retry: true }`, `{ delayMs }`. `attempt` is the
   * number the next attempt would have.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { reconnecting, serve } from "../../mod.ts";
   * // A server that sends its clients away for good with 4000.
   * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
   *   init: () => ({ stop: { code: 4000, reason: "go away" } }),
   *   in: () => {},
   * });
   * const log: unknown[] = [];
   * const client = reconnecting(server.url, {
   *   disconnected: (event) => {
   *     log.push(event); // returns a number, which decides nothing
   *     if (event.type === "closed" && event.code === 4000) return { retry: false };
   *     if (event.type === "failed") return { delayMs: 250 };
   *     // nothing: the policy decides (event.reconnect, event.delayMs)
   *   },
   * });
   * const end = await client.closed;
   * assert.equal(end.reason, "decided");
   * assert.equal(log.length, 1);
   * ```
   */
  disconnected?(
    event: DisconnectedEvent,
    attempt: number,
  ): ReconnectDecision | void | Promise<ReconnectDecision | void>;
  /** Where errors thrown by `message` and `connected` go. Default: `console.error`. */
  onError?: (error: unknown) => void;
  /** The random source of the jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /**
   * Waits `ms` milliseconds, or until `signal` aborts (then it resolves
   * early). Default: a timer. Tests inject their own clock here.
   */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The reconnecting client's defaults, in one place. */
export const RECONNECT_DEFAULTS = {
  initialDelayMs: 1000,
  maxDelayMs: 30_000,
  multiplier: 2,
  /** A connection that lasted this long ends a run of attempts; a shorter one is a failed attempt. */
  stableAfterMs: 5000,
  stopOnCloseCodes: [1008] as readonly number[],
  queueMaxMessages: 1024,
  queueMaxBytes: 16 * 1024 * 1024,
} as const;

let nextClientId = 1;
interface Unacked {
  seq: number;
  wire: string | Uint8Array;
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface Queued {
  data: SendData;
  options: SendOptions | undefined;
  bytes: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

type Decision = { reconnect: true; delayMs: number } | {
  reconnect: false;
  reason: ReconnectingEnd["reason"];
  error?: Error;
};

/**
 * Starts a reconnecting client (see the module's description): it connects
 * at once and reconnects until closed, aborted or stopped by its policy.
 *
 * @param url the server, or a function returning it before each attempt
 * @throws {InvalidArgumentError} (a `TypeError`) for a malformed `url` or option, at the call
 * @throws {ArgumentRangeError} (a `RangeError`) for a number out of its range, at the call
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reconnecting, serve } from "../../mod.ts";
 * // A feed that answers each subscription, and ends the first connection after it.
 * let connections = 0;
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ state: ++connections }),
 *   in: (message, n) => ({
 *     push: `prices for ${JSON.parse(String(message)).subscribe} (connection ${n})`,
 *     stop: n === 1 ? { code: 1012, reason: "restarting" } : undefined,
 *   }),
 * });
 * const client = reconnecting(new URL("/feed", server.url), {
 *   headers: () => ({ authorization: `Bearer ${crypto.randomUUID()}` }), // fresh per attempt
 *   sendQueue: true,
 *   backoff: { initialDelayMs: 10 },
 * });
 * const received: unknown[] = [];
 * for await (const ws of client) { // one session per connection
 *   await ws.send(JSON.stringify({ subscribe: "EURUSD" })); // re-subscribe on each
 *   for await (const message of ws) {
 *     received.push(message);
 *     if (received.length === 2) await client.close(); // ends both loops
 *   }
 * } // ends after client.close(), an abort, or a refusal (then it throws it)
 * assert.deepEqual(received, ["prices for EURUSD (connection 1)", "prices for EURUSD (connection 2)"]);
 * ```
 */
export function reconnecting(
  url: string | URL | ((info: AttemptInfo) => string | URL | Promise<string | URL>),
  options: ReconnectingOptions = {},
): ReconnectingClient {
  return new ReconnectingClient(url, options);
}

/** Why the run ended, before the counts are added. */
type RunEnd = Omit<ReconnectingEnd, "connections" | "lastClose">;

/**
 * The client {@link reconnecting} returns: stable across connections.
 * Iterate it for one {@link Session} per connection; `send()` goes to the
 * current connection (or the queue); `close()` ends it all.
 */
export class ReconnectingClient implements AsyncIterable<Session>, AsyncDisposable {
  /** The client's id in telemetry and traces (`r<n>`); its connections are `r<n>.<k>`. */
  readonly id: string;
  /** Resolves (never rejects) once the client stopped for good. */
  readonly closed: Promise<ReconnectingEnd>;
  readonly #url: ReconnectingUrl;
  readonly #options: ReconnectingOptions;
  readonly #connectOptions: ConnectOptions;
  readonly #backoff: Required<Omit<BackoffOptions, "maxAttempts">> & { maxAttempts?: number };
  readonly #stopCodes: readonly number[];
  readonly #queueOptions: Required<SendQueueOptions> | undefined;
  readonly #telemetry: TelemetryPublisher | undefined;
  readonly #trace: ((line: string) => void) | undefined;
  readonly #stopController = new AbortController();
  #attemptController: AbortController | undefined;
  #resolveClosed!: (end: ReconnectingEnd) => void;
  #end: ReconnectingEnd | undefined;
  #stopping: StopRequest | undefined;
  #session: Session | undefined;
  /** The session is open and the queue was flushed: sends go straight to it. */
  #direct = false;
  #attempt = 1;
  #connections = 0;
  #lastClose: CloseInfo | undefined;
  #queue: Queued[] = [];
  #queuedBytes = 0;
  /** With `resend`: its bounds, the session id, the last number given, what waits for an ack. */
  readonly #resend: Required<ResendOptions> | undefined;
  readonly #sessionId: string;
  #seq = 0;
  #unacked: Unacked[] = [];
  #unackedHead = 0;
  #unackedBytes = 0;
  /** With `positions`: the last position received per topic, the most recently updated last. */
  readonly #positions = new Map<string, Position>();
  /** Sessions made since the iterator was asked for, not yet handed out. */
  #ready: Session[] | undefined;
  #wake: (() => void) | undefined;

  /** @internal Use {@link reconnecting}. */
  constructor(url: ReconnectingUrl, options: ReconnectingOptions) {
    checkReconnectingArguments(url, options);
    this.id = `r${nextClientId++}`;
    this.#url = url;
    this.#options = options;
    const b = options.backoff ?? {};
    this.#backoff = {
      initialDelayMs: b.initialDelayMs ?? RECONNECT_DEFAULTS.initialDelayMs,
      maxDelayMs: b.maxDelayMs ?? RECONNECT_DEFAULTS.maxDelayMs,
      multiplier: b.multiplier ?? RECONNECT_DEFAULTS.multiplier,
      stableAfterMs: b.stableAfterMs ?? RECONNECT_DEFAULTS.stableAfterMs,
      maxAttempts: b.maxAttempts,
    };
    this.#stopCodes = options.stopOnCloseCodes ?? RECONNECT_DEFAULTS.stopOnCloseCodes;
    const q = options.sendQueue;
    this.#queueOptions = q
      ? {
        maxMessages: (q === true ? undefined : q.maxMessages) ??
          RECONNECT_DEFAULTS.queueMaxMessages,
        maxBytes: (q === true ? undefined : q.maxBytes) ?? RECONNECT_DEFAULTS.queueMaxBytes,
        whenFull: (q === true ? undefined : q.whenFull) ?? "reject",
      }
      : undefined;
    const r = options.resend;
    this.#resend = r
      ? {
        maxMessages: (r === true ? undefined : r.maxMessages) ??
          RECONNECT_DEFAULTS.queueMaxMessages,
        maxBytes: (r === true ? undefined : r.maxBytes) ?? RECONNECT_DEFAULTS.queueMaxBytes,
      }
      : undefined;
    this.#sessionId = r ? newSessionId() : "";
    this.#telemetry = options.telemetry ? telemetryPublisher(options.telemetry) : undefined;
    const trace = options.trace;
    this.#trace = trace;
    const { signal: _s, ...rest } = connectOptionsOf(options);
    this.#connectOptions = rest;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    const signal = options.signal;
    if (signal) {
      const onAbort = () => this.#stop("aborted", 1001, "");
      if (signal.aborted) onAbort();
      else {
        signal.addEventListener("abort", onAbort, { once: true });
        this.closed.then(() => signal.removeEventListener("abort", onAbort));
      }
    }
    void this.#run();
  }

  /** The live connection, if there is one now. */
  get session(): Session | undefined {
    return this.#session;
  }

  /**
   * `"connecting"` (an attempt is under way), `"open"`, `"waiting"`
   * (before the next attempt), `"closing"` or `"closed"`.
   */
  get state(): "connecting" | "open" | "waiting" | "closing" | "closed" {
    if (this.#end) return "closed";
    if (this.#stopping) return "closing";
    if (this.#session) return "open";
    return this.#attemptController ? "connecting" : "waiting";
  }

  /**
   * The number of the current (or next) attempt in its run: 1 at first
   * and after a connection that stayed open `stableAfterMs`; while a
   * connection is open, the attempt that made it.
   */
  get attempt(): number {
    return this.#attempt;
  }

  /** Connections made so far. */
  get connections(): number {
    return this.#connections;
  }

  /** Messages waiting in the send queue (with `resend`: not yet acknowledged). */
  get queuedMessages(): number {
    return this.#resend ? this.#unacked.length - this.#unackedHead : this.#queue.length;
  }

  /** With `resend`: the id the server knows this client by (32 hex digits); `""` without. */
  get sessionId(): string {
    return this.#sessionId;
  }

  // ------------------------------------------------------------------ sending

  /**
   * Sends on the current connection. Between connections: queued when
   * `sendQueue` is on (see {@link ReconnectingOptions.sendQueue}), else
   * rejected. Never reported as an unhandled rejection when not awaited.
   *
   * @throws {NotConnectedError} (as a rejection) between connections without a queue, or once the client stopped
   * @throws {SendQueueFullError} (as a rejection) when the queue is full and `whenFull` is `"reject"`
   * `options.compress` false sends it uncompressed (see `Session.send`),
   * also when it waited in the queue.
   *
   * @throws {NotOpenError} (as a rejection) from the session, when it began closing in this turn
   */
  send(data: SendData, options?: SendOptions): Promise<void> {
    if (this.#end || this.#stopping) {
      return rejected(new NotConnectedError("the reconnecting client has stopped"));
    }
    const session = this.#session;
    if (this.#resend) return this.#sendResend(data, session);
    if (this.#direct && session !== undefined && session.readyState === "open") {
      return session.send(data, options);
    }
    const q = this.#queueOptions;
    if (q === undefined) {
      // Without a queue, a session already open (in `connected`) takes sends at once.
      if (session !== undefined && session.readyState === "open") {
        return session.send(data, options);
      }
      return rejected(
        new NotConnectedError(
          "the client is between connections (it will reconnect); sendQueue keeps sends until then",
        ),
      );
    }
    const bytes = sizeOf(data);
    if (bytes > q.maxBytes) {
      return rejected(
        new SendQueueFullError(
          `a message of ${bytes} bytes is larger than the send queue (maxBytes ${q.maxBytes})`,
          q.maxBytes,
        ),
      );
    }
    while (
      this.#queue.length >= q.maxMessages || this.#queuedBytes + bytes > q.maxBytes
    ) {
      const byCount = this.#queue.length >= q.maxMessages;
      const error = new SendQueueFullError(
        byCount
          ? `the send queue is full (maxMessages ${q.maxMessages})`
          : `the send queue is full (maxBytes ${q.maxBytes})`,
        byCount ? q.maxMessages : q.maxBytes,
      );
      if (q.whenFull === "reject") return rejected(error);
      const oldest = this.#queue.shift()!;
      this.#queuedBytes -= oldest.bytes;
      oldest.reject(error);
    }
    const queued = new Promise<void>((resolve, reject) => {
      this.#queue.push({ data, options, bytes, resolve, reject });
      this.#queuedBytes += bytes;
    });
    queued.catch(noop);
    return queued;
  }

  /** `send()` with `resend`: numbered, kept until acknowledged, sent now if a connection is up. */
  #sendResend(data: SendData, session: Session | undefined): Promise<void> {
    const r = this.#resend!;
    let payload: string | Uint8Array;
    if (typeof data === "string") payload = data;
    else if (data instanceof ArrayBuffer) payload = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) {
      payload = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      return rejected(
        new InvalidArgumentError(
          "data",
          "send() with resend takes a string, an ArrayBuffer or a view, not a Blob (read it first)",
        ),
      );
    }
    const bytes = sizeOf(payload);
    const count = this.#unacked.length - this.#unackedHead;
    if (count >= r.maxMessages || this.#unackedBytes + bytes > r.maxBytes) {
      const byCount = count >= r.maxMessages;
      return rejected(
        new SendQueueFullError(
          byCount
            ? `${count} messages wait for the server's acknowledgement (resend.maxMessages ${r.maxMessages})`
            : `${this.#unackedBytes} bytes wait for the server's acknowledgement; ${bytes} more would pass resend.maxBytes ${r.maxBytes}`,
          byCount ? r.maxMessages : r.maxBytes,
        ),
      );
    }
    const wire = resendWrap(++this.#seq, payload);
    const seq = this.#seq;
    const acked = new Promise<void>((resolve, reject) => {
      this.#unacked.push({ seq, wire, bytes, resolve, reject });
      this.#unackedBytes += bytes;
    });
    acked.catch(noop);
    // A send that fails with its connection is sent again on the next one.
    if (this.#direct && session !== undefined && session.readyState === "open") {
      session.send(wire).catch(noop);
    }
    return acked;
  }

  /** Every message up to `seq` was taken by the server: resolve and forget them. */
  readonly #onPong = (payload: Uint8Array): void => {
    const seq = readAck(payload);
    if (seq === undefined) return;
    const list = this.#unacked;
    let head = this.#unackedHead;
    while (head < list.length && list[head].seq <= seq) {
      const u = list[head];
      list[head++] = undefined as unknown as Unacked;
      this.#unackedBytes -= u.bytes;
      u.resolve();
    }
    if (head === list.length) {
      this.#unacked = [];
      head = 0;
    } else if (head > 1024 && head * 2 > list.length) {
      this.#unacked = list.slice(head);
      head = 0;
    }
    this.#unackedHead = head;
  };

  /** Sends what waited, in order, on `session`, in one turn (one write). */
  #flush(session: Session): void {
    if (this.#resend) {
      const list = this.#unacked;
      for (let i = this.#unackedHead; i < list.length && session.readyState === "open"; i++) {
        session.send(list[i].wire).catch(noop);
      }
      this.#direct = session.readyState === "open";
      return;
    }
    const queue = this.#queue;
    let i = 0;
    for (; i < queue.length && session.readyState === "open"; i++) {
      const q = queue[i];
      session.send(q.data, q.options).then(q.resolve, q.reject);
    }
    this.#queue = i === queue.length ? [] : queue.slice(i);
    for (let j = 0; j < i; j++) this.#queuedBytes -= queue[j].bytes;
    this.#direct = session.readyState === "open";
  }

  // ------------------------------------------------------------------ closing

  /**
   * Stops the client: no further attempt is made; the current connection
   * closes with `code` and `reason` (bounded by `closeTimeoutMs`, after
   * which the socket is dropped); queued sends reject with
   * {@link NotConnectedError}. Usable from any callback. Resolves with how
   * the client ended.
   *
   * @param code default 1000; any code that may be sent (see `Session.close`)
   * @param reason at most 123 bytes of UTF-8
   * @throws {ArgumentRangeError} (as a rejection) for a code that may not be sent or a reason too long
   * @throws {InvalidArgumentError} (as a rejection) for a code that is not a number or a reason that is not a string
   */
  async close(code = 1000, reason = ""): Promise<ReconnectingEnd> {
    checkClose(code, reason);
    this.#stop("closed", code, reason);
    return await this.closed;
  }

  /** `await using` closes the client. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #stop(why: "closed" | "aborted", code: number, reason: string): void {
    if (this.#stopping || this.#end) return;
    this.#stopping = { reason: why, code, closeReason: reason };
    this.#traceLine(this.id, `stopping (${why})`);
    this.#stopController.abort();
    this.#attemptController?.abort();
    const session = this.#session;
    if (session) void session.close(code, reason).catch(() => session.terminate());
    this.#wake?.();
  }

  // ------------------------------------------------------------------ iterating

  /**
   * One live session per connection, in order. Leaving the loop (`break`)
   * closes the client. Reading a session it hands out (iteration,
   * `receive()`, `readable`) ends quietly on a clean close of any code,
   * since the client's policy decides what such a close means, and throws
   * a `ConnectionClosedError` only when the connection ended without a
   * closing handshake (sessions from `connect()` also throw for codes other
   * than 1000, 1001 and 1005). Ends when the client stopped after `close()`, an
   * abort, a close code of `stopOnCloseCodes` or a `false` decision; throws
   * the error when it stopped on one (a refusal, `maxAttempts`, …).
   */
  [Symbol.asyncIterator](): AsyncIterator<Session> {
    if (this.#ready === undefined) {
      this.#ready = [];
      if (this.#session) this.#ready.push(this.#session);
    }
    const ready = this.#ready;
    const next = async (): Promise<IteratorResult<Session>> => {
      while (true) {
        const s = ready.shift();
        if (s !== undefined) return { done: false, value: s };
        const end = this.#end;
        if (end) {
          if (end.error && end.reason !== "closed" && end.reason !== "aborted") throw end.error;
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    };
    return {
      next,
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  // ------------------------------------------------------------------ the loop

  async #run(): Promise<void> {
    let delayMs = 0;
    let lastError: Error | undefined;
    let end: RunEnd | undefined;
    while (end === undefined && !this.#stopping) {
      if (this.#connections > 0 || this.#attempt > 1) {
        this.#publishScheduled(delayMs, lastError);
        await (this.#options.sleep ?? sleep)(delayMs, this.#stopController.signal);
        if (this.#stopping) break;
      }
      const attempt = this.#attempt;
      const opened = await this.#attemptOnce(attempt);
      if (opened === undefined) break;
      let next: number;
      let decision: Decision;
      if (opened instanceof Error) {
        if (this.#stopping) break;
        lastError = opened;
        this.#traceLine(this.id, `attempt ${attempt} failed: ${lastError.message}`);
        next = attempt + 1;
        decision = await this.#decide({ type: "failed", error: lastError }, next);
      } else {
        lastError = undefined;
        const live = await this.#live(opened, attempt);
        if (live.end !== undefined || this.#stopping) {
          end = live.end;
          break;
        }
        // RFC 6455 §7.2.3: a connection that did not last is one more failure, so the delays grow.
        const failure = performance.now() - live.openedAt < this.#backoff.stableAfterMs;
        next = failure ? attempt + 1 : 1;
        decision = await this.#decide(
          { type: "closed", ...live.info, session: opened, failure },
          next,
        );
      }
      if (this.#stopping) break;
      if (!decision.reconnect) {
        end = { reason: decision.reason, error: decision.error };
        break;
      }
      this.#attempt = next;
      delayMs = decision.delayMs;
    }
    this.#finish(end ?? { reason: this.#stopping?.reason ?? "closed" });
  }

  /**
   * One connection attempt: the URL and headers (the app's functions), the
   * positions and session carried, the handshake. The session; the error it
   * failed with; or undefined when close() came before it was opened.
   */
  async #attemptOnce(attempt: number): Promise<Session | Error | undefined> {
    const controller = this.#attemptController = new AbortController();
    let session: Session;
    try {
      const info = { attempt, connections: this.#connections };
      let url = typeof this.#url === "function" ? await this.#url(info) : this.#url;
      if (this.#options.positions) url = this.#withPositions(url);
      if (this.#resend) {
        const u = new URL(String(url));
        u.searchParams.set(SESSION_PARAM, this.#sessionId);
        url = u;
      }
      const h = this.#options.headers;
      const headers = typeof h === "function" ? await h(info) : h;
      if (this.#stopping) return undefined;
      this.#traceLine(this.id, `connecting attempt=${attempt} ${String(url)}`);
      session = await this.#open(url, headers, controller.signal, attempt);
    } catch (error) {
      this.#attemptController = undefined;
      return error instanceof Error ? error : new Error(String(error));
    }
    this.#attemptController = undefined;
    return session;
  }

  /**
   * A connection's life: handed to the readers, `connected` called, the
   * queue flushed, until it closes. What ends the run (a failing
   * `connected`), how it closed, and when it opened.
   */
  async #live(
    session: Session,
    attempt: number,
  ): Promise<{ end: RunEnd | undefined; info: CloseInfo; openedAt: number }> {
    let end: RunEnd | undefined;
    this.#connections++;
    this.#session = session;
    this.#direct = false;
    const openedAt = performance.now();
    if (this.#stopping) {
      // (close() may have come while the attempt was finishing.)
      const s = this.#stopping as StopRequest;
      void session.close(s.code, s.closeReason).catch(() => session.terminate());
    } else {
      this.#ready?.push(session);
      this.#wake?.();
      const failure = await this.#callConnected(session, attempt);
      if (failure !== undefined) {
        void session.close(1011, "").catch(() => session.terminate());
        end = { reason: "failed", error: failure };
      } else if (!this.#stopping && session.readyState === "open") {
        this.#flush(session);
      }
    }
    const info = await session.closed;
    this.#session = undefined;
    this.#direct = false;
    this.#lastClose = info;
    this.#traceLine(
      session.id,
      `disconnected ${info.code}${info.reason ? ` ${info.reason}` : ""}`,
    );
    return { end, info, openedAt };
  }

  async #open(
    url: string | URL,
    headers: HeadersInit | undefined,
    signal: AbortSignal,
    attempt: number,
  ): Promise<Session> {
    const connection = this.#connections + 1;
    const id = `${this.id}.${connection}`;
    const trace = this.#trace;
    const message = this.#options.message;
    let current: Session | undefined;
    const on = { ...this.#connectOptions.on };
    if (this.#options.positions) {
      const open = on.open;
      // Before the session starts reading: no message goes unseen.
      on.open = (s) => {
        s.observeMessages(this.#observe);
        open?.(s);
      };
    }
    if (this.#resend) {
      const open = on.open;
      on.open = (s) => {
        s.on("pong", this.#onPong);
        open?.(s);
      };
    }
    if (message) {
      const onError = this.#options.onError ?? reportError;
      const open = on.open;
      on.open = (s) => {
        current = s;
        open?.(s);
      };
      on.message = (data) => {
        try {
          message(data, current!);
        } catch (error) {
          onError(error);
        }
      };
    }
    // The client reports how connections end (its policy, `disconnected`,
    // its own iterator): a session it hands out ends quietly on a clean close
    // of any code, so the loop over it moves on to the next connection.
    return readEndsQuietly(
      await connect(url, {
        ...this.#connectOptions,
        headers,
        signal,
        on,
        id,
        trace: trace && ((line) => trace(`${id} ${line}`)),
        telemetryContext: { client: this.id, attempt, connection },
      }),
    );
  }

  /**
   * The last position received per topic (with the `positions` option),
   * what the next attempt carries; empty without it. Read it to keep
   * positions across restarts of the application itself.
   */
  get positions(): ReadonlyMap<string, Position> {
    return this.#positions;
  }

  /** Keeps the position of an enveloped message. */
  readonly #observe = (data: MessageData): void => {
    const opened = openEnvelope(data);
    if (opened === undefined) return;
    const positions = this.#positions;
    positions.delete(opened.topic); // re-inserted last: the most recently updated go
    positions.set(opened.topic, opened.position);
  };

  /** `url` with the positions received so far in its query (replacing any there). */
  #withPositions(url: string | URL): URL {
    const u = new URL(String(url));
    const value = positionsParam(this.#positions);
    if (value !== undefined) u.searchParams.set(POSITIONS_PARAM, value);
    return u;
  }

  /** Runs `connected`; returns the error it threw, if any. */
  async #callConnected(session: Session, attempt: number): Promise<Error | undefined> {
    this.#traceLine(session.id, `connected attempt=${attempt}`);
    const connected = this.#options.connected;
    if (!connected) return undefined;
    try {
      const result = connected({
        session,
        headers: session.headers,
        attempt,
        connection: this.#connections,
        url: session.url,
      });
      // A `connected` that awaits close() must not wait for itself.
      if (result && typeof result.then === "function") {
        await Promise.race([result, session.closed]);
      }
      return undefined;
    } catch (error) {
      (this.#options.onError ?? reportError)(error);
      return error instanceof Error ? error : new Error(String(error));
    }
  }

  /** The policy's decision, then the `disconnected` callback's. */
  async #decide(
    event:
      | { type: "failed"; error: Error }
      | ({ type: "closed"; session: Session; failure: boolean } & CloseInfo),
    nextAttempt: number,
  ): Promise<Decision> {
    const policy = this.#policy(event, nextAttempt);
    const delayMs = policy.reconnect ? policy.delayMs : this.#backoffDelay(nextAttempt, event);
    const callback = this.#options.disconnected;
    if (!callback) return policy;
    let answer: unknown;
    try {
      const full = (event.type === "failed" ? { type: "failed", error: event.error } : {
        type: "closed",
        code: event.code,
        reason: event.reason,
        wasClean: event.wasClean,
        ...(event.error ? { error: event.error } : {}),
        session: event.session,
      }) as DisconnectedEvent;
      full.connections = this.#connections;
      full.failure = event.type === "failed" || event.failure;
      full.reconnect = policy.reconnect;
      full.delayMs = delayMs;
      answer = await callback(full, nextAttempt);
    } catch (error) {
      (this.#options.onError ?? reportError)(error);
      return {
        reconnect: false,
        reason: "failed",
        error: error instanceof Error ? error : new Error(String(error)),
      };
    }
    // Only the shapes of ReconnectDecision decide; any other value (a number from
    // `log.push(event)`, a boolean from `cond && …`) follows the policy.
    if (typeof answer !== "object" || answer === null) return policy;
    const { retry, delayMs: asked } = answer as { retry?: unknown; delayMs?: unknown };
    if (retry === false) return { reconnect: false, reason: "decided" };
    if (asked !== undefined && retry !== undefined && retry !== true) return policy;
    if (asked !== undefined) {
      if (typeof asked !== "number" || !(asked >= 0 && asked <= MAX_TIMER_MS)) {
        const error = new RangeError(
          `disconnected() returned { delayMs: ${String(asked)} }: delayMs must be a number of ` +
            `milliseconds from 0 to ${MAX_TIMER_MS}`,
        );
        (this.#options.onError ?? reportError)(error);
        return { reconnect: false, reason: "failed", error };
      }
      return { reconnect: true, delayMs: asked };
    }
    if (retry === true) return { reconnect: true, delayMs };
    return policy;
  }

  /** The default policy (see the module's description). */
  #policy(
    event: { type: "failed"; error: Error } | ({ type: "closed" } & CloseInfo),
    nextAttempt: number,
  ): Decision {
    if (event.type === "closed") {
      if (this.#stopCodes.includes(event.code)) return { reconnect: false, reason: "close-code" };
    } else {
      const verdict = classify(event.error);
      if (verdict !== "retry") return { reconnect: false, reason: verdict, error: event.error };
    }
    const max = this.#backoff.maxAttempts;
    if (max !== undefined && nextAttempt > max) {
      return {
        reconnect: false,
        reason: "gave-up",
        error: event.type === "failed"
          ? event.error
          : new NotConnectedError(`gave up after ${max} attempts`),
      };
    }
    return { reconnect: true, delayMs: this.#backoffDelay(nextAttempt, event) };
  }

  /**
   * Full jitter: a random delay from 0 to `min(maxDelayMs, initialDelayMs
   * × multiplier^(n−1))`; a refusal's `Retry-After` (seconds, or an
   * HTTP-date taken relative to the response's `Date`) raises it, within
   * `maxDelayMs`.
   */
  #backoffDelay(
    attempt: number,
    event: { type: "failed"; error: Error } | { type: "closed" },
  ): number {
    const { initialDelayMs, maxDelayMs, multiplier } = this.#backoff;
    const cap = Math.min(maxDelayMs, initialDelayMs * multiplier ** (attempt - 1));
    const random = this.#options.random ?? Math.random;
    let delay = Math.floor(Math.min(Math.max(random(), 0), 1) * cap);
    if (event.type === "failed" && event.error instanceof HandshakeError) {
      const after = event.error.headers.get("retry-after");
      if (after !== null) {
        const date = event.error.headers.get("date");
        const now = (date === null ? undefined : parseHttpDate(date)) ?? Date.now();
        const ms = retryAfterMs(after, now);
        if (ms !== undefined && ms > 0) delay = Math.max(delay, Math.min(maxDelayMs, ms));
      }
    }
    return Math.min(delay, MAX_TIMER_MS);
  }

  #finish(end: Omit<ReconnectingEnd, "connections" | "lastClose">): void {
    if (this.#end) return;
    const full: ReconnectingEnd = {
      ...end,
      ...(this.#lastClose ? { lastClose: this.#lastClose } : {}),
      connections: this.#connections,
    };
    this.#end = full;
    this.#stopController.abort();
    const unacked = this.#unacked.slice(this.#unackedHead);
    this.#unacked = [];
    this.#unackedHead = 0;
    this.#unackedBytes = 0;
    if (unacked.length > 0) {
      const error = new NotConnectedError(
        `the reconnecting client stopped (${end.reason}) before the server acknowledged these messages`,
      );
      for (const u of unacked) u.reject(error);
    }
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    if (queue.length > 0) {
      const error = new NotConnectedError(
        `the reconnecting client stopped (${end.reason}) before these messages could be sent`,
      );
      for (const q of queue) q.reject(error);
    }
    this.#traceLine(
      this.id,
      `terminated ${end.reason}${end.error ? `: ${end.error.message}` : ""}`,
    );
    const t = this.#telemetry;
    if (t && t.terminated.hasSubscribers) {
      t.terminated.publish({
        role: "client",
        id: this.id,
        timestamp: Date.now(),
        reason: end.reason,
        ...(end.error ? { error: end.error } : {}),
      });
    }
    this.#wake?.();
    this.#resolveClosed(full);
  }

  #publishScheduled(delayMs: number, error: Error | undefined): void {
    this.#traceLine(this.id, `reconnecting in ${delayMs} ms (attempt ${this.#attempt})`);
    const t = this.#telemetry;
    if (t && t.reconnectScheduled.hasSubscribers) {
      t.reconnectScheduled.publish({
        role: "client",
        id: this.id,
        timestamp: Date.now(),
        attempt: this.#attempt,
        delayMs,
        ...(error ? { error } : {}),
      });
    }
  }

  #traceLine(id: string, text: string): void {
    this.#trace?.(`${id} -- ${text}`);
  }
}

interface StopRequest {
  reason: "closed" | "aborted";
  code: number;
  closeReason: string;
}

type ReconnectingUrl =
  | string
  | URL
  | ((info: AttemptInfo) => string | URL | Promise<string | URL>);

/**
 * What the policy makes of a failed attempt: `"retry"` for what is likely
 * transient (the network, a timeout, a 5xx, 408 or 429, a proxy that could
 * not reach the target), `"refused"` for a refusal (other statuses, proxy
 * authentication), `"failed"` for anything else.
 */
function classify(error: Error): "retry" | "refused" | "failed" {
  if (error instanceof ConnectionError || error instanceof TimeoutError) return "retry";
  if (error instanceof HandshakeError) {
    if (error.code !== HandshakeCode.Refused) return "failed";
    const s = error.status;
    return s >= 500 || s === 408 || s === 429 ? "retry" : "refused";
  }
  if (error instanceof ProxyError) {
    if (error.protocol === "http") return error.status >= 500 ? "retry" : "refused";
    // RFC 1928 §6: general failure, network or host unreachable, refused, TTL expired.
    return [1, 3, 4, 5, 6].includes(error.status) && error.code === "PROXY_REFUSED"
      ? "retry"
      : "refused";
  }
  return "failed";
}

/** The default clock: resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A client session id: 128 random bits as 32 hex digits. */
function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let s = "";
  for (let i = 0; i < 16; i++) s += bytes[i].toString(16).padStart(2, "0");
  return s;
}

function rejected<T>(error: unknown): Promise<T> {
  const p = Promise.reject(error);
  p.catch(noop);
  return p;
}

function reportError(error: unknown): void {
  const text = error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : String(error);
  console.error(`sprig: reconnecting client: ${text}`);
}

/** Bytes a message holds: binary length, or the UTF-8 length of text. */
function sizeOf(data: SendData): number {
  if (typeof data === "string") {
    let n = data.length;
    for (let i = 0; i < data.length; i++) {
      const c = data.charCodeAt(i);
      if (c >= 0x80) n += c >= 0x800 && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
    }
    return n;
  }
  if (typeof Blob !== "undefined" && data instanceof Blob) return data.size;
  return (data as ArrayBuffer | ArrayBufferView).byteLength;
}

const CHECK = new ArgumentCheck("reconnecting()");

/** The options of {@link ReconnectingOptions} that `connect()` does not take; the type makes the list complete. */
const OWN_OPTIONS: { [K in Exclude<keyof ReconnectingOptions, keyof ConnectOptions>]: true } = {
  backoff: true,
  stopOnCloseCodes: true,
  sendQueue: true,
  positions: true,
  resend: true,
  connected: true,
  message: true,
  disconnected: true,
  onError: true,
  random: true,
  sleep: true,
};

const BACKOFF_OPTIONS: { [K in keyof Required<BackoffOptions>]: true } = {
  initialDelayMs: true,
  maxDelayMs: true,
  multiplier: true,
  maxAttempts: true,
  stableAfterMs: true,
};

const RECONNECTING_OPTION_NAMES = [
  ...CONNECT_OPTION_NAMES.filter((name) => name !== "id" && name !== "telemetryContext"),
  ...Object.keys(OWN_OPTIONS),
];

/** Options of other reconnecting clients (reconnecting-websocket, partysocket, socket.io). */
const FOREIGN_RECONNECTING_OPTIONS: Readonly<Record<string, string>> = {
  ...FOREIGN_CONNECT_OPTIONS,
  id: "a reconnecting client is r<n> and its connections r<n>.<k> (see client.id)",
  maxRetries: "use options.backoff.maxAttempts",
  retries: "use options.backoff.maxAttempts",
  reconnectionAttempts: "use options.backoff.maxAttempts",
  minReconnectionDelay: "use options.backoff.initialDelayMs",
  reconnectInterval: "use options.backoff.initialDelayMs",
  reconnectionDelay: "use options.backoff.initialDelayMs",
  maxReconnectionDelay: "use options.backoff.maxDelayMs",
  reconnectionDelayMax: "use options.backoff.maxDelayMs",
  reconnectionDelayGrowFactor: "use options.backoff.multiplier",
  minUptime: "use options.backoff.stableAfterMs",
  connectionTimeout: "use options.connectTimeoutMs (TCP and TLS) and options.handshakeTimeoutMs",
  maxEnqueuedMessages: "use options.sendQueue: { maxMessages }",
  debug: "use options.trace: console.error",
  WebSocket: "use options.transport to open each connection's socket yourself",
};

/** Checks the arguments at the call, so that a typo fails there and not at the first attempt. */
function checkReconnectingArguments(url: unknown, options: unknown): void {
  const o = CHECK.options("options", options);
  CHECK.known("options", o, RECONNECTING_OPTION_NAMES, FOREIGN_RECONNECTING_OPTIONS);
  const headers = o.headers;
  CHECK.function("options.connected", o.connected);
  CHECK.function("options.message", o.message);
  CHECK.function("options.disconnected", o.disconnected);
  CHECK.function("options.onError", o.onError);
  CHECK.function("options.random", o.random);
  CHECK.function("options.sleep", o.sleep);
  CHECK.boolean("options.positions", o.positions);
  const rs = o.resend;
  if (rs !== undefined && typeof rs !== "boolean") {
    const ro = CHECK.options("options.resend", rs);
    CHECK.known("options.resend", ro, ["maxMessages", "maxBytes"]);
    CHECK.integer("options.resend.maxMessages", ro.maxMessages, 1, Number.MAX_SAFE_INTEGER);
    CHECK.integer("options.resend.maxBytes", ro.maxBytes, 1, Number.MAX_SAFE_INTEGER);
  }
  if (rs && o.sendQueue !== undefined && o.sendQueue !== false) {
    throw CHECK.type(
      "options.sendQueue",
      "absent with options.resend (resend keeps unacknowledged sends itself: resend: { maxMessages, maxBytes })",
      o.sendQueue,
    );
  }
  if (o.transport !== undefined && typeof o.transport !== "function") {
    throw CHECK.type(
      "options.transport",
      "a function that opens a transport (each attempt needs a new one)",
      o.transport,
    );
  }
  const b = CHECK.options("options.backoff", o.backoff);
  CHECK.known("options.backoff", b, Object.keys(BACKOFF_OPTIONS));
  CHECK.milliseconds("options.backoff.initialDelayMs", b.initialDelayMs);
  CHECK.milliseconds("options.backoff.maxDelayMs", b.maxDelayMs);
  if (b.multiplier !== undefined) {
    if (typeof b.multiplier !== "number") {
      throw CHECK.type("options.backoff.multiplier", "a number", b.multiplier);
    }
    if (!(b.multiplier >= 1 && b.multiplier <= 1000)) {
      throw CHECK.range("options.backoff.multiplier", "a number from 1 to 1000", b.multiplier);
    }
  }
  CHECK.integer("options.backoff.maxAttempts", b.maxAttempts, 1, Number.MAX_SAFE_INTEGER);
  CHECK.milliseconds("options.backoff.stableAfterMs", b.stableAfterMs);
  const codes = CHECK.array("options.stopOnCloseCodes", o.stopOnCloseCodes);
  codes?.forEach((c, i) => CHECK.integer(`options.stopOnCloseCodes[${i}]`, c, 1000, 4999));
  const q = o.sendQueue;
  if (q !== undefined && typeof q !== "boolean") {
    const qo = CHECK.options("options.sendQueue", q);
    CHECK.known("options.sendQueue", qo, ["maxMessages", "maxBytes", "whenFull"]);
    CHECK.integer("options.sendQueue.maxMessages", qo.maxMessages, 1, Number.MAX_SAFE_INTEGER);
    CHECK.integer("options.sendQueue.maxBytes", qo.maxBytes, 1, Number.MAX_SAFE_INTEGER);
    CHECK.oneOf("options.sendQueue.whenFull", qo.whenFull, ["reject", "drop-oldest"] as const);
  }
  if (typeof url !== "function" && typeof url !== "string" && !(url instanceof URL)) {
    throw CHECK.type("url", "a URL, a string or a function returning one", url);
  }
  // The options connect() takes, checked as connect() checks them.
  const rest = connectOptionsOf(o as ReconnectingOptions);
  prepareConnect(
    "reconnecting()",
    typeof url === "function" ? "ws://127.0.0.1/" : url as string | URL,
    { ...rest, headers: typeof headers === "function" ? undefined : headers as HeadersInit },
  );
}

/**
 * The options `connect()` takes, out of a reconnecting client's: all but
 * the per-attempt `headers` and the client's own (backoff, queue,
 * callbacks, clock).
 */
function connectOptionsOf(options: ReconnectingOptions): Omit<ConnectOptions, "headers"> {
  const {
    headers: _h,
    backoff: _b,
    stopOnCloseCodes: _c,
    sendQueue: _q,
    positions: _p,
    resend: _rs,
    connected: _co,
    message: _m,
    disconnected: _d,
    onError: _e,
    random: _r,
    sleep: _sl,
    ...rest
  } = options;
  return rest;
}
