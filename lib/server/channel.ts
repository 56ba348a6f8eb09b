/**
 * The one interface a host gives the handler driver: a live connection that
 * can be pulled from, sent to and closed. sprig's server implements it over
 * a {@link Session}; the adapters over the native `WebSocket` objects of
 * `Deno.serve` and `Bun.serve`.
 *
 * @module
 */

import type { CloseInfo, MessageData } from "../session.ts";
import type { OutgoingMessage } from "./handler.ts";
import type { PublishedMessage } from "./pubsub.ts";

/** What a host can and cannot do, for docs and for the driver. */
export interface ChannelCapabilities {
  /** Pings and pongs are reported (the `control` callback runs). */
  control: boolean;
  /** Socket reads pause while the handler is behind. */
  inboundBackpressure: boolean;
}

/** A live WebSocket connection as the driver sees it. @internal */
export interface Channel {
  readonly capabilities: ChannelCapabilities;
  /**
   * The next message, or `undefined` once no more will come. Called again
   * only after the previous call settled: pulling is what lets reads go on.
   */
  next(): Promise<MessageData | undefined>;
  /** Sends a message; resolves when the host took it. Rejects once closing. */
  send(message: OutgoingMessage): Promise<void>;
  /**
   * Sends a published message, reusing its encoded frame where this
   * connection sends it unchanged. Optional; `send` is used otherwise.
   */
  sendPublished?(message: PublishedMessage): void;
  /** Sends a ping or pong. Throws once closing. */
  control(type: "ping" | "pong", data: Uint8Array): void;
  /** Starts the closing handshake with any code a server may send. */
  close(code: number, reason: string): void;
  /** Drops the connection at once, without a closing handshake. */
  terminate(): void;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<CloseInfo>;
  /** True while messages may still be sent. */
  readonly isOpen: boolean;
  /** Bytes sent but not yet taken by the operating system, as far as the host knows. */
  readonly bufferedAmount: number;
  /** Set by the driver: a ping or pong arrived. */
  onControl?: (type: "ping" | "pong", data: Uint8Array) => void;
  /** Set by the driver: the peer sent something (for the idle timeout). */
  onActivity?: () => void;
  /** Set by the driver: more than the send-buffer cap is queued; the channel was terminated. */
  onOverflow?: (bufferedBytes: number) => void;
}

/**
 * Bytes of a message to send, without copying.
 *
 * @example
 * ```ts
 * import { messageBytes } from "./channel.ts";
 * console.assert(messageBytes(new Uint16Array([1])).length === 2);
 * ```
 */
export function messageBytes(message: Exclude<OutgoingMessage, string>): Uint8Array {
  if (message instanceof Uint8Array) return message;
  if (ArrayBuffer.isView(message)) {
    return new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  }
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  throw new TypeError("a message is a string, an ArrayBuffer, a typed array or a DataView");
}
