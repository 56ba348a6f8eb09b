/**
 * Where a {@link Connection} writes its frames: the bytes to send, in order,
 * until {@link OutputBuffer.take} hands them out. How they are laid out is
 * this file's business (measured on the echo benchmarks): small frames go
 * into one slab shared by every connection of the process, so a turn's
 * frames are contiguous and leave as one view, with no allocation per frame
 * and no copy to join them; medium payloads are copied after their header;
 * large unmasked payloads leave as their own view, or behind their own
 * received header's bytes when sent back.
 *
 * @module
 */

import { headerSize, Opcode, writeHeader } from "./frame.ts";
import { applyMask } from "./mask.ts";

/** Payloads smaller than this are copied after their header into one buffer. */
const COPY_THRESHOLD = 16 * 1024;
/** Frames up to this size are written into the shared output slab. */
const SLAB_FRAME_MAX = 4096;
const SLAB_SIZE = 64 * 1024;

/**
 * The slab shared by every connection of the process. Regions handed out
 * are never reused (views keep their slab alive until written); a full
 * slab is simply replaced.
 */
let slab = new Uint8Array(SLAB_SIZE);
let slabAt = 0;

/** `need` bytes of the slab, replacing it when full; returns where they start. */
function slabRegion(need: number): number {
  if (slabAt + need > SLAB_SIZE) {
    slab = new Uint8Array(SLAB_SIZE);
    slabAt = 0;
  }
  const at = slabAt;
  slabAt += need;
  return at;
}

/**
 * The output of one connection: frames encoded as they are sent, taken as
 * a list of chunks to write. A client's buffer masks every frame (RFC 6455
 * §5.3) with keys from `maskKey`; a server's does not. @internal
 */
export class OutputBuffer {
  readonly #maskKey: (() => Uint8Array) | undefined;
  #out: Uint8Array[] = [];
  #bytes = 0;
  /** The pending region of the slab (frames written since the last take), not yet in #out. */
  #regionSlab: Uint8Array | undefined;
  #regionStart = 0;
  #regionEnd = 0;

  /** `maskKey`: a client's source of masking keys; undefined for a server. */
  constructor(maskKey: (() => Uint8Array) | undefined) {
    this.#maskKey = maskKey;
  }

  /** Bytes queued for the next {@link take}. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The queued chunks, in order; the buffer is empty after. */
  take(): Uint8Array[] {
    this.#closeRegion();
    const out = this.#out;
    this.#out = [];
    this.#bytes = 0;
    return out;
  }

  /** Queues bytes as they are (a frame encoded elsewhere, or a payload after its header). */
  push(bytes: Uint8Array): void {
    this.#closeRegion();
    this.#out.push(bytes);
    this.#bytes += bytes.length;
  }

  /**
   * Encodes one frame. `room`: the bytes free in front of `payload` (a
   * received payload sent back, whose own header held them), where a large
   * unmasked frame's header may go so that it leaves as one buffer, with no
   * copy; 0 otherwise.
   */
  frame(fin: boolean, rsv: number, opcode: number, payload: Uint8Array, room: number): void {
    const length = payload.length;
    const maskKey = this.#maskKey;
    const size = headerSize(length, maskKey !== undefined);
    const need = size + length;
    if (need <= SLAB_FRAME_MAX) {
      const at = slabRegion(need);
      const buf = slab;
      if (maskKey !== undefined) {
        // RFC 6455 §5.3: a client MUST mask every frame, with a fresh key.
        const mask = maskKey();
        writeHeader(buf, at, fin, rsv, opcode, length, mask);
        buf.set(payload, at + size);
        applyMask(buf.subarray(at + size, at + need), mask);
      } else {
        writeHeader(buf, at, fin, rsv, opcode, length);
        buf.set(payload, at + size);
      }
      this.#pushRegion(buf, at, need);
      return;
    }
    if (maskKey !== undefined) {
      const mask = maskKey();
      const out = new Uint8Array(need);
      writeHeader(out, 0, fin, rsv, opcode, length, mask);
      out.set(payload, size);
      applyMask(out.subarray(size), mask);
      this.push(out);
    } else if (length < COPY_THRESHOLD) {
      const out = new Uint8Array(need);
      writeHeader(out, 0, fin, rsv, opcode, length);
      out.set(payload, size);
      this.push(out);
    } else if (room >= size) {
      // The bytes in front held the received frame's header (as long as
      // ours, plus the masking key) and nothing else reads them.
      const frame = new Uint8Array(payload.buffer, payload.byteOffset - size, need);
      writeHeader(frame, 0, fin, rsv, opcode, length);
      this.push(frame);
    } else {
      const head = new Uint8Array(size);
      writeHeader(head, 0, fin, rsv, opcode, length);
      this.push(head);
      this.push(payload);
    }
  }

  /**
   * Frames `text` as one final, unfragmented text frame without an encoder
   * call if it is all ASCII (at most 65,535 characters); false, with nothing
   * queued and no masking key drawn, otherwise.
   */
  asciiText(text: string): boolean {
    const length = text.length;
    const maskKey = this.#maskKey;
    const size = (length < 126 ? 2 : 4) + (maskKey !== undefined ? 4 : 0);
    const need = size + length;
    if (slabAt + need > SLAB_SIZE) {
      slab = new Uint8Array(SLAB_SIZE);
      slabAt = 0;
    }
    const buf = slab;
    const at = slabAt;
    const p = at + size;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return false; // the region is not taken: nothing was sent
      buf[p + i] = c;
    }
    if (maskKey !== undefined) {
      // RFC 6455 §5.3: a client MUST mask every frame, with a fresh key.
      const mask = maskKey();
      writeHeader(buf, at, true, 0, Opcode.Text, length, mask);
      applyMask(buf.subarray(p, p + length), mask);
    } else {
      writeHeader(buf, at, true, 0, Opcode.Text, length);
    }
    slabAt = at + need;
    this.#pushRegion(buf, at, need);
    return true;
  }

  /** Adds `length` bytes at `at` of `buf` (the slab) to the output, extending the pending region when contiguous. */
  #pushRegion(buf: Uint8Array, at: number, length: number): void {
    this.#bytes += length;
    if (this.#regionSlab === buf && this.#regionEnd === at) {
      this.#regionEnd = at + length;
      return;
    }
    this.#closeRegion();
    this.#regionSlab = buf;
    this.#regionStart = at;
    this.#regionEnd = at + length;
  }

  /** Moves the pending slab region into the output list. */
  #closeRegion(): void {
    const buf = this.#regionSlab;
    if (buf === undefined) return;
    this.#regionSlab = undefined;
    this.#out.push(buf.subarray(this.#regionStart, this.#regionEnd));
  }
}
