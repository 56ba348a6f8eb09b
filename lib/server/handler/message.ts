/**
 * A message the server sends: what a handler may give ({@link OutgoingMessage}),
 * its bytes ({@link messageBytes}), and the {@link PublishedMessage} a topic
 * shares among its {@link Subscriber}s, encoded once.
 *
 * @module
 */

import { describeValue } from "../../arguments.ts";
import { encodeFrame, Opcode } from "../../protocol/frame.ts";
import { encodeUtf8 } from "../../protocol/utf8.ts";
import type { Position } from "../../session/envelope.ts";

/** A message to push: a string goes as text, bytes as binary. */
export type OutgoingMessage = string | Uint8Array | ArrayBuffer | ArrayBufferView;

/**
 * Bytes of a message to send, without copying.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { messageBytes } from "./message.ts";
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

/**
 * One published message, shared by all its subscribers. The UTF-8 payload
 * and the unmasked server frame (RFC 6455 §5.1: a server MUST NOT mask) are
 * computed on first use and then reused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PublishedMessage } from "./message.ts";
 * const m = new PublishedMessage("Hello");
 * assert.deepEqual([...m.frame], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]); // RFC 6455 §5.7
 * assert.equal(m.frame, m.frame); // encoded once, then shared
 * ```
 */
export class PublishedMessage {
  /** The message as given: text as a string, binary as bytes. */
  readonly data: string | Uint8Array;
  /** Its place in the topic's history, on a topic that keeps one; set once by the topic. */
  position: Position | undefined = undefined;
  /** The conflation key, computed once for a `latest` policy. @internal */
  conflationKey: string | undefined = undefined;
  /** For a message wrapped in its topic's envelope: the data as published. @internal */
  unwrapped: string | Uint8Array | undefined = undefined;
  /**
   * False when published with `{ compress: false }`: every subscriber gets
   * it uncompressed (the shared frame), negotiated deflate or not.
   */
  compress: boolean;
  #payload: Uint8Array | undefined;
  #frame: Uint8Array | undefined;

  /**
   * A string goes as text, bytes as binary. Bytes are not copied: leave
   * them unchanged. `compress` false: sent uncompressed to every subscriber.
   */
  constructor(message: OutgoingMessage, compress = true) {
    this.data = typeof message === "string" ? message : messageBytes(message);
    this.compress = compress;
  }

  /** True for a text message. */
  get isText(): boolean {
    return typeof this.data === "string";
  }

  /** The payload bytes (UTF-8 for text). */
  get payload(): Uint8Array {
    return this.#payload ??= typeof this.data === "string" ? encodeUtf8(this.data) : this.data;
  }

  /** The whole frame, FIN set, no RSV bits, unmasked: what an uncompressed subscriber gets. */
  get frame(): Uint8Array {
    return this.#frame ??= encodeFrame({
      fin: true,
      rsv: 0,
      opcode: this.isText ? Opcode.Text : Opcode.Binary,
      payload: this.payload,
    });
  }
}

/** Something that can subscribe: a live connection. */
export interface Subscriber {
  /** Sends a published message; false when it could not (closing). */
  deliver(message: PublishedMessage): boolean;
  /** Bytes queued for it and not yet taken by the operating system; what slow-subscriber policies compare. Absent: never slow. */
  readonly pendingBytes?: number;
  /** Closes it with 1013 Try Again Later (the `close` policy). */
  closeSlow?(): void;
  /** Calls `watcher.drained()` each time its pending output drained, until {@link unwatchDrain}. */
  watchDrain?(watcher: DrainWatcher): void;
  /** Stops {@link watchDrain}. */
  unwatchDrain?(watcher: DrainWatcher): void;
}

/** Told when a subscriber's pending output drained (a slow subscription). */
export interface DrainWatcher {
  /** Called in the turn the subscriber's output drained. */
  drained(): void;
}
