/**
 * The connection state machine: bytes in → events; calls → bytes out.
 *
 * @module
 */

import { CloseCode, NotOpenError, ProtocolError, SprigError } from "../errors.ts";
import { type Extension, ExtensionChain } from "./extension.ts";
import { MessageAssembler } from "./assembler.ts";
import { buildClosePayload, parseClosePayload } from "./close.ts";
import { checkOutgoing, type Frame, isControl, Opcode } from "./frame.ts";
import { FrameParser } from "./frame_parser.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { OutputBuffer } from "./output_buffer.ts";
import { ReceivedTexts } from "./received_texts.ts";
import { encodeUtf8 } from "./utf8.ts";

/** Which end of the connection this is. Clients mask what they send; servers do not. */
export type Role = "client" | "server";

/** The states of RFC 6455 §4 and §7. */
export type ConnectionState = "connecting" | "open" | "closing" | "closed";

/** How the connection ended. */
export interface CloseResult {
  /** The peer's close code, the code sent on failure, or 1006 when the transport just ended. */
  code: number;
  /** The matching reason. */
  reason: string;
  /** True when both close frames were exchanged (RFC 6455 §7.1.4). */
  wasClean: boolean;
}

/** What the connection reports after taking bytes in. */
export type ConnectionEvent =
  | { type: "text"; data: string }
  | { type: "binary"; data: Uint8Array }
  | { type: "ping"; data: Uint8Array }
  | { type: "pong"; data: Uint8Array }
  /** A rule was broken (by the peer, or by an extension); a close frame with `error.closeCode` is queued. */
  | { type: "error"; error: SprigError }
  /** The connection reached CLOSED; comes once, last. */
  | ({ type: "close" } & CloseResult);

/** Options of {@link Connection}. */
export interface ConnectionOptions extends Partial<Limits> {
  /** `"client"` masks every frame it sends and refuses masked frames; `"server"` the reverse. */
  role: Role;
  /** Negotiated extensions, in negotiation order. Default none. */
  extensions?: readonly Extension[];
  /** Answer each ping with a pong carrying the same payload. Default true. */
  autoPong?: boolean;
  /**
   * Split outgoing data messages into frames of at most this many payload
   * bytes. Default `Infinity` (one frame per message); range ≥ 1.
   */
  fragmentSize?: number;
  /** Start in CONNECTING, for callers that drive the handshake too; {@link Connection.open} moves on. Default false. */
  connecting?: boolean;
  /** Source of 4-byte masking keys (clients). Default: `crypto.getRandomValues`, drawn in batches. */
  maskKey?: () => Uint8Array;
  /** Called with every frame received and sent, for tracing. Default none. */
  onFrame?: (direction: "in" | "out", frame: Frame) => void;
}

/** Strings up to this many UTF-16 units are tried as ASCII, framed without an encoder call. */
const ASCII_TRY_MAX = 256;

/**
 * The sans-I/O WebSocket connection (RFC 6455 §5–§7) for either role.
 *
 * Drive it with four calls: {@link receive} bytes from the transport and
 * handle the events it returns; send with {@link send}, {@link ping},
 * {@link close}…; write what {@link takeOutput} gives to the transport; and
 * close the transport when {@link shouldCloseTransport} says so (a client
 * waits a while for the server to close first, RFC 6455 §7.1.1).
 *
 * Obligations are returned, not performed: a pong owed for a ping and the
 * close frame owed in reply are queued as bytes to write. It does no I/O
 * and keeps no timers; timeouts belong to the layer above.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "./connection.ts";
 * const server = new Connection({ role: "server" });
 * // a masked "Hello" from a client (RFC 6455 §5.7)
 * const events = server.receive(
 *   new Uint8Array([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]),
 * );
 * assert.deepEqual(events, [{ type: "text", data: "Hello" }]);
 * server.send("Hi");
 * const output = server.takeOutput(); // chunks to write, in order
 * assert.deepEqual(output.flatMap((chunk) => [...chunk]), [0x81, 0x02, 0x48, 0x69]);
 * ```
 */
export class Connection {
  /** This end's role. */
  readonly role: Role;
  readonly #parser: FrameParser;
  readonly #assembler: MessageAssembler;
  readonly #chain: ExtensionChain;
  readonly #autoPong: boolean;
  readonly #fragmentSize: number;
  readonly #maskKey: () => Uint8Array;
  #onFrame: ((direction: "in" | "out", frame: Frame) => void) | undefined;

  #state: ConnectionState;
  readonly #output: OutputBuffer;
  #closeSent: { code: number; reason: string } | undefined;
  #closeReceived: { code: number; reason: string } | undefined;
  #result: CloseResult | undefined;
  #failure: SprigError | undefined;
  /** A failure reported with good messages before it; its close frame is not queued yet. */
  #pendingFailure: SprigError | undefined;
  /** The peer's close arrived with good messages; our reply is not queued yet. */
  #pendingCloseReply = false;
  /** During receive(): the caller asked to hold close frames. */
  #holding = false;
  /** The peer's close frame came before this end sent one. */
  #closedByPeer = false;
  /** The long texts received this turn, sent back without encoding them again. */
  #received: ReceivedTexts | undefined;
  /** The payload being sent is a received one with `#inPlaceRoom` free bytes in front. */
  #inPlace: Uint8Array | undefined;
  #inPlaceRoom = 0;
  /** Opcode of an outgoing message being streamed in fragments, or -1. */
  #sending = -1;
  #events: ConnectionEvent[] = [];

  /** A connection for `options.role`: open, or in CONNECTING with `connecting: true`. */
  constructor(options: ConnectionOptions) {
    this.role = options.role;
    const extensions = options.extensions;
    this.#chain = extensions === undefined || extensions.length === 0
      ? ExtensionChain.none
      : new ExtensionChain(extensions);
    this.#parser = new FrameParser({
      mask: options.role === "server" ? "required" : "forbidden",
      allowedRsv: this.#chain.rsv,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_LIMITS.maxFrameBytes,
    });
    this.#assembler = new MessageAssembler({
      maxMessageBytes: options.maxMessageBytes,
      maxFragments: options.maxFragments,
      extensions: this.#chain,
    });
    this.#autoPong = options.autoPong ?? true;
    const fragmentSize = options.fragmentSize ?? Infinity;
    if (!(fragmentSize >= 1)) throw new RangeError("fragmentSize is at least 1");
    this.#fragmentSize = fragmentSize;
    this.#maskKey = options.maskKey ?? randomMaskKey;
    this.#output = new OutputBuffer(options.role === "client" ? this.#maskKey : undefined);
    this.#onFrame = options.onFrame;
    this.#state = options.connecting ? "connecting" : "open";
  }

  /**
   * Replaces the frame hook given as the `onFrame` option: called with every
   * frame received and sent from now on. `undefined` removes it (frames
   * then cost nothing: no call, and short ASCII texts are framed without an
   * encoder).
   */
  setFrameHook(hook: ((direction: "in" | "out", frame: Frame) => void) | undefined): void {
    this.#onFrame = hook;
  }

  /** CONNECTING, OPEN, CLOSING (a close frame went one way) or CLOSED. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The negotiated extensions. */
  get extensions(): readonly Extension[] {
    return this.#chain.extensions;
  }

  /** How the connection ended, once CLOSED. */
  get closeResult(): CloseResult | undefined {
    return this.#result;
  }

  /** The close frame this end sent, if any. */
  get closeSent(): { code: number; reason: string } | undefined {
    return this.#closeSent;
  }

  /** The close frame the peer sent, if any. */
  get closeReceived(): { code: number; reason: string } | undefined {
    return this.#closeReceived;
  }

  /** True when a close frame will be queued at the next call (see {@link receive}). */
  get closePending(): boolean {
    return this.#pendingFailure !== undefined || this.#pendingCloseReply;
  }

  /**
   * True when the peer started the closing handshake and this end answered
   * (its close frame came first): the peer then sends nothing more, so the
   * socket can close without a lingering read (RFC 6455 §7.1.1).
   */
  get closedByPeer(): boolean {
    return this.#closedByPeer;
  }

  /** The violation that failed the connection, if any. */
  get failure(): SprigError | undefined {
    return this.#failure;
  }

  /**
   * True when the transport should be closed now: the server closes as soon
   * as the closing handshake is done (RFC 6455 §7.1.1); either end closes at
   * once after failing the connection. A client whose handshake completed
   * waits for the server to close, and closes itself after a timeout.
   */
  get shouldCloseTransport(): boolean {
    if (this.#state !== "closed") return false;
    return this.role === "server" || this.#failure !== undefined ||
      this.#result?.code === CloseCode.Abnormal;
  }

  /** Bytes queued by {@link takeOutput}'s next call. */
  get outputBytes(): number {
    return this.#output.bytes;
  }

  /** Frames received so far: a layer above can bound the work one peer gets per turn. */
  framesIn = 0;

  /** Bytes of an incomplete incoming frame or message held in memory. */
  get bufferedIncoming(): number {
    if (this.#state === "closed") return 0;
    return this.#parser.buffered + this.#assembler.buffered;
  }

  /**
   * Where the next bytes read from the transport may go, when a frame whose
   * payload spans reads is in progress: a view of the rest of its payload
   * buffer. A transport that can read into a given buffer (Deno's) reads
   * into it and passes the filled start of this view to {@link receive},
   * which then copies nothing. Undefined otherwise; reading into it is
   * never required.
   */
  receiveBuffer(): Uint8Array | undefined {
    return this.#state === "open" || this.#state === "closing"
      ? this.#parser.payloadTail()
      : undefined;
  }

  /** CONNECTING → OPEN, once the opening handshake succeeded. */
  open(): void {
    if (this.#state !== "connecting") throw new NotOpenError("the connection is not connecting");
    this.#state = "open";
  }

  /**
   * Takes bytes from the transport and returns what they completed:
   * messages, pings, pongs, and at most one `error` and one `close`.
   * Nothing valid before a bad byte is lost: its events come first, then
   * the `error` and the `close`.
   *
   * A close frame this end owes — the reply to the peer's close, or the
   * close of a failure — is queued at once, unless messages came in the
   * same call or `holdClose` is set (the application is still answering
   * earlier messages): then it is queued, and {@link state} becomes CLOSED,
   * at the next call of any method, normally {@link takeOutput}, so that
   * replies to those messages still go out first (RFC 6455 §7.1.2; §7.1.7:
   * a failure concerns the bad frame, not what came before).
   *
   * @param holdClose hold a close frame this end comes to owe, as above
   */
  receive(bytes: Uint8Array, holdClose = false): ConnectionEvent[] {
    if (this.#state === "connecting") {
      throw new NotOpenError("bytes received before the handshake completed");
    }
    if (this.#pendingFailure || this.#pendingCloseReply) {
      this.#commitClose();
      return this.#drainEvents();
    }
    if (this.#state === "closed" || this.#closeReceived) return [];
    this.#holding = holdClose;
    try {
      this.#parser.push(bytes, this.#handleFrame);
    } catch (error) {
      // Bytes after the peer's close frame are not processed (RFC 6455 §5.5.1),
      // so a violation there is not one.
      // (#handleFrame may have moved the state on; read it afresh.)
      if (this.#closeReceived || (this.#state as ConnectionState) === "closed") {
        return this.#drainEvents();
      }
      const failure = error instanceof SprigError ? error : new SprigError(
        "INTERNAL",
        `receiving failed: ${(error as Error)?.message}`,
        CloseCode.InternalError,
        { cause: error },
      );
      if (this.#events.length > 0 || this.#holding) {
        // Messages completed before the bad frame are the peer's good data
        // (RFC 6455 §7.1.7 fails the connection for the bad frame, not for
        // what came before): they are returned, and what the application
        // sends in answer to them goes out before the close frame, which is
        // queued at the next call (see {@link takeOutput}).
        this.#failure = failure;
        this.#pendingFailure = failure;
        this.#assembler.reset();
        const code = failure.closeCode ?? CloseCode.InternalError;
        this.#events.push({ type: "error", error: failure });
        this.#events.push({ type: "close", code, reason: failure.closeReason, wasClean: false });
      } else {
        this.#fail(failure);
      }
    }
    return this.#drainEvents();
  }

  /**
   * Queues a close frame whose events were returned with good messages: a
   * failure's, or the reply to the peer's close.
   */
  #commitClose(): void {
    if (this.#pendingCloseReply) {
      this.#pendingCloseReply = false;
      const { code, reason } = this.#closeReceived!;
      // RFC 6455 §5.5.1: answer with a close frame, echoing the code.
      this.#sendClose(
        code,
        "",
        code === CloseCode.NoStatus ? new Uint8Array(0) : buildClosePayload(code),
      );
      this.#finish({ code, reason, wasClean: true }, false);
      return;
    }
    const failure = this.#pendingFailure;
    if (failure === undefined) return;
    this.#pendingFailure = undefined;
    const code = failure.closeCode ?? CloseCode.InternalError;
    if (!this.#closeSent) {
      this.#sendClose(code, failure.closeReason, buildClosePayload(code, failure.closeReason));
    }
    // The error and close events went out with the good messages.
    this.#finish({ code, reason: failure.closeReason, wasClean: false }, false);
  }

  /**
   * Tells the connection the transport ended (EOF or reset). If the
   * closing handshake had not completed, the connection closes with 1006.
   */
  receiveEof(): ConnectionEvent[] {
    this.#commitClose();
    if (this.#state !== "closed") {
      this.#finish({ code: CloseCode.Abnormal, reason: "", wasClean: false });
    }
    return this.#drainEvents();
  }

  /**
   * Takes the bytes to write, in order. With `holdClose`, a close frame this
   * end owes stays owed (an application still answering earlier messages
   * asks for this); it is queued by the next call without it. Small frames come as one buffer
   * each; a large unmasked payload may come as its own view (no copy), so
   * the data passed to {@link send} must stay unchanged until written.
   */
  takeOutput(holdClose = false): Uint8Array[] {
    if (!holdClose) this.#commitClose();
    // The turn is over: forget the texts, so their bytes are not held.
    this.#received?.clear();
    return this.#output.take();
  }

  /**
   * Sends a text message (a string) or a binary message (bytes).
   * `compress` false sends it uncompressed even when permessage-deflate
   * was negotiated (RSV1 clear, RFC 7692 §6); absent or true compresses as
   * the extension does by default (from its threshold on).
   */
  send(data: string | Uint8Array, compress?: boolean): void {
    if (typeof data === "string") this.sendText(data, compress);
    else this.sendBinary(data, compress);
  }

  /** Sends a text message; `compress` as for {@link send}. */
  sendText(text: string, compress?: boolean): void {
    if (this.#framesShortAscii(text) && this.#output.asciiText(text)) return;
    // Sending back a text received in this turn (an echo, a relay): its
    // bytes are known, so it is not encoded again.
    const received = this.#received;
    const i = received === undefined ? -1 : received.find(text);
    if (i >= 0) {
      const bytes = received!.bytesAt(i);
      this.#inPlace = bytes;
      this.#inPlaceRoom = received!.roomAt(i);
      try {
        this.#sendMessage(Opcode.Text, bytes, compress);
      } finally {
        this.#inPlace = undefined;
      }
      return;
    }
    this.#sendMessage(Opcode.Text, encodeUtf8(text), compress);
  }

  /**
   * True when `text` may be framed straight into the output, with no
   * encoder call, if it is ASCII: a short text, sent whole, as it is (no
   * extension, no tracing), on an open connection with nothing in between.
   */
  #framesShortAscii(text: string): boolean {
    return text.length <= ASCII_TRY_MAX && this.#chain.empty && this.#onFrame === undefined &&
      this.#fragmentSize >= text.length && this.#state === "open" && this.#sending === -1 &&
      this.#pendingFailure === undefined;
  }

  /** Sends a binary message; `compress` as for {@link send}. */
  sendBinary(data: Uint8Array, compress?: boolean): void {
    this.#sendMessage(Opcode.Binary, data, compress);
  }

  /**
   * Sends one fragment of a message streamed piece by piece (RFC 6455
   * §5.4): the first call picks the type, later calls continue it, and
   * `fin` ends it. Extensions do not transform streamed messages. Control
   * frames may be sent between fragments; other messages may not.
   */
  sendFragment(type: "text" | "binary", data: string | Uint8Array, fin: boolean): void {
    this.#assertCanSendData();
    const opcode = type === "text" ? Opcode.Text : Opcode.Binary;
    if (this.#sending !== -1 && this.#sending !== opcode) {
      throw new TypeError(
        `a ${this.#sending === Opcode.Text ? "text" : "binary"} message is being streamed`,
      );
    }
    const payload = typeof data === "string" ? encodeUtf8(data) : data;
    this.#writeFrame(fin, 0, this.#sending === -1 ? opcode : Opcode.Continuation, payload);
    this.#sending = fin ? -1 : opcode;
  }

  /**
   * Queues a data frame encoded elsewhere, in order with everything else
   * this connection sends: a server's broadcast encodes a message once and
   * hands the same bytes to every subscriber. Only a server may do this
   * (its frames are unmasked), and the frame must be one whole final text
   * or binary frame without RSV bits — the same bytes {@link send} would
   * have produced with no extension.
   *
   * @throws {TypeError} for a client, or bytes that are not such a frame
   */
  sendEncodedFrame(frame: Uint8Array): void {
    if (this.role !== "server") {
      throw new TypeError("only a server sends pre-encoded (unmasked) frames");
    }
    this.#assertCanSendData();
    if (this.#sending !== -1) {
      throw new TypeError("a streamed message is in progress; finish it first");
    }
    const b0 = frame[0];
    const opcode = b0 & 0x0f;
    const len7 = frame[1] & 0x7f;
    const size = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
    if (
      frame.length < size || b0 !== (0x80 | opcode) ||
      (opcode !== Opcode.Text && opcode !== Opcode.Binary) || (frame[1] & 0x80) !== 0
    ) {
      throw new TypeError("sendEncodedFrame takes one whole, final, unmasked text or binary frame");
    }
    this.#onFrame?.("out", { fin: true, rsv: 0, opcode, payload: frame.subarray(size) });
    this.#output.push(frame);
  }

  /** Sends a ping carrying at most 125 bytes. */
  ping(data: Uint8Array | string = new Uint8Array(0)): void {
    this.#sendControl(Opcode.Ping, typeof data === "string" ? encodeUtf8(data) : data);
  }

  /** Sends an unsolicited pong (a heartbeat; RFC 6455 §5.5.3) or one owed when autoPong is off. */
  pong(data: Uint8Array | string = new Uint8Array(0)): void {
    this.#sendControl(Opcode.Pong, typeof data === "string" ? encodeUtf8(data) : data);
  }

  /**
   * Starts the closing handshake (or answers the peer's close). With no
   * code, the close frame is empty and the peer sees 1005. Does nothing once
   * a close frame was sent.
   *
   * @throws {RangeError} for a code that may not be sent or a reason over 123 bytes
   */
  close(code?: number, reason = ""): void {
    const payload = buildClosePayload(code, reason);
    this.#commitClose();
    if (this.#state === "connecting") throw new NotOpenError("the connection is not open yet");
    if (this.#closeSent || this.#state === "closed") return;
    this.#sendClose(code ?? CloseCode.NoStatus, reason, payload);
  }

  // ---------------------------------------------------------------- receiving

  #handleFrame = (frame: Frame): void => {
    // Frames after the peer's close are not processed (RFC 6455 §5.5.1).
    if (this.#closeReceived || this.#state === "closed") return;
    this.framesIn++;
    this.#onFrame?.("in", frame);
    const opcode = frame.opcode;
    if (!isControl(opcode)) {
      const message = this.#assembler.push(frame);
      if (message !== undefined) {
        this.#events.push(message);
        const bytes = this.#assembler.takeTextBytes();
        if (message.type === "text" && message.data.length >= ReceivedTexts.MIN_LENGTH) {
          // Room in front only for the payload of this very frame.
          const room = bytes === frame.payload ? this.#parser.lastRoom : 0;
          (this.#received ??= new ReceivedTexts()).remember(message.data, bytes!, room);
        }
      }
      return;
    }
    // RFC 7692 §6.1 and RFC 6455 §5.2: no extension here defines RSV bits for control frames.
    if (frame.rsv !== 0) {
      throw new ProtocolError("RSV_ON_CONTROL", "reserved bits set on a control frame");
    }
    if (opcode === Opcode.Ping) {
      this.#events.push({ type: "ping", data: frame.payload });
      // RFC 6455 §5.5.2: a pong with the same payload, unless closing.
      if (this.#autoPong && !this.#closeSent) this.#writeFrame(true, 0, Opcode.Pong, frame.payload);
    } else if (opcode === Opcode.Pong) {
      this.#events.push({ type: "pong", data: frame.payload });
    } else {
      const { code, reason } = parseClosePayload(frame.payload);
      this.#closeReceived = { code, reason };
      this.#closedByPeer = this.#closeSent === undefined;
      if (this.#closeSent) {
        // We started the closing handshake: it is complete (RFC 6455 §7.1.4).
        this.#finish({ code, reason, wasClean: true });
        return;
      }
      if (this.#events.length > 0 || this.#holding) {
        // Our reply is owed (RFC 6455 §5.5.1); with messages in the same
        // call (or while the caller holds), it is queued at the next call,
        // normally takeOutput(), so that what the application sends in
        // answer to those messages still goes out first (§7.1.2 lets an
        // endpoint finish what it is sending).
        this.#pendingCloseReply = true;
        this.#events.push({ type: "close", code, reason, wasClean: true });
        return;
      }
      // RFC 6455 §5.5.1: answer with a close frame, echoing the code.
      this.#sendClose(
        code,
        "",
        code === CloseCode.NoStatus ? new Uint8Array(0) : buildClosePayload(code),
      );
      this.#finish({ code, reason, wasClean: true });
    }
  };

  /** _Fail the WebSocket Connection_ (RFC 6455 §7.1.7): send a close frame if none was sent, then close. */
  #fail(error: SprigError): void {
    this.#failure = error;
    this.#assembler.reset();
    this.#events.push({ type: "error", error });
    const code = error.closeCode ?? CloseCode.InternalError;
    if (!this.#closeSent) {
      this.#sendClose(code, error.closeReason, buildClosePayload(code, error.closeReason));
    }
    this.#finish({ code, reason: error.closeReason, wasClean: false });
  }

  #finish(result: CloseResult, report = true): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#result = result;
    this.#parser.dispose();
    this.#assembler.reset();
    this.#chain.dispose();
    if (report) this.#events.push({ type: "close", ...result });
  }

  #drainEvents(): ConnectionEvent[] {
    const events = this.#events;
    if (events.length === 0) return events;
    this.#events = [];
    return events;
  }

  // ------------------------------------------------------------------ sending

  #assertCanSendData(): void {
    // RFC 6455 §5.5.1: after sending a close frame, no more data frames.
    if (this.#state !== "open") throw new NotOpenError();
  }

  #sendMessage(opcode: number, data: Uint8Array, compress?: boolean): void {
    this.#assertCanSendData();
    if (this.#sending !== -1) {
      throw new TypeError("a streamed message is in progress; finish it first");
    }
    let rsv = 0;
    if (!this.#chain.empty) ({ payload: data, rsv } = this.#chain.encode(data, opcode, compress));
    const size = this.#fragmentSize;
    if (data.length <= size) {
      this.#writeFrame(true, rsv, opcode, data);
      return;
    }
    for (let at = 0; at < data.length; at += size) {
      const end = Math.min(data.length, at + size);
      this.#writeFrame(
        end === data.length,
        at === 0 ? rsv : 0,
        at === 0 ? opcode : Opcode.Continuation,
        data.subarray(at, end),
      );
    }
  }

  #sendControl(opcode: number, payload: Uint8Array): void {
    if (this.#state !== "open" && this.#state !== "closing") throw new NotOpenError();
    if (this.#closeSent) throw new NotOpenError("a close frame was already sent");
    this.#writeFrame(true, 0, opcode, payload);
  }

  #sendClose(code: number, reason: string, payload: Uint8Array): void {
    this.#closeSent = { code, reason };
    this.#sending = -1;
    this.#writeFrame(true, 0, Opcode.Close, payload);
    if (this.#state === "open") this.#state = "closing";
  }

  #writeFrame(fin: boolean, rsv: number, opcode: number, payload: Uint8Array): void {
    if (isControl(opcode)) checkOutgoing({ fin, rsv, opcode, payload });
    this.#onFrame?.("out", { fin, rsv, opcode, payload });
    const room = payload === this.#inPlace && this.#chain.empty ? this.#inPlaceRoom : 0;
    this.#output.frame(fin, rsv, opcode, payload, room);
  }
}

let pool = new Uint8Array(0);
let poolAt = 0;

/** Masking keys from the platform's CSPRNG, drawn 1 KiB at a time (RFC 6455 §5.3: unpredictable). */
function randomMaskKey(): Uint8Array {
  if (poolAt + 4 > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(1024));
    poolAt = 0;
  }
  const key = pool.subarray(poolAt, poolAt + 4);
  poolAt += 4;
  return key;
}
