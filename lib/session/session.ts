/**
 * The live connection's API: a {@link Session} is what `connect()` returns —
 * async iteration, awaited sends, ping, keepalive, a bounded closing
 * handshake, web streams, events. It is a thin layer over small parts:
 * {@link LiveConnection} (the engine: push reads, one write per turn,
 * backpressure, close bounds), {@link MessageQueue} (the one queue the
 * iterator, `receive()` and `readable` share) and {@link Emitter} (events).
 *
 * @module
 */

import { CloseCode, NotOpenError, TimeoutError } from "../errors.ts";
import type { Frame } from "../protocol/frame.ts";
import { Connection, type ConnectionOptions } from "../protocol/connection.ts";
import type { Transport, TransportAddress } from "../transport/transport.ts";
import { abortReason } from "../transport/abort.ts";
import { ArgumentCheck } from "../arguments.ts";
import { isValidReceivedCloseCode, MAX_CLOSE_REASON_BYTES } from "../protocol/close.ts";
import { encodeUtf8 } from "../protocol/utf8.ts";
import { Emitter } from "./events.ts";
import { LiveConnection, type LiveReceiver } from "./live.ts";
import { MessageQueue } from "./queue.ts";
import {
  formatFrame,
  type Telemetry,
  type TelemetryPublisher,
  telemetryPublisher,
} from "../telemetry.ts";
import type { MessageData, SendData, SendOptions } from "./types.ts";
import { type CloseInfo, ConnectionClosedError, ConnectionClosedOK } from "../errors.ts";
import { noop } from "../util/noop.ts";

export type { MessageData, SendData, SendOptions };

/** Keepalive: ping every `intervalMs`; no pong within `timeoutMs` ends the session. */
export interface KeepaliveOptions {
  /** Time between pings, in milliseconds. Default 20,000; 0 turns keepalive off. */
  intervalMs?: number;
  /** Time to wait for the pong, in milliseconds. Default 10,000. */
  timeoutMs?: number;
}

/** Events a session reports, for diagnostics and telemetry. */
export interface SessionEvents {
  /** The session is open (reported once, before any other event). */
  open: Session;
  /**
   * A received message. A `message` listener consumes: while at least one
   * is attached, messages go to the listeners (in the socket's turn, with no
   * queue and no backpressure) and not to iteration, `receive()` or
   * `readable`. The first listener also gets, at once and in order, the
   * messages that were waiting in the queue, so a listener attached right
   * after `await connect()` misses nothing. Remove every `message` listener
   * to go back to iterating.
   */
  message: MessageData;
  /** A ping's payload; with `autoPong` on, the pong answering it is already queued. */
  ping: Uint8Array;
  /** A pong's payload; it settles the `ping()` calls it answers. */
  pong: Uint8Array;
  /** How the session ended; reported once, when it has ended. */
  close: CloseInfo;
  /**
   * What went wrong: the peer broke the protocol, a write failed, or a
   * keepalive pong did not come. The session is ending; `close` carries the
   * same error.
   */
  error: Error;
  /** Every frame, both ways (only computed when listened to). */
  frame: { direction: "in" | "out"; frame: Frame };
}

/** Options of a session, shared by client and server. */
export interface SessionOptions {
  /** Largest message in bytes, after decompression. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Largest frame in bytes. Default: `maxMessageBytes`. */
  maxFrameBytes?: number;
  /** Most fragments in a message. Default 4,194,304. */
  maxFragments?: number;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean;
  /** Keepalive pings, or `false`. Default off on the server, `{ intervalMs: 20000, timeoutMs: 10000 }` on the client. */
  keepalive?: KeepaliveOptions | false;
  /** How long `close()` waits for the closing handshake, in milliseconds. Default 10,000. */
  closeTimeoutMs?: number;
  /**
   * A peer that takes none of what is sent to it for this long, in
   * milliseconds, is dropped: the session ends with a `TimeoutError` of
   * code `WRITE_TIMEOUT` (the peer stopped reading; sends would otherwise
   * wait forever). Default 30,000; 0 turns it off.
   */
  writeTimeoutMs?: number;
  /**
   * Messages kept for the application before the session stops reading the
   * socket (backpressure). Default 16; range ≥ 1.
   */
  maxQueuedMessages?: number;
  /**
   * Logs every frame both ways through this function, one readable line
   * each (`>> fin=1 rsv=0 op=1 len=5 text "hello"`; see `formatFrame`), for
   * debugging: `trace: console.error`. Default none.
   */
  trace?: (line: string) => void;
  /**
   * Publishes the connection's life cycle and frames on named channels
   * (see `TelemetryChannels`): pass `node:diagnostics_channel` itself, or
   * any object with `channel(name)`. Default none.
   */
  telemetry?: Telemetry;
  /**
   * The connection's id in telemetry events. Default `c<n>`, `n` counting
   * the client connections of this process.
   */
  id?: string;
  /** Extra fields for every telemetry event of this connection (a reconnecting client's). @internal */
  telemetryContext?: Record<string, unknown>;
  /**
   * Listeners attached before the first byte is read, so that nothing is
   * missed (a message may arrive together with the handshake response).
   * The same as calling {@link Session.on} for each. Default none.
   */
  on?: { [K in keyof SessionEvents]?: (value: SessionEvents[K]) => void };
}

/** What the handshake agreed on, for {@link Session}. */
export interface SessionInfo {
  /** The subprotocol, or `""`. */
  protocol: string;
  /** The negotiated extensions as a `Sec-WebSocket-Extensions` value, or `""`. */
  extensions: string;
  /** The handshake's response headers (client) or request headers (server). */
  headers: Headers;
  /** The URL (client) or request URL (server). */
  url: string;
  /** The peer's address, when known. */
  remoteAddress?: TransportAddress;
}

/** The session's defaults, in one place. */
export const SESSION_DEFAULTS = {
  closeTimeoutMs: 10_000,
  writeTimeoutMs: 30_000,
  maxQueuedMessages: 16,
  keepaliveIntervalMs: 20_000,
  keepaliveTimeoutMs: 10_000,
} as const;

type Ping = { sentAt: number; resolve: (ms: number) => void; reject: (e: Error) => void };

let nextSessionId = 1;
/** The close codes that end reading quietly: normal closure, going away, no status (RFC 6455 §7.4.1). */
const NORMAL_CLOSE_CODES: ReadonlySet<number> = new Set([1000, 1001, 1005]);

/**
 * Makes the session's iteration, `receive()` and `readable` end quietly on
 * any clean close (any code) and throw only when the close was not clean:
 * for the internal readers that report the end themselves (WebSocketStream's
 * `closed`, reconnecting()'s policy). Returns the session. @internal
 */
export let readEndsQuietly: (session: Session) => Session;
const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** A rejected promise that is never reported as unhandled: the caller may ignore it. */
function rejected<T>(error: unknown): Promise<T> {
  const p = Promise.reject(error);
  p.catch(noop);
  return p;
}

/**
 * A live WebSocket connection.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message, stop: { code: 1000, reason: "one is enough" } }),
 * });
 * await using ws = await connect(server.url);
 * await ws.send("hello");
 * const received: unknown[] = [];
 * for await (const message of ws) received.push(message); // ends on the clean close
 * assert.deepEqual(received, ["hello"]);
 * assert.deepEqual(await ws.closed, { code: 1000, reason: "one is enough", wasClean: true });
 * ```
 */
export class Session implements AsyncIterable<MessageData>, AsyncDisposable {
  readonly #live: LiveConnection;
  readonly #conn: Connection;
  readonly #info: SessionInfo;
  readonly #trace: ((line: string) => void) | undefined;
  readonly #telemetry: TelemetryPublisher | undefined;
  readonly #telemetryBase: { role: "client" | "server"; id: string } | undefined;
  /** The id telemetry events name this connection by. */
  readonly id: string;
  readonly #queue: MessageQueue;
  readonly #events = new Emitter<SessionEvents>();
  /** The Connection was made here, so its frame hook is the session's to install. */
  readonly #ownsFrameHook: boolean;
  /** Sees every message on arrival, before it is routed (the reconnecting client's positions). */
  #observer: ((data: MessageData) => void) | undefined = undefined;
  /** Resolves, never rejects, when the session has ended. */
  readonly closed: Promise<CloseInfo>;
  #resolveClosed!: (info: CloseInfo) => void;
  #closeInfo: CloseInfo | undefined;
  #pings = new Map<string, Ping>();
  #pingCounter = 0;
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  #blobs: Promise<void> | undefined;
  #readable: ReadableStream<MessageData> | undefined;
  #writable: WritableStream<SendData> | undefined;

  /** @internal Sessions come from `connect()` and `serve()`. */
  constructor(
    transport: Transport,
    connection: ConnectionOptions | Connection,
    info: SessionInfo,
    options: SessionOptions = {},
    initial?: Uint8Array,
  ) {
    this.#info = info;
    this.#trace = options.trace;
    this.id = options.id ?? `c${nextSessionId++}`;
    if (options.telemetry) {
      this.#telemetry = telemetryPublisher(options.telemetry);
      this.#telemetryBase = { ...options.telemetryContext, role: "client", id: this.id };
    }
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    // The frame hook is installed only when something observes frames (a
    // trace, telemetry, a "frame" listener): without one, frames cost nothing.
    this.#ownsFrameHook = !(connection instanceof Connection);
    const conn = this.#conn = connection instanceof Connection ? connection : new Connection({
      ...connection,
      onFrame: this.#trace || this.#telemetry
        ? (direction, frame) => this.#onFrame(direction, frame)
        : undefined,
    });
    const live = this.#live = new LiveConnection(transport, conn, {
      closeTimeoutMs: options.closeTimeoutMs ?? SESSION_DEFAULTS.closeTimeoutMs,
      writeTimeoutMs: options.writeTimeoutMs ?? SESSION_DEFAULTS.writeTimeoutMs,
      initial,
    });
    this.#queue = new MessageQueue(
      options.maxQueuedMessages ?? SESSION_DEFAULTS.maxQueuedMessages,
      () => live.pauseReads(),
      () => live.resumeReads(),
      // The reader took the last message: a close frame held for its reply may go at the turn's end.
      () => live.release(),
    );
    if (options.on) {
      for (const [type, listener] of Object.entries(options.on)) {
        if (listener) this.on(type as "open", listener as (value: Session) => void);
      }
    }
    if (options.keepalive) this.#startKeepalive(options.keepalive);
    const t = this.#telemetry;
    if (t && t.connected.hasSubscribers) {
      t.connected.publish({
        ...this.#telemetryBase,
        timestamp: Date.now(),
        url: info.url,
        protocol: info.protocol,
        extensions: info.extensions,
      });
    }
    this.#events.emit("open", this);
    live.start(this.#receiver);
  }

  /** What the engine reports, in the socket's turn. */
  readonly #receiver: LiveReceiver = {
    message: (data) => {
      if (this.#observer !== undefined) this.#observer(data);
      if (this.#events.has("message")) this.#events.emit("message", data);
      else this.#queue.push(data);
    },
    control: (type, data) => {
      this.#events.emit(type, data);
      if (type === "pong") this.#settlePings(data);
    },
    error: (error) => this.#events.emit("error", error),
    drain: noop,
    end: (info) => this.#end(info),
    // While the application reads through the iterator, receive() or
    // readable and has messages still to take, a close frame owed to the
    // peer (the reply to its close, or a failure's) waits until it took
    // them, and until the end of that turn, so that its replies to them go
    // first (RFC 6455 §7.1.7: a failure concerns the bad frame, not what came
    // before), within closeTimeoutMs.
    holding: () => this.#reading && this.#queue.size > 0,
  };

  /** The application reads through the iterator, receive() or readable. */
  #reading = false;
  /** The application began the close (see {@link Session.close}). */
  #endedByApplication = false;
  /** Which ends reading reports as errors: `abnormal` (public) or only `unclean` (internal readers). */
  #closeErrors: "abnormal" | "unclean" = "abnormal";

  static {
    readEndsQuietly = (session) => {
      session.#closeErrors = "unclean";
      return session;
    };
  }

  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    return this.#info.protocol;
  }

  /** The negotiated extensions, as a `Sec-WebSocket-Extensions` value, or `""`. */
  get extensions(): string {
    return this.#info.extensions;
  }

  /** The handshake's headers: the server's response on a client, the client's request on a server. */
  get headers(): Headers {
    return this.#info.headers;
  }

  /** The URL connected to (client) or requested (server). */
  get url(): string {
    return this.#info.url;
  }

  /** The peer's address, when known. */
  get remoteAddress(): TransportAddress | undefined {
    return this.#info.remoteAddress;
  }

  /** `"open"`, `"closing"` or `"closed"`. */
  get readyState(): "open" | "closing" | "closed" {
    if (this.#closeInfo) return "closed";
    const s = this.#conn.state;
    return s === "open" || s === "connecting" ? "open" : "closing";
  }

  /** Bytes given to the socket but not yet sent by the operating system, when the runtime tells. */
  get bufferedAmount(): number {
    return this.#live.bufferedAmount;
  }

  /**
   * Calls `observer` with every message as it arrives, before it goes to
   * listeners or the queue, without consuming it; one observer at a time.
   * Set it in the `open` event to see every message. @internal
   */
  observeMessages(observer: ((data: MessageData) => void) | undefined): void {
    this.#observer = observer;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof SessionEvents>(
    type: K,
    listener: (value: SessionEvents[K]) => void,
  ): () => void {
    const first = type === "message" && !this.#events.has("message");
    if (type === "frame" && this.#ownsFrameHook && !this.#trace && !this.#telemetry) {
      this.#conn.setFrameHook((direction, frame) => this.#onFrame(direction, frame));
    }
    const off = this.#events.on(type, listener);
    // The first consumer takes over what waited in the queue, in order.
    if (first) {
      for (let m = this.#queue.shift(); m !== undefined; m = this.#queue.shift()) {
        this.#events.emit("message", m);
        if (!this.#events.has("message")) break;
      }
    }
    return off;
  }

  #onFrame(direction: "in" | "out", frame: Frame): void {
    if (this.#trace) this.#trace(formatFrame(direction, frame));
    if (this.#telemetry) this.#telemetry.frame(direction, frame, this.#telemetryBase!);
    if (this.#events.has("frame")) this.#events.emit("frame", { direction, frame });
  }

  // ------------------------------------------------------------------ sending

  /**
   * Sends a message: a string as text, bytes as binary. Sends made in the
   * same turn of the event loop, its microtasks included (a `for await`
   * loop answering the messages of one read), go out in one write at the
   * end of the turn. Resolves at once while the socket keeps up (the
   * message is queued, in order, and nothing accepted is dropped unless
   * the connection fails, which `closed` and the `error` event report);
   * once output waits for the peer to read, or 256 KiB were queued in one
   * turn, it resolves when the socket has taken what waited, so awaiting
   * each send is backpressure. A send that fails rejects, but is never
   * reported as an unhandled rejection when nobody awaits it.
   *
   * `options.compress` false sends this message uncompressed even when
   * permessage-deflate was negotiated (see {@link SendOptions}); omitted,
   * the message is compressed as negotiated (from the threshold on).
   *
   * @throws {NotOpenError} (as a rejection) once closing has begun
   * @throws {InvalidArgumentError} (a `TypeError`, as a rejection) for data that is not a
   *   string, a BufferSource or a Blob
   */
  send(data: SendData, options?: SendOptions): Promise<void> {
    if (options === undefined) return this.#send(data, false, undefined);
    const compress = options?.compress;
    if (compress !== undefined && typeof compress !== "boolean") {
      return rejected(SEND.type("options.compress", "true or false", compress));
    }
    return this.#send(data, false, compress);
  }

  /**
   * {@link send}, resolving only once the socket took the bytes (the turn's
   * write, or the drain after it): what the WHATWG class's `bufferedAmount`
   * counts down with. @internal
   */
  sendWritten(data: SendData): Promise<void> {
    return this.#send(data, true, undefined);
  }

  #send(data: SendData, written: boolean, compress: boolean | undefined): Promise<void> {
    // A Blob must be read first; later sends wait for it so order is kept.
    if (this.#blobs !== undefined || (typeof Blob !== "undefined" && data instanceof Blob)) {
      const turn = (this.#blobs ?? Promise.resolve()).then(async () => {
        const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data;
        return this.#sendNow(bytes as string | ArrayBuffer | ArrayBufferView, written, compress);
      });
      const tail = (this.#blobs = turn.catch(noop));
      tail.then(() => {
        if (this.#blobs === tail) this.#blobs = undefined;
      });
      turn.catch(noop);
      return turn;
    }
    return this.#sendNow(data as string | ArrayBuffer | ArrayBufferView, written, compress);
  }

  #sendNow(
    data: string | ArrayBuffer | ArrayBufferView,
    written: boolean,
    compress: boolean | undefined,
  ): Promise<void> {
    try {
      if (typeof data === "string") this.#conn.sendText(data, compress);
      else this.#conn.sendBinary(toBytes(data), compress);
    } catch (error) {
      return rejected(error);
    }
    return written ? this.#live.written() : this.#live.accepted();
  }

  /**
   * Sends a frame encoded once for many connections (a server's broadcast);
   * see {@link Connection.sendEncodedFrame}. Resolves like {@link send}.
   */
  sendEncodedFrame(frame: Uint8Array): Promise<void> {
    try {
      this.#conn.sendEncodedFrame(frame);
    } catch (error) {
      return rejected(error);
    }
    return this.#live.accepted();
  }

  /**
   * Sends one message as a stream of fragments (RFC 6455 §5.4), for data
   * produced piece by piece. Extensions do not compress streamed messages.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { connect, serve } from "../../mod.ts";
   * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
   *   in: (message) => ({ push: message }), // echo: the fragments arrive as one message
   * });
   * await using ws = await connect(server.url);
   * await ws.sendStream((async function* () {
   *   yield "part 1, ";
   *   yield "part 2";
   * })());
   * assert.equal(await ws.receive({ timeoutMs: 5000 }), "part 1, part 2");
   * ```
   */
  async sendStream(
    parts: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
    type?: "text" | "binary",
  ): Promise<void> {
    let previous: string | Uint8Array | undefined;
    let kind = type;
    for await (const part of parts as AsyncIterable<string | Uint8Array>) {
      kind ??= typeof part === "string" ? "text" : "binary";
      if (previous !== undefined) {
        this.#conn.sendFragment(kind, previous, false);
        await this.#live.accepted();
      }
      previous = part;
    }
    this.#conn.sendFragment(kind ?? "binary", previous ?? new Uint8Array(0), true);
    await this.#live.accepted();
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds when
   * its pong arrives. Rejects if the session closes first.
   *
   * @param data at most 125 bytes; default a 6-byte counter
   * @throws {NotOpenError} once closing has begun
   * @throws {ArgumentRangeError} (a `RangeError`) for a payload over 125 bytes (RFC 6455 §5.5)
   * @throws {InvalidArgumentError} (a `TypeError`) for a payload that is not a `Uint8Array`
   */
  ping(data?: Uint8Array): Promise<number> {
    if (data !== undefined) {
      if (!(data instanceof Uint8Array)) throw PING.type("data", "a Uint8Array", data);
      // RFC 6455 §5.5: a control frame's payload is at most 125 bytes.
      if (data.length > 125) throw PING.range("data", "at most 125 bytes", data.length);
    }
    const payload = data ?? new Uint8Array([0x73, 0x70, ...u32(++this.#pingCounter)]);
    const key = keyOf(payload);
    const promise = new Promise<number>((resolve, reject) => {
      this.#pings.set(key, { sentAt: performance.now(), resolve, reject });
    });
    try {
      this.#conn.ping(payload);
    } catch (error) {
      this.#pings.delete(key);
      promise.catch(noop);
      throw error;
    }
    this.#live.scheduleFlush();
    return promise;
  }

  /** Sends a pong: a heartbeat, or the answer to a ping when `autoPong` is off. */
  async pong(data?: Uint8Array): Promise<void> {
    this.#conn.pong(data);
    await this.#live.accepted();
  }

  // ------------------------------------------------------------------ closing

  /**
   * Closes the connection: sends a close frame (after every message sent
   * before it), waits for the peer's within `closeTimeoutMs`, and resolves
   * with how it ended. Messages that already arrived stay readable.
   *
   * @param code 1000 (default); any code that may be sent: 1000–1003,
   *   1007–1014 (for instance 1008 policy, 1011 error, 1013 try again later)
   *   and 3000–4999 (registered and private use); `null` sends a close frame
   *   with no status code (the peer sees 1005, RFC 6455 §7.1.5), as a
   *   browser's `close()` and ws's `close()` without arguments do
   * @param reason at most 123 bytes of UTF-8; must be empty when `code` is `null`
   * @throws {ArgumentRangeError} (a `RangeError`) for a code that may not be
   *   sent (1005, 1006, 1015, …) or a reason over 123 bytes of UTF-8
   * @throws {InvalidArgumentError} (a `TypeError`) for a code that is not a
   *   number or `null`, a reason that is not a string, or a reason without a code
   */
  async close(code: number | null = CloseCode.Normal, reason = ""): Promise<CloseInfo> {
    if (code === null) {
      if (reason !== "") throw CLOSE.problem("reason", "needs a close code (code is null)");
    } else checkClose(code, reason);
    if (this.#closeInfo) return this.#closeInfo;
    this.#closingByApplication();
    this.#live.close(code ?? undefined, reason);
    return await this.closed;
  }

  /** Ends the session at once: closes the transport without a closing handshake. */
  terminate(): void {
    if (!this.#closeInfo) this.#closingByApplication();
    this.#live.terminate();
  }

  /**
   * The application ends the session (`close()`, `terminate()`, a stream's
   * close or cancel, the signal): reading then ends quietly, whatever the
   * code. A close the peer began first is still the peer's.
   */
  #closingByApplication(): void {
    if (this.#conn.state === "open" || this.#conn.state === "connecting") {
      this.#endedByApplication = true;
    }
  }

  /** `await using` closes the connection normally. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closeInfo) await this.close().catch(() => this.terminate());
  }

  #end(info: CloseInfo): void {
    if (this.#closeInfo) return;
    this.#closeInfo = info;
    clearInterval(this.#keepaliveTimer);
    if (this.#pings.size > 0) {
      const pingError = new NotOpenError("the connection closed before the pong arrived");
      for (const p of this.#pings.values()) p.reject(pingError);
      this.#pings.clear();
    }
    this.#queue.wake();
    const t = this.#telemetry;
    if (t && t.disconnected.hasSubscribers) {
      t.disconnected.publish({
        ...this.#telemetryBase,
        timestamp: Date.now(),
        code: info.code,
        reason: info.reason,
        wasClean: info.wasClean,
        ...(info.error ? { error: info.error } : {}),
      });
    }
    this.#events.emit("close", info);
    this.#resolveClosed(info);
  }

  // ------------------------------------------------------------------ reading

  /** A pong answers its ping and every earlier one (RFC 6455 §5.5.3 lets peers skip pongs). */
  #settlePings(payload: Uint8Array): void {
    if (this.#pings.size === 0) return;
    const key = keyOf(payload);
    if (!this.#pings.has(key)) return;
    const now = performance.now();
    for (const [k, p] of this.#pings) {
      this.#pings.delete(k);
      p.resolve(now - p.sentAt);
      if (k === key) break;
    }
  }

  /** The next message, undefined at a normal end; throws at an abnormal one. Undefined + `wait` when none yet. */
  #take(): MessageData | undefined {
    const m = this.#queue.shift();
    if (m !== undefined) return m;
    const info = this.#closeInfo;
    if (info && this.#abnormal(info)) throw new ConnectionClosedError(info);
    return undefined;
  }

  /**
   * Whether reading ends with a {@link ConnectionClosedError}: always, but
   * after the application's own close or a clean close with 1000, 1001 or
   * no code (1005), as Python websockets' `ConnectionClosedOK`. Internal
   * readers that report the end their own way (WebSocketStream,
   * reconnecting()) read with {@link readEndsQuietly}: then only an
   * unclean end throws.
   */
  #abnormal(info: CloseInfo): boolean {
    if (!info.wasClean) return this.#closeErrors === "unclean" || !this.#endedByApplication;
    if (this.#closeErrors === "unclean" || this.#endedByApplication) return false;
    return !NORMAL_CLOSE_CODES.has(info.code);
  }

  /** Takes the next message, or undefined at the end; throws if the end was not clean. */
  async #next(): Promise<MessageData | undefined> {
    while (true) {
      const m = this.#take();
      if (m !== undefined || this.#closeInfo) return m;
      await this.#queue.wait();
    }
  }

  /**
   * Waits for the next message.
   *
   * @throws {TimeoutError} after `timeoutMs` (the message, if it comes later, is not lost)
   * @throws {ConnectionClosedOK} when the session ended normally: the
   *   application's own close, or a clean close with 1000, 1001 or no code
   * @throws {ConnectionClosedError} when it ended otherwise (another close
   *   code, a failure, a dropped connection: see the class)
   */
  receive(options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<MessageData> {
    this.#reading = true;
    // A message already queued costs one settled promise, as with the iterator.
    if (
      options === undefined ||
      (typeof options === "object" && options !== null && options.timeoutMs === undefined &&
        options.signal === undefined)
    ) {
      const m = this.#queue.shift();
      if (m !== undefined) return Promise.resolve(m);
    }
    return this.#receive(options ?? {});
  }

  async #receive(options: { timeoutMs?: number; signal?: AbortSignal }): Promise<MessageData> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined || signal !== undefined) {
      // Wait for a message (or the end) without taking it, so that giving up
      // leaves it queued for the next reader.
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onAbort: (() => void) | undefined;
      const gaveUp = new Promise<never>((_, reject) => {
        if (timeoutMs !== undefined) {
          timer = setTimeout(
            () =>
              reject(
                new TimeoutError("RECEIVE_TIMEOUT", `no message within ${timeoutMs} ms`, timeoutMs),
              ),
            timeoutMs,
          );
        }
        if (signal) {
          onAbort = () => reject(abortReason(signal));
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        }
      });
      let wake: (() => void) | undefined;
      try {
        while (this.#queue.size === 0 && !this.#closeInfo) {
          await Promise.race([
            new Promise<void>((r) => this.#queue.addWaiter(wake = r)),
            gaveUp,
          ]);
        }
      } finally {
        // A reader that gave up leaves no waiter behind (receive() may be polled for hours).
        if (wake) this.#queue.removeWaiter(wake);
        clearTimeout(timer);
        if (onAbort) signal!.removeEventListener("abort", onAbort);
        gaveUp.catch(noop);
      }
    }
    const m = await this.#next();
    // #next() threw at an abnormal end: this one is normal.
    if (m === undefined) throw new ConnectionClosedOK(this.#closeInfo!);
    return m;
  }

  /**
   * Iterates the messages. Ends after the application's own close or a
   * clean close with 1000, 1001 or no code (1005); throws
   * {@link ConnectionClosedError} otherwise (another code such as 1008,
   * 1009, 1011 or 4000, a failure, or a dropped connection, 1006), once
   * every message that arrived before was taken.
   */
  [Symbol.asyncIterator](): AsyncIterator<MessageData> {
    // A plain iterator rather than an async generator: a message already
    // queued costs one settled promise, not a generator's machinery.
    this.#reading = true;
    const next = (): Promise<IteratorResult<MessageData>> => {
      try {
        const m = this.#take();
        if (m !== undefined) return Promise.resolve({ done: false, value: m });
        if (this.#closeInfo) return Promise.resolve(DONE);
      } catch (error) {
        return Promise.reject(error);
      }
      return this.#queue.wait().then(next);
    };
    return { next, return: () => Promise.resolve(DONE) };
  }

  /**
   * The messages as a web stream (pull-based: an unread stream stops socket
   * reads). It closes where iteration ends and errors with
   * {@link ConnectionClosedError} where iteration throws.
   */
  get readable(): ReadableStream<MessageData> {
    this.#reading = true;
    return this.#readable ??= new ReadableStream<MessageData>({
      pull: (controller) => {
        // A message already queued is handed over at once, without a promise of ours.
        const queued = this.#queue.shift();
        if (queued !== undefined) {
          controller.enqueue(queued);
          return;
        }
        return this.#next().then((m) => {
          if (m === undefined) controller.close();
          else controller.enqueue(m);
        }, (error) => controller.error(error));
      },
      cancel: async () => {
        await this.close().catch(noop);
      },
    }, { highWaterMark: 0 });
  }

  /** A web stream that sends what is written to it; closing it closes the connection. */
  get writable(): WritableStream<SendData> {
    return this.#writable ??= new WritableStream<SendData>({
      write: (chunk) => this.send(chunk),
      close: async () => {
        await this.close();
      },
      abort: async () => {
        await this.close(CloseCode.GoingAway).catch(noop);
      },
    });
  }

  // ---------------------------------------------------------------- keepalive

  #startKeepalive(options: KeepaliveOptions): void {
    const interval = options.intervalMs ?? SESSION_DEFAULTS.keepaliveIntervalMs;
    const timeout = options.timeoutMs ?? SESSION_DEFAULTS.keepaliveTimeoutMs;
    if (!(interval > 0)) return;
    this.#keepaliveTimer = setInterval(() => {
      if (this.#conn.state !== "open") return;
      const timer = setTimeout(() => {
        // While the application is not reading, the pong may sit unread in
        // the socket: that is backpressure, not a dead peer.
        if (this.#closeInfo || this.#live.paused) return;
        this.#live.terminate(
          new TimeoutError("KEEPALIVE_TIMEOUT", `no pong within ${timeout} ms`, timeout),
        );
      }, timeout);
      let pong: Promise<number>;
      try {
        pong = this.ping();
      } catch {
        clearTimeout(timer);
        return;
      }
      pong.then(() => clearTimeout(timer), () => clearTimeout(timer));
    }, interval);
  }
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function keyOf(payload: Uint8Array): string {
  let s = "";
  for (const b of payload) s += String.fromCharCode(b);
  return s;
}

/** Bytes of any BufferSource, without copying. */
function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw SEND.type("data", "a string, an ArrayBuffer, a typed array, a DataView or a Blob", data);
}

const SEND = new ArgumentCheck("send()");
const PING = new ArgumentCheck("ping()");
const CLOSE = new ArgumentCheck("close()");

/**
 * The checks of `close(code, reason)`, with errors naming the argument. @internal
 *
 * @throws {ArgumentRangeError} for a code that may not be sent (RFC 6455 §7.4.1) or a reason over 123 bytes
 * @throws {InvalidArgumentError} for a code that is not a number or a reason that is not a string
 */
export function checkClose(code: unknown, reason: unknown): void {
  if (typeof code !== "number") throw CLOSE.type("code", "a number", code);
  if (!Number.isInteger(code) || !isValidReceivedCloseCode(code)) {
    throw CLOSE.range("code", "1000–1003, 1007–1014 or 3000–4999", code);
  }
  if (typeof reason !== "string") throw CLOSE.type("reason", "a string", reason);
  // RFC 6455 §5.5: the close payload (2-byte code and reason) is at most 125 bytes.
  if (
    reason.length > MAX_CLOSE_REASON_BYTES / 3 && encodeUtf8(reason).length > MAX_CLOSE_REASON_BYTES
  ) {
    throw CLOSE.range("reason", "at most 123 bytes of UTF-8", reason);
  }
}
