/**
 * sprig's HTTP/1.1 server side, one accepted socket at a time: read the
 * request head within limits, hand WebSocket upgrades to the host, answer
 * plain requests with the app's `fetch` (or 426), keep the connection alive
 * between requests.
 *
 * Only what a WebSocket server needs: request bodies framed by
 * `Content-Length` or chunked (RFC 9112 §6, §7.1), read whole within
 * `maxBodyBytes`, with `Expect: 100-continue` answered (RFC 9110 §10.1.1);
 * responses with `Content-Length` (a streamed `Response` body is read whole
 * first).
 *
 * @module
 */

import { HttpParseError } from "../../errors.ts";
import { listHas } from "../../protocol/field_list.ts";
import {
  HeadParser,
  type RequestHead,
  STATUS_TEXT,
  writeResponseHead,
} from "../../protocol/http1.ts";
import { BodyDecoder, type BodyFraming, requestBodyFraming } from "../../protocol/http1_body.ts";
import type { Accepted, WebSocketHost } from "../handler/host.ts";
import type { FetchInfo } from "./options.ts";
import type { AcceptedSocket } from "./listener.ts";
import { completeUpgrade } from "./socket_upgrade.ts";
import type { Awaitable } from "../handler/handler.ts";
import type { Transport } from "../../transport/transport.ts";
import { EMPTY } from "../../protocol/bytes.ts";
import { noop } from "../../util/noop.ts";

/** What one socket's HTTP loop needs from the server. @internal */
export interface HttpHost {
  host: WebSocketHost;
  fetch: ((request: Request, info: FetchInfo) => Awaitable<Response>) | undefined;
  maxHeadBytes: number;
  maxHeaders: number;
  handshakeTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxBodyBytes: number;
  /** Called with true while the socket waits for a request head, false while a request is handled. */
  setIdle(socket: AcceptedSocket, idle: boolean): void;
  /** The socket left the HTTP loop (closed, or became a WebSocket). */
  release(socket: AcceptedSocket): void;
}

/** A short plain-text response. */
function text(status: number, body: string, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "text/plain; charset=utf-8");
  return new Response(body, { status, headers: h });
}

/**
 * The request's URL from its target and `Host` (RFC 9112 §3.3), with the
 * connection's scheme. Throws when they do not make a URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestUrl } from "./http1_loop.ts";
 * const url = requestUrl({
 *   kind: "request",
 *   method: "GET",
 *   target: "/chat?x=1",
 *   version: "HTTP/1.1",
 *   headers: new Headers({ host: "a.test" }),
 *   rawHeaders: [],
 * }, true);
 * assert.equal(url.href, "https://a.test/chat?x=1");
 * ```
 */
export function requestUrl(head: RequestHead, secure: boolean): URL {
  const scheme = secure ? "https" : "http";
  const target = head.target;
  if (target.startsWith("/")) {
    const host = head.headers.get("host");
    // RFC 9112 §3.2: a request without Host (or with several) is a 400.
    if (!host || host.includes(",")) throw new TypeError("missing or repeated Host");
    const url = new URL(`${scheme}://${host}`);
    if (url.pathname !== "/" || url.search || url.username || url.password) {
      throw new TypeError("invalid Host");
    }
    return new URL(target, url);
  }
  const url = new URL(target); // absolute-form (RFC 9112 §3.2.2)
  if (!/^(?:https?|wss?):$/.test(url.protocol)) throw new TypeError("unsupported request target");
  return new URL(`${scheme}://${url.host}${url.pathname}${url.search}`);
}

/**
 * Writes a `Response` on a raw socket with `Content-Length` framing; the
 * body is read whole. `close` adds `Connection: close`; `headOnly` sends no
 * body (a HEAD request); `keepAliveTimeoutMs`, on a response after which
 * the connection stays open, adds `Keep-Alive: timeout=N` (whole seconds,
 * rounded down): clients that read it (undici's fetch, Node's http.Agent)
 * stop reusing an idle connection before the server closes it, rather than
 * sending a request into the close (RFC 9112 §9.3.2 warns of that race).
 * @internal
 */
export async function writeResponse(
  transport: Transport,
  response: Response,
  options: { close: boolean; headOnly?: boolean; keepAliveTimeoutMs?: number },
): Promise<void> {
  const status = response.status;
  // RFC 9110 §6.4.1: 204 and 304 responses never carry content.
  const bodiless = status === 204 || status === 304;
  const body = bodiless || response.body === null
    ? EMPTY
    : new Uint8Array(await response.arrayBuffer());
  const fields: Array<[string, string]> = [];
  for (const [name, value] of response.headers) {
    const lower = name.toLowerCase();
    if (
      lower === "content-length" || lower === "transfer-encoding" || lower === "connection" ||
      lower === "keep-alive"
    ) {
      continue; // the framing is sprig's
    }
    fields.push([name, value]);
  }
  // RFC 9110 §8.6: no Content-Length in a 204.
  if (status !== 204) fields.push(["Content-Length", String(body.length)]);
  if (options.close) fields.push(["Connection", "close"]);
  else if (options.keepAliveTimeoutMs !== undefined) {
    fields.push(["Keep-Alive", `timeout=${Math.floor(options.keepAliveTimeoutMs / 1000)}`]);
  }
  const head = writeResponseHead(status, response.statusText || STATUS_TEXT[status] || "", fields);
  await transport.write(body.length > 0 && !options.headOnly ? [head, body] : [head]);
}

/** The 100 (Continue) interim response (RFC 9110 §15.2.1). */
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

/**
 * Reads a request body as `framing` delimits it: first from `have`, then
 * from the socket. Returns the body and what followed it, `undefined` when
 * the socket ended first, or the parse error (413 past `maxBodyBytes`, 400
 * for malformed chunked framing).
 */
async function readRequestBody(
  transport: Transport,
  have: Uint8Array,
  framing: BodyFraming,
  maxBodyBytes: number,
): Promise<{ body: Uint8Array; rest: Uint8Array } | HttpParseError | undefined> {
  const decoder = new BodyDecoder(framing, { maxBodyBytes });
  try {
    if (have.length > 0 && !decoder.done) decoder.push(have);
    while (!decoder.done) {
      const chunk = await transport.read();
      if (chunk === null) return undefined;
      decoder.push(chunk);
    }
  } catch (error) {
    if (error instanceof HttpParseError) return error;
    throw error;
  }
  return { body: decoder.body, rest: framing.type === "none" ? have : decoder.rest };
}

/**
 * Serves one accepted socket until it closes or becomes a WebSocket: each
 * request's head (within the handshake, then the keep-alive, time), then
 * either the upgrade the host decides, or the app's `fetch` (or 426) and
 * keep-alive. Never throws. @internal
 */
export async function serveSocket(socket: AcceptedSocket, http: HttpHost): Promise<void> {
  let leftover: Uint8Array = EMPTY;
  let first = true;
  let handedOff = false;
  try {
    while (true) {
      // 1. The request head, within the handshake (or keep-alive) time.
      http.setIdle(socket, true);
      const limitMs = first ? http.handshakeTimeoutMs : http.keepAliveTimeoutMs;
      const deadline = new RequestDeadline(socket, limitMs, leftover.length > 0);
      const parsed = await readRequestHead(socket, http, leftover, deadline);
      if (parsed === undefined) return;
      http.setIdle(socket, false);
      first = false;
      const request = await targetOf(socket, parsed, deadline);
      if (request === undefined) return;

      // 2. A WebSocket upgrade (RFC 6455 §4.2.1): the host decides.
      if (listHas(request.head.headers.get("upgrade"), "websocket")) {
        const decision = await decideUpgrade(socket, http, request, deadline);
        if (decision === undefined) return;
        handedOff = true;
        http.release(socket);
        completeUpgrade(http.host, socket, decision, request.rest.slice());
        return;
      }

      // 3. A plain request: the app's fetch (or 426), then keep-alive or close.
      const next = await answerPlainRequest(socket, http, request, deadline);
      if (next === undefined) return;
      leftover = next;
    }
  } catch {
    socket.destroy();
  } finally {
    if (!handedOff) http.release(socket);
  }
}

/**
 * One request's time limit. Past it, mid-request (some of it arrived), a
 * 408 says why; between keep-alive requests the socket just closes. Either
 * way a lingering close (FIN, then read until the peer closes): dropping a
 * socket with unread input makes the kernel send a RST, which can destroy
 * the 408 before the peer reads it.
 */
class RequestDeadline {
  /** True once the limit passed (the socket is being closed). */
  timedOut = false;
  /** True once bytes of this request arrived. */
  seen: boolean;
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(socket: AcceptedSocket, limitMs: number, seen: boolean) {
    this.seen = seen;
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      if (this.seen) {
        socket.transport.write([encodeSimple(408, "request timeout")]).catch(noop).finally(() =>
          socket.close()
        );
      } else {
        socket.close();
      }
    }, limitMs);
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

/** A request head, what followed it, and its URL. */
interface ParsedRequest {
  head: RequestHead;
  rest: Uint8Array;
}

interface TargetedRequest extends ParsedRequest {
  url: URL;
}

/**
 * Reads a request head (after `leftover`, what followed the previous
 * request). Undefined when the socket ended, timed out or sent a head past
 * the limits or malformed (answered, then closed).
 */
async function readRequestHead(
  socket: AcceptedSocket,
  http: HttpHost,
  leftover: Uint8Array,
  deadline: RequestDeadline,
): Promise<ParsedRequest | undefined> {
  const transport = socket.transport;
  const parser = new HeadParser({
    kind: "request",
    maxHeadBytes: http.maxHeadBytes,
    maxHeaders: http.maxHeaders,
  });
  let head: RequestHead | undefined;
  try {
    if (leftover.length > 0) head = parser.push(leftover);
    while (!head) {
      const chunk = await transport.read();
      if (chunk === null || deadline.timedOut) {
        deadline.clear();
        socket.close();
        return undefined;
      }
      deadline.seen = true;
      head = parser.push(chunk);
    }
  } catch (error) {
    deadline.clear();
    if (deadline.timedOut) return undefined;
    if (error instanceof HttpParseError) {
      // 431 past the size limits (RFC 6585 §5), 400 when malformed, 505 for another version.
      await refuse(socket, deadline, text(error.status, error.message));
    } else {
      socket.destroy();
    }
    return undefined;
  }
  return { head, rest: parser.rest };
}

/** The request with its URL; undefined when its target or Host make none (400, then closed). */
async function targetOf(
  socket: AcceptedSocket,
  request: ParsedRequest,
  deadline: RequestDeadline,
): Promise<TargetedRequest | undefined> {
  try {
    return { ...request, url: requestUrl(request.head, socket.secure) };
  } catch {
    await refuse(socket, deadline, text(400, "bad request target or Host"));
    return undefined;
  }
}

/** The host's decision on an upgrade: the accepted one, or undefined (refused and closed, or timed out). */
async function decideUpgrade(
  socket: AcceptedSocket,
  http: HttpHost,
  request: TargetedRequest,
  deadline: RequestDeadline,
): Promise<Accepted | undefined> {
  const tls = socket.tlsInfo?.();
  const decision = await http.host.decide({
    head: request.head,
    url: request.url,
    remoteAddress: socket.transport.remoteAddress,
    negotiateExtensions: true,
    ...(tls ? { tls } : {}),
  });
  deadline.clear();
  if (deadline.timedOut) {
    if (decision.accepted) decision.release();
    return undefined;
  }
  if (!decision.accepted) {
    await refuse(socket, deadline, decision.response);
    return undefined;
  }
  return decision;
}

/**
 * Answers a plain request: 426 without `fetch`; else its body, `fetch`, the
 * response. Returns what followed the request when the connection stays
 * open for the next one, undefined when it closed.
 */
async function answerPlainRequest(
  socket: AcceptedSocket,
  http: HttpHost,
  request: TargetedRequest,
  deadline: RequestDeadline,
): Promise<Uint8Array | undefined> {
  if (!http.fetch) {
    // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
    const refusal = text(426, "this endpoint speaks WebSocket only", { Upgrade: "websocket" });
    await refuse(socket, deadline, refusal);
    return undefined;
  }
  const read = await readPlainBody(socket, http, request, deadline);
  if (read === undefined) return undefined;
  const response = await fetchResponse(http, socket, request, read.body);
  const { head } = request;
  const host = http.host;
  const keepAlive = head.version === "HTTP/1.1" &&
    !listHas(head.headers.get("connection"), "close") &&
    !host.shuttingDown;
  try {
    await writeResponse(socket.transport, response, {
      close: !keepAlive,
      headOnly: head.method === "HEAD",
      keepAliveTimeoutMs: http.keepAliveTimeoutMs,
    });
  } catch (error) {
    host.reportError(error);
    socket.destroy();
    return undefined;
  }
  if (!keepAlive) {
    socket.close();
    return undefined;
  }
  return read.rest.length > 0 ? read.rest.slice() : EMPTY;
}

/** Answers `response` and closes: the request is refused. */
async function refuse(
  socket: AcceptedSocket,
  deadline: RequestDeadline,
  response: Response,
): Promise<void> {
  deadline.clear();
  await writeResponse(socket.transport, response, { close: true }).catch(noop);
  socket.close();
}

/**
 * A plain request's body, as its framing delimits it (RFC 9112 §6.3), with
 * `Expect: 100-continue` answered; undefined when the request was refused
 * or the socket ended. What smuggling needs is refused (400), a transfer
 * coding other than chunked is not implemented (501), a body past
 * `maxBodyBytes` is 413: the connection closes after the answer.
 */
async function readPlainBody(
  socket: AcceptedSocket,
  http: HttpHost,
  request: TargetedRequest,
  deadline: RequestDeadline,
): Promise<{ body: Uint8Array; rest: Uint8Array } | undefined> {
  const { head, rest } = request;
  const transport = socket.transport;
  let framing: BodyFraming;
  try {
    framing = requestBodyFraming(head);
  } catch (error) {
    if (!(error instanceof HttpParseError)) throw error;
    await refuse(socket, deadline, text(error.status, error.message));
    return undefined;
  }
  // Known too large before reading: 413 at once, and no 100 Continue.
  if (framing.type === "length" && framing.length > http.maxBodyBytes) {
    await refuse(socket, deadline, text(413, "request body too large"));
    return undefined;
  }
  // RFC 9110 §10.1.1: 100-continue is the only expectation defined; any
  // other gets 417. An HTTP/1.0 request's expectation MUST be ignored.
  const expect = head.headers.get("expect");
  if (expect !== null && head.version !== "HTTP/1.0") {
    if (expect.trim().toLowerCase() !== "100-continue") {
      await refuse(socket, deadline, text(417, "the only expectation supported is 100-continue"));
      return undefined;
    }
    // The client waits for this before sending the body (it MAY send
    // it anyway, and then none is needed).
    if (framing.type !== "none" && rest.length === 0) await transport.write([CONTINUE]);
  }
  const read = await readRequestBody(transport, rest, framing, http.maxBodyBytes);
  if (read instanceof HttpParseError) {
    const message = read.status === 413 ? "request body too large" : read.message;
    await refuse(socket, deadline, text(read.status, message));
    return undefined;
  }
  deadline.clear();
  if (!read || deadline.timedOut) {
    socket.close();
    return undefined;
  }
  return read;
}

/** The app's response to a plain request; a 500 when `fetch` threw or gave no `Response`. */
async function fetchResponse(
  http: HttpHost,
  socket: AcceptedSocket,
  request: TargetedRequest,
  body: Uint8Array,
): Promise<Response> {
  const method = request.head.method;
  try {
    const hasBody = body.length > 0 && method !== "GET" && method !== "HEAD";
    const fetchRequest = new Request(request.url, {
      method,
      headers: request.head.headers,
      body: hasBody ? (body as Uint8Array<ArrayBuffer>) : undefined,
    });
    const response = await http.fetch!(fetchRequest, {
      remoteAddress: socket.transport.remoteAddress,
    });
    if (!(response instanceof Response)) throw new TypeError("fetch must return a Response");
    return response;
  } catch (error) {
    http.host.reportError(error);
    return text(500, "internal error");
  }
}

/** A tiny response written before anything else is known. */
function encodeSimple(status: number, body: string): Uint8Array {
  return new TextEncoder().encode(
    `HTTP/1.1 ${status} ${
      STATUS_TEXT[status] ?? ""
    }\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Connection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
  );
}
