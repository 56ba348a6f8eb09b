/**
 * The Huffman code of HPACK (RFC 7541 §5.2, Appendix B), for decoding
 * string literals. The code is canonical (RFC 7541 Appendix B lists codes
 * that follow from the lengths alone: shorter codes first, then by symbol),
 * so the table is stored as one code length per symbol and the codes are
 * rebuilt from it.
 *
 * @module
 */

/**
 * The code length in bits of symbols 0–255 and EOS (256), one character
 * each: `"A"` is 5 bits, `"B"` 6, … `"Z"` 30 (RFC 7541 Appendix B).
 */
const LENGTHS = "ISXXXXXXXTZXXZXXXXXXXXZXXXXXXXXXBFFHIBDGFFDGDBBBAAABBBBBBBCDKBHF" +
  "IBCCCCCCCCCCCCCCCCCCCCCCDCDIOIJBKABABABBBACCBBBABCBAABCCCCCKGJIX" +
  "PRPPRRRSRSSSSSTSTTRSTSSSSQRSRSSTRQPRRSSQSRRTQRSSQQRQSRSSPRRRSRRS" +
  "VVPORSRUVVVWWVTUOQVWWVWTQQVVXWWWPTPQRQQSRRUUTTVSVWVVWWWWWXWWWWWV" +
  "Z";

/** EOS, the end-of-string symbol (RFC 7541 §5.2). */
const EOS = 256;

/**
 * The decoding trie: node `n` has children at `2n` (bit 0) and `2n + 1`
 * (bit 1); a value ≥ 0 is a leaf holding its symbol, -1 an inner node.
 * Built once, on first use.
 */
let trie: Int32Array | undefined;

/** The codes, rebuilt from {@link LENGTHS}. */
function codes(): { code: number[]; length: number[] } {
  const length: number[] = [];
  for (let s = 0; s <= EOS; s++) length.push(LENGTHS.charCodeAt(s) - 60);
  const order = length.map((_, s) => s).sort((a, b) => length[a] - length[b] || a - b);
  const code: number[] = new Array(EOS + 1).fill(0);
  let next = 0;
  let previous = length[order[0]];
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    if (i > 0) next = (next + 1) * 2 ** (length[s] - previous);
    previous = length[s];
    code[s] = next;
  }
  return { code, length };
}

function buildTrie(): Int32Array {
  const { code, length } = codes();
  // Inner nodes are numbered as they are made; children live in `kids`.
  const kids: number[] = [-1, -1];
  const leaf: number[] = [-1];
  for (let s = 0; s <= EOS; s++) {
    let node = 0;
    for (let bit = length[s] - 1; bit >= 0; bit--) {
      const b = Math.floor(code[s] / 2 ** bit) & 1;
      let child = kids[node * 2 + b];
      if (child === -1) {
        child = leaf.length;
        leaf.push(-1);
        kids.push(-1, -1);
        kids[node * 2 + b] = child;
      }
      node = child;
    }
    leaf[node] = s;
  }
  // One array: [left, right, symbol] per node.
  const out = new Int32Array(leaf.length * 3);
  for (let n = 0; n < leaf.length; n++) {
    out[n * 3] = kids[n * 2];
    out[n * 3 + 1] = kids[n * 2 + 1];
    out[n * 3 + 2] = leaf[n];
  }
  return out;
}

/**
 * Decodes a Huffman-coded string literal (RFC 7541 §5.2). Returns
 * `undefined` for what the RFC makes a decoding error: the EOS symbol
 * inside the string, padding longer than 7 bits, or padding that is not
 * the most significant bits of EOS (all ones).
 *
 * @example
 * ```ts
 * import { huffmanDecode } from "./huffman.ts";
 * // RFC 7541 C.4.1: "www.example.com"
 * const bytes = Uint8Array.from([0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]);
 * if (new TextDecoder().decode(huffmanDecode(bytes)) !== "www.example.com") throw new Error("bad");
 * ```
 */
export function huffmanDecode(input: Uint8Array): Uint8Array | undefined {
  const t = trie ??= buildTrie();
  const out = new Uint8Array(Math.ceil(input.length * 8 / 5));
  let n = 0;
  let node = 0;
  let depth = 0; // bits since the last symbol
  let ones = true; // those bits are all ones
  for (let i = 0; i < input.length; i++) {
    const byte = input[i];
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      node = t[node * 3 + b];
      depth++;
      if (b === 0) ones = false;
      const symbol = t[node * 3 + 2];
      if (symbol >= 0) {
        if (symbol === EOS) return undefined;
        out[n++] = symbol;
        node = 0;
        depth = 0;
        ones = true;
      }
    }
  }
  if (depth > 7 || !ones) return undefined;
  return out.subarray(0, n);
}

/**
 * The Huffman encoding of `input` (RFC 7541 §5.2), padded with the most
 * significant bits of EOS.
 *
 * @example
 * ```ts
 * import { huffmanDecode, huffmanEncode } from "./huffman.ts";
 * const bytes = new TextEncoder().encode("no-cache");
 * if (huffmanDecode(huffmanEncode(bytes))?.length !== 8) throw new Error("bad");
 * ```
 */
export function huffmanEncode(input: Uint8Array): Uint8Array {
  const { code, length } = table ??= codes();
  let bits = 0;
  for (let i = 0; i < input.length; i++) bits += length[input[i]];
  const out = new Uint8Array(Math.ceil(bits / 8));
  let at = 0;
  for (let i = 0; i < input.length; i++) {
    const c = code[input[i]];
    for (let bit = length[input[i]] - 1; bit >= 0; bit--, at++) {
      if (Math.floor(c / 2 ** bit) & 1) out[at >> 3] |= 0x80 >> (at & 7);
    }
  }
  for (; at < out.length * 8; at++) out[at >> 3] |= 0x80 >> (at & 7);
  return out;
}

let table: { code: number[]; length: number[] } | undefined;
