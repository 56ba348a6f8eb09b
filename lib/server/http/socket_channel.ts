/**
 * The {@link Channel} of sprig's own server (and of the `node:http`
 * adapter): the protocol engine ({@link LiveConnection}) over an accepted
 * socket. Reads are pushed to the driver in the socket's turn, the
 * driver's pushes leave in one write at the end of it, reads stop while
 * the peer does not read what we send, and the bytes waiting to be sent are
 * held to a cap and to a time bound.
 *
 * @module
 */

import type { Extension } from "../../protocol/extension.ts";
import { Connection } from "../../protocol/connection.ts";
import type { Frame } from "../../protocol/frame.ts";
import { LiveConnection } from "../../session/live.ts";
import type { KeepaliveOptions } from "../../session/session.ts";
import type { CloseInfo } from "../../errors.ts";
import type { Channel, ChannelCapabilities, ChannelReceiver } from "../handler/channel.ts";
import type { AcceptedSocket } from "./listener.ts";
import { messageBytes } from "../handler/message.ts";
import type { OutgoingMessage } from "../handler/message.ts";
import { Keepalive, type KeepaliveTarget } from "../handler/keepalive.ts";
import type { Ticker } from "../../util/ticker.ts";
import type { PublishedMessage } from "../handler/message.ts";
import { formatFrame, type TelemetryPublisher } from "../../telemetry.ts";
import { EMPTY } from "../../protocol/bytes.ts";

/** Options of {@link SocketChannel}. @internal */
export interface SocketChannelOptions {
  socket: AcceptedSocket;
  /** Bytes that followed the request head. */
  initial: Uint8Array;
  extensions: Extension[];
  maxMessageBytes?: number;
  maxFrameBytes?: number;
  maxFragments?: number;
  maxSendBufferBytes: number;
  /** Drop a peer that takes none of our output for this long, in ms; 0: never. */
  writeTimeoutMs: number;
  closeTimeoutMs: number;
  keepalive: KeepaliveOptions | false;
  /** The host's shared keepalive timer (see {@link keepalivePeriod}). */
  keepaliveTicker?: Ticker;
  trace?: (line: string) => void;
  /** Frame events go here, named by `id`. */
  telemetry?: { publisher: TelemetryPublisher; id: string };
  /**
   * permessage-deflate's threshold when it is the only extension: messages
   * shorter than this go out uncompressed, so published frames can be shared.
   */
  deflateThreshold?: number;
}

/** sprig's protocol engine over an accepted socket, as a {@link Channel}. @internal */
export class SocketChannel implements Channel, KeepaliveTarget {
  readonly capabilities: ChannelCapabilities = CAPABILITIES;
  readonly #live: LiveConnection;
  readonly #conn: Connection;
  /** Published messages shorter than this can be written as the shared frame. */
  readonly #shareBelow: number;
  /** No extension, or permessage-deflate alone: an uncompressed message is the shared frame. */
  readonly #shareAll: boolean;
  readonly #keepalive: KeepaliveOptions | false;
  readonly #keepaliveTicker: Ticker | undefined;

  constructor(options: SocketChannelOptions) {
    const trace = options.trace;
    const telemetry = options.telemetry;
    const base = telemetry && { role: "server" as const, id: telemetry.id };
    this.#conn = new Connection({
      role: "server",
      extensions: options.extensions,
      maxMessageBytes: options.maxMessageBytes,
      maxFrameBytes: options.maxFrameBytes ?? options.maxMessageBytes,
      maxFragments: options.maxFragments,
      autoPong: true,
      // Only with a trace or telemetry: without one, frames cost nothing.
      onFrame: trace || telemetry
        ? (direction: "in" | "out", frame: Frame) => {
          if (trace) trace(formatFrame(direction, frame));
          if (telemetry) telemetry.publisher.frame(direction, frame, base!);
        }
        : undefined,
    });
    const socket = options.socket;
    this.#live = new LiveConnection(socket.transport, this.#conn, {
      closeTimeoutMs: options.closeTimeoutMs,
      maxSendBufferBytes: options.maxSendBufferBytes,
      writeTimeoutMs: options.writeTimeoutMs,
      pauseReadsWhileWriting: true,
      socket,
      initial: options.initial,
    });
    this.#shareBelow = options.extensions.length === 0 ? Infinity : (options.deflateThreshold ?? 0);
    this.#shareAll = options.extensions.length === 0 || options.deflateThreshold !== undefined;
    this.#keepalive = options.keepalive;
    this.#keepaliveTicker = options.keepaliveTicker;
  }

  start(receiver: ChannelReceiver): void {
    this.#live.start(receiver);
    if (this.#keepalive && this.#keepaliveTicker && !this.#live.closeInfo) {
      new Keepalive(this, this.#keepalive, this.#keepaliveTicker);
    }
  }

  get closed(): Promise<CloseInfo> {
    return this.#live.closed;
  }

  get isOpen(): boolean {
    return this.#conn.state === "open" && this.#live.closeInfo === undefined;
  }

  get bufferedAmount(): number {
    return this.#live.bufferedAmount;
  }

  get writeBlocked(): boolean {
    return this.#live.writeBlocked;
  }

  get activity(): number {
    return this.#live.bytesIn;
  }

  pause(): void {
    this.#live.pauseReads();
  }

  idle(): void {
    this.#live.release();
  }

  resume(): void {
    this.#live.resumeReads();
  }

  send(message: OutgoingMessage, compress?: boolean): void {
    const bytes = typeof message === "string" ? message : messageBytes(message);
    if (!this.isOpen) return;
    if (typeof bytes === "string") this.#conn.sendText(bytes, compress);
    else this.#conn.sendBinary(bytes, compress);
    this.#live.scheduleFlush();
  }

  sendPublished(message: PublishedMessage): void {
    if (!this.isOpen) return;
    // Subscribers that would not compress this message all get the same
    // frame bytes, queued in order with the rest of their connection's output.
    const share = message.compress ? message.payload.length < this.#shareBelow : this.#shareAll;
    if (share) this.#conn.sendEncodedFrame(message.frame);
    else this.#conn.send(message.data, message.compress);
    this.#live.scheduleFlush();
  }

  control(type: "ping" | "pong", data: Uint8Array): void {
    if (!this.isOpen) return;
    if (type === "ping") this.#conn.ping(data);
    else this.#conn.pong(data);
    this.#live.scheduleFlush();
  }

  close(code: number, reason: string): void {
    if (this.#conn.state === "open") this.#live.close(code, reason);
  }

  terminate(): void {
    this.#live.terminate();
  }

  // ------------------------------------------------------------ keepalive

  get pongCount(): number {
    return this.#live.pongsIn;
  }

  get readsPaused(): boolean {
    return this.#live.paused;
  }

  sendPing(): void {
    this.#conn.ping(EMPTY);
    this.#live.scheduleFlush();
  }

  keepaliveFailed(error: Error): void {
    this.#live.terminate(error);
  }
}

const CAPABILITIES: ChannelCapabilities = { control: true, inboundBackpressure: true };
