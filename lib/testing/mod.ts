/**
 * The test kit: drive a handler without sockets ({@link driveHandler},
 * {@link testContext}), and script a raw WebSocket peer for integration
 * tests ({@link connectPeer}, {@link listenPeer}): any bytes, split at any
 * byte, a slow or stuck reader, a connection dropped mid-frame, and what
 * sprig answered (its frames, its close code, how long it took). Works
 * under `node:test`, `deno test` and `bun test` alike; see docs/testing.md.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "../../mod.ts";
 * import { connectPeer } from "./mod.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * const peer = await connectPeer(server.url);
 * // "hi" split at every byte still makes one message.
 * await peer.sendSplit(peer.encode({ opcode: 1, payload: "hi" }), 1);
 * assert.equal(await peer.nextText(), "hi");
 * // Invalid UTF-8 in a text frame: sprig closes with 1007 (RFC 6455 §8.1).
 * await peer.sendFrame({ opcode: 1, payload: new Uint8Array([0xc3, 0x28]) });
 * assert.equal((await peer.closed()).code, 1007);
 * ```
 *
 * @module
 */

export {
  closePayload,
  connectPeer,
  type ConnectPeerOptions,
  encodeRawFrame,
  listenPeer,
  type ListenPeerOptions,
  type PeerCloseResult,
  type PeerServer,
  type RawFrame,
  ScriptedPeer,
} from "./peer.ts";
export {
  driveHandler,
  type DriveHandlerOptions,
  type HandlerDriver,
  type RecordedStop,
} from "./handler.ts";
export { type TestContext, testContext } from "../server/handler/handler.ts";
export type { Frame } from "../protocol/frame.ts";
// The types the ones above refer to, so that this entry's documentation is complete.
export type {
  Awaitable,
  ConnectionContext,
  ConnectionRef,
  ControlFrame,
  ControlMessage,
  Handler,
  HandlerResult,
  Push,
  Reply,
  Stop,
  TerminateReason,
} from "../server/handler/handler.ts";
export type { OutgoingMessage } from "../server/handler/message.ts";
export type { MessageData } from "../session/session.ts";
export type { CloseInfo } from "../errors.ts";
export type { TransportAddress } from "../transport/transport.ts";
export type { ResumeReport, SeqRange } from "../server/handler/history.ts";
export type { Position } from "../session/envelope.ts";
export type { SubscribeOptions } from "../server/handler/pubsub.ts";
export type { DrainWatcher, PublishedMessage, Subscriber } from "../server/handler/message.ts";
export type { CustomErrorCode, SprigError } from "../errors.ts";
export type { ERROR_CODES, ErrorCode } from "../error_codes.ts";
export type { SlowPolicy, SlowReport } from "../server/handler/slow.ts";
