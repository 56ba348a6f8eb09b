/**
 * Byte-array helpers shared by the core and the layers above it.
 *
 * @module
 */

/**
 * One buffer holding `parts` in order. A single part of the full length is
 * returned as it is; otherwise the parts are copied (so the buffers they
 * view can be released).
 *
 * @param length the total length, when the caller already knows it
 */
export function concatBytes(parts: readonly Uint8Array[], length?: number): Uint8Array {
  if (length === undefined) {
    length = 0;
    for (const p of parts) length += p.length;
  }
  if (parts.length === 1 && parts[0].length === length) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The empty byte array, shared (it has nothing to change). */
export const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);

/**
 * Bytes of a binary message as a plain `Uint8Array` view (not a `Buffer`,
 * not another typed array), without copying.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { plainBytes } from "./bytes.ts";
 * const words = new Uint16Array([1]);
 * assert.equal(plainBytes(words).length, 2);
 * assert.equal(plainBytes(words).buffer, words.buffer); // a view, not a copy
 * ```
 */
export function plainBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
