/**
 * The opening handshake over HTTP/1.1 (RFC 6455 §4), sans I/O: build the
 * client's request and check the server's response; check the client's
 * request and build the server's response or refusal.
 *
 * Every refusal is a {@link HandshakeError} with a stable `code`
 * ({@link HandshakeCode}). On the client it carries the server's status,
 * headers and body; on the server it carries the status and headers to
 * answer with (see {@link createRejectResponse}).
 *
 * @module
 */

import { ArgumentCheck } from "../arguments.ts";
import { type ErrorCode, HandshakeError } from "../errors.ts";
import { checkExtensionFactories, type Extension, type ExtensionFactory } from "./extension.ts";
import { acceptAsClient, negotiateAsServer, offerHeader } from "./extension_negotiate.ts";
import { decodeBase64, encodeBase64 } from "./base64.ts";
import {
  isToken,
  type RequestHead,
  type ResponseHead,
  STATUS_TEXT,
  writeRequestHead,
  writeResponseHead,
} from "./http1.ts";
import { listHas } from "./field_list.ts";
import { sha1 } from "./sha1.ts";

/** The GUID of RFC 6455 §1.3, appended to the key before hashing. */
export const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** The only protocol version, RFC 6455 §4.1. */
export const WEBSOCKET_VERSION = "13";

/**
 * Stable `code`s of the {@link HandshakeError}s this module raises. The
 * extension codes are those of {@link acceptAsClient} and
 * {@link negotiateAsServer}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HandshakeError } from "../errors.ts";
 * import { checkClientRequest, HandshakeCode } from "./handshake.ts";
 * import { HeadParser } from "./http1.ts";
 * const request = new TextEncoder().encode("POST / HTTP/1.1\r\nHost: a\r\n\r\n");
 * const head = new HeadParser({ kind: "request" }).push(request)!;
 * assert.throws(
 *   () => checkClientRequest(head),
 *   (e) => e instanceof HandshakeError && e.code === HandshakeCode.Method && e.status === 405,
 * );
 * ```
 */
export const HandshakeCode = {
  /** Client: the response status was not 101. */
  Refused: "HANDSHAKE_REFUSED",
  /** Either side: `Upgrade` missing or not `websocket`. */
  Upgrade: "HANDSHAKE_UPGRADE",
  /** Either side: `Connection` lacks the `upgrade` option. */
  Connection: "HANDSHAKE_CONNECTION",
  /** Client: `Sec-WebSocket-Accept` missing or wrong. */
  AcceptMismatch: "ACCEPT_MISMATCH",
  /** Client: the server chose a subprotocol that was not offered. */
  ProtocolNotOffered: "PROTOCOL_NOT_OFFERED",
  /** Server: the method was not GET (405). */
  Method: "HANDSHAKE_METHOD",
  /** Server: the HTTP version was below 1.1 (400). */
  HttpVersion: "HANDSHAKE_HTTP_VERSION",
  /** Server: the request target is not a path or a ws/http URI (400). */
  Target: "HANDSHAKE_TARGET",
  /** Server: `Host` missing, empty or repeated (400). */
  Host: "HANDSHAKE_HOST",
  /** Server: `Sec-WebSocket-Key` not the base64 of 16 bytes (400). */
  KeyInvalid: "HANDSHAKE_KEY_INVALID",
  /** Server: `Sec-WebSocket-Version` not 13 (426). */
  Version: "HANDSHAKE_VERSION",
  /** Server: `Sec-WebSocket-Protocol` is not a list of tokens (400). */
  ProtocolInvalid: "HANDSHAKE_PROTOCOL_INVALID",
} as const;

const encoder = new TextEncoder();

/**
 * The fields of a `HeadersInit`, validated (a `TypeError` otherwise), in the
 * caller's order and case when given as pairs or a record.
 */
function fieldsOf(init: HeadersInit | undefined): Array<[string, string]> {
  if (init === undefined) return [];
  new Headers(init); // validates names and values, as fetch() would
  if (init instanceof Headers) return [...init];
  if (Symbol.iterator in init) {
    return [...(init as Iterable<Iterable<string>>)].map((pair) => {
      const [name, value] = pair;
      return [name, value.trim()];
    });
  }
  return Object.entries(init as Record<string, string>).map(([n, v]) => [n, v.trim()]);
}

/**
 * The `Sec-WebSocket-Accept` value for a key: base64 of the SHA-1 of the
 * key followed by {@link WEBSOCKET_GUID} (RFC 6455 §4.2.2 step 5.4).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptKey } from "./handshake.ts";
 * assert.equal(acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); // RFC 6455 §1.3
 * ```
 */
export function acceptKey(key: string): string {
  return encodeBase64(sha1(encoder.encode(key + WEBSOCKET_GUID)));
}

/**
 * A fresh `Sec-WebSocket-Key`: base64 of 16 random bytes (RFC 6455 §4.1:
 * a nonce randomly selected for each connection).
 *
 * @param random returns `n` random bytes; defaults to `crypto.getRandomValues`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateKey } from "./handshake.ts";
 * const key = generateKey();
 * assert.match(key, /^[A-Za-z0-9+/]{22}==$/); // 16 random bytes, base64
 * assert.notEqual(generateKey(), key);
 * ```
 */
export function generateKey(
  random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n)),
): string {
  const bytes = random(16);
  if (bytes.length !== 16) throw new RangeError("the key source must return 16 bytes");
  return encodeBase64(bytes);
}

/** Options of {@link createClientRequest}. */
export interface ClientRequestOptions {
  /** The server's URL: `ws:`, `wss:`, `http:` or `https:`, without a fragment. */
  url: string | URL;
  /** Subprotocols to offer, most preferred first: unique tokens. */
  protocols?: readonly string[];
  /** Extensions to offer, most preferred first. */
  extensions?: readonly ExtensionFactory[];
  /**
   * Extra request fields. The handshake's own fields (`Upgrade`,
   * `Connection`, `Sec-WebSocket-*`) cannot be set here; `Host` can, to
   * address a virtual host other than the URL's.
   */
  headers?: HeadersInit;
  /** The key to send; generated when absent. Must be the base64 of 16 bytes. */
  key?: string;
  /** The `Origin` field to send (browsers send one; other clients may). */
  origin?: string;
}

/** A client's handshake request, and what is needed to check the response. */
export interface ClientRequest {
  /** The `Sec-WebSocket-Key` sent. */
  key: string;
  /** The request head to write. */
  head: Uint8Array;
  /** The URL, parsed. */
  url: URL;
  /** True for `wss:` and `https:`: connect with TLS. */
  secure: boolean;
  /** The host to connect to, without IPv6 brackets. */
  hostname: string;
  /** The port to connect to. */
  port: number;
  /** The `Host` value sent. */
  host: string;
  /** The request target sent: path and query. */
  path: string;
  /** The subprotocols offered. */
  protocols: readonly string[];
  /** The extension factories whose offers were sent. */
  extensions: readonly ExtensionFactory[];
}

const CLIENT_OWN = new Set([
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-accept",
]);

/**
 * Builds the client's opening handshake request (RFC 6455 §4.1).
 *
 * Fields, in order: `Host` (with the port when not the scheme's default;
 * IPv6 literals bracketed), `Upgrade: websocket`, `Connection: Upgrade`,
 * `Sec-WebSocket-Key`, `Sec-WebSocket-Version: 13`, then
 * `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` when something is
 * offered, `Origin` when given, `Authorization: Basic` when the URL has
 * user information (and no `Authorization` is given), then the extra fields.
 *
 * User information in the URL (`ws://user:pass@host/`) is percent-decoded
 * to bytes (RFC 3986 §2.1) and sent as Basic credentials (RFC 7617 §2),
 * so `%FF` is the octet 0xFF and non-ASCII characters go as their UTF-8.
 *
 * @throws {InvalidArgumentError} (a `TypeError`, whose `argument` names the
 *   option) for a URL that is not a string or URL, is invalid, of another
 *   scheme, has a fragment, or has user information that is not valid
 *   percent-encoding or not valid Basic credentials (a colon in the user
 *   name, a control character); for subprotocols that are not unique
 *   tokens; for an invalid key; for header names or values `fetch()` would
 *   refuse, or fields that would override the handshake's own; for an
 *   `Origin` that cannot be sent
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createClientRequest } from "./handshake.ts";
 * const req = createClientRequest({ url: "ws://example.test:8080/chat", protocols: ["chat.v1"] });
 * assert.equal(req.host, "example.test:8080");
 * assert.equal(req.path, "/chat");
 * assert.equal(req.port, 8080);
 * const head = new TextDecoder().decode(req.head);
 * assert.ok(head.startsWith("GET /chat HTTP/1.1\r\nHost: example.test:8080\r\n"));
 * assert.ok(head.includes("\r\nSec-WebSocket-Protocol: chat.v1\r\n"));
 * ```
 */
export function createClientRequest(options: ClientRequestOptions): ClientRequest {
  const check = new ArgumentCheck("createClientRequest()");
  check.options("options", options);
  const url = parseWebSocketUrl(check, "url", options.url);
  const secure = url.protocol === "wss:" || url.protocol === "https:";
  // WHATWG URL omits a scheme's default port and brackets IPv6 literals.
  const host = url.host;
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  const path = (url.pathname || "/") + url.search;

  const protocols = check.strings("protocols", options.protocols) ?? [];
  const seen = new Set<string>();
  protocols.forEach((p, i) => {
    // RFC 6455 §4.1: each subprotocol MUST be a non-empty token, and unique.
    if (!isToken(p)) throw check.type(`protocols[${i}]`, "a token (RFC 9110 §5.6.2)", p);
    if (seen.has(p)) throw check.type(`protocols[${i}]`, "unique: it is offered twice", p);
    seen.add(p);
  });

  const key = check.string("key", options.key) ?? generateKey();
  // RFC 6455 §4.1: the key MUST be a base64-encoded 16-byte value.
  if (decodeBase64(key)?.length !== 16) throw check.type("key", "the base64 of 16 bytes", key);
  const origin = check.string("origin", options.origin);

  const extensions = (checkExtensionFactories(check, "extensions", options.extensions) ?? [])
    .filter((f) => f.offer().length > 0);
  const extensionsHeader = offerHeader(extensions);

  let extra: Array<[string, string]>;
  try {
    extra = fieldsOf(options.headers);
  } catch (e) {
    throw check.type(
      "headers",
      `fields fetch() accepts (${(e as Error).message})`,
      options.headers,
      e,
    );
  }
  let hostOverride: string | undefined;
  let hasAuthorization = false;
  for (const [name, value] of extra) {
    const lower = name.toLowerCase();
    if (CLIENT_OWN.has(lower)) {
      throw check.type("headers", `free of the handshake's own fields, such as ${name}`, name);
    }
    if (lower === "host") {
      if (hostOverride !== undefined) throw check.type("headers", "one Host field at most", value);
      hostOverride = value;
    } else if (lower === "origin" && origin !== undefined) {
      throw check.type("headers", "free of Origin when the origin option is given", value);
    } else if (lower === "authorization") {
      hasAuthorization = true;
    }
  }

  const fields: Array<[string, string]> = [
    ["Host", hostOverride ?? host],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", key],
    ["Sec-WebSocket-Version", WEBSOCKET_VERSION],
  ];
  if (protocols.length > 0) fields.push(["Sec-WebSocket-Protocol", protocols.join(", ")]);
  if (extensionsHeader !== undefined) fields.push(["Sec-WebSocket-Extensions", extensionsHeader]);
  if (origin !== undefined) {
    if (!isFieldValue(origin)) throw check.type("origin", "a valid header value", origin);
    fields.push(["Origin", origin]);
  }
  if ((url.username !== "" || url.password !== "") && !hasAuthorization) {
    fields.push(["Authorization", `Basic ${encodeBase64(basicCredentials(check, url))}`]);
  }
  for (const field of extra) if (field[0].toLowerCase() !== "host") fields.push(field);

  let head: Uint8Array;
  try {
    head = writeRequestHead("GET", path, fields);
  } catch (e) {
    // Only a Host override can still hold what the writer refuses.
    throw check.type(
      "headers",
      `fields that can be sent (${(e as Error).message})`,
      hostOverride,
      e,
    );
  }
  return {
    key,
    head,
    url,
    secure,
    hostname,
    port,
    host: fields[0][1],
    path,
    protocols,
    extensions,
  };
}

/** Hides user information in a URL given for an error message. */
function redact(url: unknown): unknown {
  return typeof url === "string" ? url.replace(/\/\/[^/?#]*@/, "//…@") : url;
}

/**
 * Parses a WebSocket URL (RFC 6455 §3): `ws:`, `wss:`, or `http:` and
 * `https:` as the WHATWG WebSocket API allows, without a fragment.
 */
function parseWebSocketUrl(check: ArgumentCheck, argument: string, value: unknown): URL {
  if (typeof value !== "string" && !(value instanceof URL)) {
    throw check.type(argument, "a string or a URL", redact(value));
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch (e) {
    throw check.type(argument, "a valid absolute URL", redact(String(value)), e);
  }
  if (!/^(?:wss?|https?):$/.test(url.protocol)) {
    throw check.type(argument, "a ws:, wss:, http: or https: URL", url.protocol);
  }
  // RFC 6455 §3: fragment identifiers MUST NOT be used on WebSocket URIs.
  // An empty fragment ("…#") only shows in the serialization.
  if (url.hash !== "" || url.href.endsWith("#")) {
    throw check.type(argument, "a URL without a fragment", url.hash || "#");
  }
  return url;
}

/**
 * The Basic credentials of a URL's user information (RFC 7617 §2):
 * user-id ":" password, each percent-decoded to octets (RFC 3986 §2.1).
 */
function basicCredentials(check: ArgumentCheck, url: URL): Uint8Array {
  const user = percentDecode(url.username);
  const password = percentDecode(url.password);
  if (user === undefined || password === undefined) {
    throw check.problem(
      "url",
      'has user information that is not valid percent-encoding (RFC 3986 §2.1: "%" and two hex digits)',
    );
  }
  // RFC 7617 §2: a user-id containing a colon is invalid, and neither part
  // may contain control characters.
  if (user.includes(0x3a)) {
    throw check.problem(
      "url",
      "has a user name with a colon, which Basic credentials cannot carry (RFC 7617 §2)",
    );
  }
  if ([user, password].some((part) => part.some((b) => b < 0x20 || b === 0x7f))) {
    throw check.problem(
      "url",
      "has user information with a control character, which Basic credentials cannot carry (RFC 7617 §2)",
    );
  }
  const out = new Uint8Array(user.length + 1 + password.length);
  out.set(user);
  out[user.length] = 0x3a;
  out.set(password, user.length + 1);
  return out;
}

/** RFC 3986 §2.1: percent-decodes to octets; other characters go as UTF-8. `undefined` when a % is not followed by two hex digits. */
function percentDecode(text: string): Uint8Array | undefined {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
      out.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      out.push(c);
    } else {
      // The URL parser encodes these already; a URL object built otherwise may not.
      const ch = String.fromCodePoint(text.codePointAt(i)!);
      out.push(...encoder.encode(ch));
      i += ch.length - 1;
    }
  }
  return new Uint8Array(out);
}

/** RFC 9110 §5.5: a field value: no CR, LF, NUL or other controls, one octet per character. */
function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** What a successful handshake agreed on. */
export interface HandshakeResult {
  /** The subprotocol the server chose, or `""` for none. */
  protocol: string;
  /** The negotiated extensions, in the order they run. */
  extensions: Extension[];
  /** The response fields. */
  headers: Headers;
}

/**
 * Checks the server's response to {@link createClientRequest}'s request
 * (RFC 6455 §4.1, "the client MUST validate the server's response").
 *
 * @param request the request that was sent
 * @param head the parsed response head
 * @param body the response body read so far, kept in a refusal's error
 * @throws {HandshakeError} carrying the response's status, headers and body:
 *   `HANDSHAKE_REFUSED` (not 101), `HANDSHAKE_UPGRADE`, `HANDSHAKE_CONNECTION`,
 *   `ACCEPT_MISMATCH`, `PROTOCOL_NOT_OFFERED`, or an extension code of
 *   {@link acceptAsClient}
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptKey, checkServerResponse, createClientRequest } from "./handshake.ts";
 * import { HeadParser } from "./http1.ts";
 * const req = createClientRequest({ url: "ws://example.test/" });
 * const head = new HeadParser({ kind: "response" }).push(new TextEncoder().encode(
 *   `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
 *     `Sec-WebSocket-Accept: ${acceptKey(req.key)}\r\n\r\n`,
 * ))!;
 * assert.equal(checkServerResponse(req, head).protocol, "");
 * ```
 */
export function checkServerResponse(
  request: Pick<ClientRequest, "key" | "protocols" | "extensions">,
  head: ResponseHead,
  body: Uint8Array = new Uint8Array(0),
): HandshakeResult {
  const headers = head.headers;
  const response = { status: head.status, headers, body };
  const fail = (code: ErrorCode, message: string): never => {
    throw new HandshakeError(code, message, response);
  };
  // RFC 6455 §4.1: a status other than 101 is handled per HTTP; the
  // connection does not become a WebSocket.
  if (head.status !== 101) {
    fail(
      HandshakeCode.Refused,
      `the server refused the WebSocket upgrade: ${head.status} ${head.statusText}`.trimEnd(),
    );
  }
  // RFC 6455 §4.1: Upgrade MUST be "websocket", ASCII case-insensitive.
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    fail(HandshakeCode.Upgrade, "the response's Upgrade header is not websocket");
  }
  // RFC 6455 §4.1: Connection MUST contain the token "Upgrade", case-insensitive.
  if (!listHas(headers.get("connection"), "upgrade")) {
    fail(HandshakeCode.Connection, "the response's Connection header lacks upgrade");
  }
  // RFC 6455 §4.1: Sec-WebSocket-Accept MUST be base64(SHA-1(key + GUID)).
  if (headers.get("sec-websocket-accept") !== acceptKey(request.key)) {
    fail(
      HandshakeCode.AcceptMismatch,
      "the response's Sec-WebSocket-Accept does not match the key",
    );
  }
  return checkNegotiation(request, response);
}

/**
 * The client's checks of what the server chose, shared by HTTP/1.1 and
 * HTTP/2 (RFC 8441 §5 keeps these fields): a subprotocol and extensions
 * that were offered. @internal
 *
 * @throws {HandshakeError} `PROTOCOL_NOT_OFFERED`, or an extension code of {@link acceptAsClient}
 */
export function checkNegotiation(
  request: Pick<ClientRequest, "protocols" | "extensions">,
  response: { status: number; headers: Headers; body: Uint8Array },
): HandshakeResult {
  const headers = response.headers;
  // RFC 6455 §4.1: a subprotocol that was not requested fails the connection.
  const protocol = headers.get("sec-websocket-protocol");
  if (protocol !== null && !request.protocols.includes(protocol)) {
    throw new HandshakeError(
      HandshakeCode.ProtocolNotOffered,
      request.protocols.length === 0
        ? "the server chose a subprotocol, but none was offered"
        : `the server chose subprotocol ${JSON.stringify(protocol)}, which was not offered`,
      response,
    );
  }
  // RFC 6455 §4.1: so does an extension that was not requested.
  const extensions = acceptAsClient(
    request.extensions,
    headers.get("sec-websocket-extensions"),
    response,
  );
  return { protocol: protocol ?? "", extensions, headers };
}

/** Options of {@link checkClientRequest}. */
export interface ServerHandshakeOptions {
  /**
   * The subprotocols the server speaks, or a function choosing one from the
   * client's offer (called only when the client offers some; return
   * `undefined` for none). With a list, the choice is the first protocol in
   * the *client's* order that the list contains: the client states its
   * preference, the server states what it supports.
   */
  protocols?: readonly string[] | ((offered: string[]) => string | undefined);
  /** The server's extensions, most preferred first. */
  extensions?: readonly ExtensionFactory[];
}

/** A valid client request, and what the server agreed to. */
export interface CheckedRequest {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The subprotocols the client offered, in its order. */
  protocols: string[];
  /** The chosen subprotocol, if any. */
  protocol: string | undefined;
  /** The accepted extensions; dispose them if the upgrade goes no further. */
  extensions: Extension[];
  /** The `Sec-WebSocket-Extensions` response value, if any was accepted. */
  extensionsHeader: string | undefined;
  /** The `Origin` field, if sent: check it against cross-site WebSocket hijacking. */
  origin: string | undefined;
  /** The `Host` field. */
  host: string;
  /** The path and query requested. */
  path: string;
}

/**
 * Checks a client's opening handshake request (RFC 6455 §4.2.1) and
 * negotiates the subprotocol and extensions.
 *
 * Checks, in order, each refused with a {@link HandshakeError} whose status
 * and headers are the response to send:
 * - method GET, else 405 with `Allow: GET` (`HANDSHAKE_METHOD`);
 * - HTTP/1.1 or later, else 400 (`HANDSHAKE_HTTP_VERSION`);
 * - a path or an absolute ws/wss/http/https target, else 400 (`HANDSHAKE_TARGET`);
 * - one non-empty `Host`, else 400 (`HANDSHAKE_HOST`);
 * - `Upgrade` listing `websocket`, else 426 with `Upgrade: websocket`
 *   (`HANDSHAKE_UPGRADE`);
 * - `Connection` listing `upgrade`, else 426 with `Upgrade: websocket`
 *   (`HANDSHAKE_CONNECTION`): without it the Upgrade field does not apply
 *   (RFC 9110 §7.8), so this is a plain request to an upgrade-only resource;
 * - `Sec-WebSocket-Version: 13`, else 426 with `Sec-WebSocket-Version: 13`
 *   (`HANDSHAKE_VERSION`, RFC 6455 §4.4); checked before the key, whose
 *   form other versions may define differently;
 * - `Sec-WebSocket-Key` the base64 of 16 bytes, else 400 (`HANDSHAKE_KEY_INVALID`);
 * - `Sec-WebSocket-Protocol` a list of tokens, else 400 (`HANDSHAKE_PROTOCOL_INVALID`);
 * - a well-formed `Sec-WebSocket-Extensions` when the server has extensions,
 *   else 400 (`EXTENSIONS_HEADER_MALFORMED`).
 *
 * @throws {HandshakeError} as above
 * @throws {TypeError} when a `protocols` function returns a protocol that was not offered
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkClientRequest, createServerResponse } from "./handshake.ts";
 * import { HeadParser } from "./http1.ts";
 * const head = new HeadParser({ kind: "request" }).push(new TextEncoder().encode(
 *   "GET /chat HTTP/1.1\r\nHost: example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
 *     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
 *     "Sec-WebSocket-Protocol: chat, superchat\r\n\r\n",
 * ))!;
 * const accepted = checkClientRequest(head, { protocols: ["superchat", "chat"] });
 * assert.equal(accepted.protocol, "chat"); // the client's first that the server speaks
 * const response = new TextDecoder().decode(createServerResponse(accepted));
 * assert.ok(response.startsWith("HTTP/1.1 101 Switching Protocols\r\n"));
 * assert.ok(response.includes("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
 * ```
 */
export function checkClientRequest(
  head: RequestHead,
  options: ServerHandshakeOptions = {},
): CheckedRequest {
  const headers = head.headers;
  const fail = (code: ErrorCode, message: string, status: number, extra?: HeadersInit): never => {
    throw new HandshakeError(code, message, { status, headers: extra });
  };
  // RFC 6455 §4.2.1 item 1: an HTTP/1.1 or higher GET request.
  if (head.method !== "GET") {
    fail(HandshakeCode.Method, "the WebSocket handshake is a GET request", 405, { Allow: "GET" });
  }
  if (head.version < "HTTP/1.1") {
    fail(HandshakeCode.HttpVersion, "the WebSocket handshake needs HTTP/1.1 or later", 400);
  }
  // RFC 6455 §4.2.1 item 1: the Request-URI is the resource name, or an
  // absolute http(s) URI (ws(s) accepted too) whose host the client names.
  let path = head.target;
  if (!path.startsWith("/")) {
    let url: URL | undefined;
    try {
      url = new URL(path);
    } catch {
      // not an absolute URI
    }
    if (url === undefined || !/^(?:wss?|https?):$/.test(url.protocol) || url.hash !== "") {
      fail(HandshakeCode.Target, "the request target is not a path or a WebSocket URI", 400);
    }
    path = (url!.pathname || "/") + url!.search;
  }
  // RFC 6455 §4.2.1 item 2 and RFC 9112 §3.2: exactly one Host field.
  const host = headers.get("host");
  if (!host || head.rawHeaders.filter(([n]) => n.toLowerCase() === "host").length !== 1) {
    fail(HandshakeCode.Host, "the request needs exactly one Host header", 400);
  }
  // RFC 6455 §4.2.1 item 3: Upgrade contains "websocket", case-insensitive.
  // RFC 9110 §15.5.22: a 426 names the protocol to upgrade to.
  if (!listHas(headers.get("upgrade"), "websocket")) {
    fail(HandshakeCode.Upgrade, "the request does not ask to upgrade to websocket", 426, {
      Upgrade: "websocket",
    });
  }
  // RFC 6455 §4.2.1 item 4: Connection contains "Upgrade", case-insensitive.
  if (!listHas(headers.get("connection"), "upgrade")) {
    fail(HandshakeCode.Connection, "the request's Connection header lacks upgrade", 426, {
      Upgrade: "websocket",
    });
  }
  // RFC 6455 §4.2.1 item 6 and §4.4: version 13, else 426 naming the
  // versions this server speaks.
  if (headers.get("sec-websocket-version") !== WEBSOCKET_VERSION) {
    fail(HandshakeCode.Version, "unsupported Sec-WebSocket-Version; this server speaks 13", 426, {
      "Sec-WebSocket-Version": WEBSOCKET_VERSION,
    });
  }
  // RFC 6455 §4.2.1 item 5: the key, base64-decoded, is 16 bytes long. Two
  // key fields combine into "a, b", which is not base64.
  const key = headers.get("sec-websocket-key") ?? "";
  if (decodeBase64(key)?.length !== 16) {
    fail(HandshakeCode.KeyInvalid, "Sec-WebSocket-Key is not the base64 of 16 bytes", 400);
  }
  const { protocols, protocol } = chooseSubprotocol(
    headers.get("sec-websocket-protocol"),
    options.protocols,
  );
  // Last, as it builds live extensions that a refusal above would leak.
  const { header: extensionsHeader, extensions } = negotiateAsServer(
    options.extensions ?? [],
    headers.get("sec-websocket-extensions"),
  );
  return {
    key,
    protocols,
    protocol,
    extensions,
    extensionsHeader,
    origin: headers.get("origin") ?? undefined,
    host: host!,
    path,
  };
}

/**
 * Parses the client's `Sec-WebSocket-Protocol` and picks the server's
 * subprotocol (RFC 6455 §4.2.1 item 8, §4.2.2), as {@link checkClientRequest}
 * does; shared with the HTTP/2 handshake (RFC 8441 §5). @internal
 *
 * @throws {HandshakeError} 400 (`HANDSHAKE_PROTOCOL_INVALID`) for a malformed list
 * @throws {TypeError} when a `protocols` function returns a protocol that was not offered
 */
export function chooseSubprotocol(
  header: string | null,
  supported: ServerHandshakeOptions["protocols"],
): { protocols: string[]; protocol: string | undefined } {
  // RFC 6455 §4.2.1 item 8: a comma-separated list of subprotocol tokens.
  const protocols: string[] = [];
  if (header !== null) {
    for (const item of header.split(",")) {
      const p = item.trim();
      if (p === "") continue;
      if (!isToken(p)) {
        throw new HandshakeError(
          HandshakeCode.ProtocolInvalid,
          "malformed Sec-WebSocket-Protocol",
          {
            status: 400,
          },
        );
      }
      protocols.push(p);
    }
  }
  let protocol: string | undefined;
  if (protocols.length > 0 && supported !== undefined) {
    if (typeof supported === "function") {
      protocol = supported([...protocols]) || undefined;
      // RFC 6455 §4.2.2: the server's choice MUST be one the client offered.
      if (protocol !== undefined && !protocols.includes(protocol)) {
        throw new TypeError(`the chosen subprotocol ${JSON.stringify(protocol)} was not offered`);
      }
    } else {
      protocol = protocols.find((p) => supported.includes(p));
    }
  }
  return { protocols, protocol };
}

/** Options of {@link createServerResponse}. */
export interface ServerResponseOptions {
  /** The client's `Sec-WebSocket-Key`. */
  key: string;
  /** The chosen subprotocol, if any. */
  protocol?: string;
  /** The `Sec-WebSocket-Extensions` value, if any extension was accepted. */
  extensionsHeader?: string;
  /** Extra response fields (not the handshake's own, nor a body's). */
  headers?: HeadersInit;
}

const SERVER_OWN = new Set([
  "upgrade",
  "connection",
  "sec-websocket-accept",
  "sec-websocket-protocol",
  "sec-websocket-extensions",
  "sec-websocket-key",
  "sec-websocket-version",
  // RFC 9110 §8.6, RFC 9112 §6.1: no body framing in a 1xx response.
  "content-length",
  "transfer-encoding",
]);

/**
 * Builds the server's 101 response (RFC 6455 §4.2.2 step 5). Takes the
 * result of {@link checkClientRequest} as is.
 *
 * @throws {TypeError} when extra fields would override the handshake's own
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createServerResponse } from "./handshake.ts";
 * const head = createServerResponse({ key: "dGhlIHNhbXBsZSBub25jZQ==", protocol: "chat" });
 * assert.equal(
 *   new TextDecoder().decode(head),
 *   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
 *     "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
 * );
 * ```
 */
export function createServerResponse(options: ServerResponseOptions): Uint8Array {
  const extra = fieldsOf(options.headers);
  for (const [name] of extra) {
    if (SERVER_OWN.has(name.toLowerCase())) {
      throw new TypeError(`the ${name} header is the handshake's own`);
    }
  }
  const fields: Array<[string, string]> = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", acceptKey(options.key)],
  ];
  if (options.protocol !== undefined) {
    if (!isToken(options.protocol)) throw new TypeError("the subprotocol must be a token");
    fields.push(["Sec-WebSocket-Protocol", options.protocol]);
  }
  if (options.extensionsHeader !== undefined) {
    fields.push(["Sec-WebSocket-Extensions", options.extensionsHeader]);
  }
  for (const entry of extra) fields.push(entry);
  try {
    return writeResponseHead(101, "Switching Protocols", fields);
  } catch (e) {
    throw new TypeError((e as Error).message, { cause: e });
  }
}

const REPLACED = new Set(["connection", "content-length", "transfer-encoding"]);

/**
 * Builds a complete refusal: status line with the standard reason phrase,
 * the given fields, `Connection: close`, `Content-Length`, and the body. A
 * string body is sent as UTF-8 with `Content-Type: text/plain;
 * charset=utf-8` unless a content type is given. `Connection`,
 * `Content-Length` and `Transfer-Encoding` are always sprig's own; given
 * values are replaced.
 *
 * @throws {RangeError} for a status outside 200 … 599, or unsafe fields
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createRejectResponse } from "./handshake.ts";
 * const bytes = createRejectResponse(426, { "Sec-WebSocket-Version": "13" }, "upgrade required");
 * assert.equal(
 *   new TextDecoder().decode(bytes),
 *   "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n" +
 *     "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 16\r\n\r\n" +
 *     "upgrade required",
 * );
 * ```
 */
export function createRejectResponse(
  status: number,
  headers?: HeadersInit,
  body?: string | Uint8Array,
): Uint8Array {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`a refusal status is in 200 … 599, not ${status}`);
  }
  const entries = fieldsOf(headers).filter(([name]) => !REPLACED.has(name.toLowerCase()));
  let payload: Uint8Array;
  if (typeof body === "string") {
    payload = encoder.encode(body);
    if (!entries.some(([name]) => name.toLowerCase() === "content-type")) {
      entries.push(["Content-Type", "text/plain; charset=utf-8"]);
    }
  } else {
    payload = body ?? new Uint8Array(0);
  }
  entries.push(["Connection", "close"], ["Content-Length", String(payload.length)]);
  const head = writeResponseHead(status, STATUS_TEXT[status] ?? "", entries);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}
