/**
 * The types every part of a live connection shares: what is received and
 * what can be sent. How a connection ended (`CloseInfo`) and the errors
 * that carry it are in `lib/errors.ts`.
 *
 * @module
 */

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
