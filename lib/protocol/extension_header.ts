/**
 * The `Sec-WebSocket-Extensions` header (RFC 6455 §9.1), parsed and
 * formatted.
 *
 * ```
 * Sec-WebSocket-Extensions = extension-list
 * extension-list = 1#extension
 * extension = extension-token *( ";" extension-param )
 * extension-param = token [ "=" (token | quoted-string) ]
 * ```
 *
 * @module
 */

import { ExtensionError } from "../errors.ts";
import { isToken } from "./http1.ts";
import type { ExtensionOffer } from "./extension.ts";

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
const OWS = /[ \t]*/y;
// RFC 9110 §5.6.4: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
const QUOTED = /"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"/y;

/**
 * Parses a `Sec-WebSocket-Extensions` value into its elements, in order.
 *
 * Whitespace (SP, HTAB) is allowed around `,`, `;` and `=`. Empty list
 * elements are ignored (RFC 9110 §5.6.1), so an empty value yields `[]`.
 * A quoted parameter value is unquoted, and must then be a token (RFC 6455
 * §9.1). Several header lines are parsed as their values joined by `", "`.
 *
 * @throws {ExtensionError} `EXTENSIONS_HEADER_MALFORMED`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseExtensionsHeader } from "./extension_header.ts";
 * const offers = parseExtensionsHeader('permessage-deflate; client_max_window_bits, x-foo; a="1"');
 * assert.deepEqual(offers, [
 *   { name: "permessage-deflate", params: [["client_max_window_bits", true]] },
 *   { name: "x-foo", params: [["a", "1"]] },
 * ]);
 * ```
 */
export function parseExtensionsHeader(value: string): ExtensionOffer[] {
  const offers: ExtensionOffer[] = [];
  let i = 0;
  const n = value.length;
  const fail = (what: string): never => {
    throw new ExtensionError(
      "EXTENSIONS_HEADER_MALFORMED",
      `malformed Sec-WebSocket-Extensions header: ${what} at offset ${i}`,
    );
  };
  const skipSpace = () => {
    OWS.lastIndex = i;
    OWS.test(value);
    i = OWS.lastIndex;
  };
  const token = (what: string): string => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(value);
    if (m === null) return fail(`expected ${what}`);
    i = TOKEN.lastIndex;
    return m[0];
  };

  for (;;) {
    skipSpace();
    if (i === n) break;
    if (value.charCodeAt(i) === 0x2c) { // an empty element
      i++;
      continue;
    }
    const name = token("an extension name");
    const params: ExtensionOffer["params"] = [];
    skipSpace();
    while (value.charCodeAt(i) === 0x3b) { // ";"
      i++;
      skipSpace();
      const param = token("a parameter name");
      skipSpace();
      let v: string | true = true;
      if (value.charCodeAt(i) === 0x3d) { // "="
        i++;
        skipSpace();
        if (value.charCodeAt(i) === 0x22) {
          QUOTED.lastIndex = i;
          const m = QUOTED.exec(value);
          if (m === null) return fail("unterminated or invalid quoted string");
          v = m[1].replace(/\\(.)/gs, "$1");
          // RFC 6455 §9.1: a quoted value MUST be a token once unescaped.
          if (!isToken(v)) return fail("a quoted parameter value that is not a token");
          i = QUOTED.lastIndex;
        } else {
          v = token("a parameter value");
        }
        skipSpace();
      }
      params.push([param, v]);
    }
    offers.push({ name, params });
    if (i === n) break;
    if (value.charCodeAt(i) !== 0x2c) return fail("expected ',' or ';'");
    i++;
  }
  return offers;
}

/**
 * Formats extension elements as a `Sec-WebSocket-Extensions` value.
 * Values are written as tokens (RFC 6455 §9.1 allows no other values).
 *
 * @throws {RangeError} when a name or value is not a token
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatExtensionsHeader } from "./extension_header.ts";
 * const v = formatExtensionsHeader([
 *   {
 *     name: "permessage-deflate",
 *     params: [["server_no_context_takeover", true], ["client_max_window_bits", "10"]],
 *   },
 * ]);
 * assert.equal(v, "permessage-deflate; server_no_context_takeover; client_max_window_bits=10");
 * ```
 */
export function formatExtensionsHeader(offers: readonly ExtensionOffer[]): string {
  let s = "";
  for (const { name, params } of offers) {
    if (!isToken(name)) throw new RangeError(`invalid extension name ${JSON.stringify(name)}`);
    s += s === "" ? name : `, ${name}`;
    for (const [param, v] of params) {
      if (!isToken(param)) throw new RangeError(`invalid parameter name ${JSON.stringify(param)}`);
      if (v === true) {
        s += `; ${param}`;
      } else {
        if (!isToken(v)) throw new RangeError(`invalid parameter value ${JSON.stringify(v)}`);
        s += `; ${param}=${v}`;
      }
    }
  }
  return s;
}
