/**
 * Runs a sprig handler on `Deno.serve` through `Deno.upgradeWebSocket`.
 * The same handler object runs unchanged; what Deno's WebSocket hides, the
 * handler cannot have:
 *
 * - no `control` callback: Deno answers pings and never reports them;
 * - no inbound backpressure: Deno has no way to pause an upgraded socket,
 *   so messages queue while the handler is behind;
 * - no permessage-deflate: Deno's server does not negotiate it
 *   (`compression`, `extensions` are ignored; `context.extensions` is `""`);
 * - `idleTimeoutMs` becomes Deno's `idleTimeout`: Deno pings, and closes a
 *   connection whose pong does not come (it does not close healthy quiet ones);
 * - `maxMessageBytes` is checked after Deno delivered the whole message;
 * - the send-buffer cap closes with 1008 (Deno cannot drop the TCP connection).
 *
 * @module
 */

import { CloseCode } from "../../errors.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import { messageBytes } from "../handler/message.ts";
import type { ChannelCapabilities } from "../handler/channel.ts";
import type { Handler } from "../handler/handler.ts";
import type { OutgoingMessage } from "../handler/message.ts";
import { adapterHost, type WebSocketHub } from "../handler/host.ts";
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

/** The part of Deno's server-side `WebSocket` this adapter uses. */
interface DenoWebSocket {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: (() => void) | null;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
  onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

interface DenoUpgradeNamespace {
  upgradeWebSocket(request: Request, options?: { protocol?: string; idleTimeout?: number }): {
    socket: DenoWebSocket;
    response: Response;
  };
}

/** What `Deno.serve` passes as the handler's second argument (the part used here). */
export interface DenoServeInfo {
  /** `Deno.NetAddr` for TCP (`hostname`, `port`); other address kinds are ignored. */
  readonly remoteAddr?: object;
}

/** A handler hosted on `Deno.serve`. */
export interface DenoServeAdapter<I = unknown, D = unknown> extends WebSocketHub<I> {
  /** What this host can report and enforce. */
  readonly capabilities: ChannelCapabilities;
  /** True for a request asking to upgrade to WebSocket. */
  isUpgrade(request: Request): boolean;
  /**
   * Upgrades the request and runs the handler; returns the response for
   * `Deno.serve` to send (the 101, or a refusal: 403, 503, the hook's…).
   * `options` carries what a framework's route decided: `data` for `init`
   * (e.g. the user its auth middleware found), headers for the 101.
   */
  upgrade(request: Request, info?: DenoServeInfo, options?: UpgradeOptions<D>): Promise<Response>;
}

/**
 * Hosts `handler` on `Deno.serve`.
 *
 * @example
 * ```ts
 * /// <reference lib="deno.ns" />
 * import assert from "node:assert/strict";
 * import { connect } from "../../../mod.ts";
 * import { denoServeAdapter } from "./deno_serve.ts";
 * const ws = denoServeAdapter({ in: (message) => ({ push: message }) }); // echo
 * const server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen: () => {} },
 *   (req: Request, info: Deno.ServeHandlerInfo) =>
 *     ws.isUpgrade(req) ? ws.upgrade(req, info) : new Response("a page"),
 * );
 * await using client = await connect(`ws://127.0.0.1:${server.addr.port}/`);
 * await client.send("hello");
 * assert.equal(await client.receive({ timeoutMs: 5000 }), "hello");
 * await ws.shutdown(); // closes every connection with 1001
 * await server.shutdown();
 * ```
 */
export function denoServeAdapter<S, I = unknown, D = unknown>(
  handler: Handler<S, I, D>,
  options: WebSocketHostOptions<D> = {},
): DenoServeAdapter<I, D> {
  const host = adapterHost("denoServeAdapter()", handler, options);
  const channelOptions = runtimeChannelOptions(options as WebSocketHostOptions<unknown>);
  const idleTimeoutMs = options.idleTimeoutMs ?? SERVER_DEFAULTS.idleTimeoutMs;
  return {
    ...host.hub<I>(),
    capabilities: DenoChannel.capabilities,
    isUpgrade: (request) => listHas(request.headers.get("upgrade"), "websocket"),
    async upgrade(request, info, upgradeOptions) {
      const Deno = (globalThis as { Deno?: DenoUpgradeNamespace }).Deno;
      if (!Deno) throw new TypeError("not running on Deno");
      const addr = info?.remoteAddr as { hostname?: unknown; port?: unknown } | undefined;
      const remoteAddress: TransportAddress | undefined = typeof addr?.hostname === "string"
        ? {
          hostname: addr.hostname,
          port: typeof addr.port === "number" ? addr.port : 0,
          transport: "tcp",
        }
        : undefined;
      const decision = await decideUpgrade(host, request, remoteAddress, upgradeOptions);
      if (!decision.accepted) return decision.response;
      let upgraded: { socket: DenoWebSocket; response: Response };
      try {
        upgraded = Deno.upgradeWebSocket(request, {
          protocol: decision.protocol,
          // Deno's idleTimeout is a ping/pong health check, in seconds; 0 turns it off.
          idleTimeout: Math.ceil(idleTimeoutMs / 1000),
        });
        if (decision.headers) {
          for (const [name, value] of new Headers(decision.headers)) {
            upgraded.response.headers.set(name, value);
          }
        }
      } catch (error) {
        decision.release();
        host.reportError(error);
        return new Response("bad upgrade request", { status: 400 });
      }
      const channel = new DenoChannel(upgraded.socket, channelOptions);
      host.start(channel, decision, "", { idleTimeoutMs: 0 });
      return upgraded.response;
    },
  };
}

const OPEN = 1;

class DenoChannel extends RuntimeChannel {
  static readonly capabilities: ChannelCapabilities = {
    control: false,
    inboundBackpressure: false,
  };
  readonly capabilities: ChannelCapabilities = DenoChannel.capabilities;
  readonly #socket: DenoWebSocket;
  /** Messages pushed before Deno opened the socket (init runs before the 101 is sent). */
  #early: Array<string | Uint8Array> | undefined = [];
  #earlyClose: { code: number; reason: string } | undefined;

  constructor(socket: DenoWebSocket, options: RuntimeChannelOptions) {
    super(options);
    this.#socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      const early = this.#early ?? [];
      this.#early = undefined;
      for (const m of early) socket.send(m);
      if (this.#earlyClose) socket.close(this.#earlyClose.code, this.#earlyClose.reason);
    };
    socket.onmessage = (event) => {
      const data = event.data;
      this.receive(typeof data === "string" ? data : plainBytes(data));
    };
    socket.onclose = (event) =>
      this.ended({ code: event.code, reason: event.reason, wasClean: event.wasClean });
    socket.onerror = () => {};
  }

  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  /** Deno's server never negotiates compression, so `compress` changes nothing. */
  protected sendNow(message: OutgoingMessage, _compress: boolean | undefined): void {
    const data = typeof message === "string" ? message : messageBytes(message);
    if (this.#early) this.#early.push(data);
    else this.#socket.send(data);
  }

  control(): void {
    // Deno's WebSocket cannot send pings or pongs; Deno sends its own.
  }

  protected closeNow(code: number, reason: string): void {
    if (this.#early) this.#earlyClose = { code, reason };
    else this.#socket.close(code, reason);
  }

  protected terminateNow(): void {
    // Deno cannot drop the TCP connection of a WebSocket; a close frame is the most it can do.
    if (this.#socket.readyState === OPEN) {
      this.#socket.close(CloseCode.PolicyViolation, "send buffer full");
    }
  }
}
