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
 * import { connect, ConnectionClosedError } from "../../mod.ts";
 * const ws = await connect("ws://127.0.0.1:8080/");
 * try {
 *   for await (const message of ws) console.log(message);
 * } catch (error) {
 *   if (!(error instanceof ConnectionClosedError)) throw error;
 *   console.log(`lost: ${error.info.code}`, error.info.error);
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
