/**
 * sprig's server side: the handler specification, `serve()` and pub/sub.
 *
 * - `handler/`: the host-agnostic handler runtime — the specification
 *   (`handler.ts`), the driver that runs it over a channel, pub/sub, the
 *   options, keepalive, and what every host shares (`host.ts`);
 * - `http/`: sprig's own HTTP/1.1 server — `serve()`, the listeners (Deno,
 *   Bun, node:net), the HTTP loop, the upgrade, and the channel over a raw
 *   socket;
 * - `adapters/`: the same handler on `Deno.serve`, `Bun.serve` and
 *   `node:http` (published as `@sprig/websocket/adapters`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../../mod.ts";
 * import { serve } from "./mod.ts";
 * const server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }), // echo
 * });
 * const ws = await connect(server.url);
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * await server.shutdown(); // every connection is closed with 1001 ("going away")
 * assert.equal((await ws.closed).code, 1001);
 * ```
 *
 * @module
 */

export {
  type Awaitable,
  type ConnectionContext,
  type ConnectionRef,
  type ControlFrame,
  type ControlMessage,
  defineHandler,
  type Handler,
  type HandlerResult,
  type MessageItem,
  type MessageOptions,
  type PeerCertificate,
  type Push,
  type Reply,
  type Stop,
  type TerminateReason,
  type TestContext,
  testContext,
  type TlsInfo,
} from "./handler/handler.ts";
export { type OutgoingMessage } from "./handler/message.ts";
export { serve, type Server } from "./serve.ts";
export type { ShutdownOptions } from "./handler/host.ts";
export {
  SERVER_DEFAULTS,
  type UpgradeAccept,
  type UpgradeHook,
  type UpgradeInfo,
  type WebSocketHostOptions,
} from "./handler/options.ts";
export type { FetchInfo, ServeOptions, ServeTlsOptions, TlsIdentity } from "./http/options.ts";
export {
  type Broker,
  type BrokerTarget,
  type HistoryBounds,
  type HistoryRead,
  type SharedHistory,
  type SubscribeOptions,
  type TopicOptions,
  Topics,
  type TopicsOptions,
} from "./handler/pubsub.ts";
export { type DrainWatcher, PublishedMessage, type Subscriber } from "./handler/message.ts";
export {
  type EnvelopeOption,
  HISTORY_DEFAULTS,
  type ResumeReport,
  type RetainOptions,
  type SeqRange,
} from "./handler/history.ts";
export {
  envelope,
  type EnvelopeFields,
  MAX_CARRIED_POSITIONS,
  openEnvelope,
  type Position,
  POSITIONS_PARAM,
  positionsParam,
  resumeFrom,
  resumePositions,
} from "../session/envelope.ts";
export {
  RESEND_DEFAULTS,
  resendable,
  ResendStore,
  resendStore,
  type ResendStoreOptions,
} from "./handler/resend.ts";
export { ackPayload, openResent, readAck, resendWrap, SESSION_PARAM } from "../session/envelope.ts";
export { SLOW_DEFAULTS, type SlowPolicy, type SlowReport } from "./handler/slow.ts";
export type { ChannelCapabilities } from "./handler/channel.ts";
export type { WebSocketHub } from "./handler/host.ts";
