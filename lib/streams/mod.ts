/**
 * WHATWG stream codecs over the protocol core: bytes to frames, frames to
 * bytes, frames to messages. For pipelines that want frames as a stream;
 * the live connection (`connect()`, `serve()`) does not need them.
 *
 * @example
 * ```ts
 * import { FrameEncoderStream, FrameDecoderStream } from "@sprig/websocket/streams";
 * const encoder = new FrameEncoderStream({ mask: false });
 * const decoder = new FrameDecoderStream({ mask: "forbidden" });
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
