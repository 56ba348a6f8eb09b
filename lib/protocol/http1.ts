/**
 * HTTP/1.1 message heads (RFC 9112): a resumable parser with limits, and
 * writers that refuse header injection: the start line and the header
 * section. Bodies are `http1_body.ts`'s.
 *
 * Parsing is strict where leniency has caused request smuggling and
 * response splitting: lines end with CRLF only (a bare LF or bare CR is a
 * 400), no whitespace between a field name and its colon, tokens and field
 * values are checked octet by octet. Field values are read as Latin-1, one
 * character per octet, as `Headers` holds them.
 *
 * @module
 */

import { ArgumentCheck } from "../arguments.ts";
import { type ErrorCode, HttpParseError } from "../errors.ts";
import { DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_HEADERS } from "./limits.ts";
import { EMPTY } from "./bytes.ts";

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const COLON = 0x3a;

/** RFC 9110 §5.6.2: tchar, as a lookup table over ASCII. */
const TCHAR = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = TCHAR[c + 0x20] = 1;
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;

/**
 * True when `value` is an RFC 9110 §5.6.2 token (one or more tchar): the
 * form of methods, field names, subprotocols and extension names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isToken } from "./http1.ts";
 * assert.ok(isToken("chat.v1"));
 * assert.ok(!isToken("chat v1"));
 * assert.ok(!isToken(""));
 * ```
 */
export function isToken(value: string): boolean {
  if (value.length === 0) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** What every parsed head has. */
export interface HeadBase {
  /** The protocol version as sent, e.g. `"HTTP/1.1"`. Always `HTTP/1.x`. */
  version: string;
  /** The fields, names lowercased, repeated fields combined with `", "`. */
  headers: Headers;
  /** The fields as received, in order, names in their original case. */
  rawHeaders: Array<[name: string, value: string]>;
}

/** A parsed request head (RFC 9112 §3). */
export interface RequestHead extends HeadBase {
  /** Tells a request head from a response head. */
  kind: "request";
  /** The method, case-sensitive (RFC 9110 §9.1), e.g. `"GET"`. */
  method: string;
  /** The request-target as sent, e.g. `"/chat?room=1"`. */
  target: string;
}

/** A parsed response head (RFC 9112 §4). */
export interface ResponseHead extends HeadBase {
  /** Tells a response head from a request head. */
  kind: "response";
  /** The three-digit status code. */
  status: number;
  /** The reason phrase, possibly empty. */
  statusText: string;
}

/** A parsed request or response head. */
export type ParsedHead = RequestHead | ResponseHead;

/** Which head a parser reads. */
export type HeadKind = ParsedHead["kind"];

/** The head type a parser of kind `K` returns. */
export type HeadOf<K extends HeadKind> = K extends "request" ? RequestHead : ResponseHead;

/** Options of {@link HeadParser}. */
export interface HeadParserOptions<K extends HeadKind = HeadKind> {
  /** Whether a request or a response head is expected. */
  kind: K;
  /**
   * Largest head, in bytes, from the first byte up to and including the
   * blank line that ends it. Default {@link DEFAULT_MAX_HEAD_BYTES} (16 KiB);
   * range 16 … 2^31 − 1.
   */
  maxHeadBytes?: number;
  /** Most header field lines. Default {@link DEFAULT_MAX_HEADERS} (100); range 0 … 2^31 − 1. */
  maxHeaders?: number;
}

/**
 * Reads an HTTP/1.1 head from bytes arriving in pieces of any size.
 *
 * Each pushed chunk is scanned once, so feeding a head one byte at a time
 * costs the same as feeding it whole. Limits are checked as bytes arrive:
 * the push that carries the head past `maxHeadBytes` or `maxHeaders` throws,
 * and nothing past the limit is buffered. After an error every push throws
 * the same error.
 *
 * A leading empty line is skipped, as RFC 9112 §2.2 asks of servers (it
 * still counts toward the size limit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HeadParser } from "./http1.ts";
 * const p = new HeadParser({ kind: "request" });
 * const bytes = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a\r\n\r\nextra");
 * assert.equal(p.push(bytes.subarray(0, 10)), undefined); // not complete yet
 * const head = p.push(bytes.subarray(10))!;
 * assert.equal(head.method, "GET");
 * assert.equal(head.headers.get("host"), "a");
 * assert.equal(new TextDecoder().decode(p.rest), "extra");
 * ```
 */
export class HeadParser<K extends HeadKind = HeadKind> {
  /** Whether a request or a response head is expected. */
  readonly kind: K;
  /** The size limit in bytes. */
  readonly maxHeadBytes: number;
  /** The header count limit. */
  readonly maxHeaders: number;
  #rest: Uint8Array = EMPTY;
  #chunks: Uint8Array[] = [];
  #size = 0; // bytes buffered, all part of the head so far
  #lineStart = 0; // offset of the current line's first byte
  #headStart = 0; // offset of the start line, after leading empty lines
  #lines = 0; // complete non-empty lines: the start line plus field lines
  #lastByte = -1; // the last byte buffered, to see a CR before a LF across chunks
  #head: HeadOf<K> | undefined;
  #error: HttpParseError | undefined;

  /**
   * A parser for one head of the given kind, within the given size limits.
   *
   * @throws {InvalidArgumentError} for an unknown `kind` or a malformed option
   * @throws {ArgumentRangeError} for a limit out of its range
   */
  constructor(options: HeadParserOptions<K>) {
    const check = new ArgumentCheck("new HeadParser()");
    const o = check.options("options", options);
    if (o.kind !== "request" && o.kind !== "response") {
      throw check.type("options.kind", '"request" or "response"', o.kind);
    }
    this.kind = options.kind;
    this.maxHeadBytes = check.integer("options.maxHeadBytes", o.maxHeadBytes, 16, 0x7fff_ffff) ??
      DEFAULT_MAX_HEAD_BYTES;
    this.maxHeaders = check.integer("options.maxHeaders", o.maxHeaders, 0, 0x7fff_ffff) ??
      DEFAULT_MAX_HEADERS;
  }

  /**
   * The bytes that followed the head in the chunk that completed it (the
   * start of a body, or of WebSocket frames). A view into that chunk;
   * empty until the head is complete.
   */
  get rest(): Uint8Array {
    return this.#rest;
  }

  /** The parsed head once complete, else `undefined`. */
  get head(): HeadOf<K> | undefined {
    return this.#head;
  }

  /**
   * Feeds the next bytes. Returns the head when these bytes complete it
   * (the bytes after it are then in {@link HeadParser.rest}), else
   * `undefined`.
   *
   * @throws {HttpParseError} 431 `HEAD_TOO_LARGE` or `HEAD_TOO_MANY_HEADERS`
   *   past a limit; 400 when malformed; 505 `HEAD_VERSION_UNSUPPORTED` for a
   *   version other than HTTP/1.x
   * @throws {TypeError} when called again after the head was returned
   */
  push(chunk: Uint8Array): HeadOf<K> | undefined {
    if (this.#error) throw this.#error;
    if (this.#head) throw new TypeError("the head is already complete; read the rest from `rest`");
    try {
      return this.#scan(chunk);
    } catch (e) {
      if (e instanceof HttpParseError) {
        this.#error = e;
        this.#chunks = [];
      }
      throw e;
    }
  }

  #scan(chunk: Uint8Array): HeadOf<K> | undefined {
    const base = this.#size;
    // A LF at chunk offset i ends a head of base + i + 1 bytes, so only LFs
    // before `room` can end a head within the limit.
    const room = this.maxHeadBytes - base;
    const limit = Math.min(chunk.length, room);
    let i = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, i);
      if (lf === -1 || lf >= limit) break;
      // RFC 9112 §2.2: the line terminator is CRLF. A bare LF is refused
      // (the MAY to accept it is where smuggling starts).
      if ((lf > 0 ? chunk[lf - 1] : this.#lastByte) !== CR) {
        throw malformed("HEAD_BARE_LF", "a line ends with LF without CR");
      }
      const at = base + lf;
      if (at - 1 === this.#lineStart) {
        // An empty line: the end of the head, or one before the start line.
        if (this.#lines !== 0) return this.#finish(chunk, lf + 1, at + 1);
        this.#headStart = at + 1;
      } else if (++this.#lines > this.maxHeaders + 1) {
        throw new HttpParseError(
          "HEAD_TOO_MANY_HEADERS",
          `more than ${this.maxHeaders} header fields`,
          431,
        );
      }
      this.#lineStart = at + 1;
      i = lf + 1;
    }
    if (chunk.length >= room) {
      // RFC 6585 §5: 431 Request Header Fields Too Large.
      throw new HttpParseError(
        "HEAD_TOO_LARGE",
        `the head is larger than ${this.maxHeadBytes} bytes`,
        431,
      );
    }
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#size += chunk.length;
      this.#lastByte = chunk[chunk.length - 1];
    }
    return undefined;
  }

  #finish(chunk: Uint8Array, used: number, end: number): HeadOf<K> {
    let bytes: Uint8Array;
    if (this.#chunks.length === 0) {
      bytes = chunk.subarray(0, used);
    } else {
      bytes = new Uint8Array(end);
      let o = 0;
      for (const c of this.#chunks) {
        bytes.set(c, o);
        o += c.length;
      }
      bytes.set(chunk.subarray(0, used), o);
      this.#chunks = [];
    }
    this.#rest = chunk.subarray(used);
    this.#head = parseHead(this.kind, bytes, this.#headStart) as HeadOf<K>;
    return this.#head;
  }
}

function malformed(code: ErrorCode, message: string): HttpParseError {
  return new HttpParseError(code, message, 400);
}

/** Latin-1: one character per octet. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  let s = "";
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return s;
}

function isTokenBytes(bytes: Uint8Array, start: number, end: number): boolean {
  if (start >= end) return false;
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** RFC 9110 §5.5: field-vchar / SP / HTAB (so no CTL, no DEL). Also the reason-phrase set. */
function isFieldText(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if ((c < SP && c !== HTAB) || c === 0x7f) return false;
  }
  return true;
}

/** `HTTP/d.d` (RFC 9112 §2.3). Returns the major version, or -1 when malformed. */
function versionMajor(bytes: Uint8Array, start: number, end: number): number {
  if (
    end - start !== 8 || bytes[start] !== 0x48 || bytes[start + 1] !== 0x54 ||
    bytes[start + 2] !== 0x54 || bytes[start + 3] !== 0x50 || bytes[start + 4] !== 0x2f ||
    bytes[start + 6] !== 0x2e
  ) return -1;
  const major = bytes[start + 5] - 0x30, minor = bytes[start + 7] - 0x30;
  if (major < 0 || major > 9 || minor < 0 || minor > 9) return -1;
  return major;
}

function parseHead(kind: HeadKind, bytes: Uint8Array, start: number): ParsedHead {
  // Every line ends in CRLF (the scan checked), and the head ends in CRLFCRLF.
  let eol = bytes.indexOf(LF, start) - 1;
  let head: ParsedHead;
  if (kind === "request") {
    // RFC 9112 §3: request-line = method SP request-target SP HTTP-version
    const sp1 = bytes.indexOf(SP, start);
    const sp2 = sp1 === -1 || sp1 > eol ? -1 : bytes.indexOf(SP, sp1 + 1);
    if (sp2 === -1 || sp2 > eol) throw malformed("HEAD_BAD_START_LINE", "malformed request line");
    if (!isTokenBytes(bytes, start, sp1)) {
      throw malformed("HEAD_BAD_START_LINE", "malformed request method");
    }
    // RFC 9112 §3.2: the request-target has no whitespace; RFC 3986 allows visible ASCII only.
    if (sp2 === sp1 + 1) throw malformed("HEAD_BAD_START_LINE", "empty request target");
    for (let i = sp1 + 1; i < sp2; i++) {
      if (bytes[i] <= SP || bytes[i] >= 0x7f) {
        throw malformed("HEAD_BAD_START_LINE", "invalid character in the request target");
      }
    }
    const major = versionMajor(bytes, sp2 + 1, eol);
    if (major === -1) throw malformed("HEAD_BAD_START_LINE", "malformed HTTP version");
    if (major !== 1) {
      throw new HttpParseError("HEAD_VERSION_UNSUPPORTED", "only HTTP/1.x is supported", 505);
    }
    head = {
      kind,
      method: latin1(bytes, start, sp1),
      target: latin1(bytes, sp1 + 1, sp2),
      version: latin1(bytes, sp2 + 1, eol),
      headers: new Headers(),
      rawHeaders: [],
    };
  } else {
    // RFC 9112 §4: status-line = HTTP-version SP status-code SP [ reason-phrase ].
    // The SP before an empty reason is often left out; that is accepted.
    const major = versionMajor(bytes, start, start + 8);
    if (major === -1 || bytes[start + 8] !== SP) {
      throw malformed("HEAD_BAD_START_LINE", "malformed status line");
    }
    if (major !== 1) {
      throw new HttpParseError("HEAD_VERSION_UNSUPPORTED", "only HTTP/1.x is supported", 505);
    }
    const s = start + 9;
    let status = 0;
    for (let i = s; i < s + 3; i++) {
      const d = bytes[i] - 0x30;
      if (i >= eol || d < 0 || d > 9) {
        throw malformed("HEAD_BAD_START_LINE", "malformed status code");
      }
      status = status * 10 + d;
    }
    const afterCode = s + 3;
    if (afterCode !== eol && bytes[afterCode] !== SP) {
      throw malformed("HEAD_BAD_START_LINE", "malformed status line");
    }
    const reasonStart = Math.min(afterCode + 1, eol);
    if (!isFieldText(bytes, reasonStart, eol)) {
      throw malformed("HEAD_BAD_START_LINE", "invalid character in the reason phrase");
    }
    head = {
      kind,
      version: latin1(bytes, start, start + 8),
      status,
      statusText: latin1(bytes, reasonStart, eol),
      headers: new Headers(),
      rawHeaders: [],
    };
  }

  // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS
  const raw = head.rawHeaders;
  for (let line = eol + 2;; line = eol + 2) {
    eol = bytes.indexOf(LF, line) - 1;
    if (eol === line) break; // the empty line
    let from: number;
    if (bytes[line] === SP || bytes[line] === HTAB) {
      // RFC 9112 §5.2: obs-fold. A server MUST reject it or unfold it; we
      // reject. A user agent MUST replace it with SP, so responses unfold.
      if (kind === "request" || raw.length === 0) {
        throw malformed("HEAD_OBS_FOLD", "obsolete line folding in a header field");
      }
      from = line;
    } else {
      const colon = bytes.indexOf(COLON, line);
      // RFC 9112 §5.1: no whitespace between field name and colon; such a
      // field name is not a token, and the request is refused with 400.
      if (colon === -1 || colon > eol || !isTokenBytes(bytes, line, colon)) {
        throw malformed("HEAD_BAD_HEADER", "malformed header field name");
      }
      from = colon + 1;
    }
    let vs = from, ve = eol;
    while (vs < ve && (bytes[vs] === SP || bytes[vs] === HTAB)) vs++;
    while (ve > vs && (bytes[ve - 1] === SP || bytes[ve - 1] === HTAB)) ve--;
    if (!isFieldText(bytes, vs, ve)) {
      throw malformed("HEAD_BAD_HEADER", "invalid character in a header field value");
    }
    const value = latin1(bytes, vs, ve);
    if (from === line) {
      const last = raw[raw.length - 1];
      last[1] = last[1] === "" ? value : value === "" ? last[1] : `${last[1]} ${value}`;
    } else {
      raw.push([latin1(bytes, line, from - 1), value]);
    }
  }
  const headers = head.headers;
  for (const [name, value] of raw) headers.append(name, value);
  return head;
}

/** Fields to write: a `Headers`, or name/value pairs in order. */
export type HeaderEntries = Headers | Iterable<readonly [string, string]>;

function checkValue(value: string, what: string): void {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // CR, LF or NUL would let a value inject fields or a body (response
    // splitting); RFC 9110 §5.5 also excludes other CTLs and DEL. Characters
    // past U+00FF have no one-octet form.
    if ((c < SP && c !== HTAB) || c === 0x7f || c > 0xff) {
      throw new RangeError(`invalid character U+${c.toString(16).padStart(4, "0")} in ${what}`);
    }
  }
}

function fieldLines(headers: HeaderEntries): string {
  let s = "";
  for (const [name, value] of headers) {
    if (!isToken(name)) throw new RangeError(`invalid header field name ${JSON.stringify(name)}`);
    checkValue(value, `the ${name} header value`);
    s += `${name}: ${value}\r\n`;
  }
  return s;
}

function encodeLatin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Writes a request head: request line, fields in the given order, blank
 * line.
 *
 * @throws {RangeError} when the method or a field name is not a token, the
 *   target is empty or holds whitespace or controls, or a field value holds
 *   CR, LF, NUL or another control (header injection)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeRequestHead } from "./http1.ts";
 * const head = writeRequestHead("GET", "/chat", [["Host", "example.test"]]);
 * assert.equal(new TextDecoder().decode(head), "GET /chat HTTP/1.1\r\nHost: example.test\r\n\r\n");
 * ```
 */
export function writeRequestHead(
  method: string,
  target: string,
  headers: HeaderEntries = [],
): Uint8Array {
  if (!isToken(method)) throw new RangeError(`invalid method ${JSON.stringify(method)}`);
  if (target.length === 0) throw new RangeError("empty request target");
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= SP || c >= 0x7f) throw new RangeError("invalid character in the request target");
  }
  return encodeLatin1(`${method} ${target} HTTP/1.1\r\n${fieldLines(headers)}\r\n`);
}

/**
 * Writes a response head: status line, fields in the given order, blank
 * line.
 *
 * @throws {RangeError} when the status is not in 100 … 999, or the reason
 *   phrase, a field name or a field value holds what cannot be sent safely
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { writeResponseHead } from "./http1.ts";
 * const head = writeResponseHead(404, "Not Found", [["Content-Length", "0"]]);
 * assert.equal(new TextDecoder().decode(head), "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
 * ```
 */
export function writeResponseHead(
  status: number,
  statusText: string,
  headers: HeaderEntries = [],
): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`invalid status ${status}`);
  }
  checkValue(statusText, "the reason phrase");
  return encodeLatin1(`HTTP/1.1 ${status} ${statusText}\r\n${fieldLines(headers)}\r\n`);
}

/**
 * Standard reason phrases (RFC 9110 §15), for responses whose `statusText` is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STATUS_TEXT } from "./http1.ts";
 * assert.equal(STATUS_TEXT[426], "Upgrade Required");
 * ```
 */
export const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  417: "Expectation Failed",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};
