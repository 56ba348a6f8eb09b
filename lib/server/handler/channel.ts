/**
 * The one interface a host gives the handler driver: a live connection that
 * pushes what it receives, synchronously, and can be sent to, paused and
 * closed. sprig's server implements it over its own protocol engine; the
 * adapters over the native `WebSocket` objects of `Deno.serve` and
 * `Bun.serve`.
 *
 * @module
 */

import { describeValue } from "../../arguments.ts";
import type { CloseInfo, MessageData } from "../../session/session.ts";
import type { OutgoingMessage } from "./handler.ts";
import type { PublishedMessage } from "./pubsub.ts";

/** What a host can and cannot do, for docs and for the driver. */
export interface ChannelCapabilities {
  /** Pings and pongs are reported (the `control` callback runs). */
  control: boolean;
  /** Socket reads pause while the handler is behind. */
  inboundBackpressure: boolean;
}

/** What a channel reports to the driver, in the host's own callback. @internal */
export interface ChannelReceiver {
  /** A message arrived. */
  message(data: MessageData): void;
  /** A ping (already answered by the host) or a pong arrived. */
  control(type: "ping" | "pong", data: Uint8Array): void;
  /** Output that waited for the peer to read was taken. */
  drain(): void;
  /** Something failed; the end follows and carries it too. */
  error(error: Error): void;
  /** The connection ended; once, last, after every message. */
  end(info: CloseInfo): void;
  /** True while earlier messages are still being answered (a close frame owed to the peer waits). */
  holding(): boolean;
}

/** A live WebSocket connection as the driver sees it. @internal */
export interface Channel {
  readonly capabilities: ChannelCapabilities;
  /** Starts delivering to `receiver`. Once. */
  start(receiver: ChannelReceiver): void;
  /** Stops reading the socket (where the host can) until {@link resume}. */
  pause(): void;
  /** Reads again. */
  resume(): void;
  /** The receiver answered everything it was given: a close frame it held may go. */
  idle(): void;
  /**
   * Queues a message; it is written at the end of the current turn. Does
   * nothing once closing. `compress` false: uncompressed even where
   * permessage-deflate was negotiated (absent: as negotiated).
   *
   * @throws {TypeError} for a value that is not a message
   */
  send(message: OutgoingMessage, compress?: boolean): void;
  /**
   * Queues a published message, reusing its encoded frame where this
   * connection sends it unchanged. Optional; `send` is used otherwise.
   */
  sendPublished?(message: PublishedMessage): void;
  /** Sends a ping or pong; does nothing once closing. */
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
  /** True while output waits for the peer to read (the driver then stops reading). */
  readonly writeBlocked: boolean;
  /** Grows whenever the peer sends something: what the idle timeout compares. */
  readonly activity: number;
}

/**
 * Bytes of a message to send, without copying.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageBytes } from "./channel.ts";
 * const words = new Uint16Array([1]);
 * const bytes = messageBytes(words);
 * assert.equal(bytes.length, 2);
 * assert.equal(bytes.buffer, words.buffer); // a view, not a copy
 * ```
 */
export function messageBytes(message: Exclude<OutgoingMessage, string>): Uint8Array {
  if (message instanceof Uint8Array) return message;
  if (ArrayBuffer.isView(message)) {
    return new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
  }
  if (message instanceof ArrayBuffer) return new Uint8Array(message);
  throw new TypeError(
    "a message (push, ref.send, publish) is a string, an ArrayBuffer, a typed array or a " +
      `DataView, got ${describeValue(message)}`,
  );
}
