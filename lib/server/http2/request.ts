/**
 * What both HTTP/2 server fronts share (the one on `node:http2` and sprig's
 * own endpoint on Deno): reading a request's pseudo-headers, the response
 * fields of an accepted extended CONNECT (RFC 8441 §5), and calling the
 * application's `fetch`. No runtime imports.
 *
 * @module
 */

import { headersOf, type Http2Headers } from "../../protocol/extended_connect.ts";
import type { RequestHead } from "../../protocol/http1.ts";
import type { TlsInfo } from "../handler/handler.ts";
import type { Accepted, Refused, WebSocketHost } from "../handler/host.ts";
import type { HttpHost } from "../http/http1_loop.ts";
import type { AcceptedSocket } from "../http/listener.ts";
import type { Transport, TransportAddress } from "../../transport/transport.ts";

/**
 * Response fields HTTP/2 forbids (RFC 9113 §8.2.2: connection-specific), or
 * whose framing is HTTP/2's own. @internal
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "content-length",
]);

/**
 * The request's URL from `:authority` (or `host`) and `:path`, with the
 * connection's scheme; undefined when they do not make one. @internal
 */
export function checkRequestTarget(headers: Http2Headers, secure: boolean): URL | undefined {
  const authority = String(headers[":authority"] ?? headers["host"] ?? "");
  const path = String(headers[":path"] ?? "");
  try {
    const url = new URL(`${secure ? "https" : "http"}://${authority}`);
    if (url.pathname !== "/" || url.search || url.username || !path.startsWith("/")) {
      return undefined;
    }
    return new URL(path, url);
  } catch {
    return undefined;
  }
}

/** A short plain-text response. @internal */
export function textResponse(status: number, text: string): Response {
  return new Response(text, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** A header list's regular fields as name/value pairs. @internal */
export function rawOf(list: Http2Headers): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const name in list) {
    if (name.startsWith(":")) continue;
    const v = list[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) { for (const item of v) out.push([name, item]); }
    else out.push([name, String(v)]);
  }
  return out;
}

/** The request head a request's header list makes, for the handler host. @internal */
export function requestHeadOf(headers: Http2Headers): RequestHead {
  return {
    kind: "request",
    method: String(headers[":method"] ?? ""),
    target: String(headers[":path"] ?? ""),
    version: "HTTP/2",
    headers: headersOf(headers),
    rawHeaders: rawOf(headers),
  };
}

/**
 * The fields of the 200 that accepts an extended CONNECT: the hook's extra
 * headers (minus connection-specific ones and the handshake's own), the
 * subprotocol and the extensions. Throws when the hook's headers are
 * malformed. @internal
 */
export function acceptedConnectFields(decision: Accepted): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, value] of new Headers(decision.headers)) {
    if (!HOP_BY_HOP.has(name) && !name.startsWith("sec-websocket-")) out.push([name, value]);
  }
  if (decision.protocol !== undefined) out.push(["sec-websocket-protocol", decision.protocol]);
  if (decision.extensionsHeader !== undefined) {
    out.push(["sec-websocket-extensions", decision.extensionsHeader]);
  }
  return out;
}

/**
 * Runs the application's `fetch` for a plain request; a throw or a value
 * that is not a `Response` is reported and answered with 500. @internal
 */
export async function callFetch(
  http: HttpHost,
  fetch: NonNullable<HttpHost["fetch"]>,
  url: URL,
  head: RequestHead,
  body: Uint8Array,
  remoteAddress: TransportAddress | undefined,
): Promise<Response> {
  try {
    const method = head.method;
    const hasBody = body.length > 0 && method !== "GET" && method !== "HEAD";
    const request = new Request(url, {
      method,
      headers: head.headers,
      body: hasBody ? (body as Uint8Array<ArrayBuffer>) : undefined,
    });
    const response = await fetch(request, { remoteAddress });
    if (!(response instanceof Response)) throw new TypeError("fetch must return a Response");
    return response;
  } catch (error) {
    http.host.reportError(error);
    return textResponse(500, "internal error");
  }
}

/**
 * A WebSocket's stream as the handler host's socket: closing ends the
 * stream, not the connection. @internal
 */
export class StreamSocket implements AcceptedSocket {
  /** `transport` is the stream; `secure` says whether the connection is TLS. */
  constructor(readonly transport: Transport & { destroy(): void }, readonly secure: boolean) {}
  /** END_STREAM after what is queued (the orderly close of RFC 8441 §5). */
  close(): void {
    this.transport.close();
  }
  /** RST_STREAM (CANCEL). */
  destroy(): void {
    this.transport.destroy();
  }
}

/** True for an extended CONNECT (RFC 8441 §4): a WebSocket, for the host to decide. */
export function isExtendedConnect(method: string, headers: Http2Headers): boolean {
  return method === "CONNECT" && headers[":protocol"] !== undefined;
}

/**
 * The host's decision on an extended CONNECT (RFC 8441 §4–5, checked
 * instead of RFC 6455 §4.2.1), with the connection's TLS session if known.
 */
export function decideExtendedConnect(
  host: WebSocketHost,
  head: RequestHead,
  headers: Http2Headers,
  url: URL,
  remoteAddress: TransportAddress | undefined,
  tls: TlsInfo | undefined,
): Promise<Accepted | Refused> {
  return host.decide({
    head,
    url,
    remoteAddress,
    negotiateExtensions: true,
    extendedConnect: headers,
    ...(tls ? { tls } : {}),
  });
}
