/**
 * SHA-1 (FIPS 180-4 §6.1), synchronous and dependency-free.
 *
 * The opening handshake needs one SHA-1 per connection
 * (`Sec-WebSocket-Accept`, RFC 6455 §4.2.2), and WebCrypto's digest is
 * asynchronous; a small synchronous one keeps the handshake a pure function.
 * SHA-1 is used here only as RFC 6455 uses it, not for security.
 *
 * @module
 */

// FIPS 180-4 §5.3.1: the initial hash value.
const H0 = 0x67452301;
const H1 = 0xefcdab89 | 0;
const H2 = 0x98badcfe | 0;
const H3 = 0x10325476;
const H4 = 0xc3d2e1f0 | 0;

// FIPS 180-4 §4.2.1: the four round constants.
const K0 = 0x5a827999;
const K1 = 0x6ed9eba1;
const K2 = 0x8f1bbcdc | 0;
const K3 = 0xca62c1d6 | 0;

/**
 * Returns the 20-byte SHA-1 digest of `data`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sha1 } from "./sha1.ts";
 * const digest = sha1(new TextEncoder().encode("abc"));
 * const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
 * assert.equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d"); // the FIPS 180-4 example
 * ```
 */
export function sha1(data: Uint8Array): Uint8Array {
  const h = new Int32Array([H0, H1, H2, H3, H4]);
  const w = new Int32Array(80);
  const length = data.length;
  const whole = length - (length % 64);
  for (let at = 0; at < whole; at += 64) compress(h, w, data, at);

  // FIPS 180-4 §5.1.1: a 1 bit, zeros, then the length in bits as a 64-bit
  // big-endian integer, filling one or two final blocks.
  const tailLength = length - whole;
  const tail = new Uint8Array(tailLength < 56 ? 64 : 128);
  tail.set(data.subarray(whole));
  tail[tailLength] = 0x80;
  const bitsHigh = Math.floor(length / 0x2000_0000); // length * 8 / 2^32
  const bitsLow = (length * 8) >>> 0;
  const end = tail.length;
  tail[end - 8] = bitsHigh >>> 24;
  tail[end - 7] = (bitsHigh >>> 16) & 0xff;
  tail[end - 6] = (bitsHigh >>> 8) & 0xff;
  tail[end - 5] = bitsHigh & 0xff;
  tail[end - 4] = bitsLow >>> 24;
  tail[end - 3] = (bitsLow >>> 16) & 0xff;
  tail[end - 2] = (bitsLow >>> 8) & 0xff;
  tail[end - 1] = bitsLow & 0xff;
  for (let at = 0; at < end; at += 64) compress(h, w, tail, at);

  const out = new Uint8Array(20);
  for (let i = 0; i < 5; i++) {
    const v = h[i];
    out[i * 4] = v >>> 24;
    out[i * 4 + 1] = (v >>> 16) & 0xff;
    out[i * 4 + 2] = (v >>> 8) & 0xff;
    out[i * 4 + 3] = v & 0xff;
  }
  return out;
}

/** FIPS 180-4 §6.1.2: processes the 64-byte block at `at` into the state `h`. */
function compress(h: Int32Array, w: Int32Array, bytes: Uint8Array, at: number): void {
  // Step 1: the message schedule.
  for (let t = 0; t < 16; t++, at += 4) {
    w[t] = (bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3];
  }
  for (let t = 16; t < 80; t++) {
    const x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16];
    w[t] = (x << 1) | (x >>> 31);
  }
  // Steps 2-3: eighty rounds, twenty per logical function (§4.1.1).
  let a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
  let t = 0;
  for (; t < 20; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + K0 + w[t]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = tmp;
  }
  for (; t < 40; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + K1 + w[t]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = tmp;
  }
  for (; t < 60; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + K2 + w[t]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = tmp;
  }
  for (; t < 80; t++) {
    const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + K3 + w[t]) | 0;
    e = d, d = c, c = (b << 30) | (b >>> 2), b = a, a = tmp;
  }
  // Step 4: the intermediate hash value.
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0;
}
