/**
 * Message reassembly: data frames → whole messages, with limits that count
 * parts as well as bytes.
 *
 * @module
 */

import { InvalidDataError, MessageTooBigError, ProtocolError } from "../errors.ts";
import { ExtensionChain } from "./extension.ts";
import { type Frame, isControl, Opcode } from "./frame.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { concatBytes } from "./bytes.ts";
import { decodeUtf8, decodeValidatedUtf8, Utf8Validator } from "./utf8.ts";

/** A complete data message. */
export type Message =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array };

/** Options of {@link MessageAssembler}. */
export interface AssemblerOptions
  extends Partial<Pick<Limits, "maxMessageBytes" | "maxFragments">> {
  /** Negotiated extensions; their decoders run on each message. */
  extensions?: ExtensionChain;
}

/** Fragments at least this large are kept as they are; smaller ones are copied into blocks. */
const KEEP_THRESHOLD = 4096;
const MAX_BLOCK = 64 * 1024;

/**
 * Reassembles fragmented messages (RFC 6455 §5.4) and decodes them: runs
 * the extensions' decoders, validates and decodes text. Feed it data
 * frames (text, binary, continuation) in order; control frames are not its
 * business and are refused.
 *
 * Limits: the message's size in bytes (both on the wire and after
 * decompression), and the number of fragments. Small fragments are copied
 * into shared blocks, so memory stays proportional to the bytes received
 * even for a message made of millions of 1-byte fragments. Uncompressed
 * text is validated as each fragment arrives and fails at the first bad byte.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MessageAssembler } from "./assembler.ts";
 * const a = new MessageAssembler();
 * const enc = new TextEncoder();
 * // RFC 6455 §5.7: a fragmented unmasked text message.
 * assert.equal(a.push({ fin: false, rsv: 0, opcode: 1, payload: enc.encode("Hel") }), undefined);
 * assert.deepEqual(
 *   a.push({ fin: true, rsv: 0, opcode: 0, payload: enc.encode("lo") }),
 *   { type: "text", data: "Hello" },
 * );
 * ```
 */
export class MessageAssembler {
  readonly #maxBytes: number;
  readonly #maxFragments: number;
  readonly #chain: ExtensionChain;
  /** Validates fragmented text as it arrives; made for the first such message. */
  #validator: Utf8Validator | undefined;

  /** Opcode of the message in progress, or -1. */
  #opcode = -1;
  #rsv = 0;
  #size = 0;
  #count = 0;
  /** Pieces of a fragmented message; made on the first piece (an idle connection holds none). */
  #parts: Uint8Array[] | undefined;
  #block: Uint8Array | undefined;
  #blockUsed = 0;

  /** An assembler with the given message size and fragment count limits. */
  constructor(options: AssemblerOptions = {}) {
    this.#maxBytes = options.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes;
    this.#maxFragments = options.maxFragments ?? DEFAULT_LIMITS.maxFragments;
    this.#chain = options.extensions ?? ExtensionChain.none;
  }

  #lastTextBytes: Uint8Array | undefined;

  /**
   * The UTF-8 bytes of the text message {@link push} just returned (valid,
   * so exactly what re-encoding its string would give), once; undefined
   * after a binary message or a second call. A connection uses them to send
   * that same string back without encoding it again. @internal
   */
  takeTextBytes(): Uint8Array | undefined {
    const bytes = this.#lastTextBytes;
    this.#lastTextBytes = undefined;
    return bytes;
  }

  /** True while a fragmented message is incomplete. */
  get inProgress(): boolean {
    return this.#opcode !== -1;
  }

  /** Bytes held for the message in progress. */
  get buffered(): number {
    return this.#size;
  }

  /**
   * Takes the next data frame; returns the message when this frame
   * completes one.
   *
   * @throws {ProtocolError} (1002) for frames out of order or with stray RSV bits
   * @throws {InvalidDataError} (1007) for text that is not UTF-8
   * @throws {MessageTooBigError} (1009) when a limit is passed
   */
  push(frame: Frame): Message | undefined {
    const { opcode, payload } = frame;
    if (isControl(opcode)) throw new TypeError("control frames are not part of a message");
    if (opcode === Opcode.Continuation) {
      // RFC 6455 §5.4: a continuation frame only continues a started message.
      if (this.#opcode === -1) {
        throw new ProtocolError(
          "CONTINUATION_UNEXPECTED",
          "continuation frame without a message to continue",
        );
      }
      // RFC 7692 §6.1 (and per-message extensions generally): RSV bits
      // belong to a message's first frame only.
      if (frame.rsv !== 0) {
        throw new ProtocolError("RSV_ON_CONTINUATION", "reserved bits set on a continuation frame");
      }
    } else {
      // RFC 6455 §5.4: fragments of one message are not interleaved with
      // another message's.
      if (this.#opcode !== -1) {
        throw new ProtocolError(
          "MESSAGE_INTERLEAVED",
          "new data frame while a fragmented message is incomplete",
        );
      }
      if ((frame.rsv & ~this.#chain.rsv) !== 0) {
        throw new ProtocolError("RSV_SET", "reserved bits set without an extension that owns them");
      }
      if (frame.fin) return this.#finish(opcode, frame.rsv, payload);
      this.#opcode = opcode;
      this.#rsv = frame.rsv;
    }

    if (++this.#count > this.#maxFragments) {
      const limit = this.#maxFragments;
      this.reset();
      throw new MessageTooBigError(
        "TOO_MANY_FRAGMENTS",
        `message has more than ${limit} fragments`,
        limit,
      );
    }
    this.#checkSize(this.#size + payload.length);
    if (
      this.#opcode === Opcode.Text && this.#rsv === 0 &&
      !(this.#validator ??= new Utf8Validator()).push(payload)
    ) {
      this.reset();
      throw new InvalidDataError("INVALID_UTF8", "text message is not valid UTF-8");
    }
    this.#append(payload);
    if (!frame.fin) return undefined;

    const whole = this.#concat();
    const op = this.#opcode;
    const rsv = this.#rsv;
    const validated = op === Opcode.Text && rsv === 0;
    if (validated && !this.#validator!.complete) {
      this.reset();
      throw new InvalidDataError("INVALID_UTF8", "text message ends inside a UTF-8 sequence");
    }
    this.reset();
    if (validated) {
      this.#lastTextBytes = whole;
      return { type: "text", data: decodeValidatedUtf8(whole) };
    }
    return this.#finish(op, rsv, whole);
  }

  /** Drops the message in progress. */
  reset(): void {
    this.#opcode = -1;
    this.#rsv = 0;
    this.#size = 0;
    this.#count = 0;
    this.#parts = undefined;
    this.#block = undefined;
    this.#blockUsed = 0;
    this.#validator?.reset();
  }

  #checkSize(size: number): void {
    if (size > this.#maxBytes) {
      const limit = this.#maxBytes;
      this.reset();
      throw new MessageTooBigError(
        "MESSAGE_TOO_BIG",
        `message exceeds maxMessageBytes ${limit}`,
        limit,
      );
    }
  }

  /** Decodes a complete message's payload: extensions, then text. */
  #finish(opcode: number, rsv: number, payload: Uint8Array): Message {
    this.#checkSize(payload.length);
    if (!this.#chain.empty) payload = this.#chain.decode(payload, rsv, this.#maxBytes);
    if (opcode === Opcode.Text) {
      const data = decodeUtf8(payload);
      this.#lastTextBytes = payload;
      return { type: "text", data };
    }
    return { type: "binary", data: payload };
  }

  #append(data: Uint8Array): void {
    const n = data.length;
    this.#size += n;
    if (n === 0) return;
    if (n >= KEEP_THRESHOLD) {
      this.#sealBlock();
      (this.#parts ??= []).push(data);
      return;
    }
    let block = this.#block;
    if (block === undefined || block.length - this.#blockUsed < n) {
      this.#sealBlock();
      const size = Math.min(MAX_BLOCK, Math.max(KEEP_THRESHOLD, this.#size * 2));
      block = this.#block = new Uint8Array(size);
    }
    block.set(data, this.#blockUsed);
    this.#blockUsed += n;
  }

  #sealBlock(): void {
    if (this.#block !== undefined && this.#blockUsed > 0) {
      (this.#parts ??= []).push(this.#block.subarray(0, this.#blockUsed));
    }
    this.#block = undefined;
    this.#blockUsed = 0;
  }

  #concat(): Uint8Array {
    this.#sealBlock();
    return concatBytes(this.#parts ?? [], this.#size);
  }
}
