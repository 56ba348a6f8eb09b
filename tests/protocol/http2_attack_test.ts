// Hostile input against the sans-I/O HTTP/2 server connection and its HPACK
// decoder (RFC 9113, RFC 7541, RFC 8441): each case is an attack a client
// can make, with what the MUSTs require of the server in return.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HpackDecoder, HpackError } from "../../lib/protocol/http2/hpack.ts";

describe("HPACK under attack (RFC 7541)", () => {
  it("refuses a prefix integer padded with zero continuation bytes past any sane length", () => {
    // 0x3f (size update, 5-bit prefix all ones) then 200 bytes of 0x80 and
    // a final 0x00: its value is 31, but a decoder that multiplies by 2^shift
    // reaches 0 × Infinity = NaN, and a NaN table limit never evicts.
    const block = new Uint8Array(202);
    block[0] = 0x3f;
    block.fill(0x80, 1, 201);
    block[201] = 0x00;
    assert.throws(() => new HpackDecoder().decode(block), HpackError);
  });

  it("keeps the dynamic table within its limit whatever the size updates say", () => {
    const decoder = new HpackDecoder({ maxTableSize: 4096 });
    const update = new Uint8Array(202);
    update[0] = 0x3f;
    update.fill(0x80, 1, 201);
    update[201] = 0x00;
    try {
      decoder.decode(update);
    } catch (error) {
      assert.ok(error instanceof HpackError);
    }
    // Literal with incremental indexing, new name, 100-byte value: 100 of them.
    const name = new TextEncoder().encode("x-a");
    const entry = [0x40, name.length, ...name, 100, ...new Uint8Array(100).fill(0x61)];
    const block = Uint8Array.from(Array.from({ length: 100 }, () => entry).flat());
    decoder.decode(block);
    assert.ok(decoder.tableSize <= 4096, `table size ${decoder.tableSize}`);
  });

  it("refuses a string length that is NaN or beyond the block", () => {
    // A literal without indexing, new name, name length 127 + zero continuations.
    const block = new Uint8Array(204);
    block[0] = 0x00;
    block[1] = 0x7f;
    block.fill(0x80, 2, 203);
    block[203] = 0x00;
    assert.throws(() => new HpackDecoder().decode(block), HpackError);
  });
});
