/**
 * Bytes → frames, as a TransformStream.
 *
 * @module
 */

import { ProtocolError } from "../errors.ts";
import type { Frame } from "../protocol/frame.ts";
import { FrameParser, type FrameParserOptions } from "../protocol/frame_parser.ts";

/**
 * Parses a byte stream into frames. Chunks may split frames anywhere. A
 * frame-level violation errors the stream after every frame before it was
 * delivered.
 *
 * @example
 * ```ts
 * import { FrameDecoderStream } from "./frame_decoder_stream.ts";
 * const frames = byteStream.pipeThrough(new FrameDecoderStream({ mask: "forbidden" }));
 * for await (const frame of frames) console.log(frame.opcode, frame.payload.length);
 * ```
 */
export class FrameDecoderStream extends TransformStream<Uint8Array, Frame> {
  constructor(options: FrameParserOptions = {}) {
    const parser = new FrameParser(options);
    super({
      transform(chunk, controller) {
        parser.push(chunk, (frame) => controller.enqueue(frame));
      },
      flush() {
        if (!parser.idle) throw new ProtocolError("STREAM_TRUNCATED", "stream ended inside a frame");
      },
    });
  }
}
