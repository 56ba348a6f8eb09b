/**
 * The WHATWG `WebSocketStream` shape, on sprig's client.
 *
 * @module
 */

import { CloseCode } from "../errors.ts";
import {
  ConnectionClosedError,
  type MessageData,
  type SendData,
  type Session,
} from "../session/session.ts";
import { ArgumentCheck } from "../arguments.ts";
import { type ConnectOptions, openConnection, prepareConnect } from "./connect.ts";

/** What `opened` resolves with. */
export interface WebSocketOpenInfo {
  /** Received messages (pull-based: not reading stops socket reads). */
  readable: ReadableStream<MessageData>;
  /** Messages to send; closing it closes the connection. */
  writable: WritableStream<SendData>;
  /** The negotiated extensions, as a `Sec-WebSocket-Extensions` value. */
  extensions: string;
  /** The chosen subprotocol, or `""`. */
  protocol: string;
}

/** A close code and reason, as the WHATWG proposal names them. */
export interface WebSocketCloseInfo {
  /**
   * Default 1000. One of 1000–1003, 1007–1014 or 3000–4999; any other code
   * drops the connection without a closing handshake.
   */
  closeCode?: number;
  /** Default `""`. At most 123 bytes of UTF-8; a longer reason drops the connection likewise. */
  reason?: string;
}

/** Options: the proposal's `protocols` and `signal`, plus any of {@link ConnectOptions}. */
export type WebSocketStreamOptions = ConnectOptions;

/**
 * A WebSocket with the shape of the WHATWG `WebSocketStream` proposal, for
 * those who know it: `opened` gives web streams, `closed` settles with the
 * close code, `close()` starts the closing handshake. Underneath is a
 * sprig {@link Session}, so headers, compression and limits are options too.
 *
 * `closed` resolves after a clean closing handshake and rejects with
 * {@link ConnectionClosedError} otherwise, as the proposal asks.
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
  /** The URL as given. */
  readonly url: string;
  /** Resolves once open; rejects if the connection could not be opened. */
  readonly opened: Promise<WebSocketOpenInfo>;
  /** Settles once closed. */
  readonly closed: Promise<{ closeCode: number; reason: string }>;
  #session: Session | undefined;
  #pendingClose: WebSocketCloseInfo | undefined;

  /**
   * Starts connecting at once; `opened` settles with the outcome.
   *
   * @throws {InvalidArgumentError} (a `TypeError`) or {ArgumentRangeError}
   *   (a `RangeError`) at once, as the WHATWG constructor does, for a
   *   malformed `url` or option (see `connect()`)
   */
  constructor(url: string | URL, options: WebSocketStreamOptions = {}) {
    const prepared = prepareConnect("new WebSocketStream()", url, options);
    this.url = String(url);
    const session = openConnection(prepared);
    this.opened = session.then((s) => {
      this.#session = s;
      if (this.#pendingClose) this.#closeSession(s, this.#pendingClose);
      return {
        readable: s.readable,
        writable: s.writable,
        extensions: s.extensions,
        protocol: s.protocol,
      };
    });
    this.closed = session.then(
      (s) =>
        s.closed.then((info) => {
          if (!info.wasClean) throw new ConnectionClosedError(info);
          return { closeCode: info.code, reason: info.reason };
        }),
    );
    // Unobserved rejections are the caller's to handle through the promises.
    this.opened.catch(() => {});
    this.closed.catch(() => {});
  }

  /** Starts the closing handshake (before `opened`, as soon as it opens). */
  close(info: WebSocketCloseInfo = {}): void {
    if (this.#session) this.#closeSession(this.#session, info);
    else this.#pendingClose = info;
  }

  #closeSession(session: Session, info: WebSocketCloseInfo): void {
    session.close(info.closeCode ?? CloseCode.Normal, info.reason ?? "").catch(() =>
      session.terminate()
    );
  }
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
