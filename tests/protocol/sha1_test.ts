import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha1 } from "../../lib/protocol/sha1.ts";
import { decodeBase64, encodeBase64 } from "../../lib/protocol/base64.ts";

const enc = new TextEncoder();
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// FIPS 180-4 examples (NIST CSRC "Examples with intermediate values") and
// the long-message vector of FIPS 180-1 / RFC 3174 §7.3.
test("sha1: FIPS 180 vectors", () => {
  assert.equal(hex(sha1(enc.encode("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  assert.equal(hex(sha1(new Uint8Array(0))), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  assert.equal(
    hex(sha1(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
    "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
  );
  assert.equal(
    hex(sha1(enc.encode(
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    ))),
    "a49b2446a02c645bf419f995b67091253a04a259",
  );
});

test("sha1: one million 'a'", () => {
  assert.equal(
    hex(sha1(new Uint8Array(1_000_000).fill(0x61))),
    "34aa973cd4c4daa4f61eeb2bdbad27316534016f",
  );
});

test("sha1: every length around the padding boundaries matches node:crypto", () => {
  const data = new Uint8Array(300);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
  for (let n = 0; n <= data.length; n++) {
    const input = data.subarray(n > 150 ? 3 : 0, n); // also an offset view
    const expected = createHash("sha1").update(input).digest("hex");
    assert.equal(hex(sha1(input)), expected, `length ${input.length}`);
  }
});

test("sha1: does not modify its input", () => {
  const input = enc.encode("The quick brown fox jumps over the lazy dog");
  const copy = input.slice();
  assert.equal(hex(sha1(input)), "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12");
  assert.deepEqual(input, copy);
});

// RFC 4648 §10
const VECTORS: Array<[string, string]> = [
  ["", ""],
  ["f", "Zg=="],
  ["fo", "Zm8="],
  ["foo", "Zm9v"],
  ["foob", "Zm9vYg=="],
  ["fooba", "Zm9vYmE="],
  ["foobar", "Zm9vYmFy"],
];

test("base64: RFC 4648 §10 vectors, both ways", () => {
  for (const [plain, coded] of VECTORS) {
    assert.equal(encodeBase64(enc.encode(plain)), coded);
    assert.deepEqual(decodeBase64(coded), enc.encode(plain));
  }
});

test("base64: every byte value and length agrees with btoa", () => {
  const all = new Uint8Array(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  for (let n = 0; n <= 256; n += 1) {
    const bytes = all.subarray(256 - n);
    const coded = btoa(String.fromCharCode(...bytes));
    assert.equal(encodeBase64(bytes), coded);
    assert.deepEqual(decodeBase64(coded), bytes);
  }
});

test("base64: malformed input decodes to null", () => {
  for (
    const bad of [
      "Zg",
      "Zg=",
      "Zm9",
      "Z===",
      "====",
      "Zg==Zg==",
      "Zm9v\n",
      " Zm9v",
      "Zm 9",
      "Zm9-",
      "Zm9_",
      "Zm=v",
      "=Zm9",
      "Zm9vYg=\u00e9",
      "Zm9\u00e9",
      "Z\u{1f600}=",
    ]
  ) {
    assert.equal(decodeBase64(bad), null, JSON.stringify(bad));
  }
});

test("base64: non-zero padding bits are tolerated, as atob does", () => {
  assert.deepEqual(decodeBase64("Zh=="), enc.encode("f"));
  assert.deepEqual(decodeBase64("Zm9="), enc.encode("fo"));
});
