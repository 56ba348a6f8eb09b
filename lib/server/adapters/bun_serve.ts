/**
 * Runs a sprig handler on `Bun.serve`'s WebSocket handlers. The same
 * handler object runs unchanged; Bun's uWebSockets does the protocol, and
 * sprig drives the handler:
 *
 * - `control` works (Bun reports pings and pongs) and inbound backpressure
 *   works (`ws.pause()`/`resume()`);
 * - compression is Bun's own permessage-deflate (`compression: false` turns
 *   it off; its options and `extensions` are not used); Bun does not say
 *   what was negotiated, so `context.extensions` is `""`; Bun inflates
 *   messages itself and, for a malformed compressed message, delivers what
 *   it could decode instead of closing with 1007 (sprig never sees the
 *   compressed bytes; sprig's own server and `node:http` close with 1007);
 * - `maxMessageBytes` becomes Bun's `maxPayloadLength` (Bun closes with 1009).
 *
 * @module
 */

import type { TimeoutError } from "../../errors.ts";
import { DEFAULT_DEFLATE_THRESHOLD } from "../../extensions/permessage_deflate.ts";
import type { KeepaliveOptions } from "../../session/session.ts";
import type { Ticker } from "../../util/ticker.ts";
import { Keepalive, type KeepaliveTarget } from "../handler/keepalive.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import type { ChannelCapabilities } from "../handler/channel.ts";
import { messageBytes } from "../handler/message.ts";
import type { Handler } from "../handler/handler.ts";
import type { OutgoingMessage } from "../handler/message.ts";
import { type Accepted, adapterHost, type WebSocketHub } from "../handler/host.ts";
import {
  SERVER_DEFAULTS,
  type UpgradeOptions,
  type WebSocketHostOptions,
} from "../handler/options.ts";
import {
  decideUpgrade,
  RuntimeChannel,
  type RuntimeChannelOptions,
  runtimeChannelOptions,
} from "./runtime_channel.ts";
import { plainBytes } from "../../protocol/bytes.ts";
import { listHas } from "../../protocol/field_list.ts";
import { afterTurn } from "../../session/live.ts";

/** The part of Bun's `ServerWebSocket` this adapter uses. */
export interface BunServerWebSocket {
  /** What `server.upgrade()` was given; the adapter keeps the connection's state here. */
  data: BunSocketData;
  /**
   * Sends a string as text, bytes as binary; `compress` asks for
   * permessage-deflate. Bun's status: bytes sent, -1 when queued behind
   * backpressure, 0 when dropped (the socket is closing).
   */
  send(data: string | Uint8Array, compress?: boolean): number;
  /** Sends a ping (keepalive, or a handler's push); the status is as for `send`. */
  ping(data?: Uint8Array): number;
  /** Sends a pong; the status is as for `send`. */
  pong(data?: Uint8Array): number;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
  /** Runs `callback` with the socket's writes joined into one (Bun's `cork`). */
  cork<R>(callback: (ws: BunServerWebSocket) => R): R;
  /** Bytes Bun holds unsent; while above 0, the next send waits for `drain`. */
  getBufferedAmount(): number;
  /** Stops reading while `maxQueuedMessages` wait for the handler (inbound backpressure). */
  pause?(): void;
  /** Reads from the socket again. */
  resume?(): void;
}

/** What this adapter keeps in each Bun socket's `data`. */
export interface BunSocketData {
  /** @internal */
  readonly accepted: Accepted;
  /** @internal */
  channel?: BunChannel;
}

/** The part of Bun's `Server` the upgrade needs. */
export interface BunServerLike {
  /**
   * Upgrades the request, with the adapter's `data` and the response headers
   * it chose (the subprotocol, the upgrade hook's); false when Bun refused.
   */
  upgrade(request: Request, options: { data: BunSocketData; headers?: HeadersInit }): boolean;
  /** The client's address, for `remoteAddress`; missing or `null` leaves it unknown. */
  requestIP?(request: Request): { address: string; port: number } | null;
}

/** The `websocket` object to pass to `Bun.serve`. */
export interface BunWebSocketHandlers {
  /** `maxMessageBytes`, in bytes: Bun closes with 1009 past it. */
  maxPayloadLength: number;
  /** 2^31 − 1: sprig applies `maxSendBufferBytes` itself, so Bun must never drop a message. */
  backpressureLimit: number;
  /** False, for the same reason. */
  closeOnBackpressureLimit: boolean;
  /** 0 (off): the host's idle timeout replaces Bun's. */
  idleTimeout: number;
  /** False: the host's keepalive pings instead, with its own timeout. */
  sendPings: boolean;
  /** Bun's own permessage-deflate; false only with `compression: false`. */
  perMessageDeflate: boolean;
  /** Starts the handler (`init`) on the upgraded socket. */
  open(ws: BunServerWebSocket): void;
  /** Queues a message for the handler's `in`. */
  message(ws: BunServerWebSocket, message: string | Uint8Array): void;
  /** Ends the connection with the code and reason Bun reports; 1006 counts as not clean. */
  close(ws: BunServerWebSocket, code: number, reason: string): void;
  /** Reports a ping to `control`; Bun answers it itself. */
  ping(ws: BunServerWebSocket, data: Uint8Array): void;
  /** Settles the keepalive and reports the pong to `control`. */
  pong(ws: BunServerWebSocket, data: Uint8Array): void;
  /** Lets sends that waited for Bun's buffer to empty go on. */
  drain(ws: BunServerWebSocket): void;
}

/** A handler hosted on `Bun.serve`. */
export interface BunServeAdapter<I = unknown, D = unknown> extends WebSocketHub<I> {
  /** What this host can report and enforce. */
  readonly capabilities: ChannelCapabilities;
  /** Pass as `Bun.serve({ websocket })`. */
  readonly websocket: BunWebSocketHandlers;
  /** True for a request asking to upgrade to WebSocket. */
  isUpgrade(request: Request): boolean;
  /**
   * Upgrades the request and runs the handler. Resolves with `undefined`
   * once upgraded (return nothing from `fetch`), or with the response to
   * send (a refusal: 403, 503, the hook's…). `options` carries what a
   * framework's route decided: `data` for `init` (e.g. the user its auth
   * middleware found), headers for the 101. (A framework that needs a
   * `Response` from every route may return any once upgraded: Bun ignores it.)
   */
  upgrade(
    request: Request,
    server: BunServerLike,
    options?: UpgradeOptions<D>,
  ): Promise<Response | undefined>;
}

/**
 * Hosts `handler` on `Bun.serve`.
 *
 * @example
 * ```ts ignore
 * // On Bun:
 * import assert from "node:assert/strict";
 * import { connect } from "../../../mod.ts";
 * import { bunServeAdapter } from "./bun_serve.ts";
 * const ws = bunServeAdapter({ in: (message) => ({ push: message }) }); // echo
 * const server = Bun.serve({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   websocket: ws.websocket,
 *   fetch: async (req, server) =>
 *     ws.isUpgrade(req) ? await ws.upgrade(req, server) : new Response("a page"),
 * });
 * await using client = await connect(`ws://127.0.0.1:${server.port}/`);
 * await client.send("hello");
 * assert.equal(await client.receive({ timeoutMs: 5000 }), "hello");
 * await ws.shutdown(); // closes every connection with 1001
 * await server.stop(true);
 * ```
 */
export function bunServeAdapter<S, I = unknown, D = unknown>(
  handler: Handler<S, I, D>,
  options: WebSocketHostOptions<D> = {},
): BunServeAdapter<I, D> {
  const host = adapterHost("bunServeAdapter()", handler, options, {
    ...options,
    compression: false, // Bun negotiates its own
    extensions: [],
  });
  const channelOptions = runtimeChannelOptions(options as WebSocketHostOptions<unknown>);
  const maxMessageBytes = channelOptions.maxMessageBytes;
  const keepalive = options.keepalive ?? SERVER_DEFAULTS.keepalive;
  const keepaliveTicker = host.keepaliveTicker(keepalive);
  // Bun compresses a message only when asked to; sprig asks from the same threshold it uses itself.
  const compression = options.compression ?? true;
  const compressFrom = compression === false
    ? Infinity
    : (compression === true ? undefined : compression.threshold) ?? DEFAULT_DEFLATE_THRESHOLD;
  const websocket: BunWebSocketHandlers = {
    maxPayloadLength: maxMessageBytes,
    // sprig applies the send-buffer cap itself; Bun must never drop a message silently.
    backpressureLimit: 2 ** 31 - 1,
    closeOnBackpressureLimit: false,
    // The driver's idle timeout and the channel's keepalive replace Bun's.
    idleTimeout: 0,
    sendPings: false,
    perMessageDeflate: options.compression !== false,
    open(ws) {
      const channel = new BunChannel(ws, channelOptions, keepalive, keepaliveTicker, compressFrom);
      ws.data.channel = channel;
      host.start(channel, ws.data.accepted, "");
    },
    message(ws, message) {
      // Bun corks the socket during its own callbacks: a reply sent now joins
      // that write (see BunChannel.sendNow).
      inCallback = ws;
      ws.data.channel?.receive(typeof message === "string" ? message : plainBytes(message));
      inCallback = undefined;
    },
    close(ws, code, reason) {
      ws.data.channel?.ended({ code, reason, wasClean: code !== 1006 });
    },
    ping(ws, data) {
      ws.data.channel?.receiveControl("ping", plainBytes(data));
    },
    pong(ws, data) {
      ws.data.channel?.pong(plainBytes(data));
    },
    drain(ws) {
      ws.data.channel?.drained();
    },
  };
  return {
    ...host.hub<I>(),
    capabilities: BunChannel.capabilities,
    websocket,
    isUpgrade: (request) => listHas(request.headers.get("upgrade"), "websocket"),
    async upgrade(request, server, upgradeOptions) {
      const ip = server.requestIP?.(request);
      const remoteAddress: TransportAddress | undefined = ip
        ? { hostname: ip.address, port: ip.port, transport: "tcp" }
        : undefined;
      const decision = await decideUpgrade(host, request, remoteAddress, upgradeOptions);
      if (!decision.accepted) return decision.response;
      const headers = new Headers(decision.headers);
      if (decision.protocol !== undefined) headers.set("Sec-WebSocket-Protocol", decision.protocol);
      // Bun calls `open` from inside upgrade(), which starts the handler.
      if (server.upgrade(request, { data: { accepted: decision }, headers })) return undefined;
      decision.release();
      return new Response("bad upgrade request", { status: 400 });
    },
  };
}

/** A Bun `ServerWebSocket` as a channel. @internal */
export class BunChannel extends RuntimeChannel implements KeepaliveTarget {
  static readonly capabilities: ChannelCapabilities = { control: true, inboundBackpressure: true };
  readonly capabilities: ChannelCapabilities = BunChannel.capabilities;
  readonly #ws: BunServerWebSocket;
  readonly #compressFrom: number;
  #paused = false;
  pongCount = 0;
  /** Messages sent this turn, written together at its end (see {@link flushDue}). */
  #queue: (string | Uint8Array)[] = [];
  /** Whether Bun compresses each queued message (when permessage-deflate was negotiated). */
  #deflate: boolean[] = [];
  /** Their size: UTF-16 units for strings, bytes for binary. */
  #queuedBytes = 0;
  /** Writes the queue inside Bun's `cork`: one callback per channel, made once. */
  readonly #writeQueue = (): void => {
    const ws = this.#ws;
    const queue = this.#queue;
    const deflate = this.#deflate;
    for (let i = 0; i < queue.length; i++) ws.send(queue[i], deflate[i]);
  };

  constructor(
    ws: BunServerWebSocket,
    options: RuntimeChannelOptions,
    keepalive: KeepaliveOptions | false,
    keepaliveTicker: Ticker | undefined,
    compressFrom: number,
  ) {
    super(options);
    this.#ws = ws;
    this.#compressFrom = compressFrom;
    if (keepalive && keepaliveTicker) new Keepalive(this, keepalive, keepaliveTicker);
  }

  /** Bun's `pong` handler. */
  pong(data: Uint8Array): void {
    this.pongCount++;
    this.receiveControl("pong", data);
  }

  get readsPaused(): boolean {
    return this.#paused;
  }

  sendPing(): void {
    this.#ws.ping();
  }

  keepaliveFailed(error: TimeoutError): void {
    this.fail(error);
  }

  get bufferedAmount(): number {
    return this.#ws.getBufferedAmount() + this.#queuedBytes;
  }

  protected override get reportsDrain(): boolean {
    return true;
  }

  /**
   * Sends at once inside this socket's own `message` callback (Bun corks it
   * then); otherwise queues the message, and the turn's messages leave at its
   * end in one corked write. Bun writes a send made outside the socket's own
   * callbacks at once, one syscall per message: a topic's fan-out to 200
   * sockets made 200 writes per published message.
   */
  protected sendNow(message: OutgoingMessage, compress: boolean | undefined): void {
    const data = typeof message === "string" ? message : messageBytes(message);
    // A string's UTF-8 length is at least its length in UTF-16 units.
    const size = typeof data === "string" ? data.length : data.byteLength;
    const deflate = compress !== false && size >= this.#compressFrom;
    if (this.#queue.length === 0) {
      if (inCallback === this.#ws) {
        // 0 from Bun: dropped, which only happens once the socket is closing.
        this.#ws.send(data, deflate);
        return;
      }
      due.push(this);
      if (!flushScheduled) {
        flushScheduled = true;
        afterTurn(flushDue);
      }
    }
    this.#queue.push(data);
    this.#deflate.push(deflate);
    this.#queuedBytes += size;
  }

  /** Writes what this turn queued; lets sends go on if Bun took it all. @internal */
  flushQueued(): void {
    const queue = this.#queue;
    if (queue.length === 0) return;
    // 0 from Bun's send: dropped, which only happens once the socket is closing.
    if (queue.length === 1) this.#ws.send(queue[0], this.#deflate[0]);
    else this.#ws.cork(this.#writeQueue);
    this.#queue = [];
    this.#deflate = [];
    this.#queuedBytes = 0;
    // Bun reports `drain` only after a write it could not take at once.
    if (this.writeBlocked && this.#ws.getBufferedAmount() === 0) this.drained();
  }

  control(type: "ping" | "pong", data: Uint8Array): void {
    if (!this.isOpen) return;
    if (type === "ping") this.#ws.ping(data);
    else this.#ws.pong(data);
  }

  protected closeNow(code: number, reason: string): void {
    this.flushQueued();
    this.#ws.close(code, reason);
  }

  protected terminateNow(): void {
    this.#queue = [];
    this.#deflate = [];
    this.#queuedBytes = 0;
    this.#ws.terminate();
  }

  protected override setPaused(paused: boolean): void {
    if (paused === this.#paused || !this.#ws.pause) return;
    this.#paused = paused;
    if (paused) this.#ws.pause();
    else this.#ws.resume?.();
  }
}

/** The socket whose `message` callback is running (Bun has it corked). */
let inCallback: BunServerWebSocket | undefined;

/** The channels with messages queued this turn. */
let due: BunChannel[] = [];
let flushScheduled = false;

/** At the end of a turn: every channel writes what it queued. */
function flushDue(): void {
  flushScheduled = false;
  const channels = due;
  due = [];
  for (let i = 0; i < channels.length; i++) channels[i].flushQueued();
}
