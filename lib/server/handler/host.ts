/**
 * What every host shares: the open connections, the topics, the upgrade
 * decision (checks, Origin, limits, the `upgrade` hook), and graceful
 * shutdown. sprig's server and each adapter hold one.
 *
 * @module
 */

import { checkExtendedConnect, type Http2Headers } from "../../protocol/extended_connect.ts";
import { HandshakeError, SprigError } from "../../errors.ts";
import type { ExtensionFactory } from "../../protocol/extension.ts";
import {
  permessageDeflate,
  PerMessageDeflateFactory,
} from "../../extensions/permessage_deflate.ts";
import { checkClientRequest, type CheckedRequest } from "../../protocol/handshake.ts";
import type { RequestHead } from "../../protocol/http1.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import type { Channel } from "./channel.ts";
import { Driver, type DriverHost, publishable } from "./driver.ts";
import type {
  ConnectionContext,
  ConnectionRef,
  Handler,
  MessageOptions,
  TlsInfo,
} from "./handler.ts";
import type { OutgoingMessage } from "./message.ts";
import {
  checkHostArguments,
  SERVER_DEFAULTS,
  type UpgradeAccept,
  type UpgradeOptions,
  type WebSocketHostOptions,
} from "./options.ts";
import { Topics } from "./pubsub.ts";
import type { Position } from "../../session/envelope.ts";
import { keepalivePeriod } from "./keepalive.ts";
import { Ticker } from "../../util/ticker.ts";
import type { KeepaliveOptions } from "../../session/session.ts";
import { type TelemetryPublisher, telemetryPublisher } from "../../telemetry.ts";
import { noop } from "../../util/noop.ts";

/** An accepted upgrade, before the 101 is sent. @internal */
export interface Accepted {
  accepted: true;
  checked: CheckedRequest;
  /** The subprotocol to answer with, if any. */
  protocol: string | undefined;
  /** The `Sec-WebSocket-Extensions` response value, if any. */
  extensionsHeader: string | undefined;
  /** Extra 101 headers from the hook. */
  headers: HeadersInit | undefined;
  /** The hook's `data`. */
  data: unknown;
  url: URL;
  requestHeaders: Headers;
  remoteAddress: TransportAddress | undefined;
  /** The TLS session, where the listener reports it. */
  tls: TlsInfo | undefined;
  /** Gives the reserved connection slot back (when the upgrade goes no further). */
  release(): void;
}

/** A refused upgrade and the response to send. @internal */
export interface Refused {
  accepted: false;
  response: Response;
}

/** What {@link WebSocketHost.decide} needs. @internal */
export interface UpgradeRequest {
  head: RequestHead;
  url: URL;
  remoteAddress: TransportAddress | undefined;
  /** The host's own request object, if it has one (Deno.serve, Bun.serve). */
  request?: Request;
  /** The TLS session (client certificate, SNI, ALPN), where the listener reports it. */
  tls?: TlsInfo;
  /** False where the host does its own compression (or none): extensions are not negotiated. */
  negotiateExtensions: boolean;
  /**
   * An HTTP/2 extended CONNECT's header list: checked by RFC 8441 §4–5
   * instead of RFC 6455 §4.2.1 (`head` then describes it for the hooks).
   */
  extendedConnect?: Http2Headers;
  /** What the caller (a framework's route) decided for this request: `data`, 101 headers. */
  with?: UpgradeOptions;
}

/**
 * The connections and topics of a server or adapter, for the rest of the
 * application.
 */
export interface WebSocketHub<I = unknown> {
  /** The open WebSocket connections, live. */
  readonly connections: ReadonlySet<ConnectionRef<I>>;
  /**
   * Sends a message to every connection subscribed to `topic`, once each;
   * the frame is encoded once for all that send it unchanged. Returns how
   * many connections it was sent to. On a topic whose history the broker
   * keeps (`redisBroker({ history: true })`), it goes through the broker and
   * reaches every subscriber, here too, once the broker gave it a position:
   * this returns 0. `options.compress` false: every subscriber gets it
   * uncompressed.
   */
  publish(topic: string, message: OutgoingMessage, options?: MessageOptions): number;
  /** How many connections are subscribed to `topic`. */
  subscriberCount(topic: string): number;
  /** The position of the last message of `topic`, when it keeps history (the `topics` option) and had one. */
  lastPosition(topic: string): Position | undefined;
  /**
   * False while a subscriber of `topic` with the `pause` policy has more
   * pending output than its bound: a publisher that can wait should, with
   * {@link whenWritable}.
   */
  isWritable(topic: string): boolean;
  /** Resolves once {@link isWritable} is true for `topic` (at once when it is). */
  whenWritable(topic: string): Promise<void>;
  /**
   * Closes every WebSocket with 1001 and refuses new upgrades (503);
   * resolves when all closed or `deadlineMs` passed (the rest are then
   * dropped). Idempotent.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
}

/** Options of {@link WebSocketHub.shutdown}. */
export interface ShutdownOptions {
  /** How long connections get to finish their closing handshake, in ms; then they are dropped. Default 10,000. */
  deadlineMs?: number;
  /** The close reason sent with 1001. Default "server shutting down". */
  reason?: string;
}

/**
 * The host of an adapter (`nodeHttpAdapter()`, `denoServeAdapter()`,
 * `bunServeAdapter()`): its arguments checked as `fn` received them, then
 * the host over `hostOptions` (the options, or what the adapter makes of
 * them). @internal
 */
export function adapterHost(
  fn: string,
  handler: unknown,
  options: unknown,
  hostOptions: unknown = options,
): WebSocketHost {
  checkHostArguments(fn, handler, options);
  return new WebSocketHost(
    handler as Handler<never, never, never>,
    hostOptions as WebSocketHostOptions<unknown>,
  );
}

/**
 * The connections, topics and upgrade policy of one server or adapter.
 * @internal
 */
export class WebSocketHost implements DriverHost {
  readonly topics: Topics;
  readonly connections: Set<Driver> = new Set();
  readonly options: WebSocketHostOptions<unknown>;
  readonly factories: ExtensionFactory[];
  /** permessage-deflate's threshold, for sharing published frames. */
  readonly deflateThreshold: number | undefined;
  /** Where lifecycle events go (the `telemetry` option). */
  readonly telemetry: TelemetryPublisher | undefined;
  readonly #handler: Handler<never, never, never>;
  readonly #maxConnections: number;
  readonly #origins: Set<string> | undefined;
  #reserved = 0;
  /** Origins already reported as refused (each is reported once; bounded). */
  readonly #refusedOrigins = new Set<string>();
  /** Shared timers, by period: idle checks and keepalive visit every connection through them. */
  readonly #tickers = new Map<number, Ticker>();
  #shuttingDown = false;
  #shutdown: Promise<void> | undefined;
  readonly #lifetimeMs: number;
  readonly #lifetimeJitterMs: number;

  constructor(handler: Handler<never, never, never>, options: WebSocketHostOptions<unknown>) {
    this.#handler = handler;
    this.options = options;
    this.topics = new Topics({
      broker: options.broker,
      onError: (e) => this.reportError(e),
      topics: options.topics,
    });
    this.#lifetimeMs = options.maxLifetimeMs ?? 0;
    this.#lifetimeJitterMs = options.lifetimeJitterMs ?? Math.floor(this.#lifetimeMs / 10);
    const compression = options.compression ?? true;
    this.factories = [];
    if (compression) {
      this.factories.push(permessageDeflate(compression === true ? {} : compression));
    }
    if (options.extensions) this.factories.push(...options.extensions);
    const deflate = this.factories[0];
    this.deflateThreshold = deflate instanceof PerMessageDeflateFactory
      ? deflate.options.threshold
      : undefined;
    this.telemetry = options.telemetry ? telemetryPublisher(options.telemetry) : undefined;
    this.#maxConnections = options.maxConnections ?? SERVER_DEFAULTS.maxConnections;
    if (!(this.#maxConnections >= 1)) throw new RangeError("maxConnections is at least 1");
    this.#origins = options.origins && new Set(options.origins.map((o) => o.toLowerCase()));
  }

  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** The shared timer ticking every `periodMs` (one per period, made on first use). */
  ticker(periodMs: number): Ticker {
    const key = Math.max(1, Math.round(periodMs));
    let t = this.#tickers.get(key);
    if (!t) this.#tickers.set(key, t = new Ticker(key));
    return t;
  }

  /** The shared keepalive timer for `options`, or undefined when keepalive is off. */
  keepaliveTicker(options: KeepaliveOptions | false): Ticker | undefined {
    const period = keepalivePeriod(options);
    return period > 0 ? this.ticker(period) : undefined;
  }

  reportError(error: unknown, ref?: ConnectionRef<never>): void {
    try {
      const onError = this.options.onError;
      if (onError) onError(error, ref);
      else defaultOnError(error, ref);
    } catch {
      // An error reporter that throws has nobody left to report to.
    }
  }

  /** Reports a refused Origin once, so a misconfigured `origins` is visible. */
  #reportOrigin(origin: string): void {
    const seen = this.#refusedOrigins;
    if (seen.has(origin) || seen.size >= 1000) return;
    seen.add(origin);
    this.reportError(
      new SprigError(
        "ORIGIN_REFUSED",
        `refused WebSocket upgrades from Origin ${origin} (403): it is not in options.origins ` +
          "and not this server's own host (reported once per origin)",
      ),
    );
  }

  removed(driver: Driver): void {
    this.connections.delete(driver);
  }

  /** Sends to every subscriber of `topic`; returns how many it reached. */
  publish(topic: string, message: OutgoingMessage, options?: MessageOptions): number {
    return this.topics.publish(topic, publishable(message, options));
  }

  /** The public face of this host, for an adapter to return. */
  hub<I>(): WebSocketHub<I> {
    return {
      connections: this.connections as ReadonlySet<ConnectionRef<unknown>> as ReadonlySet<
        ConnectionRef<I>
      >,
      publish: (topic, message, options) => this.publish(topic, message, options),
      subscriberCount: (topic) => this.topics.subscriberCount(topic),
      lastPosition: (topic) => this.topics.lastPosition(topic),
      isWritable: (topic) => this.topics.isWritable(topic),
      whenWritable: (topic) => this.topics.whenWritable(topic),
      shutdown: (options) => this.shutdown(options),
    };
  }

  /**
   * Decides an upgrade request: the RFC 6455 §4.2.1 checks, the Origin
   * allow-list, the connection limit, then the `upgrade` hook. An accepted
   * request holds a connection slot until {@link start} or `release()`.
   */
  async decide(input: UpgradeRequest): Promise<Accepted | Refused> {
    const verdict = await this.#decide(input);
    const t = this.telemetry;
    if (!verdict.accepted && t && t.handshakeFailed.hasSubscribers) {
      t.handshakeFailed.publish({
        role: "server",
        id: "",
        timestamp: Date.now(),
        url: input.url.href,
        status: verdict.response.status,
      });
    }
    return verdict;
  }

  async #decide(input: UpgradeRequest): Promise<Accepted | Refused> {
    const { head, url, remoteAddress } = input;
    if (this.#shuttingDown) return refuse(503, "the server is shutting down");
    let checked: CheckedRequest;
    try {
      const check = {
        protocols: this.options.protocols,
        extensions: input.negotiateExtensions ? this.factories : [],
      };
      checked = input.extendedConnect
        ? checkExtendedConnect(input.extendedConnect, check)
        : checkClientRequest(head, check);
    } catch (error) {
      if (error instanceof HandshakeError) {
        return refuse(error.status, error.message, error.headers);
      }
      this.reportError(error);
      return refuse(500, "internal error");
    }
    const dispose = () => {
      for (const e of checked.extensions) e.dispose?.();
    };
    // Cross-site WebSocket hijacking: browsers send Origin, and a page of
    // another site must not ride on the user's cookies (RFC 6455 §10.2).
    if (
      this.#origins && checked.origin !== undefined && !this.#origins.has("*") &&
      !this.#origins.has(checked.origin.toLowerCase()) && !sameOrigin(checked.origin, url)
    ) {
      dispose();
      this.#reportOrigin(checked.origin);
      return refuse(403, "origin not allowed");
    }
    if (this.connections.size + this.#reserved >= this.#maxConnections) {
      dispose();
      return refuse(503, "too many connections", { "Retry-After": "1" });
    }
    this.#reserved++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#reserved--;
      dispose();
    };
    let protocol = checked.protocol;
    let headers: HeadersInit | undefined = input.with?.headers === undefined
      ? undefined
      : callerHeaders(input.with.headers);
    let data: unknown = input.with?.data;
    const hook = this.options.upgrade;
    if (hook) {
      let verdict: Response | UpgradeAccept<unknown> | void | undefined;
      try {
        const request = input.request ?? new Request(url, { method: "GET", headers: head.headers });
        verdict = await hook(request, {
          protocols: checked.protocols,
          protocol,
          origin: checked.origin,
          remoteAddress,
          tls: input.tls,
        });
      } catch (error) {
        release();
        this.reportError(error);
        return refuse(500, "internal error");
      }
      if (verdict instanceof Response) {
        release();
        return { accepted: false, response: verdict };
      }
      if (verdict) {
        if (verdict.protocol !== undefined) {
          const chosen = verdict.protocol ?? undefined;
          // RFC 6455 §4.2.2: the server MUST choose one of the client's values, or none.
          if (chosen !== undefined && !checked.protocols.includes(chosen)) {
            release();
            this.reportError(
              new TypeError(
                `the upgrade hook chose subprotocol ${
                  JSON.stringify(chosen)
                }, which was not offered`,
              ),
            );
            return refuse(500, "internal error");
          }
          protocol = chosen;
        }
        headers = headers === undefined ? verdict.headers : mergeHeaders(headers, verdict.headers);
        if (verdict.data !== undefined || input.with?.data === undefined) data = verdict.data;
      }
      if (this.#shuttingDown) {
        release();
        return refuse(503, "the server is shutting down");
      }
    }
    return {
      accepted: true,
      checked,
      protocol,
      extensionsHeader: checked.extensionsHeader,
      headers,
      data,
      url,
      requestHeaders: head.headers,
      remoteAddress,
      tls: input.tls,
      release,
    };
  }

  /** Runs the handler over a channel of an accepted upgrade; takes over its slot. */
  start(
    channel: Channel,
    accepted: Accepted,
    extensions: string,
    overrides: { idleTimeoutMs?: number; id?: number } = {},
  ): Driver {
    const context: Omit<ConnectionContext<unknown, unknown>, "ref"> = {
      url: accepted.url,
      headers: accepted.requestHeaders,
      protocol: accepted.protocol ?? "",
      extensions,
      remoteAddress: accepted.remoteAddress,
      httpVersion: accepted.checked.key === "" ? "2" : "1.1",
      data: accepted.data,
      ...(accepted.tls ? { tls: accepted.tls } : {}),
    };
    const idleTimeoutMs = overrides.idleTimeoutMs ?? this.options.idleTimeoutMs ??
      SERVER_DEFAULTS.idleTimeoutMs;
    const driver = new Driver(channel, this.#handler, context, this, {
      idleTimeoutMs,
      maxQueuedMessages: this.options.maxQueuedMessages ?? SERVER_DEFAULTS.maxQueuedMessages,
      idleTicker: idleTimeoutMs > 0 ? this.ticker(idleTimeoutMs / 4) : undefined,
      id: overrides.id,
      ...(this.#lifetimeMs > 0
        ? {
          lifetimeMs: this.#lifetimeMs + Math.random() * this.#lifetimeJitterMs,
          lifetimeTicker: this.ticker(Math.min(60_000, Math.max(10, this.#lifetimeMs / 10))),
        }
        : {}),
    });
    this.#reserved--;
    this.connections.add(driver);
    if (this.#shuttingDown) driver.shutdown(SERVER_DEFAULTS.shutdownReason);
    driver.start();
    return driver;
  }

  /**
   * Closes every connection with 1001 and resolves once all have closed
   * (and their `terminate` ran) or the deadline passed, after which the rest
   * are dropped. Refuses new upgrades from the first call on.
   */
  shutdown(options: ShutdownOptions = {}): Promise<void> {
    return this.#shutdown ??= this.#shutdownThenDetach(options);
  }

  /**
   * The shutdown, then the broker detached: resolves once the engine has
   * done the unsubscriptions the closed connections caused (within what is
   * left of the deadline), so an application that disconnects its Redis
   * clients right after does not cut them off.
   */
  async #shutdownThenDetach(options: ShutdownOptions): Promise<void> {
    const started = Date.now();
    const deadlineMs = options.deadlineMs ?? SERVER_DEFAULTS.shutdownDeadlineMs;
    try {
      await this.#shutdownNow(options);
    } finally {
      await this.topics.close(Math.max(0, deadlineMs - (Date.now() - started)));
    }
  }

  async #shutdownNow(options: ShutdownOptions): Promise<void> {
    this.#shuttingDown = true;
    const deadlineMs = options.deadlineMs ?? SERVER_DEFAULTS.shutdownDeadlineMs;
    const reason = options.reason ?? SERVER_DEFAULTS.shutdownReason;
    const drivers = [...this.connections];
    for (const d of drivers) d.shutdown(reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<false>((
      resolve,
    ) => (timer = setTimeout(() => resolve(false), deadlineMs)));
    const finished = await Promise.race([
      Promise.all(drivers.map((d) => d.done)).then(() => true),
      deadline,
    ]);
    clearTimeout(timer);
    if (finished) return;
    for (const d of drivers) d.kill();
    await Promise.all(drivers.map((d) => d.closed.catch(noop)));
  }
}

/** A short plain-text refusal. */
function refuse(status: number, message: string, headers?: HeadersInit): Refused {
  const h = new Headers(headers);
  h.set("content-type", "text/plain; charset=utf-8");
  return { accepted: false, response: new Response(message, { status, headers: h }) };
}

/**
 * True when `origin` names the host the request came to (its `Host`): a page
 * served by this same server may open a socket back to it.
 */
function sameOrigin(origin: string, url: URL): boolean {
  try {
    return new URL(origin).host === url.host;
  } catch {
    return false;
  }
}

/** The default `onError`: errors are visible unless the app says where they go. */
function defaultOnError(error: unknown, ref?: ConnectionRef<never>): void {
  const where = ref ? `connection ${ref.id} (${ref.url.href})` : "server";
  const text = error instanceof Error
    ? (error.stack ?? `${error.name}: ${error.message}`)
    : String(error);
  console.error(`sprig: ${where}: ${text}`);
}

/** Header names the WebSocket handshake (or the connection) owns: a caller's copies are dropped. */
const HANDSHAKE_OWNED = new Set([
  "connection",
  "upgrade",
  "content-length",
  "content-type",
  "transfer-encoding",
  "keep-alive",
  "sec-websocket-accept",
  "sec-websocket-extensions",
  "sec-websocket-protocol",
  "sec-websocket-version",
]);

/** The caller's 101 headers, without the ones the handshake owns. */
function callerHeaders(init: HeadersInit): Headers {
  const headers = new Headers();
  for (const [name, value] of new Headers(init)) {
    if (!HANDSHAKE_OWNED.has(name)) headers.append(name, value);
  }
  return headers;
}

/** `base` with the hook's headers set over it. */
function mergeHeaders(base: HeadersInit, more: HeadersInit | undefined): HeadersInit {
  if (more === undefined) return base;
  const merged = new Headers(base);
  for (const [name, value] of new Headers(more)) merged.set(name, value);
  return merged;
}
