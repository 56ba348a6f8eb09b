/**
 * Base64 (RFC 4648 §4), the standard alphabet with padding, as the opening
 * handshake uses it for `Sec-WebSocket-Key` and `Sec-WebSocket-Accept`.
 *
 * @module
 */

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ENCODE = new Uint8Array(64);
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) {
  ENCODE[i] = ALPHABET.charCodeAt(i);
  DECODE[ALPHABET.charCodeAt(i)] = i;
}
const PAD = 0x3d; // "="
const ascii = new TextDecoder();

/**
 * Encodes bytes as padded base64.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeBase64 } from "./base64.ts";
 * assert.equal(encodeBase64(new TextEncoder().encode("foob")), "Zm9vYg=="); // RFC 4648 §10
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  const length = bytes.length;
  const out = new Uint8Array(Math.ceil(length / 3) * 4);
  let i = 0, o = 0;
  for (const whole = length - (length % 3); i < whole; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out[o++] = ENCODE[n >>> 18];
    out[o++] = ENCODE[(n >>> 12) & 63];
    out[o++] = ENCODE[(n >>> 6) & 63];
    out[o++] = ENCODE[n & 63];
  }
  if (i < length) {
    const n = (bytes[i] << 16) | (i + 1 < length ? bytes[i + 1] << 8 : 0);
    out[o++] = ENCODE[n >>> 18];
    out[o++] = ENCODE[(n >>> 12) & 63];
    out[o++] = i + 1 < length ? ENCODE[(n >>> 6) & 63] : PAD;
    out[o++] = PAD;
  }
  // The output is ASCII, for which UTF-8 decoding is the identity.
  return ascii.decode(out);
}

/**
 * Decodes padded base64, strictly: returns `null` unless `text` is made of
 * the standard alphabet only, its length is a multiple of 4, and `=`
 * appears only as one or two final padding characters. No whitespace is
 * skipped. Non-zero bits in the last character before the padding are
 * ignored (RFC 4648 §3.5 leaves rejecting them to the decoder; `atob` and
 * the peers sprig talks to accept them too).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeBase64 } from "./base64.ts";
 * assert.deepEqual(decodeBase64("Zm9vYg=="), new TextEncoder().encode("foob"));
 * assert.equal(decodeBase64("Zm9vYg="), null); // not a multiple of 4 characters
 * ```
 */
export function decodeBase64(text: string): Uint8Array | null {
  const length = text.length;
  if (length % 4 !== 0) return null;
  if (length === 0) return new Uint8Array(0);
  const pad = text.charCodeAt(length - 1) !== PAD ? 0 : text.charCodeAt(length - 2) !== PAD ? 1 : 2;
  const out = new Uint8Array((length / 4) * 3 - pad);
  const quads = length - 4; // every quad but the last is free of padding
  let o = 0;
  for (let i = 0; i < quads; i += 4) {
    const n = sextet(text, i) << 18 | sextet(text, i + 1) << 12 | sextet(text, i + 2) << 6 |
      sextet(text, i + 3);
    if (n < 0) return null;
    out[o++] = n >>> 16;
    out[o++] = (n >>> 8) & 0xff;
    out[o++] = n & 0xff;
  }
  const a = sextet(text, quads), b = sextet(text, quads + 1);
  const c = pad === 2 ? 0 : sextet(text, quads + 2);
  const d = pad >= 1 ? 0 : sextet(text, quads + 3);
  if ((a | b | c | d) < 0) return null;
  const n = (a << 18) | (b << 12) | (c << 6) | d;
  out[o++] = n >>> 16;
  if (pad < 2) out[o++] = (n >>> 8) & 0xff;
  if (pad < 1) out[o] = n & 0xff;
  return out;
}

/** The 6-bit value of the character at `i`, or -1 (which taints the whole quad). */
function sextet(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? DECODE[c] : -1;
}
