/**
 * The live connection: a {@link Connection} driven over a {@link Transport},
 * with async iteration, awaited sends, ping, keepalive, a bounded closing
 * handshake, and web streams. The client and the server both hand these out.
 *
 * @module
 */

import { CloseCode, NotOpenError, SprigError, TimeoutError } from "./errors.ts";
import type { Frame } from "./protocol/frame.ts";
import { Connection, type ConnectionEvent, type ConnectionOptions } from "./protocol/connection.ts";
import type { Transport, TransportAddress } from "./transport/transport.ts";
import { abortReason } from "./transport/abort.ts";

/** A received message: text as a string, binary as bytes. */
export type MessageData = string | Uint8Array;

/** What can be sent: text, or any bytes. */
export type SendData = string | ArrayBuffer | ArrayBufferView | Blob;

/** How a session ended. */
export interface CloseInfo {
  /** The close code: the peer's, the one sent on failure, or 1006 when the transport just ended. */
  code: number;
  /** The close reason. */
  reason: string;
  /** True when both close frames were exchanged. */
  wasClean: boolean;
  /** What went wrong, for a close that was not clean. */
  error?: SprigError | Error;
}

/**
 * The session ended without a clean closing handshake; thrown by iteration and `receive()`.
 *
 * @example
 * ```ts
 * import { connect, ConnectionClosedError } from "../mod.ts";
 * const ws = await connect("ws://127.0.0.1:8080/");
 * try {
 *   for await (const message of ws) console.log(message);
 * } catch (error) {
 *   if (!(error instanceof ConnectionClosedError)) throw error;
 *   console.log(`lost: ${error.info.code}`, error.info.error);
 * }
 * ```
 */
export class ConnectionClosedError extends SprigError {
  /** How it ended. */
  readonly info: CloseInfo;
  /** The message names the close code, the reason and the underlying error, if any. */
  constructor(info: CloseInfo) {
    super(
      "CONNECTION_CLOSED",
      `the WebSocket connection closed (${info.code}${info.reason ? ` ${info.reason}` : ""})` +
        (info.error ? `: ${info.error.message}` : ""),
      undefined,
      { cause: info.error },
    );
    this.info = info;
  }
}

/** Keepalive: ping every `intervalMs`; no pong within `timeoutMs` ends the session. */
export interface KeepaliveOptions {
  /** Time between pings, in milliseconds. Default 20,000; 0 turns keepalive off. */
  intervalMs?: number;
  /** Time to wait for the pong, in milliseconds. Default 10,000. */
  timeoutMs?: number;
}

/** Events a session reports, for diagnostics and telemetry. */
export interface SessionEvents {
  /** The session is open (reported once, before any other event). */
  open: Session;
  /** A received message. Listening does not consume it: iteration and `receive()` still get it. */
  message: MessageData;
  /** A ping's payload; with `autoPong` on, the pong answering it is already queued. */
  ping: Uint8Array;
  /** A pong's payload; it settles the `ping()` calls it answers. */
  pong: Uint8Array;
  /** How the session ended; reported once, when it has ended. */
  close: CloseInfo;
  /**
   * What went wrong: the peer broke the protocol, a write failed, or a
   * keepalive pong did not come. The session is ending; `close` carries the
   * same error.
   */
  error: Error;
  /** Every frame, both ways (only computed when listened to). */
  frame: { direction: "in" | "out"; frame: Frame };
}

/** Options of a session, shared by client and server. */
export interface SessionOptions {
  /** Largest message in bytes, after decompression. Default 64 MiB. */
  maxMessageBytes?: number;
  /** Largest frame in bytes. Default: `maxMessageBytes`. */
  maxFrameBytes?: number;
  /** Most fragments in a message. Default 4,194,304. */
  maxFragments?: number;
  /** Answer pings automatically. Default true. */
  autoPong?: boolean;
  /** Keepalive pings, or `false`. Default off on the server, `{ intervalMs: 20000, timeoutMs: 10000 }` on the client. */
  keepalive?: KeepaliveOptions | false;
  /** How long `close()` waits for the closing handshake, in milliseconds. Default 10,000. */
  closeTimeoutMs?: number;
  /**
   * Messages kept for the application before the session stops reading the
   * socket (backpressure). Default 16; range ≥ 1.
   */
  maxQueuedMessages?: number;
  /** Logs every frame both ways through this function, for debugging. Default none. */
  trace?: (line: string) => void;
  /**
   * Listeners attached before the first byte is read, so that nothing is
   * missed (a message may arrive together with the handshake response).
   * The same as calling {@link Session.on} for each. Default none.
   */
  on?: { [K in keyof SessionEvents]?: (value: SessionEvents[K]) => void };
}

/** What the handshake agreed on, for {@link Session}. */
export interface SessionInfo {
  /** The subprotocol, or `""`. */
  protocol: string;
  /** The negotiated extensions as a `Sec-WebSocket-Extensions` value, or `""`. */
  extensions: string;
  /** The handshake's response headers (client) or request headers (server). */
  headers: Headers;
  /** The URL (client) or request URL (server). */
  url: string;
  /** The peer's address, when known. */
  remoteAddress?: TransportAddress;
}

/** The session's defaults, in one place. */
export const SESSION_DEFAULTS = {
  closeTimeoutMs: 10_000,
  maxQueuedMessages: 16,
  keepaliveIntervalMs: 20_000,
  keepaliveTimeoutMs: 10_000,
} as const;

type Listener<T> = (value: T) => void;

/**
 * A live WebSocket connection.
 *
 * @example
 * ```ts
 * import { connect } from "../mod.ts";
 * await using ws = await connect("ws://127.0.0.1:8080/");
 * await ws.send("hello");
 * for await (const message of ws) console.log(message);
 * ```
 */
export class Session implements AsyncIterable<MessageData>, AsyncDisposable {
  readonly #transport: Transport;
  readonly #conn: Connection;
  readonly #info: SessionInfo;
  readonly #closeTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #trace: ((line: string) => void) | undefined;

  #queue: MessageData[] = [];
  #queueHead = 0;
  /** Readers waiting for a message or the end. */
  #readerWaits: Array<() => void> = [];
  /** Wakes the read loop waiting for queue space. */
  #wakeLoop: (() => void) | undefined;
  #closeInfo: CloseInfo | undefined;
  #resolveClosed!: (info: CloseInfo) => void;
  /** Resolves, never rejects, when the session has ended. */
  readonly closed: Promise<CloseInfo>;
  #pings = new Map<
    string,
    { sentAt: number; resolve: (ms: number) => void; reject: (e: Error) => void }
  >();
  #pingCounter = 0;
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #error: Error | undefined;
  #listeners = new Map<keyof SessionEvents, Set<Listener<never>>>();
  #writeChain: Promise<void> = Promise.resolve();
  /** The write of the current turn's output, while it is being gathered. */
  #batch: Promise<void> | undefined;
  #blobs: Promise<void> | undefined;
  #readable: ReadableStream<MessageData> | undefined;
  #writable: WritableStream<SendData> | undefined;

  /** @internal Sessions come from `connect()` and `serve()`. */
  constructor(
    transport: Transport,
    connection: ConnectionOptions | Connection,
    info: SessionInfo,
    options: SessionOptions = {},
    initial?: Uint8Array,
  ) {
    this.#transport = transport;
    this.#info = info;
    this.#closeTimeoutMs = options.closeTimeoutMs ?? SESSION_DEFAULTS.closeTimeoutMs;
    this.#maxQueued = Math.max(1, options.maxQueuedMessages ?? SESSION_DEFAULTS.maxQueuedMessages);
    this.#trace = options.trace;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#conn = connection instanceof Connection ? connection : new Connection({
      ...connection,
      onFrame: (direction, frame) => this.#onFrame(direction, frame),
    });
    const keepalive = options.keepalive;
    if (keepalive) this.#startKeepalive(keepalive);
    if (options.on) {
      for (const [type, listener] of Object.entries(options.on)) {
        if (listener) this.on(type as "open", listener as (value: Session) => void);
      }
    }
    this.#emit("open", this);
    void this.#readLoop(initial);
  }

  /** The subprotocol the server chose, or `""`. */
  get protocol(): string {
    return this.#info.protocol;
  }

  /** The negotiated extensions, as a `Sec-WebSocket-Extensions` value, or `""`. */
  get extensions(): string {
    return this.#info.extensions;
  }

  /** The handshake's headers: the server's response on a client, the client's request on a server. */
  get headers(): Headers {
    return this.#info.headers;
  }

  /** The URL connected to (client) or requested (server). */
  get url(): string {
    return this.#info.url;
  }

  /** The peer's address, when known. */
  get remoteAddress(): TransportAddress | undefined {
    return this.#info.remoteAddress;
  }

  /** `"open"`, `"closing"` or `"closed"`. */
  get readyState(): "open" | "closing" | "closed" {
    if (this.#closeInfo) return "closed";
    const s = this.#conn.state;
    return s === "open" || s === "connecting" ? "open" : "closing";
  }

  /** Bytes given to the socket but not yet sent by the operating system, when the runtime tells. */
  get bufferedAmount(): number {
    return this.#transport.bufferedAmount ?? 0;
  }

  /** Listens to an event; returns a function that stops listening. */
  on<K extends keyof SessionEvents>(
    type: K,
    listener: (value: SessionEvents[K]) => void,
  ): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, set = new Set());
    set.add(listener as Listener<never>);
    return () => set!.delete(listener as Listener<never>);
  }

  #emit<K extends keyof SessionEvents>(type: K, value: SessionEvents[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const l of set) {
      try {
        (l as Listener<SessionEvents[K]>)(value);
      } catch {
        // A listener's failure is not the connection's.
      }
    }
  }

  #onFrame(direction: "in" | "out", frame: Frame): void {
    if (this.#trace) {
      this.#trace(
        `${direction === "in" ? "<<" : ">>"} fin=${
          frame.fin ? 1 : 0
        } rsv=${frame.rsv} op=${frame.opcode} len=${frame.payload.length}`,
      );
    }
    if (this.#listeners.get("frame")?.size) this.#emit("frame", { direction, frame });
  }

  // ------------------------------------------------------------------ sending

  /**
   * Sends a message: a string as text, bytes as binary. Resolves when the
   * socket accepted the bytes, so awaiting each send is backpressure.
   *
   * @throws {NotOpenError} once closing has begun
   */
  send(data: SendData): Promise<void> {
    // A Blob must be read first; later sends wait for it so order is kept.
    if (this.#blobs !== undefined || (typeof Blob !== "undefined" && data instanceof Blob)) {
      const turn = (this.#blobs ?? Promise.resolve()).then(async () => {
        const bytes = data instanceof Blob ? new Uint8Array(await data.arrayBuffer()) : data;
        return this.#sendNow(bytes as string | ArrayBuffer | ArrayBufferView);
      });
      const tail = (this.#blobs = turn.catch(() => {}));
      tail.then(() => {
        if (this.#blobs === tail) this.#blobs = undefined;
      });
      return turn;
    }
    return this.#sendNow(data as string | ArrayBuffer | ArrayBufferView);
  }

  #sendNow(data: string | ArrayBuffer | ArrayBufferView): Promise<void> {
    try {
      if (typeof data === "string") this.#conn.sendText(data);
      else this.#conn.sendBinary(toBytes(data));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#flush();
  }

  /**
   * Sends a frame encoded once for many connections (a server's broadcast);
   * see {@link Connection.sendEncodedFrame}. Resolves like {@link send}.
   */
  sendEncodedFrame(frame: Uint8Array): Promise<void> {
    try {
      this.#conn.sendEncodedFrame(frame);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#flush();
  }

  /**
   * Sends one message as a stream of fragments (RFC 6455 §5.4), for data
   * produced piece by piece. Extensions do not compress streamed messages.
   *
   * @example
   * ```ts
   * await ws.sendStream((async function* () { yield "part 1, "; yield "part 2"; })());
   * ```
   */
  async sendStream(
    parts: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
    type?: "text" | "binary",
  ): Promise<void> {
    let previous: string | Uint8Array | undefined;
    let kind = type;
    for await (const part of parts as AsyncIterable<string | Uint8Array>) {
      kind ??= typeof part === "string" ? "text" : "binary";
      if (previous !== undefined) {
        this.#conn.sendFragment(kind, previous, false);
        await this.#flush();
      }
      previous = part;
    }
    this.#conn.sendFragment(kind ?? "binary", previous ?? new Uint8Array(0), true);
    await this.#flush();
  }

  /**
   * Sends a ping and resolves with the round-trip time in milliseconds when
   * its pong arrives. Rejects if the session closes first.
   */
  ping(data?: Uint8Array): Promise<number> {
    const payload = data ?? new Uint8Array([0x73, 0x70, ...u32(++this.#pingCounter)]);
    const key = keyOf(payload);
    const promise = new Promise<number>((resolve, reject) => {
      this.#pings.set(key, { sentAt: performance.now(), resolve, reject });
    });
    try {
      this.#conn.ping(payload);
    } catch (error) {
      this.#pings.delete(key);
      throw error;
    }
    this.#flush().catch(() => {});
    return promise;
  }

  /** Sends a pong: a heartbeat, or the answer to a ping when `autoPong` is off. */
  async pong(data?: Uint8Array): Promise<void> {
    this.#conn.pong(data);
    await this.#flush();
  }

  /** Writes what the connection queued; writes stay in order. */
  /**
   * Writes what the connection queued. Sends made in the same turn of the
   * event loop go out in one write (a microtask later), so a burst of small
   * messages costs one system call, not one each.
   */
  #flush(): Promise<void> {
    if (this.#batch !== undefined) return this.#batch;
    if (this.#conn.outputBytes === 0) return this.#writeChain;
    const batch = Promise.resolve().then(() => {
      this.#batch = undefined;
      const chunks = this.#conn.takeOutput();
      const done = chunks.length > 0 ? this.#transport.write(chunks) : Promise.resolve();
      this.#writeChain = done.catch(() => {});
      return done;
    }).catch((error) => {
      this.#fail(error);
      throw error;
    });
    this.#batch = batch;
    return batch;
  }

  // ------------------------------------------------------------------ closing

  /**
   * Closes the connection: sends a close frame (after every message sent
   * before it), waits for the peer's within `closeTimeoutMs`, and resolves
   * with how it ended. Messages that already arrived stay readable.
   *
   * @param code 1000 (default); any code that may be sent: 1000–1003,
   *   1007–1014 (for instance 1008 policy, 1011 error, 1013 try again later)
   *   and 3000–4999 (registered and private use)
   * @param reason at most 123 bytes of UTF-8
   * @throws {RangeError} for a code that may not be sent (1005, 1006, 1015, …)
   *   or a reason over 123 bytes
   */
  async close(code: number = CloseCode.Normal, reason = ""): Promise<CloseInfo> {
    if (this.#closeInfo) return this.#closeInfo;
    this.#conn.close(code, reason);
    this.#armCloseTimer();
    this.#flush().catch(() => {});
    this.#wakeLoop?.(); // closing never waits on the application reading
    return await this.closed;
  }

  /** Closes with code 1011 or the given one, without waiting for the handshake (at most `closeTimeoutMs`). */
  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#closeInfo) return;
    this.#closeTimer = setTimeout(() => {
      this.#error ??= new TimeoutError(
        "CLOSE_TIMEOUT",
        `no closing handshake within ${this.#closeTimeoutMs} ms`,
        this.#closeTimeoutMs,
      );
      this.#transport.close();
      this.#end({ code: CloseCode.Abnormal, reason: "", wasClean: false, error: this.#error });
    }, this.#closeTimeoutMs);
  }

  /** Ends the session at once: closes the transport without a closing handshake. */
  terminate(): void {
    this.#transport.close();
    this.#end({ code: CloseCode.Abnormal, reason: "", wasClean: false, error: this.#error });
  }

  /** `await using` closes the connection normally. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#closeInfo) await this.close().catch(() => this.terminate());
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.#emit("error", error);
    this.#transport.close();
    this.#end({ code: CloseCode.Abnormal, reason: "", wasClean: false, error: this.#error });
  }

  #end(info: CloseInfo): void {
    if (this.#closeInfo) return;
    if (this.#error && !info.error) info = { ...info, error: this.#error };
    this.#closeInfo = info;
    clearTimeout(this.#closeTimer);
    clearInterval(this.#keepaliveTimer);
    const pingError = new NotOpenError("the connection closed before the pong arrived");
    for (const p of this.#pings.values()) p.reject(pingError);
    this.#pings.clear();
    this.#wakeReaders();
    this.#wakeLoop?.();
    this.#emit("close", info);
    this.#resolveClosed(info);
  }

  // ------------------------------------------------------------------ reading

  async #readLoop(initial?: Uint8Array): Promise<void> {
    const conn = this.#conn;
    try {
      if (initial && initial.length > 0) this.#handle(conn.receive(initial));
      while (!this.#closeInfo) {
        if (conn.state === "closed") {
          if (conn.shouldCloseTransport) break;
          // A client waits for the server to close TCP (RFC 6455 §7.1.1), within the close timeout.
          this.#armCloseTimer();
        } else if (this.#queuedCount() >= this.#maxQueued && !this.#conn.closeSent) {
          // Backpressure: stop reading until the application takes messages.
          await new Promise<void>((resolve) => (this.#wakeLoop = resolve));
          this.#wakeLoop = undefined;
          continue;
        }
        const chunk = await this.#transport.read();
        if (chunk === null) {
          this.#handle(conn.receiveEof());
          break;
        }
        this.#handle(conn.receive(chunk));
        if (conn.outputBytes > 0) this.#flush().catch(() => {});
      }
    } catch (error) {
      if (!this.#closeInfo) {
        this.#handle(conn.receiveEof());
        this.#error ??= error as Error;
      }
    }
    await this.#batch?.catch(() => {});
    await this.#writeChain;
    this.#transport.close();
    const result = conn.closeResult ?? { code: CloseCode.Abnormal, reason: "", wasClean: false };
    this.#end({ ...result });
  }

  #handle(events: ConnectionEvent[]): void {
    for (const e of events) {
      switch (e.type) {
        case "text":
        case "binary":
          this.#queue.push(e.data);
          this.#emit("message", e.data);
          break;
        case "ping":
          this.#emit("ping", e.data);
          break;
        case "pong": {
          this.#emit("pong", e.data);
          this.#settlePings(e.data);
          break;
        }
        case "error":
          this.#error ??= e.error;
          this.#emit("error", e.error);
          break;
        case "close":
          // Nothing to do: the loop sees the state and finishes.
          break;
      }
    }
    if (events.length > 0) this.#wakeReaders();
    if (this.#conn.outputBytes > 0) this.#flush().catch(() => {});
  }

  /** A pong answers its ping and every earlier one (RFC 6455 §5.5.3 lets peers skip pongs). */
  #settlePings(payload: Uint8Array): void {
    const key = keyOf(payload);
    const hit = this.#pings.get(key);
    if (!hit) return;
    const now = performance.now();
    for (const [k, p] of this.#pings) {
      this.#pings.delete(k);
      p.resolve(now - p.sentAt);
      if (k === key) break;
    }
  }

  /** Resolves at the next message or at the end. */
  #nextWake(): Promise<void> {
    return new Promise((resolve) => this.#readerWaits.push(resolve));
  }

  #wakeReaders(): void {
    const waits = this.#readerWaits;
    if (waits.length === 0) return;
    this.#readerWaits = [];
    for (const wake of waits) wake();
  }

  #queuedCount(): number {
    return this.#queue.length - this.#queueHead;
  }

  /** Takes the next message, or undefined at the end; throws if the end was not clean. */
  async #next(): Promise<MessageData | undefined> {
    while (true) {
      if (this.#queueHead < this.#queue.length) {
        const m = this.#queue[this.#queueHead];
        this.#queue[this.#queueHead++] = undefined as unknown as MessageData;
        if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#queueHead);
          this.#queueHead = 0;
        }
        this.#wakeLoop?.();
        return m;
      }
      const info = this.#closeInfo;
      if (info) {
        if (info.wasClean) return undefined;
        throw new ConnectionClosedError(info);
      }
      await this.#nextWake();
    }
  }

  /**
   * Waits for the next message.
   *
   * @throws {TimeoutError} after `timeoutMs` (the message, if it comes later, is not lost)
   * @throws {ConnectionClosedError} when the session ended
   */
  async receive(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<MessageData> {
    const { timeoutMs, signal } = options;
    if (timeoutMs !== undefined || signal !== undefined) {
      // Wait for a message (or the end) without taking it, so that giving up
      // leaves it queued for the next reader.
      let timer: ReturnType<typeof setTimeout> | undefined;
      let onAbort: (() => void) | undefined;
      const gaveUp = new Promise<never>((_, reject) => {
        if (timeoutMs !== undefined) {
          timer = setTimeout(
            () =>
              reject(
                new TimeoutError("RECEIVE_TIMEOUT", `no message within ${timeoutMs} ms`, timeoutMs),
              ),
            timeoutMs,
          );
        }
        if (signal) {
          onAbort = () => reject(abortReason(signal));
          if (signal.aborted) onAbort();
          else signal.addEventListener("abort", onAbort, { once: true });
        }
      });
      let wake: (() => void) | undefined;
      try {
        while (this.#queuedCount() === 0 && !this.#closeInfo) {
          await Promise.race([new Promise<void>((r) => this.#readerWaits.push(wake = r)), gaveUp]);
        }
      } finally {
        // A reader that gave up leaves no waiter behind (receive() may be polled for hours).
        if (wake) this.#readerWaits = this.#readerWaits.filter((w) => w !== wake);
        clearTimeout(timer);
        if (onAbort) signal!.removeEventListener("abort", onAbort);
        gaveUp.catch(() => {});
      }
    }
    const m = await this.#next();
    if (m === undefined) throw new ConnectionClosedError(this.#closeInfo!);
    return m;
  }

  /** Iterates the messages; ends after a clean close and throws {@link ConnectionClosedError} otherwise. */
  async *[Symbol.asyncIterator](): AsyncIterator<MessageData> {
    while (true) {
      const m = await this.#next();
      if (m === undefined) return;
      yield m;
    }
  }

  /** The messages as a web stream (pull-based: an unread stream stops socket reads). */
  get readable(): ReadableStream<MessageData> {
    return this.#readable ??= new ReadableStream<MessageData>({
      pull: async (controller) => {
        try {
          const m = await this.#next();
          if (m === undefined) controller.close();
          else controller.enqueue(m);
        } catch (error) {
          controller.error(error);
        }
      },
      cancel: async () => {
        await this.close().catch(() => {});
      },
    }, { highWaterMark: 0 });
  }

  /** A web stream that sends what is written to it; closing it closes the connection. */
  get writable(): WritableStream<SendData> {
    return this.#writable ??= new WritableStream<SendData>({
      write: (chunk) => this.send(chunk),
      close: async () => {
        await this.close();
      },
      abort: async () => {
        await this.close(CloseCode.GoingAway).catch(() => {});
      },
    });
  }

  // ---------------------------------------------------------------- keepalive

  #startKeepalive(options: KeepaliveOptions): void {
    const interval = options.intervalMs ?? SESSION_DEFAULTS.keepaliveIntervalMs;
    const timeout = options.timeoutMs ?? SESSION_DEFAULTS.keepaliveTimeoutMs;
    if (!(interval > 0)) return;
    this.#keepaliveTimer = setInterval(() => {
      if (this.#conn.state !== "open") return;
      const timer = setTimeout(() => {
        // While the application is not reading, the pong may sit unread in
        // the socket: that is backpressure, not a dead peer.
        if (this.#closeInfo || this.#wakeLoop !== undefined) return;
        const error = new TimeoutError(
          "KEEPALIVE_TIMEOUT",
          `no pong within ${timeout} ms`,
          timeout,
        );
        this.#fail(error);
      }, timeout);
      this.ping().then(() => clearTimeout(timer), () => clearTimeout(timer));
    }, interval);
  }
}

function u32(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

function keyOf(payload: Uint8Array): string {
  let s = "";
  for (const b of payload) s += String.fromCharCode(b);
  return s;
}

/** Bytes of any BufferSource, without copying. */
function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError("send() takes a string, an ArrayBuffer, a typed array, a DataView or a Blob");
}
