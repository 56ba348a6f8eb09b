/**
 * A scripted WebSocket peer for integration tests: a raw TCP socket
 * (`node:net`, which Deno, Bun and Node all have) that does the opening
 * handshake and then sends exactly the bytes a test asks for (partial
 * frames, a frame split at every byte, bad UTF-8, oversize lengths, ping
 * floods, reserved bits and opcodes), reads slowly or not at all, drops the
 * connection mid-frame, and reports what the other side answered: its
 * frames, and how and when it closed.
 *
 * @module
 */

import * as net from "node:net";
import { FrameParser } from "../protocol/frame_parser.ts";
import type { Frame } from "../protocol/frame.ts";
import { acceptKey, generateKey } from "../protocol/handshake.ts";

/** One frame as the peer writes it: any field may break the RFC. */
export interface RawFrame {
  /** 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong, or any 4-bit value. */
  opcode: number;
  /** The payload; a string is written as UTF-8. Default empty. */
  payload?: Uint8Array | string;
  /** FIN. Default `true`. */
  fin?: boolean;
  /** RSV1..RSV3 as a 3-bit number (4 = RSV1). Default 0. */
  rsv?: number;
  /**
   * Mask the payload. Default: `true` for a client peer, `false` for a
   * server peer (RFC 6455 §5.1); `false` from a client breaks the rule.
   * A `Uint8Array` of 4 bytes is the masking key to use.
   */
  mask?: boolean | Uint8Array;
  /**
   * The payload length written in the header, when it should differ from
   * the payload's (an oversize claim without the bytes). Default: the
   * payload's length.
   */
  length?: number;
}

/** How the other side ended the connection, as {@link ScriptedPeer.closed} reports it. */
export interface PeerCloseResult {
  /**
   * The code of the close frame it sent: 1005 for a close frame without a
   * code, 1006 when the TCP connection ended without a close frame.
   */
  code: number;
  /** The close frame's reason, or `""`. */
  reason: string;
  /** True when a close frame arrived before the TCP connection ended. */
  closeFrame: boolean;
  /**
   * Milliseconds from the peer's last write (or from the handshake, when it
   * wrote nothing) to the close frame (or to the end of the connection,
   * without one).
   */
  afterMs: number;
}

/** Options of {@link connectPeer}. */
export interface ConnectPeerOptions {
  /** Extra request headers, written as given. */
  headers?: Record<string, string>;
  /** Subprotocols to offer (`Sec-WebSocket-Protocol`). */
  protocols?: readonly string[];
  /** A `Sec-WebSocket-Extensions` offer, written as given. Default none. */
  extensions?: string;
  /**
   * Reject when the answer is not `101 Switching Protocols`. Default `true`;
   * `false` resolves with the peer anyway (see {@link ScriptedPeer.response}).
   */
  requireUpgrade?: boolean;
  /** Milliseconds for the TCP connection and the handshake. Default 5,000. */
  timeoutMs?: number;
}

/** Options of {@link listenPeer}. */
export interface ListenPeerOptions {
  /** Interface to listen on. Default `"127.0.0.1"`. */
  hostname?: string;
  /** Extra response headers of the 101 answer, written as given. */
  headers?: Record<string, string>;
  /** Milliseconds to wait for a request head. Default 5,000. */
  timeoutMs?: number;
  /** Called with each upgraded connection, instead of queuing it for `accept()`. */
  onPeer?: (peer: ScriptedPeer) => void;
}

/** A listening scripted server, from {@link listenPeer}. */
export interface PeerServer extends AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  /** `ws://host:port/`. */
  readonly url: string;
  /** Resolves with the next connection, upgraded (rejects after `timeoutMs`, default 5,000). */
  accept(timeoutMs?: number): Promise<ScriptedPeer>;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLFCRLF = [13, 10, 13, 10];

/** The bytes of a frame, as {@link RawFrame} describes it (anything goes). */
export function encodeRawFrame(frame: RawFrame, defaultMask: boolean): Uint8Array {
  const payload = typeof frame.payload === "string"
    ? encoder.encode(frame.payload)
    : frame.payload ?? new Uint8Array(0);
  const length = frame.length ?? payload.length;
  const maskOption = frame.mask ?? defaultMask;
  const key = maskOption instanceof Uint8Array
    ? maskOption
    : maskOption
    ? crypto.getRandomValues(new Uint8Array(4))
    : undefined;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const head = 2 + lengthBytes + (key ? 4 : 0);
  const out = new Uint8Array(head + payload.length);
  out[0] = ((frame.fin ?? true) ? 0x80 : 0) | (((frame.rsv ?? 0) & 7) << 4) | (frame.opcode & 15);
  out[1] = (key ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  const view = new DataView(out.buffer);
  if (lengthBytes === 2) view.setUint16(2, length);
  if (lengthBytes === 8) view.setBigUint64(2, BigInt(length));
  if (key) out.set(key.subarray(0, 4), 2 + lengthBytes);
  for (let i = 0; i < payload.length; i++) {
    out[head + i] = key ? payload[i] ^ key[i & 3] : payload[i];
  }
  return out;
}

/** A close frame's payload: the code (2 bytes, big-endian), then the reason in UTF-8. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const r = encoder.encode(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  outer: for (let i = 0; i + 4 <= bytes.length; i++) {
    for (let k = 0; k < 4; k++) if (bytes[i + k] !== CRLFCRLF[k]) continue outer;
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function parseHeaders(lines: string[]): Headers {
  const headers = new Headers();
  for (const line of lines) {
    const at = line.indexOf(":");
    if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  return headers;
}

/** Reads an HTTP head (bounded by `timeoutMs` and 64 KiB); resolves with it and what followed. */
function readHead(
  socket: net.Socket,
  timeoutMs: number,
): Promise<{ head: string; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    let buffered: Uint8Array = new Uint8Array(0);
    const done = (error?: Error, value?: { head: string; rest: Uint8Array }) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      if (error) reject(error);
      else resolve(value!);
    };
    const onData = (chunk: Uint8Array) => {
      buffered = concat(buffered, chunk);
      const at = indexOfHeadEnd(buffered);
      if (at !== -1) {
        socket.pause();
        done(undefined, {
          head: new TextDecoder("latin1").decode(buffered.subarray(0, at)),
          rest: buffered.slice(at + 4),
        });
      } else if (buffered.length > 65536) {
        done(new Error("scripted peer: an HTTP head longer than 64 KiB"));
      }
    };
    const onClose = () =>
      done(new Error("scripted peer: the connection closed before an HTTP head"));
    const timer = setTimeout(
      () => done(new Error(`scripted peer: no HTTP head within ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.resume();
  });
}

/**
 * One side of a WebSocket connection, scripted by a test: made by
 * {@link connectPeer} (a client) or {@link listenPeer} (a server).
 * Every wait is bounded (default 5,000 ms) and rejects with an `Error`
 * naming what did not come.
 */
export class ScriptedPeer {
  /** `"client"` (writes masked frames by default) or `"server"`. */
  readonly role: "client" | "server";
  /** Client: the server's status and headers. Server: the request's method line and headers. */
  readonly response: { status: number; headers: Headers } | undefined;
  /** Server: the request line (`GET /path HTTP/1.1`) and headers. */
  readonly request: { line: string; headers: Headers } | undefined;
  /** Every frame received so far (payloads copied, unmasked). */
  readonly frames: Frame[] = [];
  /** Bytes received after the handshake. */
  bytesReceived = 0;
  /** Set when what arrived could not be parsed as frames; parsing stops there. */
  parseError: Error | undefined;

  readonly #socket: net.Socket;
  readonly #parser = new FrameParser({ mask: "any", allowedRsv: 7, maxFrameBytes: 2 ** 31 });
  #read = 0;
  #waiters: Array<() => void> = [];
  #lastWrite: number;
  #closeFrameAt: number | undefined;
  #ended = false;
  #endedAt = 0;
  #settleEnded!: () => void;
  /** Resolves when the TCP connection has ended (never rejects). */
  readonly ended: Promise<void> = new Promise((resolve) => (this.#settleEnded = resolve));

  /** @internal */
  constructor(
    socket: unknown, // a node:net Socket (typed loosely: no Node types in the declarations)
    role: "client" | "server",
    rest: Uint8Array,
    head: {
      response?: { status: number; headers: Headers };
      request?: { line: string; headers: Headers };
    },
  ) {
    this.#socket = socket as net.Socket;
    this.role = role;
    this.response = head.response;
    this.request = head.request;
    this.#lastWrite = Date.now();
    this.#socket.setNoDelay(true);
    this.#socket.on("data", (chunk: Uint8Array) => this.#feed(chunk));
    this.#socket.once("close", () => {
      this.#ended = true;
      this.#endedAt = Date.now();
      this.#settleEnded();
      this.#wake();
    });
    if (rest.length > 0) this.#feed(rest);
    this.#socket.resume();
  }

  #feed(chunk: Uint8Array): void {
    this.bytesReceived += chunk.length;
    if (this.parseError) return;
    try {
      this.#parser.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length), (f) => {
        this.frames.push({ ...f, payload: f.payload.slice() });
        if (f.opcode === 8 && this.#closeFrameAt === undefined) this.#closeFrameAt = Date.now();
      });
    } catch (error) {
      this.parseError = error as Error;
    }
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Waits (up to `timeoutMs`) until `ready()` holds; throws `what` otherwise. */
  async #until(ready: () => boolean, timeoutMs: number, what: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ready()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`scripted peer: ${what()} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** True once the TCP connection ended. */
  get isEnded(): boolean {
    return this.#ended;
  }

  /**
   * Writes `bytes` as one write; resolves when the socket took them (the
   * kernel's buffer, not the other side). Rejects once the connection ended.
   */
  send(bytes: Uint8Array): Promise<void> {
    if (this.#ended || this.#socket.destroyed) {
      return Promise.reject(new Error("scripted peer: send() after the connection ended"));
    }
    this.#lastWrite = Date.now();
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Writes one frame (see {@link RawFrame}); resolves with its bytes once written. */
  async sendFrame(frame: RawFrame): Promise<Uint8Array> {
    const bytes = encodeRawFrame(frame, this.role === "client");
    await this.send(bytes);
    return bytes;
  }

  /** The bytes of a frame as this peer writes it, without sending it. */
  encode(frame: RawFrame): Uint8Array {
    return encodeRawFrame(frame, this.role === "client");
  }

  /**
   * Writes `bytes` in pieces: cut at each offset of `at` (a number: every
   * `at` bytes; 1: one byte per write), each piece its own write, waiting
   * `delayMs` (default 0: the next turn) between them so that they tend to
   * arrive apart.
   */
  async sendSplit(bytes: Uint8Array, at: number | readonly number[], delayMs = 0): Promise<void> {
    const cuts = typeof at === "number"
      ? Array.from(
        { length: Math.ceil(bytes.length / Math.max(1, at)) - 1 },
        (_, i) => (i + 1) * at,
      )
      : [...at].sort((a, b) => a - b).filter((n) => n > 0 && n < bytes.length);
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      await this.send(bytes.subarray(from, cut));
      from = cut;
      if (cut < bytes.length) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }

  /** Writes `frame` `count` times in one write (a ping flood, say); resolves once written. */
  async flood(frame: RawFrame, count: number): Promise<void> {
    const one = this.encode(frame);
    const all = new Uint8Array(one.length * count);
    for (let i = 0; i < count; i++) all.set(one, i * one.length);
    await this.send(all);
  }

  /** Sends a close frame with `code` and `reason`. */
  async sendClose(code: number, reason = ""): Promise<void> {
    await this.sendFrame({ opcode: 8, payload: closePayload(code, reason) });
  }

  /** Stops reading from the socket: the other side's writes back up (a slow or stuck reader). */
  pause(): void {
    this.#socket.pause();
  }

  /** Reads again after {@link pause}. */
  resume(): void {
    this.#socket.resume();
  }

  /** Ends the connection at once (no close frame; mid-frame if a frame was half sent). */
  destroy(): void {
    this.#socket.destroy();
  }

  /** Half-closes: sends a TCP FIN (after what was written) and keeps reading; resolves once it went. */
  end(): Promise<void> {
    return new Promise((resolve) => this.#socket.end(() => resolve()));
  }

  /**
   * Waits until at least `count` frames have arrived (up to `timeoutMs`,
   * default 5,000), and returns {@link frames}.
   *
   * @throws {Error} on timeout, or when the connection ended with fewer
   */
  async waitFrames(count: number, timeoutMs = 5000): Promise<Frame[]> {
    await this.#until(
      () => this.frames.length >= count || this.#ended,
      timeoutMs,
      () => `only ${this.frames.length} of ${count} frames`,
    );
    if (this.frames.length < count) {
      throw new Error(`scripted peer: the connection closed after ${this.frames.length} frames`);
    }
    return this.frames;
  }

  /**
   * The next frame not yet taken by `nextFrame()`, waiting up to `timeoutMs`
   * (default 5,000).
   *
   * @throws {Error} on timeout, or when the connection ended first
   */
  async nextFrame(timeoutMs = 5000): Promise<Frame> {
    await this.#until(
      () => this.#read < this.frames.length || this.#ended || this.parseError !== undefined,
      timeoutMs,
      () => `no frame (${this.frames.length} so far)`,
    );
    if (this.#read < this.frames.length) return this.frames[this.#read++];
    if (this.parseError) throw new Error(`scripted peer: bad frames: ${this.parseError.message}`);
    throw new Error(`scripted peer: the connection ended after ${this.frames.length} frames`);
  }

  /** The next data frame's payload as text (a text frame), skipping pings and pongs. */
  async nextText(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = await this.nextFrame(Math.max(0, deadline - Date.now()));
      if (frame.opcode === 9 || frame.opcode === 10) continue;
      if (frame.opcode !== 1) throw new Error(`scripted peer: opcode ${frame.opcode}, not text`);
      return decoder.decode(frame.payload);
    }
  }

  /**
   * Waits until the other side ended the TCP connection (up to `timeoutMs`,
   * default 5,000), and says how: its close frame's code and reason, and how
   * long after this peer's last write it came.
   *
   * @throws {Error} when the connection is still open after `timeoutMs`
   */
  async closed(timeoutMs = 5000): Promise<PeerCloseResult> {
    await this.#until(() => this.#ended, timeoutMs, () => "the connection did not end");
    const close = this.frames.find((f) => f.opcode === 8);
    const at = close ? this.#closeFrameAt! : this.#endedAt;
    const afterMs = Math.max(0, at - this.#lastWrite);
    if (!close) return { code: 1006, reason: "", closeFrame: false, afterMs };
    const p = close.payload;
    if (p.length < 2) return { code: 1005, reason: "", closeFrame: true, afterMs };
    return {
      code: (p[0] << 8) | p[1],
      reason: decoder.decode(p.subarray(2)),
      closeFrame: true,
      afterMs,
    };
  }

  /**
   * Waits for the close frame (not the end of TCP), up to `timeoutMs`,
   * and checks its code.
   *
   * @throws {Error} when no close frame came, or its code is not `code`
   */
  async expectClose(code: number, timeoutMs = 5000): Promise<PeerCloseResult> {
    await this.#until(
      () => this.#closeFrameAt !== undefined || this.#ended,
      timeoutMs,
      () => `no close frame (expected ${code})`,
    );
    const close = this.frames.find((f) => f.opcode === 8);
    const afterMs = Math.max(0, (this.#closeFrameAt ?? this.#endedAt) - this.#lastWrite);
    const got = !close
      ? 1006
      : close.payload.length < 2
      ? 1005
      : (close.payload[0] << 8) | close.payload[1];
    const reason = close && close.payload.length > 2
      ? decoder.decode(close.payload.subarray(2))
      : "";
    if (got !== code) {
      throw new Error(
        `scripted peer: expected close code ${code}, got ${got}${reason ? ` (${reason})` : ""}`,
      );
    }
    return { code: got, reason, closeFrame: close !== undefined, afterMs };
  }
}

/**
 * Opens a TCP connection to `url` (`ws:` only) and does the client's
 * opening handshake (RFC 6455 §4.1), writing the request as given.
 *
 * @throws {Error} when the connection fails, the head does not come within
 *   `timeoutMs`, or (unless `requireUpgrade: false`) the answer is not 101
 *   with the right `Sec-WebSocket-Accept`
 */
export async function connectPeer(
  url: string | URL,
  options: ConnectPeerOptions = {},
): Promise<ScriptedPeer> {
  const target = new URL(String(url));
  if (target.protocol !== "ws:" && target.protocol !== "http:") {
    throw new TypeError(`connectPeer(): only ws: URLs, got ${target.protocol}`);
  }
  const timeoutMs = options.timeoutMs ?? 5000;
  const host = target.hostname.replace(/^\[|\]$/g, "");
  const port = Number(target.port || 80);
  const socket = net.connect({ host, port });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connectPeer(): no connection to ${target.host} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  const key = generateKey();
  const lines = [
    `GET ${target.pathname}${target.search} HTTP/1.1`,
    `Host: ${target.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
  ];
  if (options.protocols?.length) {
    lines.push(`Sec-WebSocket-Protocol: ${options.protocols.join(", ")}`);
  }
  if (options.extensions) lines.push(`Sec-WebSocket-Extensions: ${options.extensions}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    lines.push(`${name}: ${value}`);
  }
  socket.write(lines.join("\r\n") + "\r\n\r\n");
  let head: { head: string; rest: Uint8Array };
  try {
    head = await readHead(socket, timeoutMs);
  } catch (error) {
    socket.destroy();
    throw error;
  }
  const [statusLine, ...headerLines] = head.head.split("\r\n");
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers = parseHeaders(headerLines);
  if (options.requireUpgrade !== false) {
    const accept = headers.get("sec-websocket-accept");
    if (status !== 101 || accept !== acceptKey(key)) {
      socket.destroy();
      throw new Error(
        status === 101
          ? `connectPeer(): the 101's Sec-WebSocket-Accept is ${JSON.stringify(accept ?? null)}, ` +
            `not ${acceptKey(key)} (RFC 6455 §4.2.2)`
          : `connectPeer(): not upgraded: ${statusLine} (requireUpgrade: false keeps the ` +
            "answer, as peer.response)",
      );
    }
  }
  return new ScriptedPeer(socket, "client", head.rest, { response: { status, headers } });
}

/**
 * Listens on a free port (`hostname`, default 127.0.0.1) and upgrades every
 * connection that sends a WebSocket request (RFC 6455 §4.2: 101 with the
 * accept key; no subprotocol or extension unless `headers` add them); take
 * each with `accept()`.
 */
export async function listenPeer(options: ListenPeerOptions = {}): Promise<PeerServer> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const sockets = new Set<net.Socket>();
  const ready: ScriptedPeer[] = [];
  let waiters: Array<() => void> = [];
  const server = net.createServer({ pauseOnConnect: true }, async (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    try {
      const { head, rest } = await readHead(socket, timeoutMs);
      const [line, ...headerLines] = head.split("\r\n");
      const headers = parseHeaders(headerLines);
      const key = headers.get("sec-websocket-key") ?? "";
      const extra = Object.entries(options.headers ?? {}).map(([n, v]) => `${n}: ${v}\r\n`).join(
        "",
      );
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n${extra}\r\n`,
      );
      const peer = new ScriptedPeer(socket, "server", rest, { request: { line, headers } });
      if (options.onPeer) return options.onPeer(peer);
      ready.push(peer);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    } catch {
      socket.destroy();
    }
  });
  const hostname = options.hostname ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, hostname, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return {
    port,
    url: `ws://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/`,
    async accept(acceptTimeoutMs = 5000) {
      const deadline = Date.now() + acceptTimeoutMs;
      while (ready.length === 0) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`listenPeer(): no connection within ${acceptTimeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return ready.shift()!;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
