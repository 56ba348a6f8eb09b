/**
 * The WHATWG `WebSocketStream` (the WebSockets Standard's proposed second
 * interface, whatwg/websockets "add-websocketstream"), and `withWebSocket`.
 *
 * @module
 */

import {
  type MessageData,
  readEndsQuietly,
  type SendData,
  type Session,
} from "../session/session.ts";
import { ConnectionClosedError } from "../errors.ts";
import { ArgumentCheck } from "../arguments.ts";
import { openConnection, prepareConnect } from "./connect.ts";
import type { ConnectOptions } from "./options.ts";
import {
  bufferSourceProblem,
  checkSubprotocols,
  enforceRangeUnsignedShort,
  getURLRecord,
  toUSVString,
  validateCloseCodeAndReason,
  webIDLInterface,
} from "./whatwg.ts";
import { noop } from "../util/noop.ts";

/** What `opened` resolves with. */
export interface WebSocketOpenInfo {
  /**
   * Received messages: strings and `Uint8Array`s (pull-based: not reading
   * stops socket reads). Cancelling it closes the connection: with the
   * reason's `closeCode` and `reason` when it is a {@link WebSocketError},
   * else with a close frame without a code.
   */
  readable: ReadableStream<MessageData>;
  /**
   * Messages to send: strings as text, `BufferSource`s as binary (a
   * `SharedArrayBuffer` or resizable buffer is refused with a `TypeError`,
   * as WebIDL's `BufferSource` refuses them). Closing it closes the
   * connection with a close frame without a code (the peer sees 1005);
   * aborting it closes as cancelling `readable` does.
   */
  writable: WritableStream<SendData>;
  /** The negotiated extensions, as a `Sec-WebSocket-Extensions` value. */
  extensions: string;
  /** The chosen subprotocol, or `""`. */
  protocol: string;
}

/** A close code and reason, as the standard's `WebSocketCloseInfo` names them. */
export interface WebSocketCloseInfo {
  /**
   * 1000 or 3000–4999 (WebIDL `[EnforceRange] unsigned short`). Without it
   * the close frame has no status code (the peer sees 1005), or 1000 when
   * a reason is given.
   */
  closeCode?: number;
  /** Default `""`. At most 123 bytes of UTF-8. */
  reason?: string;
}

/** Options: the standard's `protocols` and `signal`, plus any of {@link ConnectOptions}. */
export type WebSocketStreamOptions = ConnectOptions;

let connectionError: (
  message: string,
  closeCode: number | null,
  reason: string,
  cause?: unknown,
) => WebSocketError;

/**
 * The standard's `WebSocketError`: a `DOMException` named
 * `"WebSocketError"` that carries a close code and reason. `closed` rejects
 * with one after a close that was not clean (and `opened` when the
 * connection never opened); pass one to `writable.abort()` or
 * `readable.cancel()` to close with its code and reason. sprig adds `cause`:
 * what went wrong underneath (a {@link HandshakeError}, a
 * {@link ConnectionClosedError}, …), when there was something.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WebSocketError } from "@sprig/websocket";
 * const error = new WebSocketError("done", { reason: "bye" });
 * assert.equal(error.name, "WebSocketError");
 * assert.deepEqual([error.closeCode, error.reason], [1000, "bye"]); // a reason implies 1000
 * assert.throws(() => new WebSocketError("", { closeCode: 1001 }), { name: "InvalidAccessError" });
 * ```
 */
export class WebSocketError extends DOMException {
  #closeCode: number | null;
  #reason: string;
  /** What went wrong underneath, when sprig knows (not in the standard). */
  declare cause?: unknown;

  /**
   * An error to close with (given to `abort()` or `cancel()`), checked as
   * `close()` checks its arguments (WHATWG WebSockets, the WebSocketError
   * constructor steps).
   *
   * @param message the exception's message; default `""`
   * @param init `closeCode` (1000 or 3000–4999) and `reason` (at most 123
   *   bytes of UTF-8); a reason without a code gets 1000
   * @throws {TypeError} for an `init` that is not an object, or a code
   *   outside 0–65535 (WebIDL `[EnforceRange]`)
   * @throws {DOMException} `InvalidAccessError` for another code, `SyntaxError` for a longer reason
   */
  constructor(message: string = "", init: WebSocketCloseInfo = {}) {
    const { closeCode, reason } = toCloseInfo(init, "WebSocketError");
    validateCloseCodeAndReason(closeCode, reason);
    super(toUSVString(message), "WebSocketError");
    this.#closeCode = closeCode === null && reason !== "" ? 1000 : closeCode;
    this.#reason = reason;
  }

  /** The close code, or `null`. */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  /** The close reason, or `""`. */
  get reason(): string {
    return this.#reason;
  }

  static {
    // A WebSocketError with any code (the peer's, 1006), as the connection
    // reports it: not through the constructor, which only takes the codes
    // an application may send.
    connectionError = (message, closeCode, reason, cause) => {
      const error = new WebSocketError(message);
      error.#closeCode = closeCode;
      error.#reason = reason;
      if (cause !== undefined) {
        Object.defineProperty(error, "cause", { value: cause, writable: true, configurable: true });
      }
      return error;
    };
  }
}

/** WebIDL's conversion of a `WebSocketCloseInfo` dictionary. */
function toCloseInfo(init: unknown, where: string): { closeCode: number | null; reason: string } {
  if (init === undefined || init === null) return { closeCode: null, reason: "" };
  if (typeof init !== "object" && typeof init !== "function") {
    throw new TypeError(`${where}: the close info must be an object`);
  }
  const { closeCode, reason } = init as { closeCode?: unknown; reason?: unknown };
  return {
    closeCode: closeCode === undefined
      ? null
      : enforceRangeUnsignedShort(closeCode, `${where}: closeCode`),
    reason: reason === undefined ? "" : toUSVString(reason),
  };
}

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

/**
 * A WebSocket as the standard's `WebSocketStream`: `opened` gives web
 * streams, `closed` settles with the close code and reason, `close()`
 * closes. Underneath is a sprig {@link Session}, so headers, compression
 * and limits are options too.
 *
 * As the standard (whatwg/websockets, the WebSocketStream interface and the
 * "close the WebSocket" algorithm) says:
 * - the constructor throws a `TypeError` for arguments WebIDL cannot
 *   convert (options not an object, `protocols` not a sequence, `signal` not
 *   an `AbortSignal`) and a `SyntaxError` `DOMException` for a URL or
 *   subprotocols the standard refuses; sprig's own options are checked as
 *   `connect()` checks them;
 * - `opened` rejects with a {@link WebSocketError} when the connection
 *   fails, and `closed` with a {@link WebSocketError} (code 1006) when it
 *   does not close cleanly; both reject with the signal's reason (a
 *   `DOMException` named `AbortError` by default) when `signal` aborts the
 *   handshake — after the handshake, the signal does nothing;
 * - `close()` without a code, `writable.close()`, and `abort()`/`cancel()`
 *   without a {@link WebSocketError} send a close frame with no code (the
 *   peer sees 1005); `close()` during the handshake abandons it (`opened`
 *   and `closed` reject);
 * - after a clean close `readable` ends and `writable` is errored with an
 *   `InvalidStateError` `DOMException`; after an unclean one both are
 *   errored with the {@link WebSocketError}. Messages that arrived before
 *   the close are still read first (the standard would queue them in
 *   `readable`; sprig keeps them in the session until read).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve, WebSocketStream } from "../../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0, protocols: ["chat"] }, {
 *   in: (message) => ({ push: message }), // echo
 * });
 * const wss = new WebSocketStream(server.url.href, { protocols: ["chat"] });
 * const { readable, writable, protocol } = await wss.opened;
 * assert.equal(protocol, "chat");
 * const writer = writable.getWriter();
 * await writer.write("hello");
 * const reader = readable.getReader();
 * assert.deepEqual(await reader.read(), { done: false, value: "hello" });
 * reader.releaseLock();
 * wss.close({ closeCode: 1000, reason: "done" });
 * assert.equal((await wss.closed).closeCode, 1000); // the code of the server's close frame
 * ```
 */
export class WebSocketStream {
  readonly #url: string;
  readonly #opened: Promise<WebSocketOpenInfo>;
  readonly #closed: Promise<Required<WebSocketCloseInfo>>;
  #resolveOpened!: (info: WebSocketOpenInfo) => void;
  #rejectOpened!: (error: unknown) => void;
  #resolveClosed!: (info: Required<WebSocketCloseInfo>) => void;
  #rejectClosed!: (error: unknown) => void;
  #state = CONNECTING;
  #handshakeAborted = false;
  readonly #handshake = new AbortController();
  #session: Session | undefined;
  #writableController: WritableStreamDefaultController | undefined;

  /**
   * Starts connecting at once; `opened` settles with the outcome.
   *
   * @param url a `ws:`, `wss:`, `http:` or `https:` URL without a fragment;
   *   a relative URL is resolved against the global base URL when there is one
   * @param options `protocols` (tokens, none repeated), `signal` (aborts the
   *   handshake), and sprig's {@link ConnectOptions}
   * @throws {TypeError} without arguments, or for options WebIDL cannot convert
   * @throws {DOMException} `SyntaxError` for a URL that does not parse, has
   *   another scheme or a fragment, or for an invalid or repeated subprotocol
   * @throws {InvalidArgumentError} (a `TypeError`) or {ArgumentRangeError}
   *   (a `RangeError`) for a malformed sprig option (see `connect()`)
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    if (arguments.length === 0) {
      throw new TypeError("WebSocketStream: 1 argument required, but only 0 present");
    }
    const href = toUSVString(url);
    // WebIDL converts the dictionary before the constructor steps run.
    if (options === null || options === undefined) options = {};
    if (typeof options !== "object" && typeof options !== "function") {
      throw new TypeError("WebSocketStream: options must be an object");
    }
    let protocols: string[] = [];
    if (options.protocols !== undefined) {
      const given: unknown = options.protocols;
      if (given === null || typeof given !== "object" || !(Symbol.iterator in given)) {
        throw new TypeError("WebSocketStream: options.protocols must be a sequence of strings");
      }
      protocols = [...(given as Iterable<unknown>)].map(toUSVString);
    }
    const signal: unknown = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new TypeError("WebSocketStream: options.signal must be an AbortSignal");
    }
    const record = getURLRecord(href);
    checkSubprotocols(protocols);
    // sprig's options, checked as connect() checks them (the standard's are valid by now).
    const prepared = prepareConnect("new WebSocketStream()", record.href, {
      ...options,
      protocols,
      signal: this.#handshake.signal,
    });
    this.#url = record.href;
    this.#opened = new Promise((resolve, reject) => {
      this.#resolveOpened = resolve;
      this.#rejectOpened = reject;
    });
    this.#closed = new Promise((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    // Rejections the caller does not observe are not unhandled: they are
    // the caller's to read through the promises.
    this.#opened.catch(noop);
    this.#closed.catch(noop);
    if (signal) {
      if (signal.aborted) {
        this.#state = CLOSED;
        this.#rejectOpened(signal.reason);
        this.#rejectClosed(signal.reason);
        return;
      }
      const onAbort = () => {
        if (this.#state !== CONNECTING && !(this.#state === CLOSING && !this.#session)) return;
        this.#state = CLOSING;
        this.#handshakeAborted = true;
        this.#rejectOpened(signal.reason);
        this.#rejectClosed(signal.reason);
        this.#handshake.abort(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#opened.then(() => signal.removeEventListener("abort", onAbort), noop);
      this.#closed.then(
        () => signal.removeEventListener("abort", onAbort),
        () => signal.removeEventListener("abort", onAbort),
      );
    }
    openConnection(prepared).then((s) => this.#established(s), (e) => this.#failed(e));
  }

  /** The URL, as parsed (with `http:`/`https:` turned into `ws:`/`wss:`). */
  get url(): string {
    return this.#url;
  }

  /** Resolves once open; rejects if the connection could not be opened. */
  get opened(): Promise<WebSocketOpenInfo> {
    return this.#opened;
  }

  /**
   * Resolves with the close code and reason after a clean close; rejects
   * with a {@link WebSocketError} otherwise.
   */
  get closed(): Promise<Required<WebSocketCloseInfo>> {
    return this.#closed;
  }

  /**
   * Closes: starts the closing handshake, or abandons the connection
   * attempt (then `opened` and `closed` reject and the code is not sent).
   * Does nothing once closing has begun.
   *
   * @param closeInfo `closeCode` (1000 or 3000–4999; none: a close frame
   *   without a code, or 1000 with a reason) and `reason` (at most 123
   *   bytes of UTF-8)
   * @throws {TypeError} for a `closeInfo` that is not an object, or a code
   *   outside 0–65535
   * @throws {DOMException} `InvalidAccessError` for another code,
   *   `SyntaxError` for a longer reason
   */
  close(closeInfo: WebSocketCloseInfo = {}): void {
    const { closeCode, reason } = toCloseInfo(closeInfo, "WebSocketStream.close");
    this.#closeTheWebSocket(closeCode, reason);
  }

  /** WHATWG WebSockets, "close the WebSocket". */
  #closeTheWebSocket(code: number | null, reason: string): void {
    validateCloseCodeAndReason(code, reason);
    if (this.#state === CLOSING || this.#state === CLOSED) return;
    this.#state = CLOSING;
    if (!this.#session) {
      // Fail the WebSocket connection: the attempt is abandoned.
      this.#handshake.abort(
        new DOMException("the WebSocketStream was closed during the handshake", "AbortError"),
      );
      return;
    }
    // RFC 6455 §7.1.5: without a code the close frame has no body (the peer
    // sees 1005); a reason needs a code, 1000.
    if (code === null && reason !== "") code = 1000;
    this.#session.close(code, reason).catch(noop);
  }

  /** WHATWG WebSockets, "close using reason": a WebSocketError's code and reason, else none. */
  #closeUsingReason(reason: unknown): Promise<unknown> {
    try {
      if (reason instanceof WebSocketError) {
        this.#closeTheWebSocket(reason.closeCode, reason.reason);
      } else this.#closeTheWebSocket(null, "");
    } catch {
      this.#closeTheWebSocket(null, "");
    }
    return this.#closed.catch(noop);
  }

  #established(session: Session): void {
    if (this.#state !== CONNECTING) {
      // Closed or aborted while the handshake completed: too late to open.
      session.terminate();
      this.#failed(undefined);
      return;
    }
    this.#session = session;
    this.#state = OPEN;
    session.closed.then((info) => {
      this.#state = CLOSED;
      if (info.wasClean) {
        this.#writableController?.error(
          new DOMException("a closed WebSocketStream cannot be written to", "InvalidStateError"),
        );
        this.#resolveClosed({ closeCode: info.code, reason: info.reason });
      } else {
        const error = connectionError(
          `the WebSocket connection closed (${info.code})`,
          info.code,
          info.reason,
          new ConnectionClosedError(info),
        );
        this.#writableController?.error(error);
        this.#rejectClosed(error);
      }
    });
    // The standard's readable closes on any clean close and errors with
    // `closed`'s WebSocketError otherwise: it reads the session that way.
    const messages = readEndsQuietly(session)[Symbol.asyncIterator]();
    const readable = new ReadableStream<MessageData>({
      pull: async (controller) => {
        try {
          const next = await messages.next();
          if (next.done) controller.close();
          else controller.enqueue(ownBuffer(next.value));
        } catch {
          // The close was not clean: the same error as `closed`.
          controller.error(await this.#closed.then(() => undefined, (error) => error));
        }
      },
      cancel: (reason) => this.#closeUsingReason(reason).then(noop),
    }, { highWaterMark: 0 });
    const writable = new WritableStream<SendData>({
      start: (controller) => {
        this.#writableController = controller;
      },
      write: (chunk) => this.#write(session, chunk),
      // Resolves once the closing handshake is done.
      close: () => {
        this.#closeTheWebSocket(null, "");
        return this.#closed.then(noop, noop);
      },
      abort: (reason) => this.#closeUsingReason(reason).then(noop),
    });
    this.#resolveOpened({
      readable,
      writable,
      extensions: session.extensions,
      protocol: session.protocol,
    });
  }

  /** The standard's write algorithm: a `BufferSource` as binary, anything else as text. */
  #write(session: Session, chunk: unknown): Promise<void> {
    let data: string | Uint8Array;
    if (chunk instanceof ArrayBuffer || ArrayBuffer.isView(chunk)) {
      // WebIDL's BufferSource is neither [AllowShared] nor [AllowResizable].
      const problem = bufferSourceProblem(chunk);
      if (problem) {
        return Promise.reject(new TypeError(`WebSocketStream: ${problem} cannot be written`));
      }
      data = ArrayBuffer.isView(chunk)
        ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        : new Uint8Array(chunk);
    } else if (isSharedArrayBuffer(chunk)) {
      return Promise.reject(new TypeError("WebSocketStream: a shared buffer cannot be written"));
    } else {
      try {
        data = toUSVString(chunk);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    // Once the closing handshake has started, the message is not sent.
    if (this.#state !== OPEN || session.readyState !== "open") return Promise.resolve();
    return session.send(data).catch(noop);
  }

  #failed(cause: unknown): void {
    this.#state = CLOSED;
    if (this.#handshakeAborted) return; // already rejected with the signal's reason
    this.#rejectOpened(
      connectionError("the WebSocket connection could not be established", null, "", cause),
    );
    this.#rejectClosed(
      connectionError("the WebSocket connection could not be established", 1006, "", cause),
    );
  }
}

webIDLInterface(WebSocketStream, "WebSocketStream", 1);
webIDLInterface(WebSocketError, "WebSocketError", 0);

/**
 * The standard's binary chunk is "a new Uint8Array whose contents are
 * data": its `buffer` is the message's alone. sprig's session hands out
 * views into its read buffer (no copy); here one is copied when it is a
 * part of a larger buffer.
 */
function ownBuffer(message: MessageData): MessageData {
  if (typeof message === "string") return message;
  return message.byteOffset === 0 && message.byteLength === message.buffer.byteLength
    ? message
    : message.slice();
}

function isSharedArrayBuffer(value: unknown): value is SharedArrayBuffer {
  return typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer;
}

/**
 * Connects, runs `fn` with the session, and always closes it afterwards —
 * also when `fn` throws (the scoped form of Gun's `with_socket`).
 *
 * @throws {InvalidArgumentError} (a `TypeError`) for a malformed `url` or
 *   option (as `connect()`), or an `fn` that is not a function, before
 *   connecting
 * @throws what `connect()` and `fn` throw
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve, withWebSocket } from "../../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: `answer to ${message}` }),
 * });
 * const answer = await withWebSocket(server.url, {}, async (ws) => {
 *   await ws.send("question");
 *   return await ws.receive({ timeoutMs: 5000 });
 * }); // closed here, also when the callback throws
 * assert.equal(answer, "answer to question");
 * ```
 */
export async function withWebSocket<T>(
  url: string | URL,
  options: ConnectOptions,
  fn: (session: Session) => Promise<T> | T,
): Promise<T> {
  const prepared = prepareConnect("withWebSocket()", url, options);
  if (typeof fn !== "function") {
    throw new ArgumentCheck("withWebSocket()").type("fn", "a function", fn);
  }
  const session = await openConnection(prepared);
  try {
    return await fn(session);
  } finally {
    await session.close().catch(() => session.terminate());
  }
}
