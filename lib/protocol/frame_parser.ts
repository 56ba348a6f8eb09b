/**
 * The resumable frame parser: bytes in any chunking → frames.
 *
 * @module
 */

import { MessageTooBigError, ProtocolError, type SprigError } from "../errors.ts";
import { type Frame, isControl, isKnownOpcode, MAX_CONTROL_PAYLOAD } from "./frame.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { applyMask } from "./mask.ts";
import { concatBytes } from "./bytes.ts";

/** Whether incoming frames must, must not, or may be masked. */
export type MaskPolicy = "required" | "forbidden" | "any";

/** Options of {@link FrameParser}. */
export interface FrameParserOptions {
  /**
   * RFC 6455 §5.1: a server MUST close on an unmasked frame (`"required"`),
   * a client MUST close on a masked one (`"forbidden"`). Default `"any"`.
   */
  mask?: MaskPolicy;
  /** RSV bits that negotiated extensions own; any other set bit fails. Default 0. */
  allowedRsv?: number;
  /** Largest payload of one frame in bytes. Default 64 MiB. */
  maxFrameBytes?: number;
}

/** The masking key of the frame being unmasked, shared by every parser. */
const MASK = new Uint8Array(4);

/**
 * Bytes of payload buffers that every parser of the process may hold
 * allocated ahead of the bytes that fill them. A frame whose payload spans
 * reads gets one buffer of its full length (filled in place, read into
 * directly where the transport can) while the budget allows; past it, the
 * parser holds the pieces as they arrive and joins them at the end. So a
 * peer that sends only headers claiming large frames pins at most this
 * much in the whole process, not a frame's length per connection.
 */
const AHEAD_BUDGET_BYTES = 64 * 1024 * 1024;
let aheadBytes = 0;
/** A parser dropped mid-frame without {@link FrameParser.dispose} gives its share back when collected. */
const aheadReturned: FinalizationRegistry<number> | undefined =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<number>((bytes) => (aheadBytes -= bytes))
    : undefined;
/** Free bytes in front of a payload buffer: the largest frame header. */
const HEADROOM = 14;
/** Smaller payloads spanning reads are held as pieces: joining them costs less than a buffer made ahead. */
const AHEAD_MIN_BYTES = 4096;

/** The parts of no payload, shared: a payload held as parts gets its own array. */
const NO_PARTS: Uint8Array[] = [];

const HEAD = 0;
const PAYLOAD = 1;
const FAILED = 2;
/** Disposed: the connection ended; what follows is not parsed. */
const DISPOSED = 3;

/**
 * An incremental frame parser written as an explicit state machine. Feed it
 * chunks split anywhere, one byte at a time if need be; it returns every
 * complete frame and keeps the rest for the next chunk.
 *
 * Frame-level rules are enforced here: reserved opcodes and RSV bits, the
 * masking rule, control frames (≤ 125 bytes, never fragmented), 64-bit
 * lengths with the top bit clear, and the frame size limit. Message-level
 * rules (continuation order, UTF-8) belong to {@link MessageAssembler}.
 *
 * Payloads are views into the chunk when a frame lies within one chunk, and
 * masked payloads are unmasked in place: the parser owns the chunks it is fed.
 * A payload spanning chunks is copied into one buffer of the frame's length
 * as it arrives; a transport that can read into a given buffer asks
 * {@link FrameParser.payloadTail} where the next bytes go and reads them
 * there, with no copy at all. Buffers allocated ahead of their bytes come
 * from a process-wide budget (64 MiB); past it, and for payloads under
 * 4 KiB, pieces are held as they arrive and joined once complete, so memory
 * follows the bytes received, not the lengths headers merely claim.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameParser } from "./frame_parser.ts";
 * const parser = new FrameParser();
 * // RFC 6455 §5.7, split anywhere: the parser resumes.
 * const bytes = new Uint8Array([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
 * assert.equal(parser.parse(bytes.subarray(0, 3)).frames.length, 0);
 * const { frames } = parser.parse(bytes.subarray(3));
 * assert.equal(frames.length, 1);
 * assert.equal(frames[0]!.opcode, 1);
 * assert.equal(new TextDecoder().decode(frames[0]!.payload), "Hello");
 * ```
 */
export class FrameParser {
  #state = HEAD;
  #error: SprigError | undefined;
  readonly #maskPolicy: MaskPolicy;
  readonly #allowedRsv: number;
  readonly #maxFrameBytes: number;

  /** Header bytes collected across chunks; made the first time a header is split. */
  #head: Uint8Array | undefined;
  #headLen = 0;

  // The frame being read.
  #fin = false;
  #rsv = 0;
  #opcode = 0;
  #masked = false;
  /** The current frame's masking key, its four bytes big-endian in one number. */
  #mask = 0;
  #length = 0;
  /** The payload of a frame that spans chunks, allocated at its full length, filled in place. */
  #payload: Uint8Array | undefined;
  /** Without a payload buffer (past the budget): pieces held as they arrive, joined once complete. */
  #parts: Uint8Array[] = NO_PARTS;
  #filled = 0;

  /**
   * For the frame just passed to `onFrame` (read it in the callback): how
   * many bytes in front of its payload, in the payload's buffer, held only
   * this frame's header (or were left free), so that a frame sent back with
   * the same payload can have its header written there. @internal
   */
  lastRoom = 0;

  /** A parser with the given mask policy, allowed RSV bits and frame size limit. */
  constructor(options: FrameParserOptions = {}) {
    this.#maskPolicy = options.mask ?? "any";
    this.#allowedRsv = options.allowedRsv ?? 0;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes;
  }

  /** The error that stopped the parser, if any. A failed parser accepts nothing more. */
  get error(): SprigError | undefined {
    return this.#error;
  }

  /** True between frames: no partial header or payload is held. */
  get idle(): boolean {
    return (this.#state === HEAD && this.#headLen === 0) || this.#state === DISPOSED;
  }

  /** Bytes held for a frame that is not complete yet. */
  get buffered(): number {
    return this.#state === PAYLOAD ? this.#filled : this.#state === HEAD ? this.#headLen : 0;
  }

  /**
   * Feeds a chunk and calls `onFrame` for each complete frame, in order.
   * Frames before a bad byte are delivered; then the error is thrown, and
   * the parser stays failed.
   *
   * @throws {ProtocolError | MessageTooBigError} at the first violation
   */
  push(chunk: Uint8Array, onFrame: (frame: Frame) => void): void {
    if (this.#state >= FAILED) {
      if (this.#state === FAILED) throw this.#error!;
      return;
    }
    const n = chunk.length;
    let i = 0;
    // (onFrame may dispose of the parser: then the rest is not parsed.)
    while (i < n && this.#state !== DISPOSED) {
      if (this.#state === HEAD) {
        if (this.#headLen === 0) {
          // Fast path: the whole header is in this chunk.
          const size = n - i >= 2 ? headerLength(chunk[i + 1]) : 0;
          if (size > 0 && n - i >= size) {
            this.#readHeader(chunk, i);
            i += size;
            if (this.#length <= n - i) {
              const payload = chunk.subarray(i, i + this.#length);
              i += this.#length;
              if (this.#masked) applyMask(payload, this.#maskBytes());
              this.lastRoom = size;
              onFrame(this.#frame(payload));
            } else {
              this.#startPayload(chunk.subarray(i));
              i = n;
            }
            continue;
          }
        }
        // Slow path: collect header bytes across chunks.
        const head = this.#head ??= new Uint8Array(14);
        head[this.#headLen++] = chunk[i++];
        if (this.#headLen < 2) continue;
        const size = headerLength(head[1]);
        while (this.#headLen < size && i < n) head[this.#headLen++] = chunk[i++];
        if (this.#headLen < size) continue;
        this.#readHeader(head, 0);
        this.#headLen = 0;
        if (this.#length === 0) {
          this.lastRoom = 0;
          onFrame(this.#frame(new Uint8Array(0)));
          continue;
        }
        const rest = chunk.subarray(i, Math.min(n, i + this.#length));
        i += rest.length;
        if (rest.length === this.#length) {
          if (this.#masked) applyMask(rest, this.#maskBytes());
          // (The chunk's first `i` bytes are the end of this frame's header.)
          this.lastRoom = i - rest.length;
          onFrame(this.#frame(rest));
        } else {
          this.#startPayload(rest);
        }
      } else {
        const take = Math.min(this.#length - this.#filled, n - i);
        const into = this.#payload;
        if (into === undefined) this.#parts.push(chunk.subarray(i, i + take));
        else if (
          i !== 0 || chunk.buffer !== into.buffer ||
          chunk.byteOffset !== into.byteOffset + this.#filled
        ) {
          into.set(take === n ? chunk : chunk.subarray(i, i + take), this.#filled);
        } // else: the transport read these bytes into place (payloadTail)
        this.#filled += take;
        i += take;
        if (this.#filled === this.#length) {
          let payload: Uint8Array;
          if (into === undefined) {
            payload = concatBytes(this.#parts, this.#length);
            this.#parts = NO_PARTS;
            this.lastRoom = 0;
          } else {
            payload = into;
            this.#dropPayload();
            this.lastRoom = HEADROOM;
          }
          this.#state = HEAD;
          if (this.#masked) applyMask(payload, this.#maskBytes());
          onFrame(this.#frame(payload));
        }
      }
    }
  }

  /**
   * Feeds a chunk and returns what it held: the complete frames, and the
   * error if the chunk broke a rule (frames before the bad byte are kept).
   */
  parse(chunk: Uint8Array): { frames: Frame[]; error?: SprigError } {
    const frames: Frame[] = [];
    try {
      this.push(chunk, (f) => frames.push(f));
      return { frames };
    } catch (error) {
      return { frames, error: error as SprigError };
    }
  }

  /**
   * Where the next bytes of the current frame's payload go, when the parser
   * holds a buffer for it: a view of its unfilled part, at most the bytes
   * the frame still lacks. A transport that reads into it and passes the
   * same view (or its start) to {@link push} saves the copy. Undefined
   * between frames and for payloads held as pieces.
   */
  payloadTail(): Uint8Array | undefined {
    const into = this.#payload;
    return into === undefined || this.#state !== PAYLOAD ? undefined : into.subarray(this.#filled);
  }

  /**
   * Forgets a frame in progress, gives its buffer's budget back and parses
   * nothing more (the connection ended): later chunks are ignored.
   */
  dispose(): void {
    this.#dropPayload();
    this.#parts = NO_PARTS;
    this.#filled = 0;
    this.#headLen = 0;
    if (this.#state !== FAILED) this.#state = DISPOSED;
  }

  // Memory allocated ahead of the bytes comes from the process-wide budget
  // (AHEAD_BUDGET_BYTES); past it, it grows with the bytes that actually
  // arrive, never with the length a header merely claims.
  #startPayload(first: Uint8Array): void {
    const length = this.#length;
    if (length >= AHEAD_MIN_BYTES && aheadBytes + length <= AHEAD_BUDGET_BYTES) {
      aheadBytes += length;
      // Bytes in front of the payload, as a frame's header has in a chunk:
      // a payload sent back as it came gets its header written there.
      const into = this.#payload = new Uint8Array(HEADROOM + length).subarray(HEADROOM);
      aheadReturned?.register(this, length, into);
      into.set(first);
    } else {
      this.#parts = first.length > 0 ? [first] : [];
    }
    this.#filled = first.length;
    this.#state = PAYLOAD;
  }

  #dropPayload(): void {
    const into = this.#payload;
    if (into === undefined) return;
    aheadBytes -= into.length;
    aheadReturned?.unregister(into);
    this.#payload = undefined;
  }

  /** The masking key as bytes, in a buffer shared by every parser (applyMask is synchronous). */
  #maskBytes(): Uint8Array {
    const m = this.#mask;
    MASK[0] = m >>> 24;
    MASK[1] = (m >>> 16) & 0xff;
    MASK[2] = (m >>> 8) & 0xff;
    MASK[3] = m & 0xff;
    return MASK;
  }

  #frame(payload: Uint8Array): Frame {
    return { fin: this.#fin, rsv: this.#rsv, opcode: this.#opcode, payload };
  }

  #fail(error: SprigError): never {
    this.#state = FAILED;
    this.#error = error;
    this.#dropPayload();
    this.#parts = NO_PARTS;
    this.#filled = 0;
    this.#headLen = 0;
    throw error;
  }

  /** Decodes and checks a complete header starting at `b[at]`. */
  #readHeader(b: Uint8Array, at: number): void {
    const b0 = b[at];
    const b1 = b[at + 1];
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >>> 4) & 7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let p = at + 2;
    if (length === 126) {
      length = (b[p] << 8) | b[p + 1];
      p += 2;
    } else if (length === 127) {
      // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
      if (b[p] & 0x80) {
        this.#fail(
          new ProtocolError("LENGTH_MSB_SET", "64-bit payload length has its top bit set"),
        );
      }
      const hi = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
      const lo = ((b[p + 4] << 24) | (b[p + 5] << 16) | (b[p + 6] << 8) | b[p + 7]) >>> 0;
      length = hi * 0x1_0000_0000 + lo;
      p += 8;
    }
    // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them.
    if ((rsv & ~this.#allowedRsv) !== 0) {
      this.#fail(
        new ProtocolError(
          "RSV_SET",
          `reserved bits 0b${rsv.toString(2).padStart(3, "0")} set without an extension`,
        ),
      );
    }
    // RFC 6455 §5.2: reserved opcodes MUST fail the connection.
    if (!isKnownOpcode(opcode)) {
      this.#fail(new ProtocolError("OPCODE_RESERVED", `reserved opcode 0x${opcode.toString(16)}`));
    }
    if (isControl(opcode)) {
      // RFC 6455 §5.5: control frames MUST NOT be fragmented and MUST carry
      // a payload of 125 bytes or less.
      if (!fin) this.#fail(new ProtocolError("CONTROL_FRAGMENTED", "fragmented control frame"));
      if (length > MAX_CONTROL_PAYLOAD) {
        this.#fail(
          new ProtocolError("CONTROL_TOO_LONG", `control frame of ${length} bytes (at most 125)`),
        );
      }
    }
    // RFC 6455 §5.1: a server MUST close on an unmasked frame; a client MUST
    // close on a masked one.
    if (masked && this.#maskPolicy === "forbidden") {
      this.#fail(new ProtocolError("MASK_UNEXPECTED", "masked frame from a server"));
    }
    if (!masked && this.#maskPolicy === "required") {
      this.#fail(new ProtocolError("MASK_MISSING", "unmasked frame from a client"));
    }
    if (length > this.#maxFrameBytes) {
      this.#fail(
        new MessageTooBigError(
          "FRAME_TOO_BIG",
          `frame of ${length} bytes exceeds maxFrameBytes ${this.#maxFrameBytes}`,
          this.#maxFrameBytes,
        ),
      );
    }
    this.#fin = fin;
    this.#rsv = rsv;
    this.#opcode = opcode;
    this.#length = length;
    this.#masked = masked;
    if (masked) this.#mask = (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
  }
}

/** Header size implied by the second header byte. */
function headerLength(b1: number): number {
  const len = b1 & 0x7f;
  return (len < 126 ? 2 : len === 126 ? 4 : 10) + ((b1 & 0x80) !== 0 ? 4 : 0);
}
