/**
 * The server side of one HTTP/2 connection (RFC 9113), sans I/O: bytes from
 * the client go in through {@link Http2ServerConnection.receive}, requests
 * and their data come out as calls on a {@link Http2ServerListener}, and
 * every frame owed to the client (SETTINGS ACK, PING ACK, WINDOW_UPDATE,
 * responses, DATA, RST_STREAM, GOAWAY) waits in
 * {@link Http2ServerConnection.takeOutput} for the I/O layer to write.
 *
 * What it does: the connection preface; SETTINGS with ACK, including
 * SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3) so that clients may open
 * WebSockets with an extended CONNECT; HPACK; stream states and the limits
 * of concurrent streams, frame size and header list size; flow control
 * both ways; PING; GOAWAY, graceful and on errors; PRIORITY is read and
 * ignored (RFC 9113 §5.3.2). Server push is never used.
 *
 * Flow control (RFC 9113 §5.2, §6.9): DATA received is credited to the
 * connection as it arrives, and to its stream only once the application
 * says it consumed it ({@link Http2ServerConnection.consume}); so a stream
 * whose reader is slow stops its sender after one stream window
 * (`streamWindow`), and the other streams go on. Outgoing DATA waits for
 * the client's windows and goes out as they open.
 *
 * @module
 */

import {
  CLIENT_PREFACE,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_WINDOW,
  encodeFrame,
  encodeGoaway,
  encodeRstStream,
  encodeSettings,
  encodeWindowUpdate,
  Flag,
  FRAME_HEADER_BYTES,
  FrameReader,
  FrameType,
  H2ErrorCode,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW,
  type RawFrame,
  Setting,
  writeFrameHeader,
} from "./frame.ts";
import { encodeHeaderBlock, type HeaderField, HpackDecoder, HpackError } from "./hpack.ts";
import { EMPTY } from "../bytes.ts";

/** What the connection reports, each call made inside `receive()` or a send. */
export interface Http2ServerListener {
  /**
   * A request's header list arrived and is well formed (RFC 9113 §8.3.1,
   * RFC 8441 §4); `endStream` when it has no body.
   */
  request(streamId: number, fields: HeaderField[], endStream: boolean): void;
  /**
   * Request body bytes (the view is the listener's to keep); `endStream`
   * on the last (then `data` may be empty). Call
   * {@link Http2ServerConnection.consume} once they are used up.
   */
  data(streamId: number, data: Uint8Array, endStream: boolean): void;
  /**
   * The stream is over: both sides ended it (`code` 0), or it was reset
   * by either side or by the end of the connection (`code` the error).
   * Only for streams reported by `request`.
   */
  closed(streamId: number, code: number): void;
  /** Queued DATA of this stream went out (see {@link Http2ServerConnection.queued}). */
  sent?(streamId: number): void;
}

/** Options of {@link Http2ServerConnection}; the defaults are in {@link HTTP2_SERVER_DEFAULTS}. */
export interface Http2ServerOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS (RFC 9113 §6.5.2): streams the client may have open. */
  maxConcurrentStreams?: number;
  /**
   * SETTINGS_INITIAL_WINDOW_SIZE: how many bytes of one stream may arrive
   * and wait unconsumed, in bytes (1 to 2^31 − 1).
   */
  streamWindow?: number;
  /** The connection's receive window, in bytes (65535 to 2^31 − 1). */
  connectionWindow?: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: the largest request header list (RFC 9113 §6.5.2), in bytes. */
  maxHeaderListSize?: number;
  /** Advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3). */
  enableConnectProtocol?: boolean;
}

/** The defaults of {@link Http2ServerOptions}. */
export const HTTP2_SERVER_DEFAULTS = {
  maxConcurrentStreams: 100,
  streamWindow: 256 * 1024,
  connectionWindow: 1024 * 1024,
  maxHeaderListSize: 64 * 1024,
  enableConnectProtocol: true,
} as const;

/** CONTINUATION frames allowed after one HEADERS: more is a flood, not a header list. */
const MAX_CONTINUATIONS = 128;
/**
 * Requests the client may cancel (RST_STREAM before any response) more
 * than it lets finish: each such reset takes one, each stream that ends
 * normally gives one back, up to this. At zero the connection ends with
 * ENHANCE_YOUR_CALM: opening and at once resetting streams ("rapid reset",
 * CVE-2023-44487) would otherwise start handlers without limit while never
 * passing SETTINGS_MAX_CONCURRENT_STREAMS. Stream errors the client
 * provokes on such requests count the same.
 */
const RESET_BUDGET = 200;
/** Client stream identifiers, counting back from the last, whose use is remembered. */
const USED_IDS = 512;
/** Recently reset streams whose late frames are dropped quietly (RFC 9113 §5.4.2). */
const RESET_MEMORY = 64;
/** The pseudo-header fields of a request (RFC 9113 §8.3.1; RFC 8441 §4). */
const REQUEST_PSEUDO = new Set([":method", ":scheme", ":authority", ":path", ":protocol"]);
/** Connection-specific fields, which make a request malformed (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** A connection error (RFC 9113 §5.4.1): GOAWAY with `code`, then the end. */
class Http2ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** Stream states as RFC 9113 §5.1 has them, for a client-initiated stream. */
const OPEN = 0;
const HALF_CLOSED_REMOTE = 1;
const HALF_CLOSED_LOCAL = 2;

interface Stream {
  id: number;
  state: number;
  /** Whether `request` was reported (then `closed` is too). */
  reported: boolean;
  /** Bytes the client may still send before a WINDOW_UPDATE. */
  recvWindow: number;
  /** Bytes consumed and not yet credited back. */
  unacked: number;
  /** Bytes we may still send. */
  sendWindow: number;
  /** DATA waiting for the windows. */
  queue: Uint8Array[];
  queuedBytes: number;
  /** END_STREAM follows the queue. */
  endQueued: boolean;
  /** A response HEADERS went out. */
  responded: boolean;
  /** The request's content-length, or -1 without one (RFC 9113 §8.1.1). */
  contentLength: number;
  /** DATA payload bytes received, padding excluded. */
  received: number;
}

/**
 * One HTTP/2 server connection's protocol state.
 *
 * @example
 * ```ts
 * import { Http2ServerConnection } from "./connection.ts";
 * const seen: string[] = [];
 * const h2 = new Http2ServerConnection({
 *   request: (id, fields) => seen.push(`${id} ${fields.find(([n]) => n === ":path")?.[1]}`),
 *   data: () => {},
 *   closed: () => {},
 * });
 * const settings = h2.takeOutput(); // our SETTINGS, sent first
 * if (settings.length === 0) throw new Error("bad");
 * ```
 */
export class Http2ServerConnection {
  readonly #listener: Http2ServerListener;
  readonly #reader: FrameReader;
  readonly #hpack: HpackDecoder;
  readonly #options: Required<Http2ServerOptions>;
  #output: Uint8Array[] = [];
  #prefaceAt = 0;
  #gotSettings = false;
  readonly #streams = new Map<number, Stream>();
  /** Streams with DATA waiting, in the order they queued it. */
  readonly #sending = new Set<Stream>();
  readonly #recentlyReset: number[] = [];
  #lastStreamId = 0;
  /** Which of the last client stream identifiers were used (see {@link USED_IDS}). */
  readonly #usedIds = new Uint8Array(USED_IDS);
  #resetBudget = RESET_BUDGET;
  /** Open client streams, for SETTINGS_MAX_CONCURRENT_STREAMS. */
  #active = 0;
  #header:
    | { streamId: number; endStream: boolean; parts: Uint8Array[]; size: number; count: number }
    | undefined;
  // The client's settings.
  #peerMaxFrame = DEFAULT_MAX_FRAME_SIZE;
  #peerInitialWindow = DEFAULT_WINDOW;
  // Connection-level flow control.
  #connSendWindow = DEFAULT_WINDOW;
  #connRecvWindow: number;
  readonly #connRecvWindowSize: number;
  #connUnacked = 0;
  /** GOAWAY sent: no new streams. */
  #goingAway = false;
  /** A connection error happened, or the client's GOAWAY came and all streams ended. */
  #failed = false;
  #peerGoaway = false;
  #error: { code: number; message: string } | undefined;
  /** Our SETTINGS frames the client has not acknowledged yet (RFC 9113 §6.5.3). */
  #settingsUnacked = 1;

  /** A connection whose own SETTINGS (and connection window) are already queued for output. */
  constructor(listener: Http2ServerListener, options: Http2ServerOptions = {}) {
    this.#listener = listener;
    this.#options = { ...HTTP2_SERVER_DEFAULTS, ...options };
    const o = this.#options;
    this.#reader = new FrameReader(DEFAULT_MAX_FRAME_SIZE);
    this.#hpack = new HpackDecoder({ maxHeaderListSize: o.maxHeaderListSize });
    const settings: Array<[number, number]> = [
      [Setting.MAX_CONCURRENT_STREAMS, o.maxConcurrentStreams],
      [Setting.INITIAL_WINDOW_SIZE, o.streamWindow],
      [Setting.MAX_HEADER_LIST_SIZE, o.maxHeaderListSize],
    ];
    if (o.enableConnectProtocol) settings.push([Setting.ENABLE_CONNECT_PROTOCOL, 1]);
    // RFC 9113 §3.4: the server's preface is a SETTINGS frame, first.
    this.#output.push(encodeSettings(settings));
    this.#connRecvWindow = this.#connRecvWindowSize = Math.max(o.connectionWindow, DEFAULT_WINDOW);
    if (this.#connRecvWindow > DEFAULT_WINDOW) {
      this.#output.push(encodeWindowUpdate(0, this.#connRecvWindow - DEFAULT_WINDOW));
    }
  }

  /** Frames owed to the client since the last call, in order. */
  takeOutput(): Uint8Array[] {
    const out = this.#output;
    this.#output = [];
    return out;
  }

  /**
   * True once nothing more will happen on this connection: after a
   * connection error, or after a GOAWAY (ours or the client's) once every
   * stream ended. Write what {@link takeOutput} holds, then close.
   */
  get done(): boolean {
    return this.#failed || ((this.#goingAway || this.#peerGoaway) && this.#streams.size === 0);
  }

  /** The connection error that ended it, if one did. */
  get error(): { code: number; message: string } | undefined {
    return this.#error;
  }

  /**
   * True once the client acknowledged our SETTINGS (RFC 9113 §6.5.3). The
   * I/O layer bounds the wait: past its timeout it calls
   * {@link fail} with `SETTINGS_TIMEOUT`.
   */
  get settingsAcknowledged(): boolean {
    return this.#settingsUnacked === 0;
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** DATA of `streamId` queued and not yet sent (waiting for the client's windows). */
  queued(streamId: number): number {
    return this.#streams.get(streamId)?.queuedBytes ?? 0;
  }

  /** Bytes from the client. Never throws: protocol errors become RST_STREAM or GOAWAY. */
  receive(chunk: Uint8Array): void {
    if (this.#failed) return;
    try {
      if (this.#prefaceAt < CLIENT_PREFACE.length) {
        const n = Math.min(CLIENT_PREFACE.length - this.#prefaceAt, chunk.length);
        for (let i = 0; i < n; i++) {
          if (chunk[i] !== CLIENT_PREFACE[this.#prefaceAt + i]) {
            throw new Http2ConnectionError(
              H2ErrorCode.PROTOCOL_ERROR,
              "invalid connection preface",
            );
          }
        }
        this.#prefaceAt += n;
        chunk = chunk.subarray(n);
        if (chunk.length === 0) return;
      }
      this.#reader.push(chunk);
      while (!this.#failed) {
        const frame = this.#reader.next();
        if (frame === undefined) break;
        if (frame === "too-large") {
          throw new Http2ConnectionError(
            H2ErrorCode.FRAME_SIZE_ERROR,
            "frame larger than MAX_FRAME_SIZE",
          );
        }
        this.#frame(frame);
      }
    } catch (error) {
      if (!(error instanceof Http2ConnectionError)) throw error;
      this.#fail(error.code, error.message);
    }
    this.#flush();
  }

  /**
   * Sends a response's header list (`:status` first) on a stream; with
   * `endStream`, the response has no body. Names must be lower case.
   * Ignored when the stream is gone.
   */
  respond(streamId: number, fields: readonly HeaderField[], endStream: boolean): void {
    const s = this.#streams.get(streamId);
    if (!s || s.state === HALF_CLOSED_LOCAL || this.#failed) return;
    s.responded = true;
    const block = encodeHeaderBlock(fields);
    const max = this.#peerMaxFrame;
    // RFC 9113 §6.10: a block larger than a frame continues in CONTINUATION frames.
    let at = 0;
    let first = true;
    do {
      const part = block.subarray(at, at + max);
      at += part.length;
      const last = at >= block.length;
      const type = first ? FrameType.HEADERS : FrameType.CONTINUATION;
      const flags = (last ? Flag.END_HEADERS : 0) | (first && endStream ? Flag.END_STREAM : 0);
      this.#output.push(encodeFrame(type, flags, streamId, part));
      first = false;
    } while (at < block.length);
    if (endStream) this.#endLocal(s);
  }

  /**
   * Queues body bytes on a stream (after {@link respond}); with `endStream`
   * the stream's END_STREAM follows them. They go out as the client's
   * windows allow; {@link queued} says how much still waits. The chunks
   * must not change afterwards.
   */
  send(streamId: number, chunks: readonly Uint8Array[], endStream = false): void {
    const s = this.#streams.get(streamId);
    if (!s || s.endQueued || s.state === HALF_CLOSED_LOCAL || this.#failed) return;
    for (const c of chunks) {
      if (c.length === 0) continue;
      s.queue.push(c);
      s.queuedBytes += c.length;
    }
    if (endStream) s.endQueued = true;
    if (s.queuedBytes > 0 || endStream) this.#sending.add(s);
    this.#flush();
  }

  /**
   * The application used up `n` bytes of a stream's DATA: they are
   * credited back to the client (WINDOW_UPDATE) once enough add up.
   */
  consume(streamId: number, n: number): void {
    const s = this.#streams.get(streamId);
    if (!s || n <= 0 || s.state === HALF_CLOSED_REMOTE) return;
    s.unacked += n;
    // Credit in batches of half a window, not per frame.
    if (s.unacked >= this.#options.streamWindow >> 1) {
      this.#output.push(encodeWindowUpdate(streamId, s.unacked));
      s.recvWindow += s.unacked;
      s.unacked = 0;
    }
  }

  /** Resets a stream (RST_STREAM with `code`, default CANCEL). */
  reset(streamId: number, code: number = H2ErrorCode.CANCEL): void {
    const s = this.#streams.get(streamId);
    if (!s || this.#failed) return;
    this.#resetStream(s, code);
  }

  /**
   * Graceful shutdown (RFC 9113 §6.8): GOAWAY with NO_ERROR and the last
   * stream taken; streams in progress finish, new ones are refused. Then
   * {@link done} turns true once the last stream ends.
   */
  shutdown(debug = ""): void {
    if (this.#goingAway || this.#failed) return;
    this.#goingAway = true;
    this.#output.push(encodeGoaway(this.#lastStreamId, H2ErrorCode.NO_ERROR, debug));
  }

  /** Ends the connection with a connection error (GOAWAY with `code`). */
  fail(code: number, message: string): void {
    this.#fail(code, message);
  }

  // --- receiving ---

  #frame(f: RawFrame): void {
    // RFC 9113 §3.4: the client's preface ends with a SETTINGS frame.
    if (!this.#gotSettings) {
      if (f.type !== FrameType.SETTINGS || (f.flags & Flag.ACK) !== 0) {
        throw new Http2ConnectionError(
          H2ErrorCode.PROTOCOL_ERROR,
          "the preface must end with SETTINGS",
        );
      }
      this.#gotSettings = true;
    }
    // RFC 9113 §6.10: a header block is contiguous; only its CONTINUATIONs may follow.
    if (this.#header && f.type !== FrameType.CONTINUATION) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "a header block was interrupted");
    }
    switch (f.type) {
      case FrameType.DATA:
        return this.#data(f);
      case FrameType.HEADERS:
        return this.#headers(f);
      case FrameType.PRIORITY:
        return this.#priority(f);
      case FrameType.RST_STREAM:
        return this.#rstStream(f);
      case FrameType.SETTINGS:
        return this.#settings(f);
      case FrameType.PUSH_PROMISE:
        // RFC 9113 §8.4: a client cannot push.
        throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "PUSH_PROMISE from a client");
      case FrameType.PING:
        return this.#ping(f);
      case FrameType.GOAWAY:
        return this.#goaway(f);
      case FrameType.WINDOW_UPDATE:
        return this.#windowUpdate(f);
      case FrameType.CONTINUATION:
        return this.#continuation(f);
      default:
        // RFC 9113 §5.5: unknown frame types are ignored.
        return;
    }
  }

  /** The payload without padding (RFC 9113 §6.1, §6.2). */
  #unpad(f: RawFrame): Uint8Array {
    if ((f.flags & Flag.PADDED) === 0) return f.payload;
    const p = f.payload;
    if (p.length < 1 || p[0] >= p.length) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "padding as long as the payload");
    }
    return p.subarray(1, p.length - p[0]);
  }

  #data(f: RawFrame): void {
    const id = f.streamId;
    if (id === 0) throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "DATA on stream 0");
    const length = f.payload.length;
    // RFC 9113 §6.9.1: the whole frame, padding included, counts against the windows.
    if (length > this.#connRecvWindow) {
      throw new Http2ConnectionError(
        H2ErrorCode.FLOW_CONTROL_ERROR,
        "DATA beyond the connection window",
      );
    }
    this.#connRecvWindow -= length;
    this.#connUnacked += length;
    if (this.#connUnacked >= this.#connRecvWindowSize >> 1) {
      this.#creditConnection();
    }
    const data = this.#unpad(f);
    const end = (f.flags & Flag.END_STREAM) !== 0;
    const s = this.#streams.get(id);
    if (!s) {
      if (id > this.#lastStreamId) {
        // RFC 9113 §5.1: DATA on an idle stream.
        throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "DATA on an idle stream");
      }
      if (!this.#recentlyReset.includes(id)) {
        this.#output.push(encodeRstStream(id, H2ErrorCode.STREAM_CLOSED));
      }
      return;
    }
    if (s.state === HALF_CLOSED_REMOTE) {
      // RFC 9113 §5.1: half-closed (remote) takes no DATA: STREAM_CLOSED.
      this.#streamError(s, H2ErrorCode.STREAM_CLOSED);
      return;
    }
    if (length > s.recvWindow) {
      this.#streamError(s, H2ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    s.recvWindow -= length;
    // RFC 9113 §8.1.1: DATA beyond the content-length, or short of it at
    // the end, makes the request malformed.
    s.received += data.length;
    if (
      s.contentLength >= 0 &&
      (s.received > s.contentLength || (end && s.received !== s.contentLength))
    ) {
      this.#streamError(s, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    // Padding is consumed at once; the data when the application says.
    const padding = length - data.length;
    if (padding > 0) this.consume(id, padding);
    if (end) this.#endRemote(s);
    if (data.length > 0 || end) this.#listener.data(id, data, end);
    if (end) this.#maybeClose(s);
  }

  #creditConnection(): void {
    this.#output.push(encodeWindowUpdate(0, this.#connUnacked));
    this.#connRecvWindow += this.#connUnacked;
    this.#connUnacked = 0;
  }

  #headers(f: RawFrame): void {
    const id = f.streamId;
    if (id === 0) throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "HEADERS on stream 0");
    let block = this.#unpad(f);
    if (f.flags & Flag.PRIORITY) {
      if (block.length < 5) {
        // RFC 9113 §6.2: padding beyond what the fields leave is a
        // PROTOCOL_ERROR; a frame too short for them, FRAME_SIZE_ERROR (§4.2).
        const padded = (f.flags & Flag.PADDED) !== 0 && f.payload.length >= 6;
        throw new Http2ConnectionError(
          padded ? H2ErrorCode.PROTOCOL_ERROR : H2ErrorCode.FRAME_SIZE_ERROR,
          padded ? "padding longer than the header block" : "HEADERS too short for PRIORITY",
        );
      }
      block = block.subarray(5);
    }
    const header = {
      streamId: id,
      endStream: (f.flags & Flag.END_STREAM) !== 0,
      parts: [block],
      size: block.length,
      count: 0,
    };
    if ((f.flags & Flag.END_HEADERS) === 0) {
      this.#header = header;
      this.#checkBlockSize(header.size);
      return;
    }
    this.#headerBlock(header.streamId, header.endStream, block, f);
  }

  #continuation(f: RawFrame): void {
    const h = this.#header;
    if (!h || f.streamId !== h.streamId) {
      throw new Http2ConnectionError(
        H2ErrorCode.PROTOCOL_ERROR,
        "CONTINUATION without its HEADERS",
      );
    }
    h.parts.push(f.payload);
    h.size += f.payload.length;
    if (++h.count > MAX_CONTINUATIONS) {
      throw new Http2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, "too many CONTINUATION frames");
    }
    this.#checkBlockSize(h.size);
    if ((f.flags & Flag.END_HEADERS) === 0) return;
    this.#header = undefined;
    const block = new Uint8Array(h.size);
    let at = 0;
    for (const part of h.parts) {
      block.set(part, at);
      at += part.length;
    }
    this.#headerBlock(h.streamId, h.endStream, block, undefined);
  }

  /** A compressed block far beyond the list size limit is refused before it is decoded. */
  #checkBlockSize(size: number): void {
    if (size > this.#options.maxHeaderListSize * 2 + 1024) {
      throw new Http2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, "header block too large");
    }
  }

  /** A complete header block: trailers of an open stream, or a new request. */
  #headerBlock(
    id: number,
    endStream: boolean,
    block: Uint8Array,
    first: RawFrame | undefined,
  ): void {
    // The block is decoded whatever becomes of the stream: the table must stay in step.
    const { fields, tooLarge } = this.#decodeBlock(block);
    const existing = this.#streams.get(id);
    if (existing) return this.#trailers(existing, endStream, fields, tooLarge);
    if (!this.#admitStream(id, first)) return;
    this.#openStream(id, endStream, fields, tooLarge);
  }

  /** HPACK-decodes a block; a decoding failure is a connection error (RFC 9113 §4.3). */
  #decodeBlock(block: Uint8Array): { fields: HeaderField[]; tooLarge: boolean } {
    try {
      return this.#hpack.decode(block);
    } catch (error) {
      if (error instanceof HpackError) {
        throw new Http2ConnectionError(H2ErrorCode.COMPRESSION_ERROR, error.message);
      }
      throw error;
    }
  }

  /** Trailers (RFC 9113 §8.1): they end the stream; their fields are not used. */
  #trailers(s: Stream, endStream: boolean, fields: HeaderField[], tooLarge: boolean): void {
    if (s.state === HALF_CLOSED_REMOTE) {
      throw new Http2ConnectionError(H2ErrorCode.STREAM_CLOSED, "HEADERS after END_STREAM");
    }
    if (!endStream) return this.#streamError(s, H2ErrorCode.PROTOCOL_ERROR);
    // RFC 9113 §8.1: trailers carry no pseudo-header fields; §8.2.1 holds for them too.
    if (!tooLarge && !validTrailers(fields)) {
      return this.#streamError(s, H2ErrorCode.PROTOCOL_ERROR);
    }
    if (s.contentLength >= 0 && s.received !== s.contentLength) {
      return this.#streamError(s, H2ErrorCode.PROTOCOL_ERROR);
    }
    this.#endRemote(s);
    this.#listener.data(s.id, EMPTY, true);
    this.#maybeClose(s);
  }

  /**
   * Whether a new stream `id` may open: a valid new identifier, not
   * depending on itself, before our GOAWAY and within the concurrency
   * limit. A refused stream gets RST_STREAM; a bad identifier is a
   * connection error.
   */
  #admitStream(id: number, first: RawFrame | undefined): boolean {
    if (id % 2 === 0) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "even stream identifier");
    }
    if (id <= this.#lastStreamId) {
      if (this.#recentlyReset.includes(id)) return false;
      // RFC 9113 §5.1.1: an identifier below the last one, never used, is
      // unexpected (PROTOCOL_ERROR); one of a stream that ended, a frame on a
      // closed stream (§5.1: STREAM_CLOSED). Known for the last ids only.
      if (this.#lastStreamId - id < 2 * USED_IDS && this.#usedIds[(id >>> 1) % USED_IDS] === 0) {
        throw new Http2ConnectionError(
          H2ErrorCode.PROTOCOL_ERROR,
          "stream identifier below the last",
        );
      }
      throw new Http2ConnectionError(H2ErrorCode.STREAM_CLOSED, "HEADERS on a closed stream");
    }
    if (first && (first.flags & Flag.PRIORITY)) {
      // RFC 9113 §5.3.1: a stream cannot depend on itself.
      const p = first.payload;
      const o = (first.flags & Flag.PADDED) ? 1 : 0;
      const dep = ((p[o] & 0x7f) * 0x1000000) + (p[o + 1] << 16) + (p[o + 2] << 8) + p[o + 3];
      if (dep === id) {
        this.#useId(id);
        this.#refuse(id, H2ErrorCode.PROTOCOL_ERROR);
        return false;
      }
    }
    this.#useId(id);
    // RFC 9113 §6.8: after our GOAWAY, new streams are ignored.
    // RFC 9113 §5.1.2: over the limit, REFUSED_STREAM (the client may retry).
    if (this.#goingAway || this.#active >= this.#options.maxConcurrentStreams) {
      this.#refuse(id, H2ErrorCode.REFUSED_STREAM);
      return false;
    }
    return true;
  }

  /** RST_STREAM for a stream that never opened. */
  #refuse(id: number, code: number): void {
    this.#output.push(encodeRstStream(id, code));
    this.#remember(id);
  }

  /** Opens stream `id` and reports its request, or answers 431 or resets a malformed one. */
  #openStream(id: number, endStream: boolean, fields: HeaderField[], tooLarge: boolean): void {
    const s: Stream = {
      id,
      state: OPEN,
      reported: false,
      recvWindow: this.#options.streamWindow,
      unacked: 0,
      sendWindow: this.#peerInitialWindow,
      queue: [],
      queuedBytes: 0,
      endQueued: false,
      responded: false,
      contentLength: -1,
      received: 0,
    };
    this.#streams.set(id, s);
    this.#active++;
    if (endStream) s.state = HALF_CLOSED_REMOTE;
    if (tooLarge) {
      // RFC 9113 §10.5.1: a header list over the advertised size may get a 431.
      this.respond(id, [[":status", "431"]], true);
      if (s.state === OPEN) this.#resetStream(s, H2ErrorCode.NO_ERROR);
      else this.#maybeClose(s);
      return;
    }
    const problem = checkRequest(fields, this.#options.enableConnectProtocol);
    s.contentLength = contentLengthOf(fields);
    if (
      problem !== undefined || s.contentLength === -2 || (endStream && s.contentLength > 0)
    ) {
      // RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR.
      this.#resetStream(s, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    s.reported = true;
    this.#listener.request(id, fields, endStream);
  }

  /** A new stream identifier, above the last: the ones skipped stay unused. */
  #useId(id: number): void {
    const used = this.#usedIds;
    if ((id - this.#lastStreamId) >>> 1 >= USED_IDS) used.fill(0);
    else {
      for (let k = this.#lastStreamId + 2; k < id; k += 2) used[(k >>> 1) % USED_IDS] = 0;
    }
    used[(id >>> 1) % USED_IDS] = 1;
    this.#lastStreamId = id;
  }

  #priority(f: RawFrame): void {
    if (f.streamId === 0) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "PRIORITY on stream 0");
    }
    const p = f.payload;
    let code: number | undefined;
    // RFC 9113 §6.3: a PRIORITY of another length is a stream error of type FRAME_SIZE_ERROR.
    if (p.length !== 5) code = H2ErrorCode.FRAME_SIZE_ERROR;
    else {
      // RFC 9113 §5.3.1: a stream cannot depend on itself; that is a stream
      // error of type PROTOCOL_ERROR (as in HEADERS, above).
      const dep = ((p[0] & 0x7f) * 0x1000000) + (p[1] << 16) + (p[2] << 8) + p[3];
      if (dep === f.streamId) code = H2ErrorCode.PROTOCOL_ERROR;
    }
    if (code === undefined) return;
    const s = this.#streams.get(f.streamId);
    if (s) this.#streamError(s, code);
    else this.#output.push(encodeRstStream(f.streamId, code));
  }

  #rstStream(f: RawFrame): void {
    const id = f.streamId;
    if (id === 0) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "RST_STREAM on stream 0");
    }
    if (f.payload.length !== 4) {
      throw new Http2ConnectionError(
        H2ErrorCode.FRAME_SIZE_ERROR,
        "RST_STREAM of the wrong length",
      );
    }
    if (id > this.#lastStreamId) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "RST_STREAM on an idle stream");
    }
    const s = this.#streams.get(id);
    if (!s) return;
    // Only requests not yet answered count: a WebSocket or a response that
    // the client cancels midway cost the server no more than it meant to give.
    this.#chargeReset(s);
    const code = new DataView(f.payload.buffer, f.payload.byteOffset, 4).getUint32(0);
    this.#remove(s, code === 0 ? H2ErrorCode.CANCEL : code);
  }

  #settings(f: RawFrame): void {
    if (f.streamId !== 0) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "SETTINGS on a stream");
    }
    if (f.flags & Flag.ACK) {
      if (f.payload.length !== 0) {
        throw new Http2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, "SETTINGS ACK with a payload");
      }
      if (this.#settingsUnacked > 0) this.#settingsUnacked--;
      return;
    }
    if (f.payload.length % 6 !== 0) {
      throw new Http2ConnectionError(
        H2ErrorCode.FRAME_SIZE_ERROR,
        "SETTINGS length not a multiple of 6",
      );
    }
    const view = new DataView(f.payload.buffer, f.payload.byteOffset, f.payload.length);
    for (let at = 0; at < f.payload.length; at += 6) {
      const id = view.getUint16(at);
      const value = view.getUint32(at + 2);
      switch (id) {
        case Setting.ENABLE_PUSH:
        case Setting.ENABLE_CONNECT_PROTOCOL:
          if (value > 1) {
            throw new Http2ConnectionError(
              H2ErrorCode.PROTOCOL_ERROR,
              `setting ${id} must be 0 or 1`,
            );
          }
          break;
        case Setting.INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) {
            throw new Http2ConnectionError(
              H2ErrorCode.FLOW_CONTROL_ERROR,
              "INITIAL_WINDOW_SIZE too large",
            );
          }
          // RFC 9113 §6.9.2: open streams' windows move by the difference.
          const delta = value - this.#peerInitialWindow;
          this.#peerInitialWindow = value;
          for (const s of this.#streams.values()) {
            s.sendWindow += delta;
            if (s.sendWindow > MAX_WINDOW) {
              throw new Http2ConnectionError(
                H2ErrorCode.FLOW_CONTROL_ERROR,
                "a window passed 2^31 - 1",
              );
            }
          }
          break;
        }
        case Setting.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
            throw new Http2ConnectionError(
              H2ErrorCode.PROTOCOL_ERROR,
              "MAX_FRAME_SIZE out of range",
            );
          }
          this.#peerMaxFrame = value;
          break;
        default:
          // HEADER_TABLE_SIZE: our blocks never index; the rest is advisory or
          // unknown (RFC 9113 §6.5.2: unknown settings are ignored).
          break;
      }
    }
    this.#output.push(encodeSettings([], true));
  }

  #ping(f: RawFrame): void {
    if (f.streamId !== 0) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "PING on a stream");
    }
    if (f.payload.length !== 8) {
      throw new Http2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, "PING of the wrong length");
    }
    if (f.flags & Flag.ACK) return;
    this.#output.push(encodeFrame(FrameType.PING, Flag.ACK, 0, f.payload));
  }

  #goaway(f: RawFrame): void {
    if (f.streamId !== 0) {
      throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "GOAWAY on a stream");
    }
    if (f.payload.length < 8) {
      throw new Http2ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, "GOAWAY too short");
    }
    // The client opens no more streams; ours (none: no push) are unaffected.
    this.#peerGoaway = true;
    const code = new DataView(f.payload.buffer, f.payload.byteOffset, 8).getUint32(4);
    if (code !== H2ErrorCode.NO_ERROR) {
      // The client saw an error: what is in progress will not complete.
      for (const s of [...this.#streams.values()]) this.#remove(s, code);
    }
  }

  #windowUpdate(f: RawFrame): void {
    if (f.payload.length !== 4) {
      throw new Http2ConnectionError(
        H2ErrorCode.FRAME_SIZE_ERROR,
        "WINDOW_UPDATE of the wrong length",
      );
    }
    const increment = new DataView(f.payload.buffer, f.payload.byteOffset, 4).getUint32(0) &
      MAX_WINDOW;
    const id = f.streamId;
    if (id === 0) {
      if (increment === 0) {
        throw new Http2ConnectionError(H2ErrorCode.PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
      }
      this.#connSendWindow += increment;
      if (this.#connSendWindow > MAX_WINDOW) {
        throw new Http2ConnectionError(
          H2ErrorCode.FLOW_CONTROL_ERROR,
          "the connection window passed 2^31 - 1",
        );
      }
      return;
    }
    const s = this.#streams.get(id);
    if (!s) {
      if (id > this.#lastStreamId) {
        throw new Http2ConnectionError(
          H2ErrorCode.PROTOCOL_ERROR,
          "WINDOW_UPDATE on an idle stream",
        );
      }
      return;
    }
    // RFC 9113 §6.9: on a stream these are stream errors.
    if (increment === 0) return this.#streamError(s, H2ErrorCode.PROTOCOL_ERROR);
    s.sendWindow += increment;
    if (s.sendWindow > MAX_WINDOW) this.#streamError(s, H2ErrorCode.FLOW_CONTROL_ERROR);
  }

  // --- sending and stream life ---

  /** Sends queued DATA as far as the windows allow. Not re-entered: `sent` may queue more. */
  #flush(): void {
    if (this.#flushing) {
      this.#flushAgain = true;
      return;
    }
    this.#flushing = true;
    try {
      do {
        this.#flushAgain = false;
        this.#flushOnce();
      } while (this.#flushAgain);
    } finally {
      this.#flushing = false;
    }
  }

  #flushing = false;
  #flushAgain = false;

  #flushOnce(): void {
    if (this.#failed) return;
    // Round robin, one frame a turn: a stream that sent goes to the back of
    // the set, and the iteration reaches it again after the others (a Set's
    // iterator visits entries added while it runs). So one busy stream
    // cannot take the whole connection window from the rest.
    for (const s of this.#sending) {
      let ended = false;
      let sent = false;
      if (s.queuedBytes > 0 && s.sendWindow > 0 && this.#connSendWindow > 0) {
        const n = Math.min(s.queuedBytes, s.sendWindow, this.#connSendWindow, this.#peerMaxFrame);
        ended = n === s.queuedBytes && s.endQueued;
        this.#output.push(this.#dataFrame(s, n, ended));
        s.sendWindow -= n;
        this.#connSendWindow -= n;
        sent = true;
      }
      if (s.queuedBytes > 0) {
        if (sent) {
          this.#sending.delete(s);
          this.#sending.add(s);
        }
      } else {
        this.#sending.delete(s);
        if (s.endQueued) {
          // An empty DATA frame may carry END_STREAM whatever the windows.
          if (!ended) this.#output.push(encodeFrame(FrameType.DATA, Flag.END_STREAM, s.id, EMPTY));
          this.#endLocal(s);
        }
        this.#listener.sent?.(s.id);
      }
      if (this.#connSendWindow <= 0 || this.#failed) break;
    }
  }

  /** One DATA frame of `n` queued bytes. */
  #dataFrame(s: Stream, n: number, end: boolean): Uint8Array {
    const out = new Uint8Array(FRAME_HEADER_BYTES + n);
    writeFrameHeader(out, 0, n, FrameType.DATA, end ? Flag.END_STREAM : 0, s.id);
    let at = FRAME_HEADER_BYTES;
    while (at < out.length) {
      const head = s.queue[0];
      const take = Math.min(head.length, out.length - at);
      out.set(take === head.length ? head : head.subarray(0, take), at);
      at += take;
      if (take === head.length) s.queue.shift();
      else s.queue[0] = head.subarray(take);
    }
    s.queuedBytes -= n;
    return out;
  }

  #endRemote(s: Stream): void {
    if (s.state === OPEN) s.state = HALF_CLOSED_REMOTE;
    else if (s.state === HALF_CLOSED_LOCAL) s.state = -1;
  }

  #endLocal(s: Stream): void {
    if (s.state === OPEN) s.state = HALF_CLOSED_LOCAL;
    else if (s.state === HALF_CLOSED_REMOTE) s.state = -1;
    this.#maybeClose(s);
  }

  #maybeClose(s: Stream): void {
    if (s.state === -1) this.#remove(s, H2ErrorCode.NO_ERROR);
  }

  /**
   * A reset that cancels a request before its answer costs the client one
   * of {@link RESET_BUDGET}; past it, the connection ends.
   */
  #chargeReset(s: Stream): void {
    if (s.reported && !s.responded && --this.#resetBudget < 0) {
      throw new Http2ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, "too many streams reset");
    }
  }

  /**
   * A stream error the client caused (RFC 9113 §5.4.2): RST_STREAM, charged
   * like the client's own reset, since provoking one ends a started request
   * just as well ("MadeYouReset", CVE-2025-8671).
   */
  #streamError(s: Stream, code: number): void {
    this.#chargeReset(s);
    this.#resetStream(s, code);
  }

  #resetStream(s: Stream, code: number): void {
    this.#output.push(encodeRstStream(s.id, code));
    this.#remember(s.id);
    this.#remove(s, code === H2ErrorCode.NO_ERROR ? H2ErrorCode.CANCEL : code);
  }

  #remember(id: number): void {
    this.#recentlyReset.push(id);
    if (this.#recentlyReset.length > RESET_MEMORY) this.#recentlyReset.shift();
  }

  #remove(s: Stream, code: number): void {
    if (this.#streams.get(s.id) !== s) return;
    this.#streams.delete(s.id);
    this.#sending.delete(s);
    this.#active--;
    s.queue = [];
    s.queuedBytes = 0;
    if (code === H2ErrorCode.NO_ERROR && this.#resetBudget < RESET_BUDGET) this.#resetBudget++;
    if (s.reported) this.#listener.closed(s.id, code);
  }

  #fail(code: number, message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = { code, message };
    this.#output.push(encodeGoaway(this.#lastStreamId, code, message));
    for (const s of [...this.#streams.values()]) {
      this.#remove(s, code === H2ErrorCode.NO_ERROR ? H2ErrorCode.CANCEL : code);
    }
  }
}

/**
 * Why a request header list is malformed (RFC 9113 §8.2, §8.3.1; RFC 8441
 * §4), or undefined when it is well formed.
 */
export function checkRequest(
  fields: readonly HeaderField[],
  connectProtocol: boolean,
): string | undefined {
  const seen = new Set<string>();
  let regular = false;
  for (const [name, value] of fields) {
    // RFC 9113 §8.2.1: names are lower case; no NUL, CR or LF anywhere;
    // values without whitespace at either end.
    if (!validName(name)) return `invalid field name ${JSON.stringify(name)}`;
    if (!validValue(value)) return `invalid value of ${name}`;
    if (name.startsWith(":")) {
      if (!REQUEST_PSEUDO.has(name)) return `unknown pseudo-header ${name}`;
      if (regular) return `${name} after a regular field`;
      if (seen.has(name)) return `repeated ${name}`;
      seen.add(name);
      continue;
    }
    regular = true;
    if (CONNECTION_SPECIFIC.has(name)) return `connection-specific field ${name}`;
    if (name === "te" && value !== "trailers") return "te other than trailers";
  }
  const method = fields.find(([n]) => n === ":method")?.[1];
  if (method === undefined) return "no :method";
  if (seen.has(":protocol")) {
    // RFC 8441 §4: only with CONNECT, only once enabled, with :scheme and :path.
    if (!connectProtocol || method !== "CONNECT") return ":protocol without extended CONNECT";
    if (!seen.has(":scheme") || !seen.has(":path") || !seen.has(":authority")) {
      return "extended CONNECT without :scheme, :path or :authority";
    }
    // RFC 9113 §8.3.1: :path is never empty for http or https URIs (and
    // RFC 8441 §4 makes the extended CONNECT carry one like any request).
    if (fields.find(([n]) => n === ":path")?.[1] === "") return "empty :path";
    return undefined;
  }
  if (method === "CONNECT") {
    // RFC 9113 §8.5: CONNECT has :authority and neither :scheme nor :path.
    if (!seen.has(":authority") || seen.has(":scheme") || seen.has(":path")) {
      return "malformed CONNECT";
    }
    return undefined;
  }
  if (!seen.has(":scheme") || !seen.has(":path")) return "no :scheme or :path";
  if (fields.find(([n]) => n === ":path")?.[1] === "") return "empty :path";
  return undefined;
}

/** RFC 9110 §5.6.2 tchar, upper case excluded (RFC 9113 §8.2.1), by code point below 0x80. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/**
 * RFC 9113 §8.2.1: no controls, space, upper case or octets 0x7f–0xff in a
 * name, and no colon but a pseudo-header's leading one; and a name is a
 * token (RFC 9110 §5.1), lower case: what `Headers` and every HTTP/1.1
 * hop accept, so nothing downstream throws on it.
 */
function validName(name: string): boolean {
  if (name.length === 0 || name === ":") return false;
  for (let i = name.startsWith(":") ? 1 : 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80 || TCHAR[c] === 0) return false;
  }
  return true;
}

/**
 * A request's content-length (RFC 9110 §8.6): -1 without one, -2 when it
 * is not a number or its values differ.
 */
function contentLengthOf(fields: readonly HeaderField[]): number {
  let length = -1;
  for (const [name, value] of fields) {
    if (name !== "content-length") continue;
    if (!/^[0-9]{1,15}$/.test(value)) return -2;
    const n = Number(value);
    if (length !== -1 && n !== length) return -2;
    length = n;
  }
  return length;
}

/** Whether a trailer section is well formed (RFC 9113 §8.1, §8.2.1). */
function validTrailers(fields: readonly HeaderField[]): boolean {
  for (const [name, value] of fields) {
    if (name.startsWith(":") || !validName(name) || !validValue(value)) return false;
  }
  return true;
}

/** RFC 9113 §8.2.1: no NUL, CR or LF in a value, and no whitespace at either end. */
function validValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0 || c === 0x0a || c === 0x0d) return false;
  }
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(value.length - 1);
  return !(first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09);
}
