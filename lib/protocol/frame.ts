/**
 * Frames (RFC 6455 §5.2): opcodes, the frame type, and header encoding.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import { applyMask } from "./mask.ts";

/** Frame opcodes (RFC 6455 §5.2, §11.8). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One of the defined {@link Opcode} values. */
export type OpcodeValue = (typeof Opcode)[keyof typeof Opcode];

const OPCODE_NAMES: readonly (string | undefined)[] = [
  "continuation",
  "text",
  "binary",
  undefined, // 0x3–0x7: reserved for further data frames
  undefined,
  undefined,
  undefined,
  undefined,
  "close",
  "ping",
  "pong",
];

/**
 * The name of an opcode (RFC 6455 §5.2) for logs and traces: `"text"`,
 * `"ping"`…; `undefined` for a reserved one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { opcodeName } from "./frame.ts";
 * assert.equal(opcodeName(0x9), "ping");
 * assert.equal(opcodeName(0x3), undefined);
 * ```
 */
export function opcodeName(opcode: number): string | undefined {
  return OPCODE_NAMES[opcode];
}

/** RSV1, as a bit of {@link Frame.rsv}. permessage-deflate owns it. */
export const RSV1 = 0b100;
/** RSV2, as a bit of {@link Frame.rsv}. */
export const RSV2 = 0b010;
/** RSV3, as a bit of {@link Frame.rsv}. */
export const RSV3 = 0b001;

/** Largest payload of a control frame (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/** A WebSocket frame, unmasked. */
export interface Frame {
  /** FIN: this is the final fragment of a message. */
  fin: boolean;
  /** The three reserved bits as a number: RSV1 = 4, RSV2 = 2, RSV3 = 1. */
  rsv: number;
  /** The opcode, 0x0 to 0xF. */
  opcode: number;
  /** The (unmasked) payload. */
  payload: Uint8Array;
}

/** True for close, ping and pong (opcodes 0x8 and above). */
export function isControl(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** True for the six opcodes RFC 6455 defines; the others are reserved. */
export function isKnownOpcode(opcode: number): boolean {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

/** Size of the header for a payload of `length` bytes, with or without a mask key. */
export function headerSize(length: number, masked: boolean): number {
  return (length < 126 ? 2 : length < 0x10000 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes a frame header into `target` at `at` and returns its size.
 *
 * @param mask the 4-byte key if the frame is masked
 */
export function writeHeader(
  target: Uint8Array,
  at: number,
  fin: boolean,
  rsv: number,
  opcode: number,
  length: number,
  mask?: Uint8Array,
): number {
  const start = at;
  target[at++] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0xf);
  const maskBit = mask ? 0x80 : 0;
  if (length < 126) {
    target[at++] = maskBit | length;
  } else if (length < 0x10000) {
    target[at++] = maskBit | 126;
    target[at++] = length >>> 8;
    target[at++] = length & 0xff;
  } else {
    target[at++] = maskBit | 127;
    // 64-bit length; payloads never reach 2^53, so the top word is small.
    const hi = Math.floor(length / 0x1_0000_0000);
    const lo = length >>> 0;
    target[at++] = hi >>> 24;
    target[at++] = (hi >>> 16) & 0xff;
    target[at++] = (hi >>> 8) & 0xff;
    target[at++] = hi & 0xff;
    target[at++] = lo >>> 24;
    target[at++] = (lo >>> 16) & 0xff;
    target[at++] = (lo >>> 8) & 0xff;
    target[at++] = lo & 0xff;
  }
  if (mask) {
    target[at++] = mask[0];
    target[at++] = mask[1];
    target[at++] = mask[2];
    target[at++] = mask[3];
  }
  return at - start;
}

/** Options of {@link encodeFrame}. */
export interface EncodeOptions {
  /**
   * The 4-byte masking key. Clients MUST mask every frame they send and
   * servers MUST NOT (RFC 6455 §5.1); the caller picks by passing a key or not.
   */
  mask?: Uint8Array;
}

/**
 * Encodes one frame: header and payload in a single buffer, the payload
 * copied (and masked when a key is given). The frame is checked against the
 * rules a sender must follow: control frames are final and carry at most 125
 * bytes, the opcode is a known one.
 *
 * @throws {ProtocolError} when the frame breaks a sender rule
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeFrame, Opcode } from "./frame.ts";
 * const payload = new TextEncoder().encode("Hello");
 * const bytes = encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Text, payload });
 * assert.deepEqual([...bytes], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]); // RFC 6455 §5.7
 * ```
 */
export function encodeFrame(frame: Frame, options: EncodeOptions = {}): Uint8Array {
  checkOutgoing(frame);
  const { payload } = frame;
  const mask = options.mask;
  if (mask && mask.length !== 4) throw new RangeError("a masking key is 4 bytes");
  const size = headerSize(payload.length, mask !== undefined);
  const out = new Uint8Array(size + payload.length);
  writeHeader(out, 0, frame.fin, frame.rsv, frame.opcode, payload.length, mask);
  out.set(payload, size);
  if (mask) applyMask(out.subarray(size), mask);
  return out;
}

/** Checks the rules every sender must follow before a frame leaves. */
export function checkOutgoing(frame: Frame): void {
  if (!isKnownOpcode(frame.opcode)) {
    throw new ProtocolError("OPCODE_RESERVED", `opcode 0x${frame.opcode.toString(16)} is reserved`);
  }
  if (isControl(frame.opcode)) {
    // RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less
    // and MUST NOT be fragmented.
    if (frame.payload.length > MAX_CONTROL_PAYLOAD) {
      throw new ProtocolError("CONTROL_TOO_LONG", "a control frame carries at most 125 bytes");
    }
    if (!frame.fin) {
      throw new ProtocolError("CONTROL_FRAGMENTED", "control frames cannot be fragmented");
    }
  }
  if (frame.rsv < 0 || frame.rsv > 7) throw new RangeError("rsv is a 3-bit value");
}
