/**
 * The WebSocket handshake over HTTP/2 (RFC 8441): the client's extended
 * CONNECT request as a header list, and the server's checks of one. Pure:
 * header lists in, header lists or errors out; `node:http2` carries them.
 *
 * RFC 8441 §5 keeps RFC 6455's fields (`Origin`, `Sec-WebSocket-Version`,
 * `-Protocol`, `-Extensions`) and drops the key/accept exchange and the
 * `Upgrade`/`Connection` fields: the `:protocol` pseudo-header does their
 * work. After a 200 the stream carries RFC 6455 frames, client frames
 * masked as ever.
 *
 * @module
 */

import { type ErrorCode, HandshakeError } from "../errors.ts";
import { negotiateAsServer } from "./extension_negotiate.ts";
import {
  type CheckedRequest,
  checkNegotiation,
  chooseSubprotocol,
  type ClientRequest,
  HandshakeCode,
  type HandshakeResult,
  type ServerHandshakeOptions,
  WEBSOCKET_VERSION,
} from "./handshake.ts";
import { HeadParser } from "./http1.ts";

/** An HTTP/2 header list as `node:http2` takes and gives it (names lower case). */
export type Http2Headers = Record<string, string | string[] | number | undefined>;

/**
 * Fields of an HTTP/1.1 handshake that HTTP/2 forbids or RFC 8441 §5
 * replaces: connection-specific fields (RFC 9113 §8.2.2) and the key.
 */
const DROPPED = new Set([
  "host",
  "upgrade",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "sec-websocket-key",
]);

/**
 * The extended CONNECT header list for a client request made by
 * `createClientRequest()` (RFC 8441 §4–5): `:method CONNECT`,
 * `:protocol websocket`, `:scheme` (`https` for `wss:`, `http` for
 * `ws:`), `:path` (path and query), `:authority` (the `Host` the HTTP/1.1
 * request would send), then its fields in lower case without `Host`,
 * `Upgrade`, `Connection` and `Sec-WebSocket-Key`;
 * `sec-websocket-version: 13` stays.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createClientRequest } from "./handshake.ts";
 * import { extendedConnectHeaders } from "./extended_connect.ts";
 * const request = createClientRequest({ url: "wss://example.test/chat", protocols: ["chat"] });
 * const headers = extendedConnectHeaders(request);
 * assert.equal(headers[":method"], "CONNECT");
 * assert.equal(headers[":protocol"], "websocket"); // RFC 8441 §4
 * assert.equal(headers[":authority"], "example.test");
 * assert.equal(headers["sec-websocket-protocol"], "chat");
 * assert.ok(!("sec-websocket-key" in headers)); // no key over HTTP/2 (RFC 8441 §5)
 * ```
 */
export function extendedConnectHeaders(request: ClientRequest): Http2Headers {
  const head = new HeadParser({ kind: "request", maxHeadBytes: request.head.length + 1 })
    .push(request.head)!;
  const headers: Http2Headers = {
    ":method": "CONNECT",
    ":protocol": "websocket",
    ":scheme": request.secure ? "https" : "http",
    ":path": request.path,
    ":authority": head.headers.get("host") ?? request.host,
  };
  for (const [name, value] of head.rawHeaders) {
    const lower = name.toLowerCase();
    if (DROPPED.has(lower)) continue;
    const had = headers[lower];
    if (had === undefined) headers[lower] = value;
    else headers[lower] = Array.isArray(had) ? [...had, value] : [String(had), value];
  }
  return headers;
}

/** A header list's field as one string (repeated fields joined with ", "), or null. */
function field(headers: Http2Headers, name: string): string | null {
  const v = headers[name];
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(", ") : String(v);
}

/** A header list's regular fields as `Headers` (pseudo-headers left out). */
export function headersOf(list: Http2Headers): Headers {
  const out = new Headers();
  for (const name in list) {
    if (name.startsWith(":")) continue;
    const v = list[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) { for (const item of v) out.append(name, item); }
    else out.append(name, String(v));
  }
  return out;
}

/**
 * Checks the server's response to an extended CONNECT (RFC 8441 §5): a
 * 2xx (200 is what §5 has a server send; RFC 9110 §9.3.6 has any 2xx open
 * a tunnel) whose subprotocol and extensions were offered. No
 * `Sec-WebSocket-Accept` is involved.
 *
 * @throws {HandshakeError} with the response's status, headers and body:
 *   `HANDSHAKE_REFUSED` for another status, `PROTOCOL_NOT_OFFERED`, or an
 *   extension code
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createClientRequest } from "./handshake.ts";
 * import { checkExtendedConnectResponse } from "./extended_connect.ts";
 * const request = createClientRequest({ url: "ws://example.test/", protocols: ["chat"] });
 * const result = checkExtendedConnectResponse(request, {
 *   ":status": 200,
 *   "sec-websocket-protocol": "chat",
 * });
 * assert.equal(result.protocol, "chat");
 * ```
 */
export function checkExtendedConnectResponse(
  request: Pick<ClientRequest, "protocols" | "extensions">,
  list: Http2Headers,
  body: Uint8Array = new Uint8Array(0),
): HandshakeResult {
  const status = Number(list[":status"]);
  const response = { status, headers: headersOf(list), body };
  if (!(status >= 200 && status < 300)) {
    throw new HandshakeError(
      HandshakeCode.Refused,
      `the server refused the WebSocket (extended CONNECT): ${status}`,
      response,
    );
  }
  return checkNegotiation(request, response);
}

/** Codes of {@link checkExtendedConnect}'s refusals. */
export const ExtendedConnectCode = {
  /** `:protocol` is not `websocket` (501, RFC 9220 §3 / RFC 8441 §4). */
  Protocol: "EXTENDED_CONNECT_PROTOCOL",
  /** `:scheme`, `:path` or `:authority` missing or malformed (400, RFC 8441 §4). */
  PseudoHeader: "EXTENDED_CONNECT_PSEUDO_HEADER",
} as const;

/**
 * Checks an extended CONNECT request (RFC 8441 §4–5) and negotiates the
 * subprotocol and extensions as {@link checkClientRequest} does for
 * HTTP/1.1. Each refusal is a {@link HandshakeError} whose status and
 * headers are the response to send:
 * - `:method` CONNECT, else 405 (`HANDSHAKE_METHOD`);
 * - `:protocol` websocket, else 501 (`EXTENDED_CONNECT_PROTOCOL`);
 * - `:scheme` `http` or `https`, `:path` starting with `/`, and a
 *   non-empty `:authority`, else 400 (`EXTENDED_CONNECT_PSEUDO_HEADER`);
 * - `sec-websocket-version: 13`, else 426 with `sec-websocket-version: 13`
 *   (`HANDSHAKE_VERSION`, RFC 6455 §4.4);
 * - `sec-websocket-protocol` a list of tokens, else 400;
 * - a well-formed `sec-websocket-extensions` when the server has extensions, else 400.
 *
 * The result's `key` is empty (RFC 8441 §5 has none) and `host` is `:authority`.
 *
 * @throws {HandshakeError} as above
 * @throws {TypeError} when a `protocols` function returns a protocol that was not offered
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkExtendedConnect } from "./extended_connect.ts";
 * const checked = checkExtendedConnect({
 *   ":method": "CONNECT", ":protocol": "websocket", ":scheme": "https",
 *   ":path": "/chat", ":authority": "example.test", "sec-websocket-version": "13",
 *   "sec-websocket-protocol": "chat, superchat",
 * }, { protocols: ["superchat"] });
 * assert.equal(checked.protocol, "superchat");
 * assert.equal(checked.path, "/chat");
 * ```
 */
export function checkExtendedConnect(
  list: Http2Headers,
  options: ServerHandshakeOptions = {},
): CheckedRequest {
  const fail = (code: ErrorCode, message: string, status: number, extra?: HeadersInit): never => {
    throw new HandshakeError(code, message, { status, headers: extra });
  };
  // RFC 8441 §4: a CONNECT carrying :protocol.
  if (field(list, ":method") !== "CONNECT") {
    fail(HandshakeCode.Method, "a WebSocket over HTTP/2 is an extended CONNECT", 405);
  }
  // RFC 8441 §5: the value MUST be "websocket"; another protocol gets 501
  // (RFC 9220 §3 says so for the same setting over HTTP/3).
  if (field(list, ":protocol") !== "websocket") {
    fail(ExtendedConnectCode.Protocol, "the only :protocol supported is websocket", 501);
  }
  // RFC 8441 §4: unlike a plain CONNECT, :scheme and :path MUST be present.
  const scheme = field(list, ":scheme");
  const path = field(list, ":path") ?? "";
  const authority = field(list, ":authority") ?? "";
  if (scheme !== "http" && scheme !== "https") {
    fail(ExtendedConnectCode.PseudoHeader, ":scheme must be http or https", 400);
  }
  if (!path.startsWith("/")) fail(ExtendedConnectCode.PseudoHeader, ":path must be a path", 400);
  if (authority === "" || /[\s/?#@]/.test(authority)) {
    fail(ExtendedConnectCode.PseudoHeader, ":authority must name the host", 400);
  }
  if (field(list, "sec-websocket-version") !== WEBSOCKET_VERSION) {
    fail(HandshakeCode.Version, "unsupported sec-websocket-version; this server speaks 13", 426, {
      "sec-websocket-version": WEBSOCKET_VERSION,
    });
  }
  const { protocols, protocol } = chooseSubprotocol(
    field(list, "sec-websocket-protocol"),
    options.protocols,
  );
  // Last, as it builds live extensions that a refusal above would leak.
  const { header: extensionsHeader, extensions } = negotiateAsServer(
    options.extensions ?? [],
    field(list, "sec-websocket-extensions"),
  );
  return {
    key: "",
    protocols,
    protocol,
    extensions,
    extensionsHeader,
    origin: field(list, "origin") ?? undefined,
    host: authority,
    path,
  };
}
