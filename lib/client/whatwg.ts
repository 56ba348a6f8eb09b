/**
 * What the WHATWG WebSockets Standard's two interfaces, {@link WebSocket}
 * and {@link WebSocketStream}, share: its common algorithms ("get a URL
 * record", the subprotocol check, "validate close code and reason") and the
 * WebIDL conversions and interface shape they are specified with. @internal
 *
 * @module
 */

import { CloseCode } from "../errors.ts";

/** A `token` of RFC 9110 §5.6.2: what a subprotocol name may be (RFC 6455 §4.1). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * WHATWG WebSockets, "get a URL record": `url` parsed against the API base
 * URL (`globalThis.location.href` when the runtime has one, as Deno's
 * `--location` sets it), `http:`/`https:` turned into `ws:`/`wss:`.
 *
 * @throws {DOMException} `SyntaxError` for a URL that does not parse, has
 *   another scheme or a fragment
 */
export function getURLRecord(url: string): URL {
  let parsed: URL;
  try {
    const base = apiBaseURL();
    parsed = base === undefined ? new URL(url) : new URL(url, base);
  } catch {
    throw new DOMException(`invalid URL: ${url}`, "SyntaxError");
  }
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  if (parsed.protocol !== "ws:" && parsed.protocol !== "wss:") {
    throw new DOMException(
      `the URL's scheme must be ws:, wss:, http: or https:, not ${parsed.protocol}`,
      "SyntaxError",
    );
  }
  if (parsed.hash !== "" || parsed.href.endsWith("#")) {
    throw new DOMException("a WebSocket URL cannot have a fragment", "SyntaxError");
  }
  return parsed;
}

/**
 * The constructors' subprotocol check: each a token, none occurring more
 * than once. "More than once" compares them as written: neither the
 * standard nor RFC 6455 makes subprotocols case-insensitive
 * (whatwg/websockets#47), so `"echo"` and `"eCho"` are two.
 *
 * @throws {DOMException} `SyntaxError` for an invalid or repeated subprotocol
 */
export function checkSubprotocols(list: readonly string[]): void {
  const seen = new Set<string>();
  for (const p of list) {
    if (!TOKEN.test(p)) throw new DOMException(`invalid subprotocol: "${p}"`, "SyntaxError");
    if (seen.has(p)) throw new DOMException(`subprotocol offered twice: "${p}"`, "SyntaxError");
    seen.add(p);
  }
}

/**
 * WHATWG WebSockets, "validate close code and reason".
 *
 * @throws {DOMException} `InvalidAccessError` for a code other than 1000 and
 *   3000–4999, `SyntaxError` for a reason over 123 bytes of UTF-8
 */
export function validateCloseCodeAndReason(code: number | null, reason: string): void {
  if (code !== null && code !== CloseCode.Normal && (code < 3000 || code > 4999)) {
    throw new DOMException(
      `close code ${code} is neither 1000 nor in 3000–4999`,
      "InvalidAccessError",
    );
  }
  if (utf8Length(reason) > 123) {
    throw new DOMException("the close reason is longer than 123 bytes", "SyntaxError");
  }
}

/**
 * Gives a class the shape WebIDL gives an interface (WebIDL §3.7): the
 * prototype's attributes and operations enumerable, constants read-only and
 * permanent on both the class and the prototype, the constructor's `length`
 * its count of required arguments, and `Symbol.toStringTag` the interface's
 * name.
 */
export function webIDLInterface(
  cls: { readonly prototype: object },
  name: string,
  length: number,
  constants: Record<string, number> = {},
): void {
  const proto = cls.prototype;
  for (const key of Object.getOwnPropertyNames(proto)) {
    if (key === "constructor") continue;
    Object.defineProperty(proto, key, { enumerable: true });
  }
  for (const [key, value] of Object.entries(constants)) {
    const constant = { value, writable: false, enumerable: true, configurable: false };
    Object.defineProperty(cls, key, constant);
    Object.defineProperty(proto, key, constant);
  }
  Object.defineProperty(cls, "length", { value: length });
  Object.defineProperty(proto, Symbol.toStringTag, { value: name, configurable: true });
}

/** The API base URL, when the runtime has one (`location`, as Deno's `--location` sets it). */
function apiBaseURL(): string | undefined {
  try {
    const href = (globalThis as { location?: { href?: unknown } }).location?.href;
    return typeof href === "string" ? href : undefined;
  } catch {
    return undefined; // a runtime whose `location` throws when unset
  }
}

/**
 * Why `value` (an `ArrayBuffer`, a `SharedArrayBuffer` or a view) is not a
 * WebIDL `BufferSource`, or undefined when it is: `BufferSource` is neither
 * [AllowShared] nor [AllowResizable], so a shared or resizable buffer, or a
 * view of one, is refused (WebIDL §3.2.26 ArrayBuffer, §3.2.27 views).
 */
export function bufferSourceProblem(value: ArrayBufferLike | ArrayBufferView): string | undefined {
  const buffer = ArrayBuffer.isView(value) ? value.buffer : value;
  if (!(buffer instanceof ArrayBuffer)) return "a shared buffer";
  if ((buffer as { resizable?: boolean }).resizable) return "a resizable buffer";
  return undefined;
}

/** WebIDL's conversion to `USVString`: symbols refused, lone surrogates made U+FFFD. */
export function toUSVString(value: unknown): string {
  if (typeof value === "symbol") throw new TypeError("cannot convert a Symbol to a string");
  const s = String(value);
  return (s as { toWellFormed?: () => string }).toWellFormed?.() ?? s;
}

/** WebIDL's conversion to `unsigned short` (without [Clamp]): modulo 2^16. */
export function toUnsignedShort(value: unknown): number {
  const n = toNumber(value);
  if (!Number.isFinite(n)) return 0;
  const m = Math.trunc(n) % 65536;
  return m < 0 ? m + 65536 : m + 0; // + 0: no -0
}

/** WebIDL's `[Clamp] unsigned short`: clamped to 0–65535, rounded half to even. */
export function clampUnsignedShort(value: unknown): number {
  const n = toNumber(value);
  if (Number.isNaN(n)) return 0;
  const clamped = Math.min(Math.max(n, 0), 65535);
  const floor = Math.floor(clamped);
  const diff = clamped - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * WebIDL's `[EnforceRange] unsigned short`.
 *
 * @throws {TypeError} for NaN, an infinity, or a value outside 0–65535 once truncated
 */
export function enforceRangeUnsignedShort(value: unknown, what: string): number {
  const n = toNumber(value);
  if (!Number.isFinite(n)) throw new TypeError(`${what} is not a finite number: ${String(n)}`);
  const t = Math.trunc(n) + 0;
  if (t < 0 || t > 65535) throw new TypeError(`${what} is outside 0–65535: ${t}`);
  return t;
}

/** ECMAScript's ToNumber, which refuses symbols and BigInts with a TypeError. */
function toNumber(value: unknown): number {
  if (typeof value === "bigint") throw new TypeError("cannot convert a BigInt to a number");
  return Number(value); // a Symbol throws TypeError here
}

/** The UTF-8 length of a string, lone surrogates counted as U+FFFD (3 bytes). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
