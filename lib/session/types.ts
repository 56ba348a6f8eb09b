/**
 * The types every part of a live connection shares: what is received, what
 * can be sent, and how a connection ended.
 *
 * @module
 */

import { SprigError } from "../errors.ts";

/** A received message: text as a string, binary as bytes. */
export type MessageData = string | Uint8Array;

/** What can be sent: text, or any bytes. */
export type SendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** Per-message options of `send()`. */
export interface SendOptions {
  /**
   * `false` sends this message uncompressed (RSV1 clear, RFC 7692 §6) even
   * when permessage-deflate was negotiated: for data that is already
   * compressed (images, archives) or too small to gain. It does not enter
   * the compression window, so with context takeover later messages still
   * decode on the peer. Default `true`: compress when negotiated, from the
   * extension's `threshold` on. Ignored where nothing is negotiated.
   */
  compress?: boolean;
}

/** How a session ended. */
export interface CloseInfo {
  /** The close code: the peer's, the one sent on failure, or 1006 when the transport just ended. */
  code: number;
  /** The close reason. */
  reason: string;
  /** True when both close frames were exchanged. */
  wasClean: boolean;
  /** What went wrong, for a close that was not clean. */
  error?: SprigError | Error;
}

/**
 * The session ended abnormally: thrown (as a rejection) by iteration,
 * `receive()` and `readable` once the messages that arrived are taken, when
 * the close was not the application's own and was not a clean close with
 * 1000 (normal), 1001 (going away) or no code (1005). That is: the peer
 * closed with any other code (1008 policy, 1009 too big, 1011 internal
 * error, 1012 restart, 3000–4999 application codes, …), sprig failed the
 * connection (a protocol error, a message over `maxMessageBytes`, a
 * keepalive or write timeout), or the connection dropped without a closing
 * handshake (1006). The model is Python websockets' `ConnectionClosedError`;
 * see {@link ConnectionClosedOK} for the normal end of `receive()`.
 *
 * `closeCode` and `reason` are the close code and reason (as `info.code`
 * and `info.reason`); `code` is the catalogue's `"CONNECTION_CLOSED"`, as
 * on every {@link SprigError}. The WHATWG `WebSocket` class and
 * `WebSocketStream` keep their standards' behaviour and never throw it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, ConnectionClosedError, serve } from "../../mod.ts";
 * // A server that ends every connection with an application close code.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ push: "bye", stop: { code: 4001, reason: "session expired" } }),
 *   in: () => {},
 * });
 * const ws = await connect(server.url);
 * const received: unknown[] = [];
 * await assert.rejects(
 *   async () => {
 *     for await (const message of ws) received.push(message);
 *   },
 *   (error) => {
 *     assert.ok(error instanceof ConnectionClosedError);
 *     assert.equal(error.closeCode, 4001);
 *     assert.equal(error.reason, "session expired");
 *     assert.equal(error.info.wasClean, true);
 *     return true;
 *   },
 * );
 * assert.deepEqual(received, ["bye"]); // what came before the close, first
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, ConnectionClosedError, MessageTooBigError, serve } from "../../mod.ts";
 * // A server whose first message is larger than this client accepts.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ push: "far too long" }),
 *   in: () => {},
 * });
 * const ws = await connect(server.url, { maxMessageBytes: 4 });
 * try {
 *   for await (const message of ws) assert.fail(`unexpected ${message}`);
 *   assert.fail("iteration should not end normally");
 * } catch (error) {
 *   if (!(error instanceof ConnectionClosedError)) throw error;
 *   assert.equal(error.closeCode, 1009);
 *   assert.ok(error.info.error instanceof MessageTooBigError);
 * }
 * ```
 */
export class ConnectionClosedError extends SprigError {
  /** How it ended. */
  readonly info: CloseInfo;
  /** The close reason (`info.reason`); `closeCode` is `info.code`. */
  readonly reason: string;
  /** The message names the close code, the reason and the underlying error, if any. */
  constructor(info: CloseInfo) {
    super(
      "CONNECTION_CLOSED",
      `the WebSocket connection closed (${info.code}${info.reason ? ` ${info.reason}` : ""})` +
        (info.error ? `: ${info.error.message}` : ""),
      info.code,
      { cause: info.error },
    );
    this.info = info;
    this.reason = info.reason;
  }
}

/**
 * The session ended normally, thrown (as a rejection) by `receive()` only:
 * after the application's own close, or a clean close with 1000, 1001 or no
 * code (1005), once every message that arrived was taken. Iteration and
 * `readable` just end there. The model is Python websockets'
 * `ConnectionClosedOK`; it is not a {@link ConnectionClosedError}, so a
 * `catch` for that one sees only abnormal ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, ConnectionClosedOK, serve } from "../../mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ push: "one", stop: { code: 1000, reason: "done" } }),
 *   in: () => {},
 * });
 * const ws = await connect(server.url);
 * const received: unknown[] = [];
 * while (true) {
 *   try {
 *     received.push(await ws.receive());
 *   } catch (error) {
 *     if (error instanceof ConnectionClosedOK) break; // anything else is thrown on
 *     throw error;
 *   }
 * }
 * assert.deepEqual(received, ["one"]);
 * ```
 */
export class ConnectionClosedOK extends SprigError {
  /** How it ended. */
  readonly info: CloseInfo;
  /** The close reason (`info.reason`); `closeCode` is `info.code`. */
  readonly reason: string;
  /** The message names the close code and the reason. */
  constructor(info: CloseInfo) {
    super(
      "CONNECTION_CLOSED_OK",
      `the WebSocket connection closed normally (${info.code}${
        info.reason ? ` ${info.reason}` : ""
      })`,
      info.code,
    );
    this.info = info;
    this.reason = info.reason;
  }
}
