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
 * import { FrameEncoderStream } from "./frame_encoder_stream.ts";
 * const bytes = frameStream.pipeThrough(new FrameEncoderStream({ mask: true }));
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
