/**
 * The engine of a live connection: the sans-I/O {@link Connection} driven
 * over a {@link Transport}, shared by the client's session and the server.
 *
 * The hot path has no promise, closure or timer per message: the transport
 * pushes each read into {@link LiveConnection} in the socket's own callback;
 * the read is parsed whole and every complete message goes to the
 * {@link LiveReceiver} in that same turn; whatever the receiver sends in
 * answer (echoes, pushes, pongs, the close reply), and whatever is sent from
 * elsewhere (a timer, an async handler, another connection's handler), is
 * gathered and written once per connection at the end of the event loop's
 * turn, by one task shared by every connection.
 *
 * Timers exist only per connection and only while needed: the closing
 * handshake's bound, and the write-progress bound while the peer is not
 * reading. Activity is counted ({@link LiveConnection.bytesIn}), not timed.
 *
 * @module
 */

import { CloseCode, NotOpenError, SprigError, TimeoutError } from "../errors.ts";
import type { Connection, ConnectionEvent } from "../protocol/connection.ts";
import { concatBytes } from "../protocol/bytes.ts";
import type { Transport, TransportSink } from "../transport/transport.ts";
import { Eventually } from "../util/eventually.ts";
import type { MessageData } from "./types.ts";
import type { CloseInfo } from "../errors.ts";
import { noop } from "../util/noop.ts";

/** What a live connection reports, synchronously, in the socket's turn. @internal */
export interface LiveReceiver {
  /** A complete message, in order. */
  message(data: MessageData): void;
  /** A ping (its pong is already queued when autoPong is on) or a pong. */
  control(type: "ping" | "pong", data: Uint8Array): void;
  /** The peer broke the protocol, a write failed, or a bound was passed; the end follows. */
  error(error: Error): void;
  /** Output that had passed the high-water mark was taken by the socket. */
  drain(): void;
  /** The connection ended. Called once, last, after every message. */
  end(info: CloseInfo): void;
  /**
   * True while the receiver is still answering messages it was given (an
   * asynchronous handler): a close frame owed to the peer waits until it is
   * done (see {@link LiveConnection.release}), within the close timeout.
   */
  holding?(): boolean;
}

/** Options of {@link LiveConnection}. @internal */
export interface LiveOptions {
  /** Bound on the closing handshake, in ms. */
  closeTimeoutMs: number;
  /** Bytes waiting to be sent past which the connection is dropped (a server's cap). Default none. */
  maxSendBufferBytes?: number;
  /** While the peer takes none of our output for this long, in ms, drop it. 0: never. */
  writeTimeoutMs?: number;
  /** Stop reading while our output waits for the peer to read (a server's echo loop). */
  pauseReadsWhileWriting?: boolean;
  /**
   * How to close the socket: `close()` once done (a server's lingering
   * close), `destroy()` to drop it. Default: the transport's `close()` for both.
   */
  socket?: { close(): void; destroy(): void };
  /** Bytes already read after the handshake. */
  initial?: Uint8Array;
}

/** Output smaller than this, in several chunks, is joined into one buffer before writing. */
const JOIN_BELOW = 64 * 1024;
/** Output queued in one turn past which a send writes at once instead of at the end of the turn. */
const FLUSH_NOW_BYTES = 256 * 1024;
/** For transports without `writeNow`: bytes in flight past which writing counts as blocked. */
const WRITE_HIGH_WATER_BYTES = 64 * 1024;

const PAUSED_BY_RECEIVER = 1;
const PAUSED_BY_WRITES = 2;
const PAUSED_BY_BUDGET = 4;

/**
 * Frames one connection may have parsed in one turn of the event loop
 * before its reads pause until the next turn: a peer sending a flood of
 * tiny fragments cannot keep the other connections waiting. Ordinary
 * traffic never comes near it (a 1 MiB message is one frame).
 */
const FRAMES_PER_TURN = 16_384;

/**
 * A count of event-loop turns in which data was read: bumped by one
 * zero-delay timer per busy turn, shared by every connection (not a timer per
 * message).
 */
let turn = 0;
let turnScheduled = false;
function nextTurn(): void {
  turn++;
  turnScheduled = false;
}

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * Runs a task once the current turn of the event loop, microtasks included,
 * is over: `setImmediate` where the runtime has it (Deno, Bun, Node: a few
 * microseconds), else a `MessageChannel` message, else a zero-delay timer.
 */
export const afterTurn: (task: () => void) => void = typeof setImmediate === "function"
  ? (task) => void setImmediate(task)
  : typeof MessageChannel === "function"
  ? (() => {
    const channel = new MessageChannel();
    let queued: (() => void) | undefined;
    channel.port1.onmessage = () => {
      const task = queued!;
      queued = undefined;
      task();
    };
    // An idle port must not keep a process alive.
    (channel.port1 as { unref?: () => void }).unref?.();
    return (task: () => void) => {
      queued = task;
      channel.port2.postMessage(0);
    };
  })()
  : (task) => void setTimeout(task, 0);

/** Connections whose output waits for the end of the turn, and whether the shared write task is due. */
let dueFlushes: LiveConnection[] = [];
let flushesScheduled = false;

/** The shared end-of-turn task: writes every connection that has output waiting, once each. */
function flushDue(): void {
  flushesScheduled = false;
  const due = dueFlushes;
  dueFlushes = [];
  for (let i = 0; i < due.length; i++) due[i].flushIfScheduled();
}

/** A waiter for the current turn's write. */
interface WriteWaiter {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

/**
 * A {@link Connection} over a {@link Transport}, in push mode. It is the
 * transport's {@link TransportSink}: `data`, `end` and `drain` are called
 * by the transport. @internal
 */
export class LiveConnection implements TransportSink {
  readonly transport: Transport;
  readonly conn: Connection;
  /** Bytes received so far: the activity counter idle timeouts compare. */
  bytesIn = 0;
  /** Pongs received so far (keepalive compares it). */
  pongsIn = 0;
  readonly #options: LiveOptions;
  #initial: Uint8Array | undefined;
  #receiver: LiveReceiver | undefined;
  #inTurn = false;
  #flushScheduled = false;
  #paused = 0;
  #resumeLoop: (() => void) | undefined;
  /** Output the transport has not taken yet (writeNow returned false, or a write is in flight). */
  #blocked = false;
  /** For transports without writeNow: bytes handed to write() and not settled. */
  #inFlight = 0;
  /** Sends waiting for the current turn's write. */
  #waiter: WriteWaiter | undefined;
  /** Sends waiting for the transport to drain. */
  #drainWaiters: WriteWaiter[] | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #stallTimer: ReturnType<typeof setInterval> | undefined;
  #error: Error | undefined;
  #closeInfo: CloseInfo | undefined;
  #ending = false;
  /** The turn this connection last read in, and the frame count when it began. */
  #turn = -1;
  #turnFrames = 0;
  /** A held close frame must go now (the close timeout passed). */
  #releaseHeld = false;
  /**
   * A read delivered messages and left a close frame owed: it waits for the
   * end of the turn, so that replies made in that turn's microtasks (a
   * `for await` loop, an `async` handler) go before it.
   */
  #holdThisTurn = false;
  readonly #closed = new Eventually<CloseInfo>();
  /** What a read produced is written at once (see {@link Transport.writeInReadTurn}). */
  readonly #writeInRead: boolean;

  constructor(transport: Transport, connection: Connection, options: LiveOptions) {
    this.transport = transport;
    this.#writeInRead = transport.writeInReadTurn === true;
    this.conn = connection;
    // The bytes read with the handshake are used once, at start, and not
    // kept: they may be a view of the whole first read.
    if (options.initial !== undefined) {
      this.#initial = options.initial;
      options = { ...options, initial: undefined };
    }
    this.#options = options;
  }

  /** Resolves, never rejects, when the connection has ended. */
  get closed(): Promise<CloseInfo> {
    return this.#closed.promise;
  }

  /** Starts reading; `receiver` hears everything from now on. Once. */
  start(receiver: LiveReceiver): void {
    this.#receiver = receiver;
    const initial = this.#initial;
    this.#initial = undefined;
    if (initial !== undefined && initial.length > 0) this.data(initial);
    if (this.#closeInfo) return;
    const t = this.transport;
    if (t.attach) t.attach(this);
    else void this.#pull();
  }

  /** The end of the connection, once it ended. */
  get closeInfo(): CloseInfo | undefined {
    return this.#closeInfo;
  }

  /** What went wrong, if anything. */
  get error(): Error | undefined {
    return this.#error;
  }

  /** Bytes given to the socket and not yet taken by the operating system, as far as known. */
  get bufferedAmount(): number {
    return (this.transport.bufferedAmount ?? 0) + this.conn.outputBytes + this.#inFlight;
  }

  /** True while our output waits for the peer to read. */
  get writeBlocked(): boolean {
    return this.#blocked;
  }

  /** True while reads are paused by the receiver. */
  get paused(): boolean {
    return (this.#paused & PAUSED_BY_RECEIVER) !== 0;
  }

  // ------------------------------------------------------------------ reading

  /** Transport sink: bytes arrived. */
  data(chunk: Uint8Array): void {
    this.bytesIn += chunk.length;
    if (this.#closeInfo) return;
    if (!turnScheduled) {
      turnScheduled = true;
      setTimeout(nextTurn, 0);
    }
    if (this.#turn !== turn) {
      this.#turn = turn;
      this.#turnFrames = this.conn.framesIn;
    }
    this.#inTurn = true;
    try {
      this.#dispatch(this.conn.receive(chunk, this.#receiver!.holding?.() ?? false));
    } finally {
      this.#inTurn = false;
    }
    const conn = this.conn;
    if (conn.closePending) this.#holdThisTurn = true;
    // Replies to a read leave with the shared end-of-turn write, after every
    // connection that is readable in this turn has been read: each peer's
    // next messages then arrive, and are answered, together (fewer, larger
    // reads and writes, as uWebSockets corks). Large output and reads that
    // owe nothing are settled now.
    if (
      this.#writeInRead || conn.outputBytes >= JOIN_BELOW ||
      (conn.outputBytes === 0 && !conn.closePending)
    ) {
      this.flush();
    } else this.scheduleFlush();
    if (this.conn.framesIn - this.#turnFrames > FRAMES_PER_TURN && !this.#closeInfo) {
      // This peer had its share of this turn: read it again in the next one.
      this.#setPaused(this.#paused | PAUSED_BY_BUDGET);
      setTimeout(() => this.#setPaused(this.#paused & ~PAUSED_BY_BUDGET), 0);
    }
  }

  /** Transport sink: where the next read may go (the rest of a large frame's payload), if anywhere. */
  readBuffer(): Uint8Array | undefined {
    return this.#closeInfo === undefined ? this.conn.receiveBuffer() : undefined;
  }

  /** Transport sink: the peer ended the stream, or the socket failed. */
  end(error?: Error): void {
    if (this.#closeInfo || this.#ending) return;
    if (error) this.#error ??= error;
    this.#inTurn = true;
    try {
      this.#dispatch(this.conn.receiveEof());
    } finally {
      this.#inTurn = false;
    }
    this.#finish(false);
  }

  #dispatch(events: ConnectionEvent[]): void {
    const receiver = this.#receiver!;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      switch (e.type) {
        case "text":
          receiver.message(e.data);
          break;
        case "binary":
          receiver.message(unpooledBytes(e.data));
          break;
        case "pong":
          this.pongsIn++;
          receiver.control("pong", e.data);
          break;
        case "ping":
          receiver.control("ping", e.data);
          break;
        case "error":
          this.#error ??= e.error;
          receiver.error(e.error);
          break;
      }
    }
  }

  /** After a write: the protocol may have reached CLOSED. */
  #afterFlush(): void {
    const conn = this.conn;
    if (conn.state !== "closed" || this.#closeInfo) return;
    // A server closes TCP as soon as the closing handshake is done; a
    // client waits for the server to (RFC 6455 §7.1.1), within the close timeout.
    if (conn.shouldCloseTransport) this.#finish(true);
    else this.#armCloseTimer();
  }

  /** The read loop for transports without push mode. */
  async #pull(): Promise<void> {
    try {
      while (!this.#closeInfo) {
        if (this.#paused !== 0) {
          await new Promise<void>((resolve) => (this.#resumeLoop = resolve));
          this.#resumeLoop = undefined;
          continue;
        }
        const chunk = await this.transport.read();
        if (chunk === null) break;
        this.data(chunk);
      }
      this.end();
    } catch (error) {
      this.end(error as Error);
    }
  }

  /** Stops reading the socket until {@link resumeReads} (inbound backpressure). */
  pauseReads(): void {
    this.#setPaused(this.#paused | PAUSED_BY_RECEIVER);
  }

  /** Reads the socket again. */
  resumeReads(): void {
    this.#setPaused(this.#paused & ~PAUSED_BY_RECEIVER);
  }

  #setPaused(flags: number): void {
    const was = this.#paused;
    this.#paused = flags;
    if ((was === 0) === (flags === 0)) return;
    if (flags !== 0) this.transport.pause?.();
    else {
      this.transport.resume?.();
      this.#resumeLoop?.();
    }
  }

  // ------------------------------------------------------------------ writing

  /**
   * Writes what the connection queued, now. Called at the end of every read
   * and by the scheduled flush; anyone may call it to write at once.
   */
  flush(endOfTurn = false): void {
    this.#flushScheduled = false;
    const conn = this.conn;
    if (this.#closeInfo) return;
    // A close frame owed to the peer waits while the receiver still answers
    // earlier messages (bounded by the close timeout); takeOutput() queues it
    // otherwise. Owed by a read that delivered messages, it waits at least
    // for the end of that turn, when the turn's microtasks (a `for await`
    // loop, an async handler) have answered.
    let hold = false;
    if (conn.closePending) {
      const thisTurn = this.#holdThisTurn && !endOfTurn;
      this.#holdThisTurn = false;
      if (this.#releaseHeld) hold = false;
      else if (thisTurn) {
        hold = true;
        this.scheduleFlush();
      } else hold = this.#receiver?.holding?.() ?? false;
      if (hold) this.#armCloseTimer();
    }
    if (conn.outputBytes === 0 && (hold || !conn.closePending)) {
      this.#settleWaiter();
      this.#afterFlush();
      return;
    }
    const chunks = conn.takeOutput(hold);
    if (chunks.length === 0) {
      this.#settleWaiter();
      this.#afterFlush();
      return;
    }
    let out: readonly Uint8Array[] = chunks;
    if (chunks.length > 1) {
      let total = 0;
      for (let i = 0; i < chunks.length; i++) total += chunks[i].length;
      if (total < JOIN_BELOW) out = [concatBytes(chunks, total)];
    }
    const t = this.transport;
    // The cap applies to what this write finds waiting (the option's
    // contract), not to the write itself: one large message to a peer that
    // reads must pass, even where little leaves at once (an HTTP/2 stream's
    // flow-control window).
    const cap = this.#options.maxSendBufferBytes;
    const waiting = cap === undefined ? 0 : (t.bufferedAmount ?? 0) + this.#inFlight;
    if (t.writeNow) {
      if (!t.writeNow(out) && !this.#blocked) this.#block();
    } else {
      let size = 0;
      for (let i = 0; i < out.length; i++) size += out[i].length;
      this.#inFlight += size;
      t.write(out).then(() => {
        this.#inFlight -= size;
        if (this.#blocked && this.#inFlight < WRITE_HIGH_WATER_BYTES / 2) this.drain();
      }, (error) => this.#writeFailed(error));
      if (!this.#blocked && this.#inFlight > WRITE_HIGH_WATER_BYTES) this.#block();
    }
    this.#settleWaiter();
    if (cap !== undefined && this.#blocked && waiting > cap) {
      return this.#overflow(this.bufferedAmount, cap);
    }
    this.#afterFlush();
  }

  /** The receiver is done answering: a held close frame may go now. */
  release(): void {
    if (this.conn.closePending && !this.#closeInfo) this.scheduleFlush();
  }

  /**
   * Writes at the end of this turn: at once after a read; otherwise once the
   * event loop's turn, with all its microtasks, is over (one shared task for
   * every connection).
   */
  scheduleFlush(): void {
    if (this.#inTurn || this.#flushScheduled) return;
    this.#flushScheduled = true;
    dueFlushes.push(this);
    if (!flushesScheduled) {
      flushesScheduled = true;
      afterTurn(flushDue);
    }
  }

  /** The shared end-of-turn task's call: writes unless a read already did. @internal */
  flushIfScheduled(): void {
    if (!this.#flushScheduled) return;
    try {
      this.flush(true);
    } catch (error) {
      // One connection's failure must not keep the others in this task from writing.
      this.terminate(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * What a send returns: settled at once while the output is not blocked
   * (the message is queued and leaves with this turn's write), otherwise a
   * promise that resolves when the socket has taken what waited
   * (backpressure) and rejects if the connection fails first.
   */
  accepted(): Promise<void> {
    // A loop of awaited sends runs in microtasks, before any end-of-turn
    // write: past this much output, write now so that the loop meets the
    // socket's backpressure.
    if (this.conn.outputBytes >= FLUSH_NOW_BYTES) this.flush();
    else this.scheduleFlush();
    if (!this.#blocked) return RESOLVED;
    return this.written();
  }

  /**
   * A promise for this turn's output: resolves once the socket took it, so
   * awaiting it is backpressure; rejects if the connection fails first.
   */
  written(): Promise<void> {
    let w = this.#waiter;
    if (w === undefined) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      w = this.#waiter = { promise, resolve, reject };
    }
    this.scheduleFlush();
    return w.promise;
  }

  #settleWaiter(): void {
    const w = this.#waiter;
    if (w === undefined) return;
    this.#waiter = undefined;
    if (this.#blocked) (this.#drainWaiters ??= []).push(w);
    else w.resolve();
  }

  #block(): void {
    this.#blocked = true;
    if (this.#options.pauseReadsWhileWriting) this.#setPaused(this.#paused | PAUSED_BY_WRITES);
    const ms = this.#options.writeTimeoutMs ?? 0;
    if (ms > 0 && this.#stallTimer === undefined) {
      // The peer must take some of our output within `ms`; checked four times per period.
      let last = this.bufferedAmount;
      let quiet = 0;
      this.#stallTimer = setInterval(() => {
        const now = this.bufferedAmount;
        quiet = now < last ? 0 : quiet + 1;
        last = now;
        if (quiet >= 4) {
          this.terminate(
            new TimeoutError("WRITE_TIMEOUT", `the peer read nothing for ${ms} ms`, ms),
          );
        }
      }, Math.max(1, Math.ceil(ms / 4)));
    }
  }

  /** Transport sink: the runtime took what was queued. */
  drain(): void {
    if (!this.#blocked) return;
    this.#blocked = false;
    clearInterval(this.#stallTimer);
    this.#stallTimer = undefined;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (waiters) { for (let i = 0; i < waiters.length; i++) waiters[i].resolve(); }
    if (this.#closeInfo) return;
    this.#setPaused(this.#paused & ~PAUSED_BY_WRITES);
    this.#receiver?.drain();
  }

  #writeFailed(error: Error): void {
    if (this.#closeInfo) return;
    this.#error ??= error;
    this.#receiver?.error(error);
    this.#finish(false, true);
  }

  #overflow(buffered: number, cap: number): void {
    const error = new SprigError(
      "SEND_BUFFER_FULL",
      `the peer did not read: ${buffered} bytes were waiting to be sent (cap ${cap})`,
      CloseCode.PolicyViolation,
    );
    this.#error ??= error;
    this.#receiver?.error(error);
    // A close frame would only queue behind the data the peer is not reading.
    this.#finish(false, true, {
      code: CloseCode.PolicyViolation,
      reason: "send buffer full",
      wasClean: false,
    });
  }

  // ------------------------------------------------------------------ closing

  /**
   * Starts the closing handshake (RFC 6455 §7.1.2) with any code a server
   * or client may send, bounded by the close timeout.
   *
   * @throws {RangeError} from {@link Connection.close} for a code or reason that may not be sent
   */
  close(code?: number, reason = ""): void {
    if (this.#closeInfo) return;
    this.conn.close(code, reason);
    this.#armCloseTimer();
    this.scheduleFlush();
    // Closing never waits on the application reading.
    this.#setPaused(0);
  }

  /** Drops the connection now, without a closing handshake. */
  terminate(error?: Error): void {
    if (this.#closeInfo) return;
    if (error) {
      this.#error ??= error;
      this.#receiver?.error(error);
    }
    this.#finish(false, true);
  }

  #armCloseTimer(): void {
    if (this.#closeTimer !== undefined || this.#closeInfo) return;
    const ms = this.#options.closeTimeoutMs;
    this.#closeTimer = setTimeout(() => {
      const conn = this.conn;
      if (conn.closePending) {
        // The receiver took too long to answer: the owed close frame goes now.
        this.#closeTimer = undefined;
        this.#releaseHeld = true;
        this.flush();
        return;
      }
      // Both close frames were exchanged: only the transport's close is
      // missing, and the end is the clean one the frames agreed on
      // (RFC 6455 §7.1.4). Otherwise the peer never answered.
      if (conn.closeSent && conn.closeReceived) this.#finish(true);
      else {
        this.#error ??= new TimeoutError(
          "CLOSE_TIMEOUT",
          `no closing handshake within ${ms} ms`,
          ms,
        );
        this.#finish(false, true);
      }
    }, ms);
  }

  /**
   * Ends: writes what is left (unless dropping), closes the transport, and
   * reports the end once.
   */
  #finish(
    graceful: boolean,
    drop = false,
    dropResult?: { code: number; reason: string; wasClean: boolean },
  ): void {
    if (this.#closeInfo || this.#ending) return;
    // Closing the transport may report its end at once, re-entering here.
    this.#ending = true;
    const conn = this.conn;
    if (!drop) this.flush();
    const socket = this.#options.socket;
    if (!drop && (graceful || conn.state === "closed")) {
      // A lingering close (FIN, then read until the peer's) guards a close
      // frame the peer may not have read yet; after answering the peer's
      // own close there is nothing left to read, and the socket closes as
      // soon as the answer is written.
      if (socket && !(conn.closedByPeer && conn.state === "closed")) socket.close();
      else this.transport.close();
    } else if (socket) socket.destroy();
    else this.transport.close();
    clearTimeout(this.#closeTimer);
    clearInterval(this.#stallTimer);
    this.#stallTimer = undefined;
    if (conn.state !== "closed") conn.receiveEof();
    const result = !drop && conn.closeResult
      ? conn.closeResult
      : dropResult ?? { code: CloseCode.Abnormal, reason: "", wasClean: false };
    const info: CloseInfo = this.#error
      ? { code: result.code, reason: result.reason, wasClean: result.wasClean, error: this.#error }
      : { code: result.code, reason: result.reason, wasClean: result.wasClean };
    this.#closeInfo = info;
    const w = this.#waiter;
    this.#waiter = undefined;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = undefined;
    if (w || waiters) {
      // Made only when someone waits: an Error captures a stack, which costs.
      const failure = this.#error ?? new NotOpenError("the connection closed");
      if (w) {
        w.reject(failure);
        w.promise.catch(noop);
      }
      if (waiters) {
        for (const d of waiters) {
          d.reject(failure);
          d.promise.catch(noop);
        }
      }
    }
    this.#resumeLoop?.();
    this.#closed.resolve(info);
    this.#receiver?.end(info);
  }
}

/** Copied rather than viewed below this size: a copy is cheaper than exposing a Buffer's ArrayBuffer on Bun. */
const VIEW_FROM = 4096;

/**
 * A binary message as a plain `Uint8Array`, the same type on every runtime
 * (Node's and Bun's sockets deliver `Buffer`s, and views of them are
 * `Buffer`s too).
 */
function unpooledBytes(data: Uint8Array): Uint8Array {
  if (data.constructor === Uint8Array) return data;
  return data.length < VIEW_FROM
    ? new Uint8Array(data)
    : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
