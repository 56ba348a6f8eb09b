/**
 * Frames → bytes, as a TransformStream.
 *
 * @module
 */

import { encodeFrame, type Frame } from "../protocol/frame.ts";

/** Options of {@link FrameEncoderStream}. */
export interface FrameEncoderOptions {
  /**
   * Mask every frame with a fresh random key, as a client MUST (RFC 6455
   * §5.3). Default false (server).
   */
  mask?: boolean;
}

/**
 * Encodes frames into bytes, one chunk per frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameEncoderStream } from "./frame_encoder_stream.ts";
 * const frames = ReadableStream.from([
 *   { fin: true, rsv: 0, opcode: 1, payload: new TextEncoder().encode("Hello") },
 * ]);
 * const reader = frames.pipeThrough(new FrameEncoderStream({ mask: true })).getReader();
 * const { value } = await reader.read();
 * // FIN + text, MASK bit + length 5, a random 4-byte key, then the masked payload (RFC 6455 §5.2).
 * assert.deepEqual([...value!.subarray(0, 2)], [0x81, 0x85]);
 * assert.equal(value!.length, 2 + 4 + 5);
 * ```
 */
export class FrameEncoderStream extends TransformStream<Frame, Uint8Array> {
  /** Encodes as a client with `mask: true`, as a server without. */
  constructor(options: FrameEncoderOptions = {}) {
    const mask = options.mask ?? false;
    super({
      transform(frame, controller) {
        controller.enqueue(
          encodeFrame(frame, mask ? { mask: crypto.getRandomValues(new Uint8Array(4)) } : {}),
        );
      },
    });
  }
}
