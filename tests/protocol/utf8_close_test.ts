import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeUtf8, isValidUtf8, Utf8Validator } from "../../lib/protocol/utf8.ts";
import {
  buildClosePayload,
  isValidApplicationCloseCode,
  isValidReceivedCloseCode,
  parseClosePayload,
} from "../../lib/protocol/close.ts";
import { InvalidDataError, ProtocolError } from "../../lib/errors.ts";
import { hex, utf8 } from "../_helpers/bytes.ts";

describe("UTF-8 validation", () => {
  const valid = ["", "Hello", "κόσμε", "\u{10FFFF}", "\uFEFFbom kept", "\u0000", "€𝄞"];
  const invalid = [
    "80", // lone continuation
    "c0 af", // overlong /
    "c1 bf", // overlong
    "e0 80 af", // overlong
    "e0 9f bf", // overlong
    "ed a0 80", // surrogate U+D800
    "ed bf bf", // surrogate U+DFFF
    "f0 8f bf bf", // overlong
    "f4 90 80 80", // > U+10FFFF
    "f5 80 80 80", // invalid lead
    "ff", // invalid byte
    "ce ba e1 bd b9 ce bc ce b5 ed a0 80 65 64 69 74 65 64", // Autobahn 6.3.1
  ];

  for (const s of valid) {
    it(`accepts ${JSON.stringify(s)} whole and split at every byte`, () => {
      const bytes = utf8(s);
      assert.ok(isValidUtf8(bytes));
      assert.equal(decodeUtf8(bytes), s);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const v = new Utf8Validator();
        assert.ok(v.push(bytes.subarray(0, cut)) && v.push(bytes.subarray(cut)) && v.complete);
      }
    });
  }

  for (const h of invalid) {
    it(`rejects ${h}, fed whole and byte by byte`, () => {
      const bytes = hex(h);
      assert.equal(isValidUtf8(bytes), false);
      assert.throws(() => decodeUtf8(bytes), InvalidDataError);
      const v = new Utf8Validator();
      let ok = true;
      for (const b of bytes) ok = ok && v.push(new Uint8Array([b]));
      assert.ok(!ok || !v.complete);
    });
  }

  it("fails fast: at the first invalid byte, before the message ends", () => {
    const v = new Utf8Validator();
    assert.ok(v.push(hex("ce ba e1 bd b9 ce bc ce b5")));
    assert.equal(v.push(hex("ed")), true); // a lead byte may still be fine
    assert.equal(v.push(hex("a0")), false); // …but ED A0 is a surrogate
  });

  it("an incomplete code point at the end is not complete", () => {
    const v = new Utf8Validator();
    assert.ok(v.push(hex("e2 82")));
    assert.equal(v.complete, false);
    assert.equal(isValidUtf8(hex("e2 82")), false);
  });

  it("checks every 2-byte and 3-byte lead against the Unicode table", () => {
    // Compare with the platform decoder on every 3-byte combination of interesting bytes.
    const interesting = [
      0x00,
      0x7f,
      0x80,
      0x8f,
      0x90,
      0x9f,
      0xa0,
      0xbf,
      0xc0,
      0xc1,
      0xc2,
      0xdf,
      0xe0,
      0xe1,
      0xec,
      0xed,
      0xee,
      0xef,
      0xf0,
      0xf1,
      0xf3,
      0xf4,
      0xf5,
      0xff,
    ];
    const strict = new TextDecoder("utf-8", { fatal: true });
    for (const a of interesting) {
      for (const b of interesting) {
        for (const c of interesting) {
          const bytes = new Uint8Array([a, b, c]);
          let expected = true;
          try {
            strict.decode(bytes);
          } catch {
            expected = false;
          }
          assert.equal(isValidUtf8(bytes), expected, Array.from(bytes).join(","));
        }
      }
    }
  });
});

describe("close codes and payloads", () => {
  it("knows which codes may be received", () => {
    for (
      const c of [
        1000,
        1001,
        1002,
        1003,
        1007,
        1008,
        1009,
        1010,
        1011,
        1012,
        1013,
        1014,
        3000,
        3999,
        4000,
        4999,
      ]
    ) {
      assert.ok(isValidReceivedCloseCode(c), String(c));
    }
    for (const c of [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]) {
      assert.ok(!isValidReceivedCloseCode(c), String(c));
    }
    assert.ok(isValidApplicationCloseCode(1000));
    assert.ok(isValidApplicationCloseCode(4321));
    assert.ok(!isValidApplicationCloseCode(1002));
  });

  it("parses an empty payload as 1005", () => {
    assert.deepEqual(parseClosePayload(new Uint8Array(0)), { code: 1005, reason: "" });
  });

  it("parses a code and a reason", () => {
    assert.deepEqual(parseClosePayload(hex("03 e8 62 79 65")), { code: 1000, reason: "bye" });
  });

  it("a 1-byte payload is a protocol error", () => {
    assert.throws(
      () => parseClosePayload(hex("03")),
      (e: unknown) => e instanceof ProtocolError && e.code === "CLOSE_PAYLOAD_1_BYTE",
    );
  });

  it("a code that may not be sent is a protocol error", () => {
    for (const c of [0, 999, 1004, 1005, 1006, 1015, 2000, 5000]) {
      assert.throws(
        () => parseClosePayload(new Uint8Array([c >> 8, c & 0xff])),
        ProtocolError,
        String(c),
      );
    }
  });

  it("a reason that is not UTF-8 is invalid data (1007)", () => {
    assert.throws(
      () => parseClosePayload(hex("03 e8 ce ba e1 bd b9 ed a0 80")),
      (e: unknown) => e instanceof InvalidDataError && e.closeCode === 1007,
    );
  });

  it("builds payloads and refuses bad ones", () => {
    assert.deepEqual(buildClosePayload(), new Uint8Array(0));
    assert.deepEqual(buildClosePayload(1000, "bye"), hex("03 e8 62 79 65"));
    assert.equal(buildClosePayload(4000, "x".repeat(123)).length, 125);
    assert.throws(() => buildClosePayload(4000, "x".repeat(124)), RangeError);
    assert.throws(() => buildClosePayload(4000, "é".repeat(62)), RangeError); // 124 bytes
    assert.throws(() => buildClosePayload(1005), RangeError);
    assert.throws(() => buildClosePayload(1006), RangeError);
    assert.throws(() => buildClosePayload(undefined, "reason without code"), RangeError);
  });
});

describe("decodeUtf8 against the fatal decoder", () => {
  // decodeUtf8 decodes with the replacing decoder and falls back to the
  // fatal one only when U+FFFD appears: it must agree with the fatal decoder
  // on every input, valid or not, with U+FFFD sent or made by decoding.
  const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const expected = (bytes: Uint8Array): string | "invalid" => {
    try {
      return fatal.decode(bytes);
    } catch {
      return "invalid";
    }
  };
  const actual = (bytes: Uint8Array): string | "invalid" => {
    try {
      return decodeUtf8(bytes);
    } catch (error) {
      assert.ok(error instanceof InvalidDataError);
      return "invalid";
    }
  };
  it("agrees on U+FFFD sent as text, alone and beside bad bytes", () => {
    for (const h of ["ef bf bd", "41 ef bf bd 42", "ef bf bd 80", "80 ef bf bd", "ef bf", "ff"]) {
      const bytes = hex(h);
      assert.deepEqual(actual(bytes), expected(bytes), h);
    }
  });
  it("agrees on 20,000 random byte strings (bytes drawn from the bytes UTF-8 is made of)", () => {
    // A fixed seed: the same inputs on every run and runtime.
    let seed = 0x2545f491;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
    const pool = [0x41, 0x7f, 0x80, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xbd, 0xf0, 0xf4, 0xff];
    for (let n = 0; n < 20_000; n++) {
      const bytes = new Uint8Array(next() % 9);
      for (let i = 0; i < bytes.length; i++) bytes[i] = pool[next() % pool.length];
      assert.deepEqual(actual(bytes), expected(bytes), [...bytes].join(","));
    }
  });
});
