/**
 * OpenTelemetry for sprig, over its {@link Telemetry} hook: metrics
 * (connections, handshakes, messages and bytes each way, closes by code,
 * reconnects, dropped subscribers) and spans (the client's handshake, each
 * connection's life, and optionally one sampled message in N).
 *
 * sprig has no runtime dependency and does not import `@opentelemetry/api`:
 * pass your own (the `api` module, or a `meter` and a `tracer` made by your
 * SDK). sprig types only the few methods it calls.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../mod.ts";
 * import { otelInstrumentation } from "./mod.ts";
 * // Any meter works; this one just keeps what it is given.
 * const added: Array<[string, number]> = [];
 * const meter = {
 *   createCounter: (name: string) => ({ add: (n: number) => void added.push([name, n]) }),
 *   createUpDownCounter: (name: string) => ({ add: (n: number) => void added.push([name, n]) }),
 *   createHistogram: () => ({ record: () => {} }),
 *   createObservableCounter: () => ({ addCallback: () => {}, removeCallback: () => {} }),
 *   createObservableUpDownCounter: () => ({ addCallback: () => {}, removeCallback: () => {} }),
 * };
 * const otel = otelInstrumentation({ meter });
 * await using server = await serve({ hostname: "127.0.0.1", port: 0, telemetry: otel.telemetry }, {
 *   in: (message) => ({ push: message }),
 * });
 * const ws = await otel.handshake(server.url, () => connect(server.url, { telemetry: otel.telemetry }));
 * await ws.close();
 * assert.ok(added.some(([name]) => name === "websocket.handshakes"));
 * ```
 *
 * @module
 */

import type { Telemetry, TelemetryChannel } from "../telemetry.ts";
export type { Telemetry, TelemetryChannel } from "../telemetry.ts";
import { TelemetryChannels } from "../telemetry.ts";
import { HandshakeError, SprigError } from "../errors.ts";
import { ArgumentCheck } from "../arguments.ts";

/** Attribute values, as OpenTelemetry takes them. */
export type OtelAttributes = Record<string, string | number | boolean>;

/** The part of OpenTelemetry's `Counter` and `UpDownCounter` sprig uses. */
export interface OtelCounter {
  /** Adds `value` for the given attributes. */
  add(value: number, attributes?: OtelAttributes): void;
}

/** The part of OpenTelemetry's `Histogram` sprig uses. */
export interface OtelHistogram {
  /** Records one value. */
  record(value: number, attributes?: OtelAttributes): void;
}

/** The part of OpenTelemetry's `ObservableResult` sprig uses. */
export interface OtelObservableResult {
  /** Reports the current value for the given attributes. */
  observe(value: number, attributes?: OtelAttributes): void;
}

/** The part of OpenTelemetry's observable instruments sprig uses. */
export interface OtelObservable {
  /** Registers a callback, called at each collection. */
  addCallback(callback: (result: OtelObservableResult) => void): void;
  /** Unregisters it. */
  removeCallback(callback: (result: OtelObservableResult) => void): void;
}

/** Instrument options: a description and a UCUM unit. */
export interface OtelInstrumentOptions {
  /** What the instrument measures. */
  description?: string;
  /** Its unit, in UCUM (`By`, `s`, `{message}`). */
  unit?: string;
}

/** The part of OpenTelemetry's `Meter` sprig uses. */
export interface OtelMeter {
  /** A monotonic counter. */
  createCounter(name: string, options?: OtelInstrumentOptions): OtelCounter;
  /** A counter that goes up and down. */
  createUpDownCounter(name: string, options?: OtelInstrumentOptions): OtelCounter;
  /** A histogram. */
  createHistogram(name: string, options?: OtelInstrumentOptions): OtelHistogram;
  /** A monotonic counter read at collection. */
  createObservableCounter(name: string, options?: OtelInstrumentOptions): OtelObservable;
  /** A counter read at collection that goes up and down. */
  createObservableUpDownCounter(name: string, options?: OtelInstrumentOptions): OtelObservable;
}

/** The part of OpenTelemetry's `Span` sprig uses. */
export interface OtelSpan {
  /** Sets one attribute. */
  setAttribute(key: string, value: string | number | boolean): unknown;
  /** `code`: 0 unset, 1 ok, 2 error (`SpanStatusCode`). */
  /** Sets the status. */
  setStatus(status: { code: number; message?: string }): unknown;
  /** Records an exception event. */
  recordException(exception: Error): void;
  /** `endTime`: milliseconds since the Unix epoch. */
  end(endTime?: number): void;
}

/** Span options: `kind` 0 internal, 1 server, 2 client, 3 producer, 4 consumer (`SpanKind`). */
export interface OtelSpanOptions {
  /** The span kind. */
  kind?: number;
  /** Its first attributes. */
  attributes?: OtelAttributes;
  /** Milliseconds since the Unix epoch. */
  startTime?: number;
}

/** The part of OpenTelemetry's `Tracer` sprig uses. */
export interface OtelTracer {
  /** Starts a span (`context`: the parent context, from the API's `context`). */
  startSpan(name: string, options?: OtelSpanOptions, context?: unknown): OtelSpan;
}

/**
 * The part of the `@opentelemetry/api` module sprig uses: the global meter
 * and tracer providers, and the context to parent message spans.
 */
export interface OtelApi {
  /** The global meter provider. */
  metrics: { getMeter(name: string, version?: string): OtelMeter };
  /** The global tracer provider, and the context helper. */
  trace: {
    getTracer(name: string, version?: string): OtelTracer;
    setSpan(context: unknown, span: OtelSpan): unknown;
  };
  /** The active context. */
  context: { active(): unknown };
}

/** Options of {@link otelInstrumentation}. */
export interface OtelOptions {
  /**
   * One span per sampled message: every `messageSpanEvery`-th frame that
   * starts a message (text or binary), each way. Default 0: none.
   */
  messageSpanEvery?: number;
  /** A span per connection, from its opening to its end. Default `true` (when a tracer is given). */
  connectionSpans?: boolean;
  /** Attributes added to every metric point and span (for instance `service.instance.id`). */
  attributes?: OtelAttributes;
}

/** What {@link otelInstrumentation} returns. */
export interface OtelInstrumentation {
  /**
   * The `telemetry` option to give `serve()`, an adapter, `connect()` or
   * `reconnecting()`: every connection that has it is recorded.
   */
  readonly telemetry: Telemetry;
  /**
   * Runs `open` (a `connect()` to `url`, given this `telemetry`) inside a
   * handshake span (kind client), and returns what it returns. A failed
   * handshake counts in `websocket.handshakes` with `error.type` and, for a
   * refusal, `http.response.status_code`. The session's `bufferedAmount`
   * counts in `websocket.send_buffer.size` until its `closed` settles.
   *
   * @throws what `open` throws
   */
  handshake<T>(url: string | URL, open: () => Promise<T>): Promise<T>;
  /** Unregisters the observable instruments' callbacks and ends the open connection spans. */
  close(): void;
}

/** The instrumentation scope's name. */
export const OTEL_SCOPE = "@sprig/websocket";

/** Frame types by opcode, as `websocket.message.type` names them. */
const TYPES = ["continuation", "text", "binary", "", "", "", "", "", "close", "ping", "pong"];
/** Indexes in the per-message totals: text, binary, close, ping, pong. */
const TYPE_INDEX = [-1, 0, 1, -1, -1, -1, -1, -1, 2, 3, 4];
const COUNTED = ["text", "binary", "close", "ping", "pong"];
const ROLES = ["client", "server"] as const;
const DIRECTIONS = ["receive", "transmit"] as const;

interface FrameEvent {
  role: "client" | "server";
  id: string;
  timestamp: number;
  opcode: number;
  length: number;
}

/** A session, as the send-buffer gauge reads it. */
interface Buffered {
  readonly bufferedAmount: number;
  readonly closed: Promise<unknown>;
}

interface Open {
  start: number;
  span: OtelSpan | undefined;
}

function errorType(error: unknown): string {
  if (error instanceof SprigError) return error.code;
  if (error instanceof Error) return error.name;
  return "_OTHER";
}

/**
 * Records sprig's connections in OpenTelemetry. Pass `api` (the
 * `@opentelemetry/api` module: the global providers are used), or a
 * `meter` and/or a `tracer`; then give the returned `telemetry` to the
 * servers and clients to record, and wrap a client's `connect()` in its
 * `handshake()` for a handshake span.
 *
 * Metrics (names and attributes: docs/observability.md):
 * `websocket.connection.active`, `websocket.connection.duration`,
 * `websocket.handshakes`, `websocket.messages`, `websocket.network.io`,
 * `websocket.closes`, `websocket.client.reconnects`,
 * `websocket.subscriber.dropped`, `websocket.send_buffer.size`.
 * Per-frame totals are plain numbers added in the frame events sprig
 * already publishes, and read by observable counters at each collection:
 * no OpenTelemetry call per message.
 *
 * @throws {TypeError} when neither `api`, `meter` nor `tracer` is given, or
 *   `messageSpanEvery` is not a non-negative integer
 */
export function otelInstrumentation(
  otel: OtelApi | { meter?: OtelMeter; tracer?: OtelTracer },
  options: OtelOptions = {},
): OtelInstrumentation {
  const check = new ArgumentCheck("otelInstrumentation()");
  const api = "metrics" in otel ? otel : undefined;
  const meter = api ? api.metrics.getMeter(OTEL_SCOPE) : (otel as { meter?: OtelMeter }).meter;
  const tracer = api ? api.trace.getTracer(OTEL_SCOPE) : (otel as { tracer?: OtelTracer }).tracer;
  if (!meter && !tracer) {
    throw check.type("otel", "the @opentelemetry/api module, or { meter, tracer }", otel);
  }
  const every = options.messageSpanEvery ?? 0;
  if (!Number.isInteger(every) || every < 0) {
    throw check.type("options.messageSpanEvery", "a non-negative integer", every);
  }
  const common: OtelAttributes = { ...options.attributes, "network.protocol.name": "websocket" };
  const connectionSpans = tracer !== undefined && options.connectionSpans !== false;

  // Counters updated from lifecycle events (a few per connection).
  const handshakes = meter?.createCounter("websocket.handshakes", {
    description: "Opening handshakes completed or failed (failures have error.type)",
    unit: "{handshake}",
  });
  const active = meter?.createUpDownCounter("websocket.connection.active", {
    description: "Open WebSocket connections",
    unit: "{connection}",
  });
  const duration = meter?.createHistogram("websocket.connection.duration", {
    description: "How long connections stayed open",
    unit: "s",
  });
  const closes = meter?.createCounter("websocket.closes", {
    description: "Connections ended, by close code (1006 when dropped)",
    unit: "{close}",
  });
  const reconnects = meter?.createCounter("websocket.client.reconnects", {
    description: "Reconnection attempts a reconnecting client scheduled",
    unit: "{attempt}",
  });
  const dropped = meter?.createCounter("websocket.subscriber.dropped", {
    description: "Subscribers closed by a topic's slow-subscriber policy (1013)",
    unit: "{connection}",
  });

  // Per-frame totals: plain numbers, read at collection.
  // messages[(role * 2 + direction) * 5 + type]; bytes[role * 2 + direction].
  const messages = new Float64Array(20);
  const bytes = new Float64Array(4);
  const messagesObserver = meter?.createObservableCounter("websocket.messages", {
    description: "Messages (text, binary) and control frames (close, ping, pong), each way",
    unit: "{message}",
  });
  const bytesObserver = meter?.createObservableCounter("websocket.network.io", {
    description: "Frame payload bytes each way, as on the wire (compressed when compressed)",
    unit: "By",
  });
  const bufferObserver = meter?.createObservableUpDownCounter("websocket.send_buffer.size", {
    description: "Bytes queued to send on the client sessions opened through handshake()",
    unit: "By",
  });
  const observeMessages = (result: OtelObservableResult) => {
    for (let r = 0; r < 2; r++) {
      for (let d = 0; d < 2; d++) {
        for (let t = 0; t < 5; t++) {
          const n = messages[(r * 2 + d) * 5 + t];
          if (n === 0) continue;
          result.observe(n, {
            ...common,
            "websocket.role": ROLES[r],
            "network.io.direction": DIRECTIONS[d],
            "websocket.message.type": COUNTED[t],
          });
        }
      }
    }
  };
  const observeBytes = (result: OtelObservableResult) => {
    for (let r = 0; r < 2; r++) {
      for (let d = 0; d < 2; d++) {
        const n = bytes[r * 2 + d];
        if (n === 0) continue;
        result.observe(n, {
          ...common,
          "websocket.role": ROLES[r],
          "network.io.direction": DIRECTIONS[d],
        });
      }
    }
  };
  const sessions = new Set<Buffered>();
  const observeBuffer = (result: OtelObservableResult) => {
    let n = 0;
    for (const s of sessions) n += s.bufferedAmount;
    result.observe(n, { ...common, "websocket.role": "client" });
  };
  messagesObserver?.addCallback(observeMessages);
  bytesObserver?.addCallback(observeBytes);
  bufferObserver?.addCallback(observeBuffer);

  const open = new Map<string, Open>();
  let countdown = [every, every];

  const frameChannel = (direction: 0 | 1): TelemetryChannel => ({
    hasSubscribers: true,
    publish(message) {
      const e = message as FrameEvent;
      const r = e.role === "server" ? 1 : 0;
      bytes[r * 2 + direction] += e.length;
      const t = TYPE_INDEX[e.opcode] ?? -1;
      if (t < 0) return;
      messages[(r * 2 + direction) * 5 + t]++;
      if (every === 0 || t > 1 || tracer === undefined) return;
      if (--countdown[direction] > 0) return;
      countdown[direction] = every;
      const parent = open.get(e.id)?.span;
      const span = tracer.startSpan(
        direction === 0 ? "websocket receive" : "websocket send",
        {
          kind: direction === 0 ? 4 : 3,
          startTime: e.timestamp,
          attributes: {
            ...common,
            "websocket.role": e.role,
            "websocket.connection.id": e.id,
            "network.io.direction": DIRECTIONS[direction],
            "websocket.message.type": TYPES[e.opcode],
            "websocket.message.size": e.length,
          },
        },
        api && parent ? api.trace.setSpan(api.context.active(), parent) : undefined,
      );
      span.end(e.timestamp);
    },
  });

  const channels: Record<string, TelemetryChannel> = {
    [TelemetryChannels.frameReceived]: frameChannel(0),
    [TelemetryChannels.frameSent]: frameChannel(1),
    [TelemetryChannels.connected]: {
      hasSubscribers: true,
      publish(message) {
        const e = message as {
          role: "client" | "server";
          id: string;
          timestamp: number;
          url: string;
          protocol: string;
          extensions: string;
        };
        const attributes = { ...common, "websocket.role": e.role };
        handshakes?.add(1, attributes);
        active?.add(1, attributes);
        let span: OtelSpan | undefined;
        if (connectionSpans) {
          span = tracer!.startSpan("websocket connection", {
            kind: e.role === "server" ? 1 : 2,
            startTime: e.timestamp,
            attributes: {
              ...attributes,
              "websocket.connection.id": e.id,
              // The server sees the request's http(s) URL; the WebSocket's is ws(s), as the client reports it.
              "url.full": e.url.replace(/^http(s?):/, "ws$1:"),
              ...(e.protocol ? { "websocket.subprotocol": e.protocol } : {}),
              ...(e.extensions ? { "websocket.extensions": e.extensions } : {}),
            },
          });
        }
        open.set(e.id, { start: e.timestamp, span });
      },
    },
    [TelemetryChannels.disconnected]: {
      hasSubscribers: true,
      publish(message) {
        const e = message as {
          role: "client" | "server";
          id: string;
          timestamp: number;
          code: number;
          reason: string;
          wasClean: boolean;
          error?: Error;
        };
        const attributes: OtelAttributes = { ...common, "websocket.role": e.role };
        const o = open.get(e.id);
        open.delete(e.id);
        if (o) {
          active?.add(-1, attributes);
          duration?.record(Math.max(0, e.timestamp - o.start) / 1000, attributes);
        }
        const error = e.error ? errorType(e.error) : e.wasClean ? undefined : "closed_abnormally";
        const closeAttributes: OtelAttributes = {
          ...attributes,
          "websocket.close.code": e.code,
          ...(error ? { "error.type": error } : {}),
        };
        closes?.add(1, closeAttributes);
        if (e.error instanceof SprigError && e.error.code === "SLOW_SUBSCRIBER") {
          dropped?.add(1, attributes);
        }
        const span = o?.span;
        if (span) {
          span.setAttribute("websocket.close.code", e.code);
          if (e.reason) span.setAttribute("websocket.close.reason", e.reason);
          if (error) {
            span.setAttribute("error.type", error);
            if (e.error) span.recordException(e.error);
            span.setStatus({ code: 2, message: e.error?.message ?? `closed with ${e.code}` });
          }
          span.end(e.timestamp);
        }
      },
    },
    [TelemetryChannels.handshakeFailed]: {
      hasSubscribers: true,
      publish(message) {
        const e = message as { role: "client" | "server"; status: number };
        handshakes?.add(1, {
          ...common,
          "websocket.role": e.role,
          "error.type": String(e.status),
          "http.response.status_code": e.status,
        });
      },
    },
    [TelemetryChannels.reconnectScheduled]: {
      hasSubscribers: true,
      publish(message) {
        const e = message as { error?: Error };
        reconnects?.add(1, { ...common, "websocket.role": "client" });
        if (e.error) failedHandshake(e.error);
      },
    },
    [TelemetryChannels.terminated]: {
      hasSubscribers: true,
      publish(message) {
        const e = message as { role: string; reason: string; error?: Error };
        // A reconnecting client's last failed attempt is reported here, not rescheduled.
        if (e.role === "client" && e.error && e.reason !== "closed" && e.reason !== "aborted") {
          failedHandshake(e.error);
        }
      },
    },
  };
  const silent: TelemetryChannel = { hasSubscribers: false, publish() {} };
  const telemetry: Telemetry = { channel: (name) => channels[name] ?? silent };

  function failedHandshake(error: unknown): OtelAttributes {
    const attributes: OtelAttributes = {
      ...common,
      "websocket.role": "client",
      "error.type": errorType(error),
      ...(error instanceof HandshakeError ? { "http.response.status_code": error.status } : {}),
    };
    handshakes?.add(1, attributes);
    return attributes;
  }

  return {
    telemetry,
    async handshake(url, open) {
      const target = new URL(String(url));
      const span = tracer?.startSpan("websocket handshake", {
        kind: 2,
        attributes: {
          ...common,
          "websocket.role": "client",
          "url.full": redact(target),
          "server.address": target.hostname.replace(/^\[|\]$/g, ""),
          "server.port": Number(target.port || (target.protocol === "wss:" ? 443 : 80)),
        },
      });
      let session: Awaited<ReturnType<typeof open>>;
      try {
        session = await open();
      } catch (error) {
        const attributes = failedHandshake(error);
        if (span) {
          span.setAttribute("error.type", attributes["error.type"]!);
          const status = attributes["http.response.status_code"];
          if (status !== undefined) span.setAttribute("http.response.status_code", status);
          if (error instanceof Error) span.recordException(error);
          span.setStatus({
            code: 2,
            message: error instanceof Error ? error.message : String(error),
          });
          span.end();
        }
        throw error;
      }
      if (span) {
        span.setAttribute("http.response.status_code", 101);
        const protocol = (session as { protocol?: unknown }).protocol;
        if (typeof protocol === "string" && protocol) {
          span.setAttribute("websocket.subprotocol", protocol);
        }
        span.end();
      }
      const s = session as Partial<Buffered>;
      if (typeof s.bufferedAmount === "number" && s.closed instanceof Promise) {
        const b = s as Buffered;
        sessions.add(b);
        void b.closed.then(() => sessions.delete(b), () => sessions.delete(b));
      }
      return session;
    },
    close() {
      messagesObserver?.removeCallback(observeMessages);
      bytesObserver?.removeCallback(observeBytes);
      bufferObserver?.removeCallback(observeBuffer);
      for (const o of open.values()) o.span?.end();
      open.clear();
      sessions.clear();
      countdown = [every, every];
    },
  };
}

/** The URL without credentials (semantic conventions: `url.full` never carries them). */
function redact(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const copy = new URL(url.href);
  copy.username = "REDACTED";
  copy.password = copy.password ? "REDACTED" : "";
  return copy.href;
}
