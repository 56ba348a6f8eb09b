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
 * The session ended without a clean closing handshake; thrown by iteration and `receive()`.
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
 *   assert.equal(error.info.code, 1009);
 *   assert.ok(error.info.error instanceof MessageTooBigError);
 * }
 * ```
 */
export class ConnectionClosedError extends SprigError {
  /** How it ended. */
  readonly info: CloseInfo;
  /** The message names the close code, the reason and the underlying error, if any. */
  constructor(info: CloseInfo) {
    super(
      "CONNECTION_CLOSED",
      `the WebSocket connection closed (${info.code}${info.reason ? ` ${info.reason}` : ""})` +
        (info.error ? `: ${info.error.message}` : ""),
      undefined,
      { cause: info.error },
    );
    this.info = info;
  }
}
