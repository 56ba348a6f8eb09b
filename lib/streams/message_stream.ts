/**
 * Frames → messages, as a TransformStream.
 *
 * @module
 */

import { type AssemblerOptions, type Message, MessageAssembler } from "../protocol/assembler.ts";
import { ProtocolError } from "../errors.ts";
import { type Frame, isControl } from "../protocol/frame.ts";

/** A message, or a control frame passed through in its place in the stream. */
export type MessageOrControl = Message | { type: "control"; frame: Frame };

/**
 * Reassembles frames into messages (see {@link MessageAssembler}); control
 * frames pass through in order, between the messages around them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoderStream } from "./frame_decoder_stream.ts";
 * import { MessageStream } from "./message_stream.ts";
 * // "Hel" + "lo" in two fragments with a ping between them (RFC 6455 §5.4, §5.7).
 * const bytes = ReadableStream.from([new Uint8Array([
 *   0x01, 0x03, 0x48, 0x65, 0x6c, // text, not final: "Hel"
 *   0x89, 0x00, // ping, empty
 *   0x80, 0x02, 0x6c, 0x6f, // continuation, final: "lo"
 * ])]);
 * const messages = bytes.pipeThrough(new FrameDecoderStream()).pipeThrough(new MessageStream());
 * const reader = messages.getReader();
 * assert.equal((await reader.read()).value?.type, "control"); // the ping, in its place
 * assert.deepEqual((await reader.read()).value, { type: "text", data: "Hello" });
 * ```
 */
export class MessageStream extends TransformStream<Frame, MessageOrControl> {
  /**
   * The stream errors when a limit is passed, when the frames break the
   * message rules (RFC 6455 §5.4), and when the input ends inside a
   * fragmented message.
   *
   * @param options limits on each message's size and fragment count, and the
   *   extensions to decode with
   */
  constructor(options: AssemblerOptions = {}) {
    const assembler = new MessageAssembler(options);
    super({
      transform(frame, controller) {
        if (isControl(frame.opcode)) {
          controller.enqueue({ type: "control", frame });
          return;
        }
        const message = assembler.push(frame);
        if (message !== undefined) controller.enqueue(message);
      },
      flush() {
        if (assembler.inProgress) {
          throw new ProtocolError("STREAM_TRUNCATED", "stream ended inside a fragmented message");
        }
      },
    });
  }
}
