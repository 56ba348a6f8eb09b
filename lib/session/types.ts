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
