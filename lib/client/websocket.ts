/**
 * A `WebSocket` class with the browser's API (the WHATWG WebSockets
 * Standard), over sprig's client: code written for the browser, and
 * libraries that take a `WebSocket` constructor (GraphQL, realtime and RPC
 * clients), run unchanged on Deno, Bun and Node, with sprig's extras (custom
 * headers, permessage-deflate, TLS settings, keepalive, limits) as a
 * constructor option.
 *
 * @module
 */

import { CloseCode } from "../errors.ts";
import type { MessageData, SendData, Session } from "../session/session.ts";
import type { CloseInfo } from "../errors.ts";
import { connect } from "./connect.ts";
import type { ConnectOptions } from "./options.ts";
import {
  bufferSourceProblem,
  checkSubprotocols,
  clampUnsignedShort,
  getURLRecord,
  toUnsignedShort,
  toUSVString,
  utf8Length,
  validateCloseCodeAndReason,
  webIDLInterface,
} from "./whatwg.ts";
import { noop } from "../util/noop.ts";

/** How binary messages are delivered: the standard's two types, plus `Uint8Array` as Bun offers. */
export type BinaryType = "blob" | "arraybuffer" | "uint8array";

/**
 * sprig's options for the {@link WebSocket} class: every option of
 * {@link connect} (headers, compression, TLS, keepalive, limits, timeouts,
 * transport) except `signal` — `close()` cancels a connection attempt — and
 * with `protocols` also accepted as one string.
 */
export interface WebSocketOptions extends Omit<ConnectOptions, "protocols" | "signal"> {
  /** Subprotocols to offer, most preferred first (the constructor's second argument wins). */
  protocols?: string | string[];
}

/** What a {@link CloseEvent} is made with (the standard's `CloseEventInit`). */
export interface CloseEventInit {
  /** Whether the event bubbles. Default false. */
  bubbles?: boolean;
  /** Whether the event can be cancelled. Default false. */
  cancelable?: boolean;
  /** The close code. Default 0. */
  code?: number;
  /** The close reason. Default `""`. */
  reason?: string;
  /** Whether the closing handshake completed. Default false. */
  wasClean?: boolean;
}

/**
 * The `close` event: the standard's `CloseEvent`, defined here because Node
 * 20 has none. As WebIDL makes it: `code`, `reason` and `wasClean` are
 * read-only getters on the prototype, `init`'s members are converted as
 * WebIDL's `unsigned short`, `USVString` and `boolean`, and
 * `Object.prototype.toString` names it `CloseEvent`.
 */
export class CloseEvent extends Event {
  readonly #code: number;
  readonly #reason: string;
  readonly #wasClean: boolean;
  /**
   * `init` gives `code` (default 0), `reason` (default `""`) and `wasClean` (default false).
   *
   * @throws {TypeError} without `type`, as `Event`'s constructor
   */
  constructor(type: string, init: CloseEventInit = {}) {
    if (arguments.length === 0) {
      throw new TypeError("CloseEvent: 1 argument required, but only 0 present");
    }
    super(type, init);
    this.#code = toUnsignedShort(init?.code ?? 0);
    this.#reason = init?.reason === undefined ? "" : toUSVString(init.reason);
    this.#wasClean = Boolean(init?.wasClean);
  }
  /** The close code: the peer's, 1005 when its close frame had none, 1006 when there was no closing handshake. */
  get code(): number {
    return this.#code;
  }
  /** The close reason (UTF-8 decoded), or `""`. */
  get reason(): string {
    return this.#reason;
  }
  /** True when both close frames were exchanged (RFC 6455 §7.1.1–7.1.4). */
  get wasClean(): boolean {
    return this.#wasClean;
  }
}

/**
 * The `error` event. The standard's is a plain `Event`; this one also
 * carries what went wrong: `error` is a {@link SprigError} (a refused
 * handshake, a protocol violation, a lost connection) or the runtime's error.
 * `error` and `message` are read-only getters on the prototype.
 */
export class WebSocketErrorEvent extends Event {
  readonly #error: unknown;
  /** `error` is what went wrong. */
  constructor(type: string, error?: unknown) {
    super(type);
    this.#error = error;
  }
  /** What went wrong. */
  get error(): unknown {
    return this.#error;
  }
  /** The error's message, or `""`. */
  get message(): string {
    return this.#error instanceof Error ? this.#error.message : "";
  }
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/** The events a {@link WebSocket} dispatches, by type. */
export interface WebSocketEventMap {
  /** The connection opened. */
  open: Event;
  /** A message arrived: `data` is a string, or binary as `binaryType` says. */
  message: MessageEvent;
  /** The connection failed, or closed without a clean closing handshake. */
  error: WebSocketErrorEvent;
  /** The connection closed. */
  close: CloseEvent;
}

/**
 * An `on…` event handler attribute: a function called with the event
 * (`this` is the socket), or `null`.
 */
export type EventHandler<E extends Event = Event> = ((this: WebSocket, event: E) => unknown) | null;
type HandlerSlot = { fn: EventHandler<never>; listener: EventListener };
type HandlerType = "open" | "message" | "error" | "close";

/**
 * A WebSocket client with the WHATWG `WebSocket` interface.
 *
 * What the standard specifies, as browsers do it: the constructor validates
 * the URL (`ws:`, `wss:`, and `http:`/`https:` mapped to them; no fragment)
 * and the subprotocols (tokens, no duplicates), throwing a `SyntaxError`
 * `DOMException`, then connects in the background; `readyState` goes
 * `CONNECTING` (0) → `OPEN` (1) → `CLOSING` (2) → `CLOSED` (3); events come
 * in the order `open`, `message`…, then `error` (only when the connection
 * did not close cleanly, or never opened) and `close`; `send()` before
 * `open` throws `InvalidStateError`, and after closing began only grows
 * `bufferedAmount`; `close(code, reason)` accepts 1000 or 3000–4999
 * (`InvalidAccessError` otherwise) and a reason of at most 123 bytes of
 * UTF-8 (`SyntaxError` otherwise); messages that arrive after `close()` was
 * called are not delivered. `onopen`, `onmessage`, `onerror` and `onclose`
 * are listeners in the order they were first set, among `addEventListener`'s.
 *
 * Where sprig differs or adds: `binaryType` also accepts `"uint8array"`
 * (as Bun does); the `error` event is a {@link
 * WebSocketErrorEvent} carrying the error; the third argument (or the second,
 * as in Bun) takes sprig's {@link WebSocketOptions}. permessage-deflate is
 * offered by default, as browsers do. For iteration, awaited sends, ping and
 * backpressure, use {@link connect} and its {@link Session}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve, WebSocket } from "@sprig/websocket";
 * // A server that speaks chat.v1 and echoes, after a greeting with the token.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0, protocols: ["chat.v1"] }, {
 *   init: (ctx) => ({ push: `welcome, ${ctx.headers.get("authorization")}` }),
 *   in: (message) => ({ push: message }),
 * });
 * const ws = new WebSocket(new URL("/chat", server.url), ["chat.v1"], {
 *   headers: { authorization: "Bearer token" }, // what browsers cannot do
 * });
 * ws.binaryType = "arraybuffer";
 * const log: unknown[] = [];
 * const closed = new Promise<number>((resolve) => {
 *   ws.onclose = (event) => resolve(event.code);
 * });
 * ws.onopen = () => ws.send("hello");
 * ws.onmessage = (event) => {
 *   log.push(event.data);
 *   if (log.length === 2) ws.close(1000, "done");
 * };
 * assert.equal(await closed, 1000);
 * assert.deepEqual(log, ["welcome, Bearer token", "hello"]);
 * assert.equal(ws.protocol, "chat.v1");
 * ```
 */
export class WebSocket extends EventTarget {
  /** The connection is being opened. */
  static readonly CONNECTING: 0 = CONNECTING;
  /** The connection is open and messages can be sent. */
  static readonly OPEN: 1 = OPEN;
  /** The closing handshake has started. */
  static readonly CLOSING: 2 = CLOSING;
  /** The connection is closed (or could not be opened). */
  static readonly CLOSED: 3 = CLOSED;
  /** The connection is being opened. */
  declare readonly CONNECTING: 0;
  /** The connection is open and messages can be sent. */
  declare readonly OPEN: 1;
  /** The closing handshake has started. */
  declare readonly CLOSING: 2;
  /** The connection is closed (or could not be opened). */
  declare readonly CLOSED: 3;

  readonly #url: string;
  readonly #origin: string;
  #state: number = CONNECTING;
  #protocol = "";
  #extensions = "";
  #binaryType: BinaryType = "blob";
  /** Events being dispatched: the peer's close is not visible as CLOSING until they are done. */
  #dispatching = 0;
  #session: Session | undefined;
  #failure: unknown;
  readonly #abort = new AbortController();
  readonly #handlers = new Map<HandlerType, HandlerSlot>();
  /** Bytes passed to send() that the socket has not taken yet (and all after closing began). */
  #buffered = 0;
  /** The send promise of the current turn (sends in one turn share it) and its bytes. */
  #turn: Promise<void> | undefined;
  #turnBytes: { n: number } = { n: 0 };

  /**
   * Validates the arguments and starts connecting.
   *
   * @param url a `ws:`, `wss:`, `http:` or `https:` URL without a fragment;
   *   a relative URL is resolved against the global base URL
   *   (`globalThis.location.href`, as Deno's `--location` sets it) when
   *   there is one
   * @param protocols subprotocols to offer (one or several tokens, none
   *   repeated; the standard compares them as written, so `"echo"` and
   *   `"eCho"` are two), or sprig's options as Bun accepts them
   * @param options sprig's options (headers, compression, TLS, keepalive, …)
   * @throws {TypeError} without arguments (WebIDL)
   * @throws {DOMException} `SyntaxError` for a URL that does not parse, has
   *   another scheme or a fragment, or for an invalid or repeated subprotocol
   *   (WHATWG WebSockets, the constructor steps)
   */
  constructor(
    url: string | URL,
    protocols?: string | string[] | WebSocketOptions,
    options: WebSocketOptions = {},
  ) {
    super();
    if (arguments.length === 0) {
      throw new TypeError("WebSocket: 1 argument required, but only 0 present");
    }
    const href = toUSVString(url);
    let list: string[] | undefined;
    if (protocols === null || (protocols !== undefined && typeof protocols !== "object")) {
      list = [toUSVString(protocols)];
    } else if (protocols !== undefined) {
      if (Symbol.iterator in protocols) {
        list = [...(protocols as Iterable<unknown>)].map(toUSVString);
      } else options = protocols as WebSocketOptions; // sprig's options as the second argument, as Bun
    }
    const parsed = getURLRecord(href);
    if (list === undefined) {
      const offered = options.protocols ?? [];
      list = typeof offered === "string" ? [offered] : [...offered].map(toUSVString);
    }
    checkSubprotocols(list);
    this.#url = parsed.href;
    this.#origin = parsed.origin;
    this.#open({ ...options, protocols: list, signal: this.#abort.signal });
  }

  async #open(options: ConnectOptions): Promise<void> {
    let session: Session;
    try {
      session = await connect(this.#url, options);
    } catch (error) {
      this.#failure ??= error;
      this.#state = CLOSED;
      this.dispatchEvent(new WebSocketErrorEvent("error", this.#failure));
      this.dispatchEvent(new CloseEvent("close", { code: CloseCode.Abnormal }));
      return;
    }
    if (this.#state !== CONNECTING) {
      // close() came after the handshake succeeded but before we saw it.
      session.terminate();
      this.#state = CLOSED;
      this.dispatchEvent(new WebSocketErrorEvent("error", this.#failure));
      this.dispatchEvent(new CloseEvent("close", { code: CloseCode.Abnormal }));
      return;
    }
    this.#session = session;
    this.#state = OPEN;
    this.#protocol = session.protocol;
    this.#extensions = session.extensions;
    session.on("error", (error) => (this.#failure ??= error));
    session.on("close", (info) => this.#closed(info));
    this.#dispatching++;
    try {
      this.dispatchEvent(new Event("open"));
    } finally {
      this.#dispatching--;
    }
    // Attached after `open` is dispatched: messages that came meanwhile
    // waited in the session's queue and are delivered now, in order.
    session.on("message", (data) => this.#message(data));
  }

  #message(data: MessageData): void {
    if (this.#state !== OPEN) return;
    let value: unknown = data;
    if (typeof data !== "string") {
      const type = this.#binaryType;
      if (type === "blob") value = new Blob([data as Uint8Array<ArrayBuffer>]);
      else if (type === "arraybuffer") {
        value = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength
          ? data.buffer
          : data.slice().buffer;
      }
    }
    this.#dispatching++;
    try {
      this.dispatchEvent(new MessageEvent("message", { data: value, origin: this.#origin }));
    } finally {
      this.#dispatching--;
    }
  }

  #closed(info: CloseInfo): void {
    this.#state = CLOSED;
    if (!info.wasClean) {
      this.dispatchEvent(new WebSocketErrorEvent("error", info.error ?? this.#failure));
    }
    this.dispatchEvent(
      new CloseEvent("close", { code: info.code, reason: info.reason, wasClean: info.wasClean }),
    );
  }

  /** The URL, as parsed (with `http:`/`https:` turned into `ws:`/`wss:`). */
  get url(): string {
    return this.#url;
  }

  /** `CONNECTING` (0), `OPEN` (1), `CLOSING` (2) or `CLOSED` (3). */
  get readyState(): number {
    // The session parses a whole read at once, so it may already hold the
    // peer's close while the messages before it are being dispatched; like a
    // browser, show CLOSING only once they are.
    if (this.#state === OPEN && this.#dispatching === 0 && this.#session!.readyState !== "open") {
      return CLOSING;
    }
    return this.#state;
  }

  /** The subprotocol the server chose; `""` before `open` or when none. */
  get protocol(): string {
    return this.#protocol;
  }

  /** The negotiated extensions (`Sec-WebSocket-Extensions`); `""` before `open` or when none. */
  get extensions(): string {
    return this.#extensions;
  }

  /**
   * Bytes of application data passed to `send()` that the socket has not
   * taken yet; data sent once closing began is counted and never sent.
   */
  get bufferedAmount(): number {
    return this.#buffered;
  }

  /**
   * How binary messages are delivered: `"blob"` (default, a `Blob`),
   * `"arraybuffer"` (an `ArrayBuffer`) or `"uint8array"` (a `Uint8Array`).
   * Other values are ignored, as the standard says.
   */
  get binaryType(): BinaryType {
    return this.#binaryType;
  }
  set binaryType(value: BinaryType) {
    if (value === "blob" || value === "arraybuffer" || value === "uint8array") {
      this.#binaryType = value;
    }
  }

  /**
   * Sends a message: a string as text; an `ArrayBuffer`, a view or a `Blob`
   * as binary; anything else as its string. Messages leave in call order.
   *
   * @throws {TypeError} without an argument, or for a `SharedArrayBuffer`,
   *   a resizable `ArrayBuffer` or a view of either (WebIDL's `BufferSource`
   *   is neither [AllowShared] nor [AllowResizable])
   * @throws {DOMException} `InvalidStateError` while `CONNECTING`
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (arguments.length === 0) {
      throw new TypeError("WebSocket.send: 1 argument required, but only 0 present");
    }
    // WebIDL converts the argument before the method runs: TypeError first.
    if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer || isSharedArrayBuffer(data)) {
      const problem = bufferSourceProblem(data);
      if (problem) throw new TypeError(`WebSocket.send: ${problem} cannot be sent`);
    }
    if (this.#state === CONNECTING) {
      throw new DOMException("the WebSocket is still connecting", "InvalidStateError");
    }
    let message: SendData;
    let size: number;
    if (ArrayBuffer.isView(data)) {
      message = data;
      size = data.byteLength;
    } else if (data instanceof ArrayBuffer) {
      message = new Uint8Array(data);
      size = data.byteLength;
    } else if (typeof Blob !== "undefined" && data instanceof Blob) {
      message = data;
      size = data.size;
    } else {
      message = toUSVString(data);
      size = utf8Length(message);
    }
    this.#buffered += size;
    if (this.readyState !== OPEN) return;
    // Settles once the socket took the turn's bytes: bufferedAmount counts them until then.
    const sent = this.#session!.sendWritten(message);
    if (sent !== this.#turn) {
      // Sends made in one turn share one promise: one callback per turn.
      this.#turn = sent;
      const bytes = (this.#turnBytes = { n: 0 });
      sent.then(() => (this.#buffered -= bytes.n), noop);
    }
    this.#turnBytes.n += size;
  }

  /**
   * Starts the closing handshake; while connecting, abandons the attempt
   * (the events are then `error` and `close` with 1006). Does nothing once
   * closing has begun.
   *
   * @param code 1000 or 3000–4999; without it the close frame has no status
   *   code (the peer sees 1005), or 1000 when a reason is given
   * @param reason at most 123 bytes of UTF-8; default `""`
   * @throws {DOMException} `InvalidAccessError` for another code, `SyntaxError` for a longer reason
   */
  close(code?: number, reason?: string): void {
    if (code !== undefined) code = clampUnsignedShort(code);
    if (reason !== undefined) reason = toUSVString(reason);
    validateCloseCodeAndReason(code ?? null, reason ?? "");
    const state = this.readyState;
    if (state === CLOSING || state === CLOSED) return;
    if (state === CONNECTING) {
      this.#state = CLOSING;
      this.#failure = new DOMException(
        "the WebSocket was closed before the connection was established",
        "AbortError",
      );
      this.#abort.abort(this.#failure);
      return;
    }
    this.#state = CLOSING;
    // No code: a close frame without a status code, as browsers send; a
    // reason without a code goes with 1000, as the standard says.
    reason ??= "";
    this.#session!.close(code ?? (reason === "" ? null : CloseCode.Normal), reason).catch(noop);
  }

  /** The `open` handler: called when the connection opens. */
  get onopen(): EventHandler<Event> {
    return (this.#handlers.get("open")?.fn ?? null) as EventHandler<Event>;
  }
  set onopen(fn: EventHandler<Event>) {
    this.#setHandler("open", fn);
  }
  /** The `message` handler: called with a `MessageEvent` for each message. */
  get onmessage(): EventHandler<MessageEvent> {
    return (this.#handlers.get("message")?.fn ?? null) as EventHandler<MessageEvent>;
  }
  set onmessage(fn: EventHandler<MessageEvent>) {
    this.#setHandler("message", fn);
  }
  /** The `error` handler: called before `close` when the connection failed. */
  get onerror(): EventHandler<WebSocketErrorEvent> {
    return (this.#handlers.get("error")?.fn ?? null) as EventHandler<WebSocketErrorEvent>;
  }
  set onerror(fn: EventHandler<WebSocketErrorEvent>) {
    this.#setHandler("error", fn);
  }
  /** The `close` handler: called with a {@link CloseEvent} once, at the end. */
  get onclose(): EventHandler<CloseEvent> {
    return (this.#handlers.get("close")?.fn ?? null) as EventHandler<CloseEvent>;
  }
  set onclose(fn: EventHandler<CloseEvent>) {
    this.#setHandler("close", fn);
  }

  // HTML's event handler IDL attributes: any object is kept (a non-callable
  // one is then never called: WebIDL's [LegacyTreatNonObjectAsNull]), any
  // other value is null; a handler returning false cancels the event.
  #setHandler<E extends Event>(type: HandlerType, fn: EventHandler<E>): void {
    const slot = this.#handlers.get(type);
    if (typeof fn !== "function" && (typeof fn !== "object" || fn === null)) {
      if (slot) {
        this.removeEventListener(type, slot.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (slot) {
      slot.fn = fn;
      return;
    }
    const created: HandlerSlot = {
      fn,
      listener: (event) => {
        const f = created.fn as unknown;
        if (typeof f !== "function") return;
        if (f.call(this, event) === false) event.preventDefault();
      },
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }
}

/**
 * The typed listener overloads of {@link WebSocket}: declarations only, so
 * that `addEventListener` stays `EventTarget`'s own (WebIDL puts no copy on
 * `WebSocket.prototype`).
 */
export interface WebSocket {
  /**
   * Adds a listener; for the socket's own events the listener's event is
   * typed ({@link WebSocketEventMap}). As `EventTarget.addEventListener`.
   */
  addEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /** Adds a listener for any event type, as `EventTarget.addEventListener`. */
  addEventListener(
    type: string,
    listener: EventListener | EventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  /**
   * Removes a listener added with {@link addEventListener}. As
   * `EventTarget.removeEventListener`.
   */
  removeEventListener<K extends keyof WebSocketEventMap>(
    type: K,
    listener: (this: WebSocket, event: WebSocketEventMap[K]) => unknown,
    options?: boolean | EventListenerOptions,
  ): void;
  /** Removes a listener for any event type, as `EventTarget.removeEventListener`. */
  removeEventListener(
    type: string,
    listener: EventListener | EventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

webIDLInterface(WebSocket, "WebSocket", 1, { CONNECTING, OPEN, CLOSING, CLOSED });
webIDLInterface(CloseEvent, "CloseEvent", 1);
webIDLInterface(WebSocketErrorEvent, "WebSocketErrorEvent", 1);

function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  return typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer;
}
