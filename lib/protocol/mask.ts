/**
 * Masking (RFC 6455 §5.3): XOR of the payload with a 4-byte key, repeated.
 *
 * @module
 */

/** From this many bytes on, a 32-bit word loop beats the byte loop despite its setup. */
const WORD_THRESHOLD = 128;

/** True on little-endian platforms (all common ones): word keys are built to match. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * XORs `data` in place with `mask`, as if `data` started `offset` bytes into
 * the masked payload (so a payload can be unmasked in pieces). Masking and
 * unmasking are the same operation. Small payloads take an unrolled byte
 * loop with no allocation; large ones go a 32-bit word at a time.
 *
 * @param data the bytes to mask, changed in place
 * @param mask the 4-byte masking key
 * @param offset position of `data[0]` within the whole payload (default 0)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyMask } from "./mask.ts";
 * const data = new TextEncoder().encode("Hello");
 * applyMask(data, new Uint8Array([0x37, 0xfa, 0x21, 0x3d]));
 * assert.deepEqual([...data], [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
 * ```
 */
export function applyMask(data: Uint8Array, mask: Uint8Array, offset = 0): void {
  const len = data.length;
  let i = 0;
  if (len >= WORD_THRESHOLD) {
    // Align to a 4-byte boundary of the underlying buffer, then go word-wise.
    const misalign = (4 - (data.byteOffset & 3)) & 3;
    for (; i < misalign; i++) data[i] ^= mask[(offset + i) & 3];
    const words = (len - i) >>> 2;
    const s = (offset + i) & 3;
    // The key rotated so that its byte 0 lines up with data[i], in the
    // platform's byte order so the XOR matches byte-wise masking.
    const k0 = mask[s], k1 = mask[(s + 1) & 3], k2 = mask[(s + 2) & 3], k3 = mask[(s + 3) & 3];
    const key = LITTLE_ENDIAN
      ? (k0 | (k1 << 8) | (k2 << 16) | (k3 << 24))
      : ((k0 << 24) | (k1 << 16) | (k2 << 8) | k3);
    const view = new Int32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= key;
    i += words << 2;
  }
  const m0 = mask[(offset + i) & 3];
  const m1 = mask[(offset + i + 1) & 3];
  const m2 = mask[(offset + i + 2) & 3];
  const m3 = mask[(offset + i + 3) & 3];
  const end4 = i + ((len - i) & ~3);
  for (; i < end4; i += 4) {
    data[i] ^= m0;
    data[i + 1] ^= m1;
    data[i + 2] ^= m2;
    data[i + 3] ^= m3;
  }
  if (i < len) data[i++] ^= m0;
  if (i < len) data[i++] ^= m1;
  if (i < len) data[i] ^= m2;
}
