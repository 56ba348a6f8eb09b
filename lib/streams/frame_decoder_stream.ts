/**
 * Bytes → frames, as a readable/writable pair.
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
 * A TransformStream cannot keep that promise: erroring its readable side
 * discards the frames still queued there, so a chunk holding good frames and
 * then a bad byte would lose all but the first. Frames are queued here
 * instead, and the readable errors only once the reader has taken them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoderStream } from "./frame_decoder_stream.ts";
 * // An unmasked "Hello" (RFC 6455 §5.7) arriving in two chunks.
 * const byteStream = ReadableStream.from([
 *   new Uint8Array([0x81, 0x05, 0x48]),
 *   new Uint8Array([0x65, 0x6c, 0x6c, 0x6f]),
 * ]);
 * const frames = byteStream.pipeThrough(new FrameDecoderStream({ mask: "forbidden" }));
 * const reader = frames.getReader();
 * const { value: frame } = await reader.read();
 * assert.equal(frame!.opcode, 1);
 * assert.equal(new TextDecoder().decode(frame!.payload), "Hello");
 * assert.equal((await reader.read()).done, true);
 * ```
 */
export class FrameDecoderStream implements ReadableWritablePair<Frame, Uint8Array> {
  /** The frames, in order; it errors with a violation only once the frames before it were read. */
  readonly readable: ReadableStream<Frame>;
  /**
   * Bytes from the peer, split anywhere. A write resolves once the reader
   * has taken the frames it completed, so a slow reader slows the writer.
   */
  readonly writable: WritableStream<Uint8Array>;

  /**
   * Checks frames as the given side of a connection would.
   *
   * @param options the masking rule (a server passes `mask: "required"`, a
   *   client `mask: "forbidden"`), the RSV bits extensions own, and the frame
   *   size limit
   */
  constructor(options: FrameParserOptions = {}) {
    const parser = new FrameParser(options);
    let queue: Frame[] = [];
    let head = 0;
    /** Set once the input is done: closed cleanly (no error), failed, aborted, or the reader cancelled. */
    let end: { error?: unknown } | undefined;
    let frameReady: (() => void) | undefined;
    let queueDrained: (() => void) | undefined;
    const wakeReader = () => {
      frameReady?.();
      frameReady = undefined;
    };

    this.readable = new ReadableStream<Frame>({
      async pull(controller) {
        while (head === queue.length && end === undefined) {
          await new Promise<void>((r) => (frameReady = r));
        }
        if (head < queue.length) {
          controller.enqueue(queue[head++]);
          if (head === queue.length) {
            queue = [];
            head = 0;
            queueDrained?.();
            queueDrained = undefined;
          }
        } else if (end!.error !== undefined) {
          controller.error(end!.error);
        } else {
          controller.close();
        }
      },
      cancel(reason) {
        end ??= { error: reason };
        queue = [];
        head = 0;
        queueDrained?.();
      },
    }, { highWaterMark: 0 });

    this.writable = new WritableStream<Uint8Array>({
      async write(chunk) {
        if (end !== undefined) throw end.error;
        const { frames, error } = parser.parse(chunk);
        for (const f of frames) queue.push(f);
        if (error) end = { error };
        wakeReader();
        if (error) throw error;
        // Backpressure: take the next chunk once the reader has taken these frames.
        if (head < queue.length) await new Promise<void>((r) => (queueDrained = r));
      },
      close() {
        end ??= parser.idle
          ? {}
          : { error: new ProtocolError("STREAM_TRUNCATED", "stream ended inside a frame") };
        wakeReader();
        if (end.error !== undefined) throw end.error;
      },
      abort(reason) {
        end ??= { error: reason };
        wakeReader();
      },
    });
  }
}
