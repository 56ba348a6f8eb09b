/**
 * The server's HTTP/2 side on sprig's own HTTP/2 endpoint
 * (lib/protocol/http2/) over the runtime's sockets: `serve({ http2: true })`
 * on Deno and Node, `http2: "sprig"` anywhere; Bun runs `node:http2`
 * (./server.ts) by default (see docs/http2.md for why).
 *
 * It plugs in where ./server.ts does: each extended CONNECT (RFC 8441)
 * runs the same handler host as an HTTP/1.1 upgrade, over a stream; other
 * requests go to `fetch`, their responses streamed back as DATA within the
 * client's flow-control windows.
 *
 * @module
 */

import {
  acceptedConnectFields,
  callFetch,
  checkRequestTarget,
  decideExtendedConnect,
  HOP_BY_HOP,
  isExtendedConnect,
  requestHeadOf,
  StreamSocket,
  textResponse,
} from "./request.ts";
import type { Http2Headers } from "../../protocol/extended_connect.ts";
import { H2ErrorCode } from "../../protocol/http2/frame.ts";
import type { HeaderField } from "../../protocol/http2/hpack.ts";
import {
  Http2ServerConnection,
  type Http2ServerListener,
} from "../../protocol/http2/connection.ts";
import type { HttpHost } from "../http/http1_loop.ts";
import { SERVER_DEFAULTS } from "../handler/options.ts";
import type { AcceptedSocket } from "../http/listener.ts";
import { startChannel } from "../http/socket_upgrade.ts";
import type { TransportAddress, TransportSink } from "../../transport/transport.ts";
import {
  type SprigHttp2StreamHost,
  SprigHttp2StreamTransport,
  STREAM_WRITE_HIGH_WATER_BYTES,
} from "../../transport/http2.ts";
import { EMPTY } from "../../protocol/bytes.ts";

/**
 * Request bodies one connection may hold at once for `fetch`, across its
 * streams, as a multiple of `maxBodyBytes` (so 4 MiB with the default
 * 1 MiB): without it, a client could make one connection hold
 * SETTINGS_MAX_CONCURRENT_STREAMS (100) × `maxBodyBytes`. A stream whose
 * body would pass it is reset with REFUSED_STREAM (RFC 9113 §8.7: not
 * processed, safe to retry) before `fetch` ever sees it.
 */
export const CONNECTION_BODY_BUDGET_FACTOR = 4;

/** Runs `fn` after this turn's microtasks: `setImmediate` where the runtime has it (Deno, Bun, Node). */
const afterTurn: (fn: () => void) => void = typeof setImmediate === "function"
  ? (fn) => void setImmediate(fn)
  : (fn) => void setTimeout(fn, 0);

/** What a stream of a connection is used for. */
interface StreamUse {
  /** Set once a WebSocket runs on it. */
  transport?: SprigHttp2StreamTransport;
  /** Request body (or early WebSocket bytes) not yet taken. */
  body: Uint8Array[];
  bodyBytes: number;
  /** Body bytes credited back to the client. */
  credited: number;
  /** END_STREAM from the client arrived. */
  ended: boolean;
  /** Gone: reset or closed. */
  gone: boolean;
  /** Called on each change (data, end, gone, drain) by whoever waits. */
  wake?: () => void;
  /** The body was refused: what else comes is dropped. */
  refused?: boolean;
}

/** One HTTP/2 connection: the protocol core over an accepted socket. */
class SprigHttp2Connection implements TransportSink, SprigHttp2StreamHost {
  readonly #front: SprigHttp2Front;
  readonly socket: AcceptedSocket;
  readonly core: Http2ServerConnection;
  readonly streams = new Map<number, StreamUse>();
  #scheduled = false;
  #turnEndScheduled = false;
  #blocked = false;
  #finished = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #settingsTimer: ReturnType<typeof setTimeout> | undefined;
  #writeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Request body bytes buffered across this connection's streams. */
  bodyBytes = 0;
  readonly bodyBudget: number;
  readonly closed: Promise<void>;

  constructor(front: SprigHttp2Front, socket: AcceptedSocket, http: HttpHost) {
    this.#front = front;
    this.socket = socket;
    const listener: Http2ServerListener = {
      request: (id, fields, end) => this.#request(id, fields, end),
      data: (id, data, end) => this.#streamData(id, data, end),
      closed: (id, code) => this.#streamClosed(id, code),
      sent: (id) => this.#sent(id),
    };
    this.core = new Http2ServerConnection(listener, {
      maxHeaderListSize: Math.max(http.maxHeadBytes, 4096),
    });
    this.closed = socket.transport.closed;
    this.bodyBudget = Math.max(
      http.maxBodyBytes,
      CONNECTION_BODY_BUDGET_FACTOR * http.maxBodyBytes,
    );
    // RFC 9113 §6.5.3: a client that does not acknowledge our SETTINGS in
    // time gets a connection error of type SETTINGS_TIMEOUT. The time is the
    // handshake's (HTTP/1.1's from accept to a complete request head).
    this.#settingsTimer = setTimeout(() => {
      if (this.core.settingsAcknowledged) return;
      this.core.fail(H2ErrorCode.SETTINGS_TIMEOUT, "SETTINGS not acknowledged in time");
      this.#write();
    }, http.handshakeTimeoutMs);
    this.#idle();
    this.#write();
    socket.transport.attach!(this);
  }

  get remoteAddress(): TransportAddress | undefined {
    return this.socket.transport.remoteAddress;
  }

  // --- TransportSink (the socket) ---

  data(chunk: Uint8Array): void {
    this.core.receive(chunk);
    if (this.#settingsTimer !== undefined && this.core.settingsAcknowledged) {
      clearTimeout(this.#settingsTimer);
      this.#settingsTimer = undefined;
    }
    this.#write();
  }

  end(_error?: Error): void {
    // The client left (or the socket failed): its streams are over.
    this.socket.destroy();
    this.#finish();
  }

  drain(): void {
    this.#blocked = false;
    clearTimeout(this.#writeTimer);
    this.#writeTimer = undefined;
    this.socket.transport.resume?.();
    for (const use of this.streams.values()) {
      use.transport?.drained();
      use.wake?.();
    }
  }

  // --- the core's events ---

  #request(streamId: number, fields: HeaderField[], endStream: boolean): void {
    this.streams.set(streamId, {
      body: [],
      bodyBytes: 0,
      credited: 0,
      ended: endStream,
      gone: false,
    });
    this.#busy();
    this.#front.onRequest(this, streamId, fields).catch((error) => {
      // Nothing a client sends may end the process: the stream fails alone.
      this.#front.http.host.reportError(error);
      this.reset(streamId, H2ErrorCode.INTERNAL_ERROR);
    });
  }

  // --- SprigHttp2StreamHost ---

  send(streamId: number, chunks: readonly Uint8Array[], end: boolean): void {
    this.core.send(streamId, chunks, end);
    this.schedule();
  }

  consume(streamId: number, n: number): void {
    this.core.consume(streamId, n);
    this.schedule();
  }

  reset(streamId: number, code: number): void {
    this.core.reset(streamId, code);
    this.schedule();
  }

  pending(streamId: number): number {
    return this.core.queued(streamId) + (this.#blocked ? STREAM_WRITE_HIGH_WATER_BYTES + 1 : 0);
  }

  // --- the rest ---

  #streamData(streamId: number, data: Uint8Array, endStream: boolean): void {
    const use = this.streams.get(streamId);
    if (!use) return;
    if (use.transport) {
      use.transport.push(data);
      if (endStream) use.transport.endRemote();
    } else if (data.length > 0 && !use.refused) {
      // Over the connection's budget (and not over its own limit, which is a 413):
      // this request is refused unprocessed.
      if (
        use.bodyBytes + data.length <= this.#front.http.maxBodyBytes &&
        this.bodyBytes + data.length > this.bodyBudget
      ) {
        this.dropBody(use);
        use.refused = true;
        // After this frame is handled: the core is inside receive() now.
        queueMicrotask(() => this.reset(streamId, H2ErrorCode.REFUSED_STREAM));
        use.wake?.();
        return;
      }
      use.body.push(data);
      use.bodyBytes += data.length;
      this.bodyBytes += data.length;
    }
    if (endStream) use.ended = true;
    use.wake?.();
  }

  /** The core said a stream is over. */
  #streamClosed(streamId: number, code: number): void {
    const use = this.streams.get(streamId);
    if (!use) return;
    this.streams.delete(streamId);
    this.dropBody(use);
    use.gone = true;
    use.transport?.gone(code);
    use.wake?.();
    if (this.streams.size === 0) this.#idle();
  }

  /** Forgets a stream's buffered body (taken, refused or gone), for the connection's budget. */
  dropBody(use: StreamUse): void {
    this.bodyBytes -= use.bodyBytes;
    use.body = [];
    use.bodyBytes = 0;
  }

  /** A stream's queued DATA went out. */
  #sent(streamId: number): void {
    const use = this.streams.get(streamId);
    use?.transport?.drained();
    use?.wake?.();
  }

  /** Writes what the core owes at the end of this turn (one write for everything queued in it). */
  schedule(): void {
    if (this.#scheduled || this.#finished) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#write();
    });
  }

  /**
   * Writes what the core owes once this turn's microtasks are done too: a
   * response's HEADERS, DATA and END_STREAM, produced across the awaits of
   * reading its body, leave in one write. Several small writes would meet
   * the client's delayed ACK under Nagle's algorithm, which Deno's TLS
   * connections cannot turn off: ~40 ms per request.
   */
  scheduleTurnEnd(): void {
    if (this.#turnEndScheduled || this.#finished) return;
    this.#turnEndScheduled = true;
    afterTurn(() => {
      this.#turnEndScheduled = false;
      this.#write();
    });
  }

  #write(): void {
    if (this.#finished) return;
    const out = this.core.takeOutput();
    if (out.length > 0) {
      const transport = this.socket.transport;
      if (transport.writeNow) {
        if (!transport.writeNow(out)) {
          // A client that does not read must not make us buffer without
          // end: every PING, SETTINGS or stray DATA owes it a frame, so its
          // bytes wait in the kernel until ours drain.
          this.#blocked = true;
          transport.pause?.();
          // A client that reads none of it for writeTimeoutMs is dropped.
          const timeout = this.#front.writeTimeoutMs;
          if (timeout > 0 && this.#writeTimer === undefined) {
            this.#writeTimer = setTimeout(() => {
              if (this.#blocked) this.destroy();
            }, timeout);
          }
        }
      } else {
        transport.write(out).catch(() => this.socket.destroy());
      }
    }
    if (this.core.done) {
      this.#finished = true;
      this.socket.close();
      this.#finish();
    }
  }

  /** Graceful end: GOAWAY; the connection closes once its streams ended. */
  shutdown(): void {
    this.core.shutdown();
    this.#write();
  }

  destroy(): void {
    this.socket.destroy();
    this.#finish();
  }

  #busy(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  /**
   * A connection with no stream open closes after the keep-alive time (the
   * first request within the handshake time); one carrying WebSockets
   * stays, as their idle timeouts are the handler's.
   */
  #idle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#finished) return;
    const http = this.#front.http;
    this.#idleTimer = setTimeout(() => {
      if (this.streams.size === 0 && this.core.streamCount === 0) this.shutdown();
    }, Math.max(http.handshakeTimeoutMs, http.keepAliveTimeoutMs));
  }

  #finish(): void {
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#settingsTimer);
    clearTimeout(this.#writeTimer);
    this.#finished = true;
    for (const use of this.streams.values()) {
      use.gone = true;
      use.transport?.gone(H2ErrorCode.CANCEL);
      use.wake?.();
    }
    this.streams.clear();
    this.#front.forget(this);
  }
}

/** The HTTP/2 connections of one `serve()`, on sprig's own endpoint. @internal */
export class SprigHttp2Front {
  readonly http: HttpHost;
  readonly #secure: boolean;
  readonly #connections = new Set<SprigHttp2Connection>();
  #closing = false;

  constructor(http: HttpHost, secure: boolean) {
    this.http = http;
    this.#secure = secure;
  }

  /**
   * How long a client may take none of our output (its socket unread, or a
   * response's DATA held by a stream window it never opens) before the
   * connection, or the stream, is dropped: `writeTimeoutMs` (30 s; 0 turns
   * it off), as for WebSockets.
   */
  get writeTimeoutMs(): number {
    return this.http.host?.options.writeTimeoutMs ?? SERVER_DEFAULTS.writeTimeoutMs;
  }

  /**
   * Waits until `done()` (checked on each change of the stream), or until
   * the stream's queued DATA made no progress for `writeTimeoutMs`: then the
   * stream is reset (CANCEL) and false is returned.
   */
  #waitFor(
    c: SprigHttp2Connection,
    streamId: number,
    use: StreamUse,
    done: () => boolean,
  ): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    const timeout = this.writeTimeoutMs;
    return new Promise<boolean>((resolve) => {
      let queued = c.core.queued(streamId);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const arm = () => {
        clearTimeout(timer);
        if (timeout > 0) {
          timer = setTimeout(() => {
            use.wake = undefined;
            c.reset(streamId, H2ErrorCode.CANCEL);
            resolve(false);
          }, timeout);
        }
      };
      arm();
      use.wake = () => {
        if (done()) {
          clearTimeout(timer);
          use.wake = undefined;
          resolve(true);
          return;
        }
        const now = c.core.queued(streamId);
        if (now < queued) arm(); // the client took some: wait on
        queued = now;
      };
    });
  }

  /** The number of open HTTP/2 connections. */
  get size(): number {
    return this.#connections.size;
  }

  /** Takes a connection whose first bytes are (or whose ALPN chose) HTTP/2. */
  accept(socket: AcceptedSocket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#connections.add(new SprigHttp2Connection(this, socket, this.http));
  }

  /** @internal */
  forget(c: SprigHttp2Connection): void {
    this.#connections.delete(c);
  }

  /** A request's header list arrived on `streamId`. @internal */
  async onRequest(c: SprigHttp2Connection, streamId: number, fields: HeaderField[]): Promise<void> {
    // No prototype: a field named __proto__ or constructor is a field like any other.
    const headers: Http2Headers = Object.create(null);
    for (const [name, value] of fields) {
      const had = headers[name];
      headers[name] = had === undefined
        ? value
        : [...(Array.isArray(had) ? had : [String(had)]), value];
    }
    const host = this.http.host;
    const remoteAddress = c.remoteAddress;
    const url = checkRequestTarget(headers, this.#secure);
    if (url === undefined) {
      return this.#respond(c, streamId, textResponse(400, "bad :authority or :path"), false);
    }
    const head = requestHeadOf(headers);
    const method = head.method;

    // 1. A WebSocket: the extended CONNECT of RFC 8441.
    if (isExtendedConnect(method, headers)) {
      const tls = c.socket.tlsInfo?.();
      const decision = await decideExtendedConnect(host, head, headers, url, remoteAddress, tls);
      if (!decision.accepted) return this.#respond(c, streamId, decision.response, false);
      const use = c.streams.get(streamId);
      if (!use || use.gone) {
        decision.release();
        return;
      }
      let out: HeaderField[];
      try {
        out = [[":status", "200"], ...acceptedConnectFields(decision)];
      } catch (error) {
        decision.release();
        host.reportError(error);
        c.reset(streamId, H2ErrorCode.INTERNAL_ERROR);
        return;
      }
      c.core.respond(streamId, out, false);
      c.schedule();
      const transport = new SprigHttp2StreamTransport(c, streamId);
      use.transport = transport;
      // Bytes that came with or right after the CONNECT.
      for (const chunk of use.body) transport.push(chunk);
      c.dropBody(use);
      if (use.ended) transport.endRemote();
      startChannel(host, new StreamSocket(transport, this.#secure), decision, EMPTY);
      return;
    }

    // 2. A plain request: the app's fetch, or 426.
    const fetch = this.http.fetch;
    if (method === "CONNECT") {
      return this.#respond(c, streamId, textResponse(405, "CONNECT is for WebSockets here"), false);
    }
    if (!fetch) {
      return this.#respond(
        c,
        streamId,
        textResponse(426, "this endpoint speaks WebSocket only"),
        false,
      );
    }
    const body = await this.#readBody(c, streamId, this.http.maxBodyBytes);
    if (body === "gone") return;
    if (body === "timeout") {
      return this.#respond(c, streamId, textResponse(408, "request timeout"), false);
    }
    if (body === undefined) {
      return this.#respond(c, streamId, textResponse(413, "request body too large"), false);
    }
    const response = await callFetch(this.http, fetch, url, head, body, remoteAddress);
    await this.#respond(c, streamId, response, method === "HEAD");
  }

  /**
   * The request body, read whole (credited as it comes); undefined past
   * `max`; "timeout" when it did not end within the handshake time (as
   * HTTP/1.1 bounds a request's head and body, so a client cannot hold
   * streams open by never ending them).
   */
  #readBody(
    c: SprigHttp2Connection,
    streamId: number,
    max: number,
  ): Promise<Uint8Array | undefined | "gone" | "timeout"> {
    const use = c.streams.get(streamId);
    if (!use) return Promise.resolve("gone");
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        use.wake = undefined;
        c.dropBody(use);
        use.refused = true;
        resolve("timeout");
      }, this.http.handshakeTimeoutMs);
      const check = () => {
        if (use.refused && !use.gone) return; // over the connection's budget: being reset
        if (use.bodyBytes > max) {
          clearTimeout(timer);
          use.wake = undefined;
          c.dropBody(use);
          use.refused = true;
          return resolve(undefined);
        }
        if (use.gone) {
          clearTimeout(timer);
          use.wake = undefined;
          return resolve("gone");
        }
        // Credit what arrived: the body is bounded by `max`, not by the window.
        if (use.bodyBytes > use.credited) {
          c.consume(streamId, use.bodyBytes - use.credited);
          use.credited = use.bodyBytes;
        }
        if (!use.ended) return;
        clearTimeout(timer);
        use.wake = undefined;
        const out = new Uint8Array(use.bodyBytes);
        let at = 0;
        for (const chunk of use.body) {
          out.set(chunk, at);
          at += chunk.length;
        }
        c.dropBody(use);
        resolve(out);
      };
      use.wake = check;
      check();
    });
  }

  /**
   * Sends a `Response` on a stream: its fields, then its body as DATA
   * within the client's windows. When the client's side is still open
   * (a refused body, a refused CONNECT), the stream is then reset with
   * NO_ERROR (RFC 9113 §8.1).
   */
  async #respond(
    c: SprigHttp2Connection,
    streamId: number,
    response: Response,
    headOnly: boolean,
  ): Promise<void> {
    const use = c.streams.get(streamId);
    if (!use || use.gone) {
      await response.body?.cancel().catch(() => {});
      return;
    }
    const status = response.status;
    const bodiless = status === 204 || status === 304 || headOnly || response.body === null;
    const fields: HeaderField[] = [[":status", String(status)]];
    for (const [name, value] of response.headers) {
      if (!HOP_BY_HOP.has(name)) fields.push([name, value]);
    }
    // One write for the whole response when its body is at hand (see scheduleTurnEnd).
    c.core.respond(streamId, fields, bodiless);
    c.scheduleTurnEnd();
    if (bodiless) {
      await response.body?.cancel().catch(() => {});
    } else {
      const reader = response.body!.getReader();
      try {
        while (!use.gone) {
          const { done, value } = await reader.read();
          if (done) break;
          if (use.gone) break;
          c.core.send(streamId, [value], false);
          c.scheduleTurnEnd();
          if (c.pending(streamId) > STREAM_WRITE_HIGH_WATER_BYTES) {
            const drained = await this.#waitFor(
              c,
              streamId,
              use,
              () => use.gone || c.pending(streamId) <= STREAM_WRITE_HIGH_WATER_BYTES / 2,
            );
            if (!drained) break;
          }
        }
        if (!use.gone) {
          c.core.send(streamId, [], true);
          c.scheduleTurnEnd();
        } else await reader.cancel().catch(() => {});
      } catch (error) {
        // A body that failed midway: the client sees the stream reset.
        this.http.host.reportError(error);
        c.reset(streamId, H2ErrorCode.INTERNAL_ERROR);
        return;
      }
    }
    if (use.gone) return;
    // The response's last DATA may wait for the client's windows: bounded.
    const out = await this.#waitFor(
      c,
      streamId,
      use,
      () => use.gone || c.core.queued(streamId) === 0,
    );
    // The client is still sending: now that the response is out, ask it to stop.
    if (out && !use.ended && !use.gone) c.reset(streamId, H2ErrorCode.NO_ERROR);
  }

  /**
   * Graceful end: GOAWAY on every connection (streams in progress finish),
   * then, after `deadlineMs`, the connections still open are dropped.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.#closing = true;
    const connections = [...this.#connections];
    if (connections.length === 0) return;
    for (const c of connections) c.shutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(connections.map((c) => c.closed)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
    ]);
    clearTimeout(timer);
    for (const c of [...this.#connections]) c.destroy();
    this.#connections.clear();
  }

  /** Drops every connection now. */
  destroy(): void {
    this.#closing = true;
    for (const c of [...this.#connections]) c.destroy();
    this.#connections.clear();
  }
}
