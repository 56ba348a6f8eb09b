/**
 * Masking (RFC 6455 §5.3): XOR of the payload with a 4-byte key, repeated.
 *
 * @module
 */

/** Below this many bytes a plain byte loop beats setting up word views. */
const WORD_THRESHOLD = 32;

/**
 * XORs `data` in place with `mask`, as if `data` started `offset` bytes into
 * the masked payload (so a payload can be unmasked in pieces). Masking and
 * unmasking are the same operation. Large payloads are processed a 32-bit
 * word at a time.
 *
 * @param data the bytes to mask, changed in place
 * @param mask the 4-byte masking key
 * @param offset position of `data[0]` within the whole payload (default 0)
 *
 * @example
 * ```ts
 * import { applyMask } from "./mask.ts";
 * const data = new TextEncoder().encode("Hello");
 * applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
 * // data is now 7f 9f 4d 51 58 (RFC 6455 §5.7)
 * ```
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  const len = data.length;
  let i = 0;
  if (len >= WORD_THRESHOLD) {
    // Align to a 4-byte boundary of the underlying buffer, then go word-wise.
    const misalign = (4 - ((data.byteOffset) & 3)) & 3;
    for (; i < misalign; i++) data[i] ^= mask[(offset + i) & 3];
    const words = (len - i) >>> 2;
    if (words > 0) {
      const s = (offset + i) & 3;
      // The key rotated so that its byte 0 lines up with data[i]; read in
      // the platform's byte order so the XOR matches byte-wise masking.
      const k = new Uint8Array([mask[s], mask[(s + 1) & 3], mask[(s + 2) & 3], mask[(s + 3) & 3]]);
      const key = new Uint32Array(k.buffer)[0];
      const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
      for (let w = 0; w < words; w++) view[w] ^= key;
      i += words << 2;
    }
  }
  for (; i < len; i++) data[i] ^= mask[(offset + i) & 3];
}
