/**
 * Telemetry: lifecycle and frame events published on named channels, in
 * the shape of `node:diagnostics_channel`, without sprig importing it (edge
 * runtimes lack it). Pass the module itself:
 *
 * ```ts
 * import assert from "node:assert/strict";
 * import dc from "node:diagnostics_channel";
 * import { connect, serve, TelemetryChannels } from "@sprig/websocket";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const events: unknown[] = [];
 * const record = (event: unknown) => void events.push(event);
 * dc.subscribe(TelemetryChannels.connected, record);
 * await using ws = await connect(server.url, { telemetry: dc });
 * dc.unsubscribe(TelemetryChannels.connected, record);
 * assert.equal(events.length, 1);
 * assert.equal((events[0] as { role: string }).role, "client");
 * ```
 *
 * Anything with a `channel(name)` method returning `{ hasSubscribers,
 * publish(message) }` works, so a logger or a metrics library can be
 * plugged in with a few lines. Nothing is computed for a channel without
 * subscribers; with no `telemetry` option, a connection's message path
 * checks one field and goes on.
 *
 * Also here: the readable one-line form of a frame that the `trace`
 * options print.
 *
 * @module
 */

import type { ArgumentCheck } from "./arguments.ts";
import { type Frame, opcodeName } from "./protocol/frame.ts";

/** One named channel: `node:diagnostics_channel`'s `Channel` fits. */
export interface TelemetryChannel {
  /** True while someone listens; sprig builds no event otherwise. */
  readonly hasSubscribers: boolean;
  /** Delivers an event to the listeners, synchronously. */
  publish(message: unknown): void;
}

/** Where telemetry goes: the `node:diagnostics_channel` module, or anything shaped like it. */
export interface Telemetry {
  /** The channel called `name`; called once per name and connection (or client), not per event. */
  channel(name: string): TelemetryChannel;
}

/**
 * The channel names sprig publishes on. Every event has `role`
 * (`"client"` or `"server"`), `id` (the connection's id: `c<n>` for a
 * client connection, `r<n>.<k>` for the k-th connection of reconnecting
 * client `r<n>`, `s<n>` for a server connection, `n` being
 * `ConnectionRef.id`) and `timestamp` (milliseconds since the Unix epoch,
 * `Date.now()`); see {@link TelemetryEvents} for the rest.
 */
export const TelemetryChannels = {
  /** A connection opened (the handshake succeeded). */
  connected: "sprig:connected",
  /** A connection ended, with its close code and reason, or the error. */
  disconnected: "sprig:disconnected",
  /** A server refused an upgrade request (its checks, `origins`, the limits, the `upgrade` hook). */
  handshakeFailed: "sprig:handshake-failed",
  /** A reconnecting client will try again after `delayMs`. */
  reconnectScheduled: "sprig:reconnect-scheduled",
  /** A frame arrived (client connections and sprig's own server). */
  frameReceived: "sprig:frame-received",
  /** A frame was queued for the socket (client connections and sprig's own server). */
  frameSent: "sprig:frame-sent",
  /**
   * The end of a life cycle: a reconnecting client stopped for good, or a
   * server connection's handler `terminate` ran.
   */
  terminated: "sprig:terminated",
} as const;

/** What every event carries. */
export interface TelemetryEventBase {
  /** Which side of the connection publishes. */
  role: "client" | "server";
  /** The connection's id (a reconnecting client's own id on its `reconnect-scheduled` and `terminated`). */
  id: string;
  /** When it happened, in milliseconds since the Unix epoch. */
  timestamp: number;
  /** A reconnecting client's id (`r<n>`), on the events of its connections. */
  client?: string;
  /** A reconnecting client: the attempt number that made this connection (1 = at once). */
  attempt?: number;
  /** A reconnecting client: how many connections it has made, this one included. */
  connection?: number;
}

/** The event of each channel of {@link TelemetryChannels}. */
export interface TelemetryEvents {
  /** {@link TelemetryChannels.connected} */
  connected: TelemetryEventBase & {
    url: string;
    protocol: string;
    extensions: string;
  };
  /** {@link TelemetryChannels.disconnected} */
  disconnected: TelemetryEventBase & {
    code: number;
    reason: string;
    wasClean: boolean;
    error?: Error;
  };
  /** {@link TelemetryChannels.handshakeFailed}: `id` is `""` (no connection was made). */
  handshakeFailed: TelemetryEventBase & {
    /** The request URL (`http:` or `https:`). */
    url: string;
    /** The HTTP status of the refusal (400, 403, 426, 503, or the `upgrade` hook's). */
    status: number;
  };
  /** {@link TelemetryChannels.reconnectScheduled} */
  reconnectScheduled: TelemetryEventBase & {
    /** The attempt that will be made after the delay. */
    attempt: number;
    /** The delay, in milliseconds. */
    delayMs: number;
    /** Why: the failed attempt's error, if the last attempt failed. */
    error?: Error;
  };
  /** {@link TelemetryChannels.frameReceived} and {@link TelemetryChannels.frameSent} */
  frame: TelemetryEventBase & {
    /** The opcode (RFC 6455 §5.2): 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong. */
    opcode: number;
    fin: boolean;
    /** The payload's length in bytes, as on the wire (compressed if RSV1 is set). */
    length: number;
    /** The frame itself; its payload is only valid during the call. */
    frame: Frame;
  };
  /** {@link TelemetryChannels.terminated} */
  terminated: TelemetryEventBase & {
    /**
     * Client: `"closed"` (close() or the loop left), `"aborted"` (`signal`),
     * `"refused"` (a handshake refusal the policy does not retry),
     * `"close-code"` (a close code the policy lists), `"gave-up"`
     * (`maxAttempts` reached), `"decided"` (the `disconnected` callback said
     * no), `"failed"` (an error the policy does not retry). Server:
     * the handler's `TerminateReason` type (`"remote"`, `"normal"`, …).
     */
    reason: string;
    error?: Error;
  };
}

/**
 * The channels of one {@link Telemetry}, looked up once. @internal
 */
export class TelemetryPublisher {
  readonly connected: TelemetryChannel;
  readonly disconnected: TelemetryChannel;
  readonly handshakeFailed: TelemetryChannel;
  readonly reconnectScheduled: TelemetryChannel;
  readonly frameReceived: TelemetryChannel;
  readonly frameSent: TelemetryChannel;
  readonly terminated: TelemetryChannel;

  constructor(telemetry: Telemetry) {
    this.connected = telemetry.channel(TelemetryChannels.connected);
    this.disconnected = telemetry.channel(TelemetryChannels.disconnected);
    this.handshakeFailed = telemetry.channel(TelemetryChannels.handshakeFailed);
    this.reconnectScheduled = telemetry.channel(TelemetryChannels.reconnectScheduled);
    this.frameReceived = telemetry.channel(TelemetryChannels.frameReceived);
    this.frameSent = telemetry.channel(TelemetryChannels.frameSent);
    this.terminated = telemetry.channel(TelemetryChannels.terminated);
  }

  /** Publishes a frame event when anyone listens. */
  frame(
    direction: "in" | "out",
    frame: Frame,
    base: { role: "client" | "server"; id: string },
  ): void {
    const channel = direction === "in" ? this.frameReceived : this.frameSent;
    if (!channel.hasSubscribers) return;
    channel.publish({
      ...base,
      timestamp: Date.now(),
      opcode: frame.opcode,
      fin: frame.fin,
      length: frame.payload.length,
      frame,
    });
  }
}

const publishers = new WeakMap<Telemetry, TelemetryPublisher>();

/** The publisher of `telemetry`, shared by everything that uses the same object. @internal */
export function telemetryPublisher(telemetry: Telemetry): TelemetryPublisher {
  let p = publishers.get(telemetry);
  if (p === undefined) publishers.set(telemetry, p = new TelemetryPublisher(telemetry));
  return p;
}

/** Characters of a payload shown in a trace line. */
const PREVIEW = 48;

/**
 * One readable line for a frame, as the `trace` options print it:
 * direction (`>>` sent, `<<` received), the header fields, then what the
 * frame is and a short preview of its payload.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatFrame } from "./telemetry.ts";
 * const line = formatFrame("out", {
 *   fin: true,
 *   rsv: 0,
 *   opcode: 1,
 *   payload: new TextEncoder().encode("hello"),
 * });
 * assert.equal(line, '>> fin=1 rsv=0 op=1 len=5 text "hello"');
 * ```
 */
export function formatFrame(direction: "in" | "out", frame: Frame): string {
  const { opcode, payload } = frame;
  const head = `${direction === "in" ? "<<" : ">>"} fin=${
    frame.fin ? 1 : 0
  } rsv=${frame.rsv} op=${opcode} len=${payload.length}`;
  const name = opcodeName(opcode) ?? "reserved";
  // RSV1 on a data frame: the payload is compressed (RFC 7692 §6), not readable.
  if ((frame.rsv & 4) !== 0 && opcode < 8) return `${head} ${name} (compressed)`;
  if (opcode === 8) {
    if (payload.length < 2) return `${head} close`;
    const code = (payload[0] << 8) | payload[1];
    return `${head} close ${code} ${JSON.stringify(text(payload.subarray(2)))}`;
  }
  if (payload.length === 0) return `${head} ${name}`;
  if (opcode === 1) return `${head} ${name} ${JSON.stringify(text(payload))}`;
  return `${head} ${name} ${hex(payload)}`;
}

function text(bytes: Uint8Array): string {
  const s = new TextDecoder().decode(bytes.subarray(0, PREVIEW * 4));
  return s.length > PREVIEW ? `${s.slice(0, PREVIEW)}…` : s;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  const n = Math.min(bytes.length, PREVIEW / 2);
  for (let i = 0; i < n; i++) s += (i > 0 ? " " : "") + bytes[i].toString(16).padStart(2, "0");
  return bytes.length > n ? `${s} …` : s;
}

/**
 * Checks a `telemetry` option: an object with a `channel(name)` method.
 * @internal
 */
export function checkTelemetry(check: ArgumentCheck, argument: string, value: unknown): void {
  const t = value as { channel?: unknown } | undefined;
  if (t !== undefined && (typeof t !== "object" || t === null || typeof t.channel !== "function")) {
    throw check.type(
      argument,
      "an object with a channel(name) method, such as node:diagnostics_channel",
      value,
    );
  }
}
