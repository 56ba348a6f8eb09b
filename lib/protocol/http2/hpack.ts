/**
 * HPACK (RFC 7541), header compression for HTTP/2: a decoder with the
 * static and dynamic tables, size updates, integers, string literals and
 * Huffman coding; and an encoder that writes literal fields without
 * indexing (RFC 7541 §6.2.2), which needs no state shared with the peer.
 *
 * @module
 */

import { huffmanDecode } from "./huffman.ts";

/** A decoded header field: name (as sent, lower case in HTTP/2) and value. */
export type HeaderField = [name: string, value: string];

/** The static table (RFC 7541 Appendix A), indices 1–61. */
export const STATIC_TABLE: readonly HeaderField[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** The first static index of each name, for the encoder. */
const STATIC_NAME = new Map<string, number>();
for (let i = STATIC_TABLE.length - 1; i >= 0; i--) STATIC_NAME.set(STATIC_TABLE[i][0], i + 1);

/** RFC 7541 §4.1: an entry's size is its name and value lengths plus 32. */
const ENTRY_OVERHEAD = 32;

/** Why a header block could not be decoded (a COMPRESSION_ERROR, RFC 9113 §4.3). */
export class HpackError extends Error {
  /** What was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "HpackError";
  }
}

/** Field values are octets (RFC 9110 §5.5); as strings, one char per byte, as `Headers` keeps them. */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return s;
}

/** Options of {@link HpackDecoder}. */
export interface HpackDecoderOptions {
  /**
   * The dynamic table size this side allows (SETTINGS_HEADER_TABLE_SIZE,
   * RFC 9113 §6.5.2), in bytes. Default 4096.
   */
  maxTableSize?: number;
  /**
   * The largest decoded header list, in bytes counted as RFC 9113 §6.5.2
   * does (name + value + 32 per field). Past it, decoding goes on (the
   * table must stay in step) and {@link HpackDecoder.decode} reports it.
   * Default 65536.
   */
  maxHeaderListSize?: number;
}

/**
 * The decoding side of HPACK for one connection: header blocks in, header
 * lists out, the dynamic table (RFC 7541 §2.3.2, §4) kept between blocks.
 *
 * @example
 * ```ts
 * import { HpackDecoder } from "./hpack.ts";
 * // RFC 7541 C.2.1: a literal with indexing, "custom-key: custom-header".
 * const block = Uint8Array.from([0x40, 0x0a, ...new TextEncoder().encode("custom-key"), 0x0d,
 *   ...new TextEncoder().encode("custom-header")]);
 * const { fields } = new HpackDecoder().decode(block);
 * if (fields[0][1] !== "custom-header") throw new Error("bad");
 * ```
 */
export class HpackDecoder {
  /** Newest first. */
  #table: HeaderField[] = [];
  #size = 0;
  /** The limit the encoder chose by a size update (≤ the setting). */
  #max: number;
  /** SETTINGS_HEADER_TABLE_SIZE as this side sent it. */
  readonly #setting: number;
  readonly #maxList: number;

  /** A decoder with an empty dynamic table. */
  constructor(options: HpackDecoderOptions = {}) {
    this.#setting = this.#max = options.maxTableSize ?? 4096;
    this.#maxList = options.maxHeaderListSize ?? 65536;
  }

  /** The dynamic table's current size in bytes (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.#size;
  }

  /** The dynamic table's entries, newest first (index 62 onward). */
  get table(): readonly HeaderField[] {
    return this.#table;
  }

  /**
   * Decodes one complete header block. `tooLarge` is true when the list
   * passed `maxHeaderListSize` (the fields are then cut short).
   *
   * @throws {HpackError} for a malformed block, an index out of range, a
   *   size update out of place or above the setting, or bad Huffman
   */
  decode(block: Uint8Array): { fields: HeaderField[]; tooLarge: boolean } {
    const fields: HeaderField[] = [];
    let listSize = 0;
    let tooLarge = false;
    let at = 0;
    let sawField = false;
    const n = block.length;
    const int = (prefix: number): number => {
      const mask = (1 << prefix) - 1;
      let value = block[at++] & mask;
      if (value < mask) return value;
      let shift = 0;
      while (true) {
        if (at >= n) throw new HpackError("truncated integer");
        // Five continuation bytes hold any value up to 2^31 - 1; a longer one
        // (zero bytes padding it out) would reach 0 × 2^1024 = NaN.
        if (shift > 28) throw new HpackError("integer too long");
        const b = block[at++];
        value += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (value > 0x7fffffff) throw new HpackError("integer too large");
        if ((b & 0x80) === 0) return value;
      }
    };
    const string = (): string => {
      if (at >= n) throw new HpackError("truncated string");
      const huffman = (block[at] & 0x80) !== 0;
      const length = int(7);
      if (at + length > n) throw new HpackError("truncated string");
      const raw = block.subarray(at, at + length);
      at += length;
      if (!huffman) return latin1(raw);
      const decoded = huffmanDecode(raw);
      if (!decoded) throw new HpackError("invalid Huffman code");
      return latin1(decoded);
    };
    const entry = (index: number): HeaderField => {
      if (index === 0) throw new HpackError("index 0");
      if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
      const e = this.#table[index - STATIC_TABLE.length - 1];
      if (!e) throw new HpackError(`index ${index} is not in the table`);
      return e;
    };
    const emit = (field: HeaderField) => {
      listSize += field[0].length + field[1].length + ENTRY_OVERHEAD;
      if (listSize > this.#maxList) tooLarge = true;
      if (!tooLarge) fields.push(field);
    };
    while (at < n) {
      const b = block[at];
      if (b & 0x80) {
        // RFC 7541 §6.1: indexed header field.
        emit(entry(int(7)));
        sawField = true;
      } else if (b & 0x40) {
        // §6.2.1: literal with incremental indexing.
        const index = int(6);
        const name = index === 0 ? string() : entry(index)[0];
        const field: HeaderField = [name, string()];
        this.#insert(field);
        emit(field);
        sawField = true;
      } else if (b & 0x20) {
        // §6.3: dynamic table size update; §4.2: only at the start of a block.
        if (sawField) throw new HpackError("table size update after a field");
        const size = int(5);
        if (size > this.#setting) throw new HpackError("table size update above the setting");
        this.#max = size;
        this.#evict(0);
      } else {
        // §6.2.2 without indexing (0000), §6.2.3 never indexed (0001).
        const index = int(4);
        const name = index === 0 ? string() : entry(index)[0];
        emit([name, string()]);
        sawField = true;
      }
    }
    return { fields, tooLarge };
  }

  #insert(field: HeaderField): void {
    const size = field[0].length + field[1].length + ENTRY_OVERHEAD;
    // RFC 7541 §4.4: an entry larger than the table empties it and is not added.
    this.#evict(size);
    if (size > this.#max) return;
    this.#table.unshift(field);
    this.#size += size;
  }

  /** Evicts until `room` more bytes fit (RFC 7541 §4.3, §4.4). */
  #evict(room: number): void {
    const table = this.#table;
    while (table.length > 0 && this.#size + room > this.#max) {
      const [name, value] = table.pop()!;
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}

/** An HPACK integer with an `prefix`-bit prefix (RFC 7541 §5.1), the first byte's high bits `flags`. */
function encodeInteger(out: number[], value: number, prefix: number, flags: number): void {
  const max = (1 << prefix) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  value -= max;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** A string literal without Huffman coding; characters above U+00FF (not octets) become `?`. */
function encodeString(out: number[], text: string): void {
  encodeInteger(out, text.length, 7, 0);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    out.push(c > 0xff ? 0x3f : c);
  }
}

/**
 * Encodes a header list as literal fields without indexing (RFC 7541
 * §6.2.2), with the name from the static table where it is there. Such a
 * block leaves the peer's dynamic table as it was, so no encoder state is
 * needed. Names must be lower case (RFC 9113 §8.2.1).
 *
 * @example
 * ```ts
 * import { encodeHeaderBlock, HpackDecoder } from "./hpack.ts";
 * const block = encodeHeaderBlock([[":status", "200"], ["x-id", "7"]]);
 * const { fields } = new HpackDecoder().decode(block);
 * if (fields[1][1] !== "7") throw new Error("bad");
 * ```
 */
export function encodeHeaderBlock(fields: readonly HeaderField[]): Uint8Array {
  const out: number[] = [];
  for (const [name, value] of fields) {
    const index = STATIC_NAME.get(name);
    if (index !== undefined) encodeInteger(out, index, 4, 0);
    else {
      out.push(0);
      encodeString(out, name);
    }
    encodeString(out, value);
  }
  return Uint8Array.from(out);
}
