/**
 * WHATWG stream codecs over the protocol core: bytes to frames, frames to
 * bytes, frames to messages. For pipelines that want frames as a stream;
 * the live connection (`connect()`, `serve()`) does not need them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameDecoderStream, FrameEncoderStream, MessageStream } from "@sprig/websocket/streams";
 * // Frames to bytes (as a server writes them) and back to messages.
 * const text = (s: string) => new TextEncoder().encode(s);
 * const messages = ReadableStream.from([
 *   { fin: false, rsv: 0, opcode: 1, payload: text("Hel") },
 *   { fin: true, rsv: 0, opcode: 0, payload: text("lo") },
 * ])
 *   .pipeThrough(new FrameEncoderStream({ mask: false }))
 *   .pipeThrough(new FrameDecoderStream({ mask: "forbidden" }))
 *   .pipeThrough(new MessageStream());
 * const reader = messages.getReader();
 * assert.deepEqual(await reader.read(), { done: false, value: { type: "text", data: "Hello" } });
 * assert.equal((await reader.read()).done, true);
 * ```
 *
 * @module
 */

export type { Frame } from "../protocol/frame.ts";
export type { FrameParserOptions, MaskPolicy } from "../protocol/frame_parser.ts";
export type { Message } from "../protocol/assembler.ts";
export { FrameDecoderStream } from "./frame_decoder_stream.ts";
export { type FrameEncoderOptions, FrameEncoderStream } from "./frame_encoder_stream.ts";
export { type MessageOrControl, MessageStream } from "./message_stream.ts";
