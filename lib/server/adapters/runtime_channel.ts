/**
 * What the `Deno.serve` and `Bun.serve` channels share: the host's event
 * callbacks (message, close, drain) go straight to the driver, in the
 * host's turn; sends go straight to the host's socket.
 *
 * @module
 */

import { CloseCode, MessageTooBigError, SprigError, TimeoutError } from "../../errors.ts";
import type { MessageData } from "../../session/session.ts";
import type { CloseInfo } from "../../errors.ts";
import type { RequestHead } from "../../protocol/http1.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import type { Accepted, Refused, WebSocketHost } from "../handler/host.ts";
import {
  SERVER_DEFAULTS,
  type UpgradeOptions,
  type WebSocketHostOptions,
} from "../handler/options.ts";
import type { Channel, ChannelCapabilities, ChannelReceiver } from "../handler/channel.ts";
import { messageBytes } from "../handler/message.ts";
import type { OutgoingMessage } from "../handler/message.ts";
import { Eventually } from "../../util/eventually.ts";

/** Limits a runtime channel enforces itself. @internal */
export interface RuntimeChannelOptions {
  maxMessageBytes: number;
  maxSendBufferBytes: number;
  closeTimeoutMs: number;
  /** Pause reads at this many queued messages (where the host can). */
  maxQueuedMessages: number;
}

/** The limits of a runtime channel, from the adapter's options and the server's defaults. @internal */
export function runtimeChannelOptions(
  options: WebSocketHostOptions<unknown>,
): RuntimeChannelOptions {
  return {
    maxMessageBytes: options.maxMessageBytes ?? SERVER_DEFAULTS.maxMessageBytes,
    maxSendBufferBytes: options.maxSendBufferBytes ?? SERVER_DEFAULTS.maxSendBufferBytes,
    closeTimeoutMs: options.closeTimeoutMs ?? SERVER_DEFAULTS.closeTimeoutMs,
    maxQueuedMessages: options.maxQueuedMessages ?? SERVER_DEFAULTS.maxQueuedMessages,
  };
}

/**
 * The host's decision on the upgrade a runtime's server (Deno.serve,
 * Bun.serve) hands over as a WHATWG `Request`: its head for RFC 6455
 * §4.2.1, its URL; extensions are the runtime's own, not negotiated here.
 * @internal
 */
export function decideUpgrade(
  host: WebSocketHost,
  request: Request,
  remoteAddress: TransportAddress | undefined,
  upgradeOptions: UpgradeOptions | undefined,
): Promise<Accepted | Refused> {
  const url = new URL(request.url);
  return host.decide({
    head: headOf(request, url),
    url,
    remoteAddress,
    request,
    negotiateExtensions: false,
    with: upgradeOptions,
  });
}

/** RFC 6455 §4.2.1 needs the request's head; Deno and Bun give a WHATWG Request. */
function headOf(request: Request, url: URL): RequestHead {
  return {
    kind: "request",
    method: request.method,
    target: url.pathname + url.search,
    version: "HTTP/1.1",
    headers: request.headers,
    rawHeaders: [...request.headers],
  };
}

/** Bytes buffered by the host past which reads pause until it drains (where the host reports draining). */
const SEND_HIGH_WATER_BYTES = 64 * 1024;

/** A {@link Channel} fed by a host's event callbacks. @internal */
export abstract class RuntimeChannel implements Channel {
  abstract readonly capabilities: ChannelCapabilities;
  protected readonly options: RuntimeChannelOptions;
  #receiver: ChannelReceiver | undefined;
  /** What the host delivered before the driver started (none, on every host today). */
  #early: MessageData[] = [];
  #ended = false;
  #closing = false;
  #pausedByDriver = false;
  #blocked = false;
  #error: Error | undefined;
  #endResult: { code: number; reason: string } | undefined;
  #final: CloseInfo | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #closed = new Eventually<CloseInfo>();
  /** Messages and control frames received so far. */
  activity = 0;

  constructor(options: RuntimeChannelOptions) {
    this.options = options;
  }

  /** Sends on the host's socket; throws when it cannot. */
  protected abstract sendNow(message: OutgoingMessage, compress: boolean | undefined): void;
  /** Starts the host's closing handshake. */
  protected abstract closeNow(code: number, reason: string): void;
  /** Drops the host's socket, if it can. */
  protected abstract terminateNow(): void;
  /** Pauses or resumes socket reads, if the host can. */
  protected setPaused(_paused: boolean): void {}
  /** True when the host reports draining (a `drain` callback). */
  protected get reportsDrain(): boolean {
    return false;
  }
  abstract control(type: "ping" | "pong", data: Uint8Array): void;
  abstract readonly bufferedAmount: number;

  get isOpen(): boolean {
    return !this.#closing && !this.#ended;
  }

  /** Resolves when the connection has closed. */
  get closed(): Promise<CloseInfo> {
    return this.#closed.promise;
  }

  get writeBlocked(): boolean {
    return this.#blocked;
  }

  start(receiver: ChannelReceiver): void {
    this.#receiver = receiver;
    const early = this.#early;
    this.#early = [];
    for (const m of early) receiver.message(m);
    // The host may end a connection before the driver starts (a stop from `init`).
    if (this.#final) receiver.end(this.#final);
  }

  pause(): void {
    this.#pausedByDriver = true;
    this.setPaused(true);
  }

  /** The host answers the peer's close itself. */
  idle(): void {}

  resume(): void {
    this.#pausedByDriver = false;
    if (!this.#blocked) this.setPaused(false);
  }

  /** The host delivered a message. */
  receive(message: MessageData): void {
    if (this.#ended) return;
    this.activity++;
    const size = typeof message === "string" ? message.length : message.byteLength;
    // A string's UTF-8 form is at least as long as its UTF-16 length, so this never undercounts.
    if (size > this.options.maxMessageBytes) {
      this.fail(
        new MessageTooBigError(
          "MESSAGE_TOO_BIG",
          `a message of ${size} bytes exceeds ${this.options.maxMessageBytes}`,
          this.options.maxMessageBytes,
        ),
      );
      return;
    }
    const receiver = this.#receiver;
    if (receiver) receiver.message(message);
    else this.#early.push(message);
  }

  /** The host delivered a ping or pong. */
  receiveControl(type: "ping" | "pong", data: Uint8Array): void {
    if (this.#ended) return;
    this.activity++;
    this.#receiver?.control(type, data);
  }

  /** The host's socket took what was buffered. */
  drained(): void {
    if (!this.#blocked) return;
    this.#blocked = false;
    if (!this.#pausedByDriver) this.setPaused(false);
    this.#receiver?.drain();
  }

  /** The host reported the end of the connection. */
  ended(info: CloseInfo): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#closeTimer);
    const result = this.#endResult;
    const end: CloseInfo = result ? { ...info, ...result } : info;
    const final = this.#error && !end.error ? { ...end, error: this.#error } : end;
    this.#final = final;
    this.#closed.resolve(final);
    this.#receiver?.end(final);
  }

  /** Closes for a violation (the code comes from the error). */
  protected fail(error: SprigError): void {
    this.#error ??= error;
    this.close(error.closeCode ?? CloseCode.InternalError, error.closeReason);
  }

  send(message: OutgoingMessage, compress?: boolean): void {
    // A value that is no message is the handler's bug: thrown, so it closes with 1011 (as on every host).
    if (typeof message !== "string") messageBytes(message);
    if (!this.isOpen) return;
    this.sendNow(message, compress);
    this.afterSend();
  }

  /** Applies the send-buffer cap, and pauses reads while the host holds much unsent. */
  protected afterSend(): void {
    const buffered = this.bufferedAmount;
    if (buffered > this.options.maxSendBufferBytes) {
      this.#error ??= new SprigError(
        "SEND_BUFFER_FULL",
        `the peer did not read: ${buffered} bytes were waiting to be sent`,
        CloseCode.PolicyViolation,
      );
      this.#endResult = { code: CloseCode.PolicyViolation, reason: "send buffer full" };
      this.terminate();
      return;
    }
    if (this.reportsDrain && !this.#blocked && buffered > SEND_HIGH_WATER_BYTES) {
      this.#blocked = true;
      this.setPaused(true);
    }
  }

  close(code: number, reason: string): void {
    if (this.#closing || this.#ended) return;
    this.#closing = true;
    try {
      this.closeNow(code, reason);
    } catch (error) {
      this.#error ??= error as Error;
      this.terminate();
      return;
    }
    // Bounded like every close: a peer that never answers is dropped.
    const ms = this.options.closeTimeoutMs;
    this.#closeTimer = setTimeout(() => {
      this.#error ??= new TimeoutError("CLOSE_TIMEOUT", `no closing handshake within ${ms} ms`, ms);
      this.terminate();
    }, ms);
  }

  terminate(): void {
    this.#closing = true;
    try {
      this.terminateNow();
    } catch {
      // already gone
    }
    this.ended({ code: CloseCode.Abnormal, reason: "", wasClean: false, error: this.#error });
  }
}
