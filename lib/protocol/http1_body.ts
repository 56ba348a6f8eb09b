/**
 * HTTP/1.1 message bodies (RFC 9112 §6, §7), sans I/O: how a body is
 * delimited, and a resumable decoder for each framing (Content-Length,
 * chunked, close-delimited), with limits.
 *
 * Used by the client to read a refused handshake's body, and by sprig's
 * server to read the body of a plain request for `fetch`.
 *
 * @module
 */

import { ArgumentCheck } from "../arguments.ts";
import { type ErrorCode, HttpParseError } from "../errors.ts";
import type { RequestHead, ResponseHead } from "./http1.ts";
import { EMPTY } from "./bytes.ts";

/**
 * How a message body is delimited (RFC 9112 §6.3): no body, a
 * `Content-Length`, the chunked transfer coding, or the end of the
 * connection (responses only).
 */
export type BodyFraming =
  | { type: "none" }
  | { type: "length"; length: number }
  | { type: "chunked" }
  | { type: "close" };

/** Options of {@link BodyDecoder}. */
export interface BodyDecoderOptions {
  /**
   * Largest decoded body, in bytes. The push that carries the body past it
   * throws `BODY_TOO_LARGE` (413); {@link BodyDecoder.body} then holds the
   * first `maxBodyBytes` bytes, for a caller that keeps a prefix. Default
   * 1 MiB; range 0 … 2^53 − 1.
   */
  maxBodyBytes?: number;
  /**
   * Most bytes of chunk extensions (RFC 9112 §7.1.1) and of the trailer
   * section (§7.1.2) together, which carry no body and are discarded.
   * Default 16 KiB (Node's `http` allows as much for extensions).
   */
  maxMetadataBytes?: number;
}

/** Default {@link BodyDecoderOptions.maxBodyBytes}: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Default {@link BodyDecoderOptions.maxMetadataBytes}: 16 KiB. */
export const DEFAULT_MAX_BODY_METADATA_BYTES = 16 * 1024;

const MAX = Number.MAX_SAFE_INTEGER;

/** The longest chunk-size in hex digits: 2^53 − 1 needs 14. */
const MAX_SIZE_DIGITS = 14;

function malformed(code: ErrorCode, message: string): HttpParseError {
  return new HttpParseError(code, message, 400);
}

/** The transfer codings listed in `Transfer-Encoding`, lowercased, or `undefined` without it. */
function transferCodings(headers: Headers): string[] | undefined {
  const value = headers.get("transfer-encoding");
  if (value === null) return undefined;
  return value.split(",").map((c) => c.trim().toLowerCase()).filter((c) => c !== "");
}

/**
 * RFC 9110 §8.6: `Content-Length` is 1*DIGIT; a list of identical values
 * (a field repeated, or a list in one line) MAY be taken as that value.
 * Returns `undefined` without the field.
 *
 * @throws {HttpParseError} 400 `BODY_BAD_LENGTH` when the value is not one
 *   length (RFC 9112 §6.3 item 5: unrecoverable)
 */
function contentLength(headers: Headers): number | undefined {
  const value = headers.get("content-length");
  if (value === null) return undefined;
  let length: number | undefined;
  for (const item of value.split(",")) {
    const digits = item.trim();
    if (!/^\d{1,15}$/.test(digits) || (length !== undefined && Number(digits) !== length)) {
      throw malformed("BODY_BAD_LENGTH", `invalid Content-Length ${JSON.stringify(value)}`);
    }
    length = Number(digits);
  }
  return length;
}

/**
 * How the body of a response is delimited (RFC 9112 §6.3), for a response
 * to a request other than HEAD or CONNECT.
 *
 * - 1xx, 204 and 304 have no body (item 1);
 * - `Transfer-Encoding` ending in `chunked` is chunked, any other
 *   `Transfer-Encoding` (or one in an HTTP/1.0 response, §6.1) reads to
 *   the end of the connection; it overrides `Content-Length` (items 3, 4);
 * - a valid `Content-Length` gives the length (item 6);
 * - otherwise the body ends when the connection closes (item 8).
 *
 * @throws {HttpParseError} 400 `BODY_BAD_LENGTH` for an invalid
 *   `Content-Length` without `Transfer-Encoding` (item 5)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { responseBodyFraming } from "./http1_body.ts";
 * import { HeadParser } from "./http1.ts";
 * const head = new HeadParser({ kind: "response" }).push(new TextEncoder().encode(
 *   "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n",
 * ))!;
 * assert.deepEqual(responseBodyFraming(head), { type: "chunked" });
 * ```
 */
export function responseBodyFraming(head: ResponseHead): BodyFraming {
  const status = head.status;
  if (status < 200 || status === 204 || status === 304) return { type: "none" };
  const codings = transferCodings(head.headers);
  if (codings !== undefined) {
    const chunked = codings.at(-1) === "chunked" && head.version !== "HTTP/1.0";
    return { type: chunked ? "chunked" : "close" };
  }
  const length = contentLength(head.headers);
  if (length === undefined) return { type: "close" };
  return length === 0 ? { type: "none" } : { type: "length", length };
}

/**
 * How the body of a request is delimited (RFC 9112 §6.3): chunked, a
 * `Content-Length`, or no body. The checks that keep request smuggling out
 * refuse what a lenient server would guess at.
 *
 * @throws {HttpParseError} 400 `BODY_BAD_FRAMING` for `Transfer-Encoding`
 *   together with `Content-Length` (item 3: the server MAY reject it, and
 *   sprig does), in an HTTP/1.0 request (§6.1), or with chunked not applied
 *   once as the final coding (item 4, §7); 501 `BODY_CODING_UNSUPPORTED` for
 *   a transfer coding other than chunked (§6.1); 400 `BODY_BAD_LENGTH` for
 *   an invalid `Content-Length` (item 5)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requestBodyFraming } from "./http1_body.ts";
 * import { HeadParser } from "./http1.ts";
 * const head = new HeadParser({ kind: "request" }).push(new TextEncoder().encode(
 *   "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
 * ))!;
 * assert.deepEqual(requestBodyFraming(head), { type: "length", length: 5 });
 * ```
 */
export function requestBodyFraming(head: RequestHead): BodyFraming {
  const codings = transferCodings(head.headers);
  if (codings !== undefined) {
    if (head.headers.has("content-length")) {
      throw malformed("BODY_BAD_FRAMING", "both Transfer-Encoding and Content-Length");
    }
    if (head.version === "HTTP/1.0") {
      throw malformed("BODY_BAD_FRAMING", "Transfer-Encoding in an HTTP/1.0 request");
    }
    const unknown = codings.find((c) => c !== "chunked");
    if (unknown !== undefined) {
      throw new HttpParseError(
        "BODY_CODING_UNSUPPORTED",
        `transfer coding ${JSON.stringify(unknown)} is not supported`,
        501,
      );
    }
    if (codings.length !== 1) {
      throw malformed("BODY_BAD_FRAMING", "the chunked transfer coding must be applied once");
    }
    return { type: "chunked" };
  }
  const length = contentLength(head.headers) ?? 0;
  return length === 0 ? { type: "none" } : { type: "length", length };
}

const CR = 0x0d;
const LF = 0x0a;

// Chunked decoder states.
const SIZE = 0; // hex digits of a chunk-size
const SIZE_LINE = 1; // after the size: chunk extensions, up to CR
const SIZE_LF = 2; // the LF after that CR
const DATA = 3; // chunk-data
const DATA_CR = 4; // the CRLF after chunk-data
const DATA_LF = 5;
const TRAILER = 6; // trailer field lines, up to the empty line
const TRAILER_LF = 7; // the LF ending a trailer line (or the empty one)
const DONE = 8;

/**
 * Decodes one message body from bytes arriving in pieces of any size:
 * copies a `Content-Length` body, removes the chunked framing (RFC 9112
 * §7.1; chunk extensions and trailer fields are checked for size and
 * discarded), or collects a close-delimited body until {@link end}.
 *
 * After an error every push throws the same error; what was decoded before
 * it stays in {@link body}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BodyDecoder } from "./http1_body.ts";
 * const decoder = new BodyDecoder({ type: "chunked" });
 * const bytes = new TextEncoder().encode("5\r\nno to\r\n4\r\nken!\r\n0\r\n\r\nnext");
 * decoder.push(bytes.subarray(0, 9));
 * decoder.push(bytes.subarray(9));
 * assert.ok(decoder.done);
 * assert.equal(new TextDecoder().decode(decoder.body), "no token!");
 * assert.equal(new TextDecoder().decode(decoder.rest), "next");
 * ```
 */
export class BodyDecoder {
  /** The framing being decoded. */
  readonly framing: BodyFraming;
  /** The body size limit, in bytes. */
  readonly maxBodyBytes: number;
  /** The limit on chunk extensions and trailers together, in bytes. */
  readonly maxMetadataBytes: number;
  #buffer: Uint8Array = EMPTY;
  #size = 0;
  #state: number;
  #remaining = 0; // bytes left of a Content-Length body or of the current chunk
  #digits = 0;
  #metadata = 0;
  #lineLength = 0; // bytes of the current trailer line
  #dataComplete = false;
  #inExt = false; // inside the chunk extensions of a size line
  #rest: Uint8Array = EMPTY;
  #error: HttpParseError | undefined;

  /**
   * A decoder for one body delimited by `framing` (see
   * {@link requestBodyFraming}, {@link responseBodyFraming}).
   *
   * @throws {InvalidArgumentError} for a malformed framing or option
   * @throws {ArgumentRangeError} when a limit is out of its range
   */
  constructor(framing: BodyFraming, options: BodyDecoderOptions = {}) {
    const check = new ArgumentCheck("new BodyDecoder()");
    const type = check.options("framing", framing).type;
    check.oneOf("framing.type", type, ["none", "length", "chunked", "close"]);
    if (type === "length") {
      check.integer("framing.length", (framing as { length?: unknown }).length ?? NaN, 0, MAX);
    }
    const o = check.options("options", options);
    this.framing = framing;
    this.maxBodyBytes = check.integer("options.maxBodyBytes", o.maxBodyBytes, 0, MAX) ??
      DEFAULT_MAX_BODY_BYTES;
    this.maxMetadataBytes = check.integer("options.maxMetadataBytes", o.maxMetadataBytes, 0, MAX) ??
      DEFAULT_MAX_BODY_METADATA_BYTES;
    this.#state = framing.type === "chunked" ? SIZE : DATA;
    if (framing.type === "length") this.#remaining = framing.length;
    if (framing.type === "none") this.#finish();
  }

  /** The body decoded so far (the whole body once {@link done}). A view, valid until the next push. */
  get body(): Uint8Array {
    return this.#buffer.subarray(0, this.#size);
  }

  /**
   * True once the body's data is complete: its length reached, the last
   * chunk seen (trailers may still follow), or the connection ended.
   */
  get dataComplete(): boolean {
    return this.#dataComplete;
  }

  /** True once the whole message is read, trailers included; {@link rest} then holds what followed. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** The bytes after the body in the push that completed it (the next message, pipelined). */
  get rest(): Uint8Array {
    return this.#rest;
  }

  /**
   * Feeds the next bytes. Bytes past the end of the body are kept in
   * {@link rest}; pushing after {@link done} is an error.
   *
   * @throws {HttpParseError} 413 `BODY_TOO_LARGE` past `maxBodyBytes`; 400
   *   `BODY_BAD_CHUNK` for malformed chunked framing, `BODY_METADATA_TOO_LARGE`
   *   (431) past `maxMetadataBytes`
   * @throws {TypeError} when the body is already complete
   */
  push(chunk: Uint8Array): void {
    if (this.#error) throw this.#error;
    if (this.#state === DONE) {
      throw new TypeError("the body is complete; read the rest from `rest`");
    }
    try {
      if (this.framing.type === "chunked") this.#chunked(chunk);
      else this.#plain(chunk);
    } catch (e) {
      if (e instanceof HttpParseError) this.#error = e;
      throw e;
    }
  }

  /**
   * The connection ended. Completes a close-delimited body.
   *
   * @throws {HttpParseError} 400 `BODY_INCOMPLETE` when a body with a
   *   length, or a chunked one, was not complete
   */
  end(): void {
    if (this.#error) throw this.#error;
    if (this.#state === DONE) return;
    if (this.framing.type === "close") return this.#finish();
    this.#error = malformed("BODY_INCOMPLETE", "the connection ended inside the body");
    throw this.#error;
  }

  #plain(chunk: Uint8Array): void {
    if (this.framing.type === "close") {
      this.#append(chunk);
      return;
    }
    const take = Math.min(chunk.length, this.#remaining);
    this.#append(chunk.subarray(0, take));
    this.#remaining -= take;
    if (this.#remaining === 0) {
      this.#rest = chunk.subarray(take);
      this.#finish();
    }
  }

  #chunked(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.#state) {
        case SIZE: {
          // RFC 9112 §7.1: chunk-size = 1*HEXDIG
          const c = chunk[i];
          const d = hexValue(c);
          if (d !== -1) {
            if (++this.#digits > MAX_SIZE_DIGITS) {
              throw malformed("BODY_BAD_CHUNK", "chunk size too large");
            }
            this.#remaining = this.#remaining * 16 + d;
            i++;
            break;
          }
          if (this.#digits === 0) throw malformed("BODY_BAD_CHUNK", "malformed chunk size");
          this.#state = SIZE_LINE;
          break;
        }
        case SIZE_LINE: {
          // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ),
          // ignored (§7.1.1: a recipient MUST ignore unrecognized extensions);
          // before the first ";" only whitespace may follow the size.
          while (!this.#inExt && i < n && chunk[i] !== CR) {
            const c = chunk[i++];
            if (c === 0x3b) this.#inExt = true;
            else if (c !== 0x20 && c !== 0x09) {
              throw malformed("BODY_BAD_CHUNK", "malformed chunk size");
            }
            this.#addMetadata(1);
          }
          const cr = chunk.indexOf(CR, i);
          const end = cr === -1 ? n : cr;
          if (chunk.subarray(i, end).includes(LF)) {
            throw malformed("BODY_BAD_CHUNK", "a chunk line ends with LF without CR");
          }
          this.#addMetadata(end - i);
          i = end;
          if (i < n) {
            this.#state = SIZE_LF;
            i++;
          }
          break;
        }
        case SIZE_LF:
          if (chunk[i++] !== LF) {
            throw malformed("BODY_BAD_CHUNK", "a chunk line ends with CR alone");
          }
          this.#inExt = false;
          this.#digits = 0;
          if (this.#remaining === 0) {
            // last-chunk: the data is complete; the trailer section follows.
            this.#dataComplete = true;
            this.#state = TRAILER;
            this.#lineLength = 0;
          } else {
            this.#state = DATA;
          }
          break;
        case DATA: {
          const take = Math.min(n - i, this.#remaining);
          this.#append(chunk.subarray(i, i + take));
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#state = DATA_CR;
          break;
        }
        case DATA_CR:
          if (chunk[i++] !== CR) {
            throw malformed("BODY_BAD_CHUNK", "chunk data is longer than its size");
          }
          this.#state = DATA_LF;
          break;
        case DATA_LF:
          if (chunk[i++] !== LF) {
            throw malformed("BODY_BAD_CHUNK", "chunk data is longer than its size");
          }
          this.#state = SIZE;
          break;
        case TRAILER: {
          // trailer-section = *( field-line CRLF ), then CRLF. Fields are discarded.
          const cr = chunk.indexOf(CR, i);
          const end = cr === -1 ? n : cr;
          if (chunk.subarray(i, end).includes(LF)) {
            throw malformed("BODY_BAD_CHUNK", "a trailer line ends with LF without CR");
          }
          this.#lineLength += end - i;
          this.#addMetadata(end - i);
          i = end;
          if (cr !== -1) {
            this.#state = TRAILER_LF;
            i++;
          }
          break;
        }
        case TRAILER_LF:
          if (chunk[i++] !== LF) {
            throw malformed("BODY_BAD_CHUNK", "a trailer line ends with CR alone");
          }
          if (this.#lineLength === 0) {
            this.#rest = chunk.subarray(i);
            this.#finish();
            return;
          }
          this.#lineLength = 0;
          this.#state = TRAILER;
          break;
      }
    }
  }

  #addMetadata(n: number): void {
    this.#metadata += n;
    if (this.#metadata > this.maxMetadataBytes) {
      throw new HttpParseError(
        "BODY_METADATA_TOO_LARGE",
        `chunk extensions and trailers exceed ${this.maxMetadataBytes} bytes`,
        431,
      );
    }
  }

  #append(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    if (this.#size + n > this.maxBodyBytes) {
      this.#append(data.subarray(0, this.maxBodyBytes - this.#size));
      this.#tooLarge();
    }
    const need = this.#size + n;
    if (need > this.#buffer.length) {
      const hint = this.framing.type === "length" ? this.framing.length : 2 * need;
      const grown = new Uint8Array(Math.min(this.maxBodyBytes, Math.max(need, hint, 1024)));
      grown.set(this.#buffer.subarray(0, this.#size));
      this.#buffer = grown;
    }
    this.#buffer.set(data, this.#size);
    this.#size = need;
  }

  #tooLarge(): never {
    throw new HttpParseError(
      "BODY_TOO_LARGE",
      `the body is larger than ${this.maxBodyBytes} bytes`,
      413,
    );
  }

  #finish(): void {
    this.#state = DONE;
    this.#dataComplete = true;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}
