/**
 * The {@link Channel} of sprig's own server (and of the `node:http`
 * adapter): a {@link Session} over an accepted socket, with the bytes
 * waiting to be sent counted against a cap.
 *
 * @module
 */

import type { Extension } from "../extensions/extension.ts";
import { Connection } from "../protocol/connection.ts";
import type { Frame } from "../protocol/frame.ts";
import {
  type CloseInfo,
  type MessageData,
  Session,
  type SessionInfo,
  type SessionOptions,
} from "../session.ts";
import type { Transport, TransportAddress } from "../transport/transport.ts";
import { type Channel, type ChannelCapabilities, messageBytes } from "./channel.ts";
import type { OutgoingMessage } from "./handler.ts";
import type { PublishedMessage } from "./pubsub.ts";

/** An accepted socket, as a `Listen` function hands it out: its transport, and ways to close it. */
export interface AcceptedSocket {
  /** The socket's bytes; with TLS, the decrypted ones. */
  transport: Transport;
  /**
   * Closes gracefully: sends what is queued, then FIN, then reads and
   * discards until the peer closes too (or {@link LINGER_MS} passed). Closing
   * at once while the peer is still sending makes the kernel answer with a
   * RST, which can destroy the close frame or refusal the peer has not read
   * yet (RFC 6455 §7.1.1 has the server close first, so this matters here).
   */
  close(): void;
  /** Closes the socket now, discarding what waits to be sent. */
  destroy(): void;
  /** True when TLS runs on it. */
  secure: boolean;
}

/**
 * How long a lingering close waits for the peer to close, in milliseconds.
 *
 * @example
 * ```ts
 * import { LINGER_MS } from "./session_channel.ts";
 * console.assert(LINGER_MS === 2000);
 * ```
 */
export const LINGER_MS = 2000;

const noop = () => {};

/**
 * A transport that counts the bytes handed to it but not yet taken by the
 * runtime, and calls `onOverflow` once when a write finds more than `cap`
 * waiting. @internal
 */
export class MeteredTransport implements Transport {
  readonly #inner: Transport;
  readonly #close: () => void;
  readonly #cap: number;
  #pending = 0;
  #tripped = false;
  onOverflow: ((pending: number) => void) | undefined;

  constructor(socket: AcceptedSocket, cap: number) {
    this.#inner = socket.transport;
    this.#close = () => socket.close();
    this.#cap = cap;
  }

  /** Bytes written but not yet accepted. */
  get pending(): number {
    return this.#pending;
  }

  get closed(): Promise<void> {
    return this.#inner.closed;
  }

  get remoteAddress(): TransportAddress | undefined {
    return this.#inner.remoteAddress;
  }

  get bufferedAmount(): number {
    return this.#pending;
  }

  read(): Promise<Uint8Array | null> {
    return this.#inner.read();
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    let n = 0;
    for (const c of chunks) n += c.length;
    const before = this.#pending;
    this.#pending += n;
    const done = this.#inner.write(chunks);
    const settle = () => (this.#pending -= n);
    done.then(settle, settle);
    // One message may pass the cap on its own; the next write finding the
    // cap still exceeded means the peer is not keeping up.
    if (before > this.#cap && !this.#tripped) {
      this.#tripped = true;
      queueMicrotask(() => this.onOverflow?.(before));
    }
    return done;
  }

  close(): void {
    this.#close();
  }
}

/** Options of {@link SessionChannel}. @internal */
export interface SessionChannelOptions {
  socket: AcceptedSocket;
  /** Bytes that followed the request head. */
  initial: Uint8Array;
  extensions: Extension[];
  info: SessionInfo;
  session: SessionOptions;
  maxMessageBytes?: number;
  maxFrameBytes?: number;
  maxFragments?: number;
  maxSendBufferBytes: number;
  /**
   * permessage-deflate's threshold when it is the only extension: messages
   * shorter than this go out uncompressed, so published frames can be shared.
   */
  deflateThreshold?: number;
}

/** A sprig {@link Session} as a {@link Channel}. @internal */
export class SessionChannel implements Channel {
  readonly capabilities: ChannelCapabilities = { control: true, inboundBackpressure: true };
  readonly #socket: AcceptedSocket;
  readonly #metered: MeteredTransport;
  readonly #conn: Connection;
  readonly #session: Session;
  readonly #iterator: AsyncIterator<MessageData>;
  /** Published messages shorter than this can be written as the shared frame. */
  readonly #shareBelow: number;
  onControl: ((type: "ping" | "pong", data: Uint8Array) => void) | undefined;
  onActivity: (() => void) | undefined;
  onOverflow: ((bufferedBytes: number) => void) | undefined;

  constructor(options: SessionChannelOptions) {
    this.#socket = options.socket;
    const metered = this.#metered = new MeteredTransport(
      options.socket,
      options.maxSendBufferBytes,
    );
    metered.onOverflow = (bytes) => {
      this.terminate();
      this.onOverflow?.(bytes);
    };
    const trace = options.session.trace;
    this.#conn = new Connection({
      role: "server",
      extensions: options.extensions,
      maxMessageBytes: options.maxMessageBytes,
      maxFrameBytes: options.maxFrameBytes ?? options.maxMessageBytes,
      maxFragments: options.maxFragments,
      autoPong: true,
      onFrame: (direction: "in" | "out", frame: Frame) => {
        if (direction === "in") this.onActivity?.();
        if (trace) {
          trace(
            `${direction === "in" ? "<<" : ">>"} fin=${
              frame.fin ? 1 : 0
            } rsv=${frame.rsv} op=${frame.opcode} len=${frame.payload.length}`,
          );
        }
      },
    });
    this.#shareBelow = options.extensions.length === 0 ? Infinity : (options.deflateThreshold ?? 0);
    // The Connection is passed in (not options) so that close() can send any
    // code a server may send; Session.close() allows only 1000, 1001, 3000–4999.
    this.#session = new Session(metered, this.#conn, options.info, {
      ...options.session,
      // Listeners given here also see what the bytes after the request head carried.
      on: {
        ...options.session.on,
        ping: (data) => this.onControl?.("ping", data),
        pong: (data) => this.onControl?.("pong", data),
      },
    }, options.initial);
    this.#iterator = this.#session[Symbol.asyncIterator]();
  }

  /** The session, for hosts that want more than the handler sees. */
  get session(): Session {
    return this.#session;
  }

  get closed(): Promise<CloseInfo> {
    return this.#session.closed;
  }

  get isOpen(): boolean {
    return this.#conn.state === "open";
  }

  get bufferedAmount(): number {
    return this.#metered.pending;
  }

  async next(): Promise<MessageData | undefined> {
    try {
      const r = await this.#iterator.next();
      return r.done ? undefined : r.value;
    } catch {
      return undefined; // the end was not clean; `closed` says how
    }
  }

  send(message: OutgoingMessage): Promise<void> {
    return this.#session.send(typeof message === "string" ? message : messageBytes(message));
  }

  sendPublished(message: PublishedMessage): void {
    if (this.#conn.state !== "open") return;
    // Subscribers that would not compress this message all get the same
    // frame bytes, queued in order with the rest of their connection's output.
    if (message.payload.length < this.#shareBelow) {
      this.#session.sendEncodedFrame(message.frame).catch(noop);
    } else {
      this.#session.send(message.data).catch(noop);
    }
  }

  control(type: "ping" | "pong", data: Uint8Array): void {
    if (type === "ping") this.#session.ping(data).catch(noop);
    else this.#session.pong(data).catch(noop);
  }

  close(code: number, reason: string): void {
    if (this.#conn.state === "open") this.#conn.close(code, reason);
    // Writes the close frame and bounds the handshake by closeTimeoutMs.
    this.#session.close().catch(() => this.terminate());
  }

  terminate(): void {
    this.#socket.destroy();
    this.#session.terminate();
  }
}
