/**
 * The server's HTTP/2 side (RFC 9113 with RFC 8441) on `node:http2`: the
 * connections `serve()` accepted with ALPN `h2` or the h2c preface are
 * handed to one internal `node:http2` server that advertises
 * `SETTINGS_ENABLE_CONNECT_PROTOCOL`; each extended CONNECT runs the same
 * handler host as an HTTP/1.1 upgrade (Origin check, limits, hooks,
 * pub/sub, shutdown), over a stream instead of a socket; other requests go
 * to `fetch`.
 *
 * Each WebSocket is one stream with HTTP/2's own flow control: a handler
 * that does not keep up pauses its stream only (no WINDOW_UPDATE), and the
 * other streams of the connection go on.
 *
 * @module
 */

import * as http2 from "node:http2";
import type * as net from "node:net";
import { concatBytes } from "../../protocol/bytes.ts";
import type { Http2Headers } from "../../protocol/extended_connect.ts";
import type { HttpHost } from "../http/http1_loop.ts";
import { startChannel } from "../http/socket_upgrade.ts";
import { nodeTlsInfo } from "../http/listen_node.ts";
import { NodeHttp2StreamTransport } from "../../transport/http2.ts";
import type { TransportAddress } from "../../transport/transport.ts";
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
import { EMPTY } from "../../protocol/bytes.ts";
import { noop } from "../../util/noop.ts";

/** The HTTP/2 connections of one `serve()`. @internal */
export class NodeHttp2Front {
  readonly #server: http2.Http2Server;
  readonly #http: HttpHost;
  readonly #secure: boolean;
  /** Open HTTP/2 connections and how many streams each has open. */
  readonly #sessions = new Map<http2.Http2Session, number>();
  #closing = false;

  constructor(http: HttpHost, secure: boolean) {
    this.#http = http;
    this.#secure = secure;
    this.#server = http2.createServer({
      settings: { enableConnectProtocol: true },
    });
    this.#server.on("session", (session) => this.#onSession(session));
    this.#server.on(
      "stream",
      (stream, headers) => void this.#onStream(stream as http2.ServerHttp2Stream, headers),
    );
    this.#server.on("error", noop);
  }

  /** The number of open HTTP/2 connections. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Takes a connection whose first bytes are (or whose ALPN chose) HTTP/2. */
  accept(socket: net.Socket): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#server.emit("connection", socket);
  }

  #onSession(session: http2.Http2Session): void {
    if (this.#closing) {
      session.destroy();
      return;
    }
    this.#sessions.set(session, 0);
    session.on("error", noop);
    session.once("close", () => this.#sessions.delete(session));
    // A connection with no stream open closes after the keep-alive time
    // (the first request within the handshake time); one carrying
    // WebSockets stays, as their idle timeouts are the handler's.
    session.setTimeout(
      Math.max(this.#http.handshakeTimeoutMs, this.#http.keepAliveTimeoutMs),
      () => {
        if ((this.#sessions.get(session) ?? 0) === 0) session.close();
      },
    );
  }

  #opened(stream: http2.ServerHttp2Stream): void {
    const session = stream.session;
    if (!session) return;
    this.#sessions.set(session, (this.#sessions.get(session) ?? 0) + 1);
    stream.once("close", () => {
      const n = this.#sessions.get(session);
      if (n !== undefined) this.#sessions.set(session, n - 1);
    });
  }

  async #onStream(stream: http2.ServerHttp2Stream, list: http2.IncomingHttpHeaders): Promise<void> {
    this.#opened(stream);
    stream.on("error", noop);
    const headers = list as Http2Headers;
    const host = this.#http.host;
    const remoteAddress = addressOf(stream);
    const url = checkRequestTarget(headers, this.#secure);
    if (url === undefined) return respondText(stream, 400, "bad :authority or :path");
    const head = requestHeadOf(headers);
    const method = head.method;

    // 1. A WebSocket: the extended CONNECT of RFC 8441.
    if (isExtendedConnect(method, headers)) {
      const tls = this.#secure ? nodeTlsInfo(stream.session?.socket) : undefined;
      const decision = await decideExtendedConnect(host, head, headers, url, remoteAddress, tls);
      if (!decision.accepted) return await respond(stream, decision.response, false);
      if (stream.closed || stream.destroyed) {
        decision.release();
        return;
      }
      const fields: http2.OutgoingHttpHeaders = { ":status": 200 };
      try {
        for (const [name, value] of acceptedConnectFields(decision)) fields[name] = value;
        stream.respond(fields, { endStream: false });
      } catch (error) {
        decision.release();
        host.reportError(error);
        if (!stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      const socket = new StreamSocket(new NodeHttp2StreamTransport(stream), this.#secure);
      startChannel(host, socket, decision, EMPTY);
      return;
    }

    // 2. A plain request: the app's fetch, or 426.
    const fetch = this.#http.fetch;
    if (method === "CONNECT") return respondText(stream, 405, "CONNECT is for WebSockets here");
    if (!fetch) return respondText(stream, 426, "this endpoint speaks WebSocket only");
    const body = await readBody(stream, this.#http.maxBodyBytes);
    if (body === undefined) return respondText(stream, 413, "request body too large");
    const response = await callFetch(this.#http, fetch, url, head, body, remoteAddress);
    await respond(stream, response, method === "HEAD");
  }

  /**
   * Graceful end: GOAWAY on every connection (streams in progress finish),
   * then, after `deadlineMs`, the connections still open are dropped.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    this.#closing = true;
    const sessions = [...this.#sessions.keys()];
    if (sessions.length === 0) return;
    const closed = sessions.map((s) =>
      new Promise<void>((resolve) => {
        if (s.closed || s.destroyed) return resolve();
        s.once("close", () => resolve());
        s.close();
      })
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
    ]);
    clearTimeout(timer);
    for (const s of this.#sessions.keys()) s.destroy();
    this.#sessions.clear();
  }

  /** Drops every connection now. */
  destroy(): void {
    this.#closing = true;
    for (const s of this.#sessions.keys()) s.destroy();
    this.#sessions.clear();
  }
}

/** The peer's address, from the connection's socket. */
function addressOf(stream: http2.ServerHttp2Stream): TransportAddress | undefined {
  const s = stream.session?.socket;
  return s?.remoteAddress !== undefined
    ? { hostname: s.remoteAddress, port: s.remotePort ?? 0, transport: "tcp" }
    : undefined;
}

/** A request body, read whole; undefined past `max` bytes. */
function readBody(stream: http2.ServerHttp2Stream, max: number): Promise<Uint8Array | undefined> {
  if (stream.readableEnded || stream.endAfterHeaders) return Promise.resolve(EMPTY);
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const onData = (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > max) {
        stream.off("data", onData);
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    stream.on("data", onData);
    stream.once("end", () => resolve(concatBytes(chunks, size)));
    stream.once("close", () => resolve(undefined));
  });
}

/** Sends a `Response` on a stream (its body read whole). */
async function respond(
  stream: http2.ServerHttp2Stream,
  response: Response,
  headOnly: boolean,
): Promise<void> {
  const status = response.status;
  const bodiless = status === 204 || status === 304;
  let body = EMPTY;
  try {
    body = bodiless || response.body === null
      ? EMPTY
      : new Uint8Array(await response.arrayBuffer());
  } catch {
    // A body that failed to read: the status and headers still go.
  }
  if (stream.closed || stream.destroyed) return;
  const fields: http2.OutgoingHttpHeaders = { ":status": status };
  for (const [name, value] of response.headers) {
    if (HOP_BY_HOP.has(name)) continue;
    const had = fields[name];
    fields[name] = had === undefined
      ? value
      : [...(Array.isArray(had) ? had : [String(had)]), value];
  }
  if (!bodiless) fields["content-length"] = String(body.length);
  const empty = body.length === 0 || headOnly;
  try {
    stream.respond(fields, { endStream: empty });
    if (!empty) stream.end(body);
  } catch {
    if (!stream.closed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }
}

function respondText(stream: http2.ServerHttp2Stream, status: number, text: string): Promise<void> {
  return respond(stream, textResponse(status, text), false);
}
