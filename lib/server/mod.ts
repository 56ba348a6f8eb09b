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
  type OutgoingMessage,
  type PeerCertificate,
  type Push,
  type Reply,
  type Stop,
  type TerminateReason,
  type TestContext,
  testContext,
  type TlsInfo,
} from "./handler/handler.ts";
export { serve, type Server } from "./http/serve.ts";
export type { ShutdownOptions } from "./handler/host.ts";
export {
  type FetchInfo,
  type ServeOptions,
  SERVER_DEFAULTS,
  type ServeTlsOptions,
  type TlsIdentity,
  type UpgradeAccept,
  type UpgradeHook,
  type UpgradeInfo,
  type WebSocketHostOptions,
} from "./handler/options.ts";
export {
  type Broker,
  type BrokerTarget,
  type DrainWatcher,
  type HistoryBounds,
  type HistoryRead,
  PublishedMessage,
  type SharedHistory,
  type SubscribeOptions,
  type Subscriber,
  type TopicOptions,
  Topics,
  type TopicsOptions,
} from "./handler/pubsub.ts";
export {
  envelope,
  type EnvelopeFields,
  type EnvelopeOption,
  HISTORY_DEFAULTS,
  MAX_CARRIED_POSITIONS,
  openEnvelope,
  type Position,
  POSITIONS_PARAM,
  positionsParam,
  resumeFrom,
  resumePositions,
  type ResumeReport,
  type RetainOptions,
  type SeqRange,
} from "./handler/history.ts";
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
