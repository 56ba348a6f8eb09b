/**
 * permessage-deflate (RFC 7692): negotiation for both roles and the
 * per-message codec.
 *
 * Design, and why:
 *
 * - **Synchronous, one shot per message.** {@link Extension} methods are
 *   synchronous so the protocol core stays a pure state machine. The
 *   streaming objects of `node:zlib` cannot be driven synchronously across
 *   calls on Deno, Bun and Node alike, so every message is compressed or
 *   decompressed by one `deflateRawSync` / `inflateRawSync` call, and context
 *   takeover is carried by a sliding window of plain bytes handed to zlib as
 *   a preset dictionary. No zlib state lives between messages: an idle
 *   connection holds at most its two windows (0 bytes without takeover,
 *   up to 1.25 × 2^bits per direction with it).
 * - **Receiving with takeover.** The peer's LZ77 window after a message is
 *   exactly the last 2^bits bytes of what it compressed, which is the last
 *   2^bits bytes we decompressed. Where the runtime's `inflateRawSync`
 *   ignores the `dictionary` option (Deno 2.x does), the window is replayed
 *   instead as a non-final stored DEFLATE block in front of the payload and
 *   cut off the output: same result, one extra copy of the window.
 * - **Sending with takeover.** The window of what we compressed is handed to
 *   `deflateRawSync` as a dictionary. Where the runtime ignores it (Deno
 *   2.x, in every zlib entry point including the streaming ones, so there
 *   is no workaround), the output simply makes no reference to earlier
 *   messages: still valid, only less compressed, and no send window is kept.
 * - **Window bits 8.** zlib cannot build a raw deflater with a 256-byte
 *   window (it returns an error; Node silently uses 9). sprig compresses
 *   with zlib's 9-bit window when 8 is agreed for its direction, which is
 *   correct and not a violation: zlib never emits a match farther back than
 *   the window size minus 262 bytes (`MAX_DIST`), i.e. 250 bytes for a
 *   9-bit window, so every reference fits the peer's 256-byte window. The
 *   tests check the emitted distances with an independent decoder. So 8 is
 *   accepted in every position, in both roles, rather than declined.
 * - **Close codes.** A decompressed message over the limit fails with
 *   {@link MessageTooBigError} (`INFLATE_TOO_BIG`, 1009); zlib stops with
 *   `ERR_BUFFER_TOO_LARGE` as soon as its output passes the limit, so a
 *   bomb costs at most the limit plus one output chunk. Corrupt compressed
 *   data fails with {@link ExtensionError} `INFLATE_FAILED` and close code
 *   1007 (RFC 6455 §7.4.1: data inconsistent with the message), as `ws`
 *   does; RFC 7692 names no code.
 * - **A message is decoded whole or not at all.** zlib, given a payload
 *   that stops mid-block or carries more data after a BFINAL block, returns
 *   what it decoded so far and says nothing (`ws` and Python's `websockets`
 *   then deliver that prefix). sprig appends an empty final block after the
 *   RFC 7692 tail and inflates with `Z_FINISH`, so a stream that does not
 *   end at a block boundary fails (`INFLATE_TRUNCATED`), and compares the
 *   input zlib consumed with the input given, so data past a BFINAL block
 *   fails (`INFLATE_TRAILING_DATA`); both close with 1007. What may follow
 *   a BFINAL block is only the empty stored block of RFC 7692 §7.2.3.4
 *   (its first octet, `00`, with the tail completing it). A truncation that
 *   happens to fall on a block boundary is a shorter valid message: DEFLATE
 *   carries no length, so no decoder can tell.
 *   Decompressed messages are capped at 4 GiB whatever `maxBytes` says,
 *   the largest output every runtime's zlib binding accepts.
 *
 * @module
 */

import { constants as zlibConstants, deflateRawSync, inflateRawSync } from "node:zlib";
import { ArgumentCheck } from "../arguments.ts";
import { ExtensionError, MessageTooBigError } from "../errors.ts";
import { RSV1 } from "../protocol/frame.ts";
import type {
  EncodedMessage,
  Extension,
  ExtensionFactory,
  ExtensionOffer,
} from "../protocol/extension.ts";
import { EMPTY } from "../protocol/bytes.ts";

/** The extension token (RFC 7692 §6). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** Default {@link PerMessageDeflateOptions.threshold}: 1024 bytes, as `ws`. */
export const DEFAULT_DEFLATE_THRESHOLD = 1024;

/**
 * Configuration of {@link permessageDeflate}. One object serves both roles;
 * each option says what it means for a client (in its offer) and for a
 * server (in its response).
 */
export interface PerMessageDeflateOptions {
  /**
   * Client: ask the server not to use context takeover
   * (`server_no_context_takeover` in the offer), saving the client's
   * receive window. Server: never use context takeover when sending, and
   * say so in every response. Default `false`.
   */
  serverNoContextTakeover?: boolean;
  /**
   * Client: do not use context takeover when sending, and tell the server
   * (`client_no_context_takeover` in the offer). Server: require the client
   * not to use it (`client_no_context_takeover` in every response), saving
   * the server's receive window. Default `false`.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Base-2 logarithm of the server's LZ77 window, 8 to 15. Client: ask the
   * server to use at most this (`server_max_window_bits` in the offer).
   * Server: use at most this when sending. Default: unset, i.e. 15
   * (32 KiB); a smaller value means a smaller receive window on the client.
   */
  serverMaxWindowBits?: number;
  /**
   * The client's LZ77 window, 8 to 15, or a boolean. Client: `true`
   * (default) offers `client_max_window_bits` without a value, letting the
   * server pick any window; a number also promises the client will not use
   * more; `false` leaves the parameter out. Server: a number limits the
   * client to at most this when its offer allows it (otherwise the client
   * keeps 15); `true`, `false` or unset leave the client's choice alone.
   */
  clientMaxWindowBits?: number | boolean;
  /**
   * Messages shorter than this many bytes are sent uncompressed. Default
   * 1024 (as `ws`): below that, the per-message cost of a one-shot zlib
   * call (about 10 to 50 µs) buys back less than a kilobyte. Range 0 to
   * 2^53 − 1; 0 compresses every message, including empty ones.
   */
  threshold?: number;
  /** zlib compression level, 0 (store) to 9 (smallest). Default 6. */
  level?: number;
  /**
   * zlib memory level, 1 to 9. Default 8. It sizes zlib's hash table for
   * the duration of one call only; sprig lowers it further for small
   * messages, where a larger table buys nothing.
   */
  memLevel?: number;
}

/** The parameters both ends agreed on, after negotiation. */
export interface DeflateParameters {
  /** The server compresses each message with an empty window. */
  serverNoContextTakeover: boolean;
  /** The client compresses each message with an empty window. */
  clientNoContextTakeover: boolean;
  /** The server's window, 8 to 15 bits. */
  serverMaxWindowBits: number;
  /** The client's window, 8 to 15 bits. */
  clientMaxWindowBits: number;
}

/** Tuning of the compressor that does not take part in negotiation. */
export interface DeflateTuning {
  /** See {@link PerMessageDeflateOptions.threshold}. */
  threshold: number;
  /** See {@link PerMessageDeflateOptions.level}. */
  level: number;
  /** See {@link PerMessageDeflateOptions.memLevel}. */
  memLevel: number;
}

/** The end of the connection an extension runs at. */
export type DeflateRole = "client" | "server";

const DEFAULT_TUNING: Readonly<DeflateTuning> = Object.freeze({
  threshold: DEFAULT_DEFLATE_THRESHOLD,
  level: 6,
  memLevel: 8,
});

/** RFC 7692 §7.2.1: the 4 octets removed after compression and put back before decompression. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/**
 * An empty fixed-Huffman block with BFINAL set (RFC 1951 §3.2.3, §3.2.6:
 * bits 1, 01, then the 7-bit end-of-block code). Appended after the tail,
 * it ends the stream exactly where the message ends, so inflating with
 * Z_FINISH fails when the payload stopped inside a block.
 */
const END = new Uint8Array([0x03, 0x00]);

function isTooBig(cause: unknown): boolean {
  return (cause as { code?: unknown } | null)?.code === "ERR_BUFFER_TOO_LARGE";
}

// The largest `maxOutputLength` every runtime accepts (Node's and Bun's
// buffer limit is 2^32).
const MAX_OUTPUT_LENGTH = 2 ** 32;

/**
 * Negotiates permessage-deflate, in either role.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { permessageDeflate } from "./permessage_deflate.ts";
 * const client = permessageDeflate();
 * const server = permessageDeflate({ clientNoContextTakeover: true });
 * const [offer] = client.offer(); // permessage-deflate; client_max_window_bits
 * const chosen = server.respond([offer])!;
 * const ext = client.accept(chosen.response);
 * const sent = ext.encode(new TextEncoder().encode("hi ".repeat(1000)), 0x1);
 * const got = chosen.extension.decode(sent.payload, sent.rsv, 1 << 20);
 * assert.equal(sent.rsv, 4); // RSV1: compressed
 * assert.ok(sent.payload.length < 100);
 * assert.equal(new TextDecoder().decode(got), "hi ".repeat(1000));
 * ```
 *
 * @throws {InvalidArgumentError} (a `TypeError`) when `options` or an
 *   option has the wrong type, naming it (`options.threshold`)
 * @throws {ArgumentRangeError} (a `RangeError`) when an option is out of
 *   the range its documentation states
 */
export function permessageDeflate(options: PerMessageDeflateOptions = {}): ExtensionFactory {
  return new PerMessageDeflateFactory(options);
}

/**
 * Checks a `compression` option of `connect()` or `serve()`: absent, a
 * boolean, or permessage-deflate options (checked as {@link checkDeflateOptions}).
 *
 * @throws {InvalidArgumentError} for a value of the wrong type
 * @throws {ArgumentRangeError} for a value out of its range
 * @internal
 */
export function checkCompressionOption(
  check: ArgumentCheck,
  argument: string,
  value: unknown,
): void {
  if (value === undefined || typeof value === "boolean") return;
  if (typeof value !== "object" || value === null) {
    throw check.type(argument, "a boolean or permessage-deflate options", value);
  }
  checkDeflateOptions(check, argument, value);
}

/** Every option of {@link PerMessageDeflateOptions}; the type makes the list complete. */
const DEFLATE_OPTIONS: { [K in keyof Required<PerMessageDeflateOptions>]: true } = {
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: true,
  clientMaxWindowBits: true,
  threshold: true,
  level: true,
  memLevel: true,
};
const DEFLATE_OPTION_NAMES: readonly string[] = Object.keys(DEFLATE_OPTIONS);

/** Compression options of ws, Bun and Python's websockets, with what sprig has instead. */
const FOREIGN_DEFLATE_OPTIONS: Readonly<Record<string, string>> = {
  zlibDeflateOptions: "use level and memLevel (ws's zlibDeflateOptions); the window is " +
    "serverMaxWindowBits or clientMaxWindowBits",
  zlibInflateOptions: "sprig inflates with zlib's defaults and the negotiated window; " +
    "maxMessageBytes bounds what a message may inflate to",
  concurrencyLimit: "sprig compresses each message with one synchronous zlib call, so there " +
    "is no zlib job queue to limit (ws's concurrencyLimit)",
  compress: "sprig compresses in both directions whenever compression is negotiated " +
    "(Bun's compress); use threshold to leave small messages uncompressed",
  decompress: "sprig always decompresses what the peer compressed once negotiated " +
    "(Bun's decompress); compression: false declines the extension",
  windowBits: "use serverMaxWindowBits and clientMaxWindowBits",
  server_max_window_bits: "use serverMaxWindowBits",
  client_max_window_bits: "use clientMaxWindowBits",
  server_no_context_takeover: "use serverNoContextTakeover",
  client_no_context_takeover: "use clientNoContextTakeover",
  compressionLevel: "use level (zlib's 0 to 9)",
  compress_settings: "use level and memLevel (Python websockets' compress_settings)",
};

/**
 * Checks permessage-deflate options as given to `permessageDeflate()`, or
 * as `argument` of another entry point (`connect()`'s
 * `options.compression`), so the error names the argument as the caller
 * wrote it.
 *
 * @throws {InvalidArgumentError} for a value of the wrong type, or a key that
 *   is not an option (naming it, with sprig's option for ws's and Bun's names)
 * @throws {ArgumentRangeError} for a value out of its range
 * @internal
 */
export function checkDeflateOptions(
  check: ArgumentCheck,
  argument: string,
  options: unknown,
): void {
  const o = check.options(argument, options);
  check.known(argument, o, DEFLATE_OPTION_NAMES, FOREIGN_DEFLATE_OPTIONS);
  check.boolean(`${argument}.serverNoContextTakeover`, o.serverNoContextTakeover);
  check.boolean(`${argument}.clientNoContextTakeover`, o.clientNoContextTakeover);
  check.integer(`${argument}.serverMaxWindowBits`, o.serverMaxWindowBits, 8, 15);
  if (typeof o.clientMaxWindowBits !== "boolean") {
    if (o.clientMaxWindowBits !== undefined && typeof o.clientMaxWindowBits !== "number") {
      throw check.type(
        `${argument}.clientMaxWindowBits`,
        "an integer from 8 to 15 or a boolean",
        o.clientMaxWindowBits,
      );
    }
    check.integer(`${argument}.clientMaxWindowBits`, o.clientMaxWindowBits, 8, 15);
  }
  check.integer(`${argument}.threshold`, o.threshold, 0, Number.MAX_SAFE_INTEGER);
  check.integer(`${argument}.level`, o.level, 0, 9);
  check.integer(`${argument}.memLevel`, o.memLevel, 1, 9);
}

/**
 * The {@link ExtensionFactory} behind {@link permessageDeflate}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PerMessageDeflateFactory } from "./permessage_deflate.ts";
 * const f = new PerMessageDeflateFactory({ serverMaxWindowBits: 10 });
 * assert.deepEqual(f.offer(), [{
 *   name: "permessage-deflate",
 *   params: [["server_max_window_bits", "10"], ["client_max_window_bits", true]],
 * }]);
 * ```
 */
export class PerMessageDeflateFactory implements ExtensionFactory {
  readonly name: string = PERMESSAGE_DEFLATE;
  readonly rsv: number = RSV1;
  /** The options, checked, with defaults applied where one exists. */
  readonly options: Readonly<PerMessageDeflateOptions & DeflateTuning>;

  /**
   * @throws {InvalidArgumentError} (a `TypeError`) when `options` or an
   *   option has the wrong type
   * @throws {ArgumentRangeError} (a `RangeError`) when an option is out of
   *   its range
   */
  constructor(options: PerMessageDeflateOptions = {}) {
    checkDeflateOptions(new ArgumentCheck("permessageDeflate()"), "options", options);
    const o = { ...DEFAULT_TUNING, clientMaxWindowBits: true, ...stripUndefined(options) };
    this.options = Object.freeze(o);
  }

  /** Client: one offer built from the options. */
  offer(): ExtensionOffer[] {
    const o = this.options;
    const params: ExtensionOffer["params"] = [];
    if (o.serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
    if (o.clientNoContextTakeover) params.push(["client_no_context_takeover", true]);
    if (o.serverMaxWindowBits !== undefined) {
      params.push(["server_max_window_bits", String(o.serverMaxWindowBits)]);
    }
    if (o.clientMaxWindowBits === true) params.push(["client_max_window_bits", true]);
    else if (typeof o.clientMaxWindowBits === "number") {
      params.push(["client_max_window_bits", String(o.clientMaxWindowBits)]);
    }
    return [{ name: PERMESSAGE_DEFLATE, params }];
  }

  /**
   * Client: checks the server's response against the offer made by
   * {@link offer} and returns the live extension.
   *
   * @throws {ExtensionError} when the response is not one the offer allows
   */
  accept(response: ExtensionOffer): Extension {
    if (response.name.toLowerCase() !== PERMESSAGE_DEFLATE) {
      throw new ExtensionError(
        "DEFLATE_WRONG_EXTENSION",
        `expected ${PERMESSAGE_DEFLATE}, got ${response.name}`,
      );
    }
    const r = parseParams(response.params, "response");
    // RFC 7692 §7.1: a client MUST _Fail the WebSocket Connection_ if the
    // response has an unknown parameter, an invalid value, a repeated
    // parameter, or a configuration the client does not support.
    if ("code" in r) throw new ExtensionError(r.code, describe(r, "response"));
    const o = this.options;

    // RFC 7692 §7.1.1.1: a server accepts an offer carrying
    // server_no_context_takeover by including it in the response.
    if (o.serverNoContextTakeover && !r.serverNoContextTakeover) {
      throw new ExtensionError(
        "DEFLATE_PARAM_MISSING",
        "the server accepted permessage-deflate without server_no_context_takeover, which the offer required",
      );
    }
    // RFC 7692 §7.1.2.1: a server accepts an offer carrying
    // server_max_window_bits by including it with the same or a smaller value.
    if (o.serverMaxWindowBits !== undefined) {
      if (r.serverMaxWindowBits === undefined) {
        throw new ExtensionError(
          "DEFLATE_PARAM_MISSING",
          "the server accepted permessage-deflate without server_max_window_bits, which the offer required",
        );
      }
      if (r.serverMaxWindowBits > o.serverMaxWindowBits) {
        throw new ExtensionError(
          "DEFLATE_PARAM_UNSUPPORTED",
          `server_max_window_bits=${r.serverMaxWindowBits} is larger than the ${o.serverMaxWindowBits} offered`,
        );
      }
    }
    // RFC 7692 §7.1.2.2: a response MUST NOT carry client_max_window_bits
    // unless the offer did, nor, when the offer gave a value, a larger one.
    let clientBits = 15;
    if (r.clientMaxWindowBits !== undefined) {
      if (o.clientMaxWindowBits === false) {
        throw new ExtensionError(
          "DEFLATE_PARAM_UNEXPECTED",
          "the server sent client_max_window_bits, which the offer did not include",
        );
      }
      if (r.clientMaxWindowBits === true) {
        // RFC 7692 §7.1.2.2: in a response the parameter MUST have a value.
        throw new ExtensionError(
          "DEFLATE_PARAM_INVALID",
          "client_max_window_bits in a response needs a value",
        );
      }
      if (
        typeof o.clientMaxWindowBits === "number" && r.clientMaxWindowBits > o.clientMaxWindowBits
      ) {
        throw new ExtensionError(
          "DEFLATE_PARAM_UNSUPPORTED",
          `client_max_window_bits=${r.clientMaxWindowBits} is larger than the ${o.clientMaxWindowBits} offered`,
        );
      }
      clientBits = r.clientMaxWindowBits;
    } else if (typeof o.clientMaxWindowBits === "number") {
      // RFC 7692 §7.1.2.2: a value in the offer is a promise not to use a
      // larger window even if the response says nothing.
      clientBits = o.clientMaxWindowBits;
    }
    const agreed: DeflateParameters = {
      serverNoContextTakeover: r.serverNoContextTakeover,
      // RFC 7692 §7.1.1.2: an offered client_no_context_takeover is a
      // promise to the server, kept even if the response does not repeat it.
      clientNoContextTakeover: r.clientNoContextTakeover || o.clientNoContextTakeover === true,
      serverMaxWindowBits: r.serverMaxWindowBits ?? 15,
      clientMaxWindowBits: clientBits,
    };
    return new PerMessageDeflate("client", agreed, o, response.params);
  }

  /**
   * Server: answers the first acceptable offer, in the client's order, or
   * returns `null` when none is.
   */
  respond(offers: ExtensionOffer[]): { response: ExtensionOffer; extension: Extension } | null {
    const o = this.options;
    for (const offer of offers) {
      if (offer.name.toLowerCase() !== PERMESSAGE_DEFLATE) continue;
      const p = parseParams(offer.params, "offer");
      // RFC 7692 §7.1: a server MUST decline an offer with an unknown
      // parameter, an invalid value or a repeated parameter.
      if ("code" in p) continue;

      const params: ExtensionOffer["params"] = [];
      // RFC 7692 §7.1.1.1: accepting an offer with server_no_context_takeover
      // MUST include it in the response; the server may add it on its own.
      const serverNoContextTakeover = p.serverNoContextTakeover ||
        o.serverNoContextTakeover === true;
      if (serverNoContextTakeover) params.push(["server_no_context_takeover", true]);
      // RFC 7692 §7.1.1.2: the server may add client_no_context_takeover; it
      // repeats the client's own hint too, so the agreement is explicit.
      const clientNoContextTakeover = p.clientNoContextTakeover ||
        o.clientNoContextTakeover === true;
      if (clientNoContextTakeover) params.push(["client_no_context_takeover", true]);
      // RFC 7692 §7.1.2.1: an offered server_max_window_bits is accepted by
      // answering it with the same or a smaller value; the server may also
      // announce a smaller window of its own.
      let serverBits = 15;
      if (p.serverMaxWindowBits !== undefined || (o.serverMaxWindowBits ?? 15) < 15) {
        serverBits = Math.min(p.serverMaxWindowBits ?? 15, o.serverMaxWindowBits ?? 15);
        params.push(["server_max_window_bits", String(serverBits)]);
      }
      // RFC 7692 §7.1.2.2: client_max_window_bits goes in the response only
      // if the offer had it, with a value no larger than the offered one.
      let clientBits = 15;
      if (p.clientMaxWindowBits !== undefined) {
        const offered = p.clientMaxWindowBits === true ? 15 : p.clientMaxWindowBits;
        const wanted = typeof o.clientMaxWindowBits === "number" ? o.clientMaxWindowBits : 15;
        if (p.clientMaxWindowBits !== true || wanted < 15) {
          clientBits = Math.min(offered, wanted);
          params.push(["client_max_window_bits", String(clientBits)]);
        }
      }
      const agreed: DeflateParameters = {
        serverNoContextTakeover,
        clientNoContextTakeover,
        serverMaxWindowBits: serverBits,
        clientMaxWindowBits: clientBits,
      };
      const response: ExtensionOffer = { name: PERMESSAGE_DEFLATE, params };
      return { response, extension: new PerMessageDeflate("server", agreed, o, params) };
    }
    return null;
  }
}

/**
 * Client: permessage-deflate offered with `options`, then, as a second
 * choice, as browsers offer it (`permessage-deflate;
 * client_max_window_bits`; RFC 7692 §5 lists offers in order of
 * preference). The server's response is accepted if it answers either
 * offer; when it answers neither, the error is the tuned offer's, which
 * names the parameter. `connect()` uses it for `compressionFallback`.
 *
 * @throws {InvalidArgumentError} or {ArgumentRangeError} as {@link permessageDeflate}
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatExtensionsHeader } from "../protocol/extension_header.ts";
 * import { permessageDeflateWithFallback } from "./permessage_deflate.ts";
 * const f = permessageDeflateWithFallback({ serverMaxWindowBits: 10 });
 * assert.equal(
 *   formatExtensionsHeader(f.offer()),
 *     "permessage-deflate; server_max_window_bits=10; client_max_window_bits, " +
 *       "permessage-deflate; client_max_window_bits",
 * );
 * ```
 */
export function permessageDeflateWithFallback(options: PerMessageDeflateOptions): ExtensionFactory {
  const tuned = new PerMessageDeflateFactory(options);
  const plain = new PerMessageDeflateFactory({
    threshold: tuned.options.threshold,
    level: tuned.options.level,
    memLevel: tuned.options.memLevel,
  });
  return {
    name: PERMESSAGE_DEFLATE,
    rsv: RSV1,
    offer: () => [...tuned.offer(), ...plain.offer()],
    accept(response: ExtensionOffer): Extension {
      try {
        return tuned.accept(response);
      } catch (error) {
        try {
          return plain.accept(response);
        } catch {
          throw error;
        }
      }
    },
    respond: (offers: ExtensionOffer[]) => tuned.respond(offers),
  };
}

/**
 * The live permessage-deflate codec of one connection. Usually made by
 * {@link permessageDeflate}; constructed directly it runs the codec on
 * parameters agreed some other way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PerMessageDeflate } from "./permessage_deflate.ts";
 * const agreed = {
 *   serverNoContextTakeover: false, clientNoContextTakeover: false,
 *   serverMaxWindowBits: 15, clientMaxWindowBits: 15,
 * };
 * const server = new PerMessageDeflate("server", agreed, { threshold: 0 });
 * const client = new PerMessageDeflate("client", agreed);
 * const hello = new TextEncoder().encode("Hello");
 * const frame = server.encode(hello, 0x1);
 * assert.deepEqual([...frame.payload], [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]); // RFC 7692 §7.2.3.1
 * assert.equal(new TextDecoder().decode(client.decode(frame.payload, frame.rsv, 1024)), "Hello");
 * ```
 */
export class PerMessageDeflate implements Extension {
  readonly name: string = PERMESSAGE_DEFLATE;
  readonly rsv: number = RSV1;
  readonly params: ExtensionOffer["params"];
  /** Which end this codec runs at. */
  readonly role: DeflateRole;
  /** The negotiated parameters. */
  readonly agreed: Readonly<DeflateParameters>;

  readonly #threshold: number;
  readonly #level: number;
  readonly #memLevel: number;
  readonly #sendBits: number;
  readonly #recvBits: number;
  /** What we compressed, when our direction uses context takeover. */
  #sendWindow: SlidingWindow | null;
  /** What we decompressed, when the peer's direction uses context takeover. */
  #recvWindow: SlidingWindow | null;

  /**
   * @param role the end this codec runs at: it compresses with that end's
   *   parameters and decompresses with the other's
   * @param agreed the negotiated parameters
   * @param tuning compressor settings; defaults as in {@link PerMessageDeflateOptions}
   * @param params the response parameters, for {@link params}
   */
  constructor(
    role: DeflateRole,
    agreed: DeflateParameters,
    tuning: Partial<DeflateTuning> = {},
    params: ExtensionOffer["params"] = [],
  ) {
    const check = new ArgumentCheck("new PerMessageDeflate()");
    check.oneOf("role", role, ["client", "server"]);
    const a = agreed === undefined ? undefined : check.options("agreed", agreed);
    if (a?.serverMaxWindowBits === undefined || a.clientMaxWindowBits === undefined) {
      throw check.type("agreed", "the negotiated parameters, both window sizes included", agreed);
    }
    check.integer("agreed.serverMaxWindowBits", agreed.serverMaxWindowBits, 8, 15);
    check.integer("agreed.clientMaxWindowBits", agreed.clientMaxWindowBits, 8, 15);
    check.options("tuning", tuning);
    check.integer("tuning.threshold", tuning.threshold, 0, Number.MAX_SAFE_INTEGER);
    check.integer("tuning.level", tuning.level, 0, 9);
    check.integer("tuning.memLevel", tuning.memLevel, 1, 9);
    const t = { ...DEFAULT_TUNING, ...stripUndefined(tuning) };
    this.role = role;
    this.agreed = Object.freeze({ ...agreed });
    this.params = params;
    this.#threshold = t.threshold;
    this.#level = t.level;
    this.#memLevel = t.memLevel;
    const server = role === "server";
    this.#sendBits = server ? agreed.serverMaxWindowBits : agreed.clientMaxWindowBits;
    this.#recvBits = server ? agreed.clientMaxWindowBits : agreed.serverMaxWindowBits;
    const sendTakeover =
      !(server ? agreed.serverNoContextTakeover : agreed.clientNoContextTakeover);
    const recvTakeover =
      !(server ? agreed.clientNoContextTakeover : agreed.serverNoContextTakeover);
    // A runtime whose deflate ignores dictionaries gains nothing from a send window.
    this.#sendWindow = sendTakeover && deflateHonoursDictionary()
      ? new SlidingWindow(1 << this.#sendBits)
      : null;
    this.#recvWindow = recvTakeover ? new SlidingWindow(1 << this.#recvBits) : null;
  }

  /**
   * Compresses one text or binary message (RFC 7692 §7.2.1). Messages
   * below the threshold, and those sent with `compress` false, go out
   * unchanged with `rsv: 0` (RFC 7692 §6: a message with RSV1 clear is not
   * compressed). Such a message does not enter the context-takeover window
   * on either side (the peer inflates only messages with RSV1 set, §6.2),
   * so the two windows stay the same.
   */
  encode(payload: Uint8Array, _opcode: number, compress?: boolean): EncodedMessage {
    if (compress === false || payload.length < this.#threshold) return { payload, rsv: 0 };
    const dictionary = this.#sendWindow?.bytes;
    const total = payload.length + (dictionary?.length ?? 0);
    // A one-shot deflater costs memory and setup in proportion to 2^windowBits
    // and 2^memLevel, so small messages get a smaller one: any window up to
    // the agreed one is allowed (RFC 7692 §7.1.2), and a table sized to the
    // input compresses as well. zlib cannot make a raw 8-bit window; its
    // 9-bit one never reaches back more than 250 bytes (see the module doc).
    const windowBits = Math.max(9, Math.min(this.#sendBits, log2ceil(total + 262)));
    const memLevel = Math.max(1, Math.min(this.#memLevel, log2ceil(total) - 6));
    const out = deflateRawSync(payload, {
      windowBits,
      memLevel,
      level: this.#level,
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      ...(dictionary && dictionary.length > 0 ? { dictionary } : {}),
    });
    // RFC 7692 §7.2.1: the data MUST end with an empty stored block, whose
    // 4 octets 00 00 ff ff are then removed. A sync flush always ends so.
    if (!endsWithTail(out)) {
      throw new ExtensionError(
        "DEFLATE_FAILED",
        "zlib did not end the message with a sync flush",
        1011,
      );
    }
    let compressed: Uint8Array = own(out, out.length - TAIL.length);
    // RFC 7692 §7.2.3.6: an empty message compresses to a single 00 octet,
    // never to an empty payload. zlib already emits it; this is a guard.
    if (compressed.length === 0) compressed = new Uint8Array(1);
    this.#sendWindow?.push(payload);
    return { payload: compressed, rsv: RSV1 };
  }

  /**
   * Decompresses one received message when its first frame had RSV1 set
   * (RFC 7692 §6.2); returns the payload unchanged otherwise.
   *
   * An empty payload decodes to an empty message, as `ws` reads it
   * (RFC 7692 §7.2.3.6 has senders send a single `00` octet instead).
   *
   * @throws {MessageTooBigError} `INFLATE_TOO_BIG` (1009) as soon as the
   *   output passes `maxBytes`
   * @throws {ExtensionError} (1007) when the payload is not one whole
   *   DEFLATE message: `INFLATE_FAILED` for corrupt data,
   *   `INFLATE_TRUNCATED` when it ends inside a block,
   *   `INFLATE_TRAILING_DATA` when data follows a final (BFINAL) block
   */
  decode(payload: Uint8Array, rsv: number, maxBytes: number): Uint8Array {
    if ((rsv & RSV1) === 0) return payload;
    if (payload.length === 0) return new Uint8Array(0);
    const window = this.#recvWindow;
    const dictionary = window?.bytes;
    const dictLength = dictionary?.length ?? 0;
    const replay = dictLength > 0 && !inflateHonoursDictionary();
    // RFC 7692 §7.2.2: append 00 00 ff ff to the payload, then decompress,
    // with the previous window when the peer uses context takeover. The END
    // block after it makes a whole message a whole DEFLATE stream.
    const skip = replay ? dictLength : 0;
    const limit = Math.max(0, Math.floor(maxBytes));
    const maxOutputLength = Math.max(1, Math.min(MAX_OUTPUT_LENGTH, limit + skip));
    let out: Uint8Array;
    let unused: number;
    let tail = TAIL;
    try {
      ({ out, unused } = this.#inflate(payload, TAIL, dictionary, replay, maxOutputLength));
    } catch (cause) {
      // A sender that left the sync flush's empty stored block in place
      // (the payload ends 00 00 ff ff: RFC 7692 §7.2.1 has it removed, ws
      // and Bun deliver it anyway) makes the tail we append a second,
      // broken stored block. Be liberal there: the payload as it came, with
      // nothing appended but the END block, must then be one whole stream.
      if (!endsWithTail(payload) || isTooBig(cause)) {
        throw inflateError(cause, limit, payload.length);
      }
      try {
        ({ out, unused } = this.#inflate(payload, EMPTY, dictionary, replay, maxOutputLength));
        tail = EMPTY;
      } catch {
        throw inflateError(cause, limit, payload.length);
      }
    }
    // zlib stops at the first BFINAL block and ignores what follows. RFC
    // 7692 §7.2.2 decompresses the payload as one DEFLATE stream, and
    // §7.2.3.4 lets a BFINAL block be followed only by the empty stored
    // block that the tail completes (its first octet 00 in the payload), or
    // by nothing; anything else is a second message hidden in this one.
    if (unused !== 0) {
      const extra = unused - tail.length - END.length; // payload bytes after the stream
      if (
        tail.length === 0 || extra < 0 || extra > 1 ||
        (extra === 1 && payload[payload.length - 1] !== 0x00)
      ) {
        throw new ExtensionError(
          "INFLATE_TRAILING_DATA",
          `invalid compressed data: ${
            Math.max(0, extra)
          } bytes follow the final DEFLATE block of the message`,
          1007,
        );
      }
    }
    const length = out.length - skip;
    if (length > limit) throw tooBig(limit, undefined);
    const message = skip === 0 ? own(out, out.length) : own(out.subarray(skip), length);
    window?.push(message);
    return message;
  }

  /**
   * Inflates the payload, then `tail`, then the END block (after the window
   * as a stored block when replayed); returns the output and how many input
   * bytes zlib left unread.
   */
  #inflate(
    payload: Uint8Array,
    tail: Uint8Array,
    dictionary: Uint8Array | undefined,
    replay: boolean,
    maxOutputLength: number,
  ): { out: Uint8Array; unused: number } {
    const dictLength = dictionary?.length ?? 0;
    const prefix = replay ? 5 + dictLength : 0;
    const input = new Uint8Array(prefix + payload.length + tail.length + END.length);
    if (replay && dictionary) {
      // A non-final stored block holding the window (RFC 1951 §3.2.4): after
      // it, the inflater's LZ77 window is the peer's.
      input[0] = 0x00;
      input[1] = dictLength & 0xff;
      input[2] = dictLength >>> 8;
      input[3] = ~dictLength & 0xff;
      input[4] = (~dictLength >>> 8) & 0xff;
      input.set(dictionary, 5);
    }
    input.set(payload, prefix);
    input.set(tail, prefix + payload.length);
    input.set(END, prefix + payload.length + tail.length);
    // Z_FINISH (the default finishFlush): the input must end the stream.
    const result = inflateRawSync(input, {
      windowBits: Math.max(8, this.#recvBits),
      maxOutputLength,
      info: true,
      ...(dictLength > 0 && !replay ? { dictionary } : {}),
    }) as unknown as { buffer: Uint8Array; engine: { bytesWritten: number } };
    return { out: result.buffer, unused: input.length - result.engine.bytesWritten };
  }

  /** Drops the windows. */
  dispose(): void {
    this.#sendWindow = null;
    this.#recvWindow = null;
  }

  /** Bytes held between messages (the windows' buffers), for memory accounting. */
  get retainedBytes(): number {
    return (this.#sendWindow?.capacity ?? 0) + (this.#recvWindow?.capacity ?? 0);
  }
}

/**
 * The last `size` bytes pushed, kept contiguous so they can be handed to
 * zlib as a dictionary without copying. The buffer grows up to 1.25 × size;
 * when full, the live bytes move to its start, so each pushed byte is moved
 * at most 4 more times however small the messages.
 */
class SlidingWindow {
  readonly #size: number;
  readonly #maxCapacity: number;
  #buffer: Uint8Array = new Uint8Array(0);
  #end = 0;

  constructor(size: number) {
    this.#size = size;
    this.#maxCapacity = size + (size >>> 2);
  }

  /** The window's bytes, oldest first (a view, valid until the next push). */
  get bytes(): Uint8Array {
    return this.#buffer.subarray(Math.max(0, this.#end - this.#size), this.#end);
  }

  get capacity(): number {
    return this.#buffer.length;
  }

  push(data: Uint8Array): void {
    const n = data.length;
    if (n === 0) return;
    const size = this.#size;
    if (n >= size) {
      if (this.#buffer.length < size) this.#buffer = new Uint8Array(size);
      this.#buffer.set(data.subarray(n - size));
      this.#end = size;
      return;
    }
    if (this.#end + n > this.#buffer.length) {
      const keep = Math.min(this.#end, size - n);
      const live = this.#buffer.subarray(this.#end - keep, this.#end);
      if (this.#buffer.length < this.#maxCapacity) {
        const grown = new Uint8Array(Math.min(this.#maxCapacity, Math.max(1024, 2 * (keep + n))));
        grown.set(live);
        this.#buffer = grown;
      } else {
        this.#buffer.copyWithin(0, this.#end - keep, this.#end);
      }
      this.#end = keep;
    }
    this.#buffer.set(data, this.#end);
    this.#end += n;
  }
}

// ---------------------------------------------------------------------------
// Negotiation helpers

type ParseErrorCode =
  | "DEFLATE_PARAM_UNKNOWN"
  | "DEFLATE_PARAM_DUPLICATE"
  | "DEFLATE_PARAM_INVALID";

/** What is wrong with a parameter list, and which parameter. */
interface ParseError {
  code: ParseErrorCode;
  /** The parameter as sent, with its value. */
  param: string;
}

interface ParsedParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  /** `true` for the valueless form, allowed in offers only. */
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Reads the parameters of one offer or response (RFC 7692 §7.1), returning
 * an error code instead of throwing so the server can move to the next
 * offer.
 */
function parseParams(
  params: ExtensionOffer["params"],
  where: "offer" | "response",
): ParsedParams | ParseError {
  const error = (code: ParseErrorCode, name: string, value: string | true): ParseError => ({
    code,
    param: value === true ? name : `${name}=${value}`,
  });
  const out: ParsedParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of params) {
    const name = rawName.toLowerCase();
    // RFC 7692 §7.1: an offer or response with the same parameter twice is
    // declined (server) or fails the connection (client).
    if (seen.has(name)) return error("DEFLATE_PARAM_DUPLICATE", rawName, value);
    seen.add(name);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        // RFC 7692 §7.1.1.1, §7.1.1.2: these parameters have no value.
        if (value !== true) return error("DEFLATE_PARAM_INVALID", rawName, value);
        if (name === "server_no_context_takeover") out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        // RFC 7692 §7.1.2.1: the value is required, 8 to 15.
        const bits = windowBits(value);
        if (bits === undefined) return error("DEFLATE_PARAM_INVALID", rawName, value);
        out.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        // RFC 7692 §7.1.2.2: optional value in an offer, required in a response.
        if (value === true) {
          if (where === "response") return error("DEFLATE_PARAM_INVALID", rawName, value);
          out.clientMaxWindowBits = true;
          break;
        }
        const bits = windowBits(value);
        if (bits === undefined) return error("DEFLATE_PARAM_INVALID", rawName, value);
        out.clientMaxWindowBits = bits;
        break;
      }
      default:
        return error("DEFLATE_PARAM_UNKNOWN", rawName, value);
    }
  }
  return out;
}

/**
 * RFC 7692 §7.1.2.1, §7.1.2.2: a window-bits value is a decimal integer
 * from 8 to 15 with no leading zeros (after any quoted-string unescaping,
 * which the header parser does).
 */
function windowBits(value: string | true): number | undefined {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) return undefined;
  return Number(value);
}

function describe(error: ParseError, where: string): string {
  const param = JSON.stringify(error.param);
  switch (error.code) {
    case "DEFLATE_PARAM_UNKNOWN":
      return `the permessage-deflate ${where} has an unknown parameter, ${param}`;
    case "DEFLATE_PARAM_DUPLICATE":
      return `the permessage-deflate ${where} repeats a parameter, ${param}`;
    case "DEFLATE_PARAM_INVALID":
      return `the permessage-deflate ${where} has a parameter with an invalid value, ${param}`;
  }
}

// ---------------------------------------------------------------------------
// zlib helpers

let inflateDictionaryProbe: boolean | undefined;
let deflateDictionaryProbe: boolean | undefined;

/**
 * Whether this runtime's `inflateRawSync` uses the `dictionary` option:
 * decodes RFC 7692 §7.2.3.2's second "Hello", which refers back to the first.
 */
function inflateHonoursDictionary(): boolean {
  if (inflateDictionaryProbe === undefined) {
    try {
      const out = inflateRawSync(
        new Uint8Array([0xf2, 0x00, 0x11, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff]),
        {
          dictionary: HELLO,
          finishFlush: zlibConstants.Z_SYNC_FLUSH,
        },
      );
      inflateDictionaryProbe = out.length === 5 && out.every((b, i) => b === HELLO[i]);
    } catch {
      inflateDictionaryProbe = false;
    }
  }
  return inflateDictionaryProbe;
}

/** Whether this runtime's `deflateRawSync` uses the `dictionary` option. */
function deflateHonoursDictionary(): boolean {
  if (deflateDictionaryProbe === undefined) {
    try {
      const plain = deflateRawSync(HELLO, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      const primed = deflateRawSync(HELLO, {
        dictionary: HELLO,
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
      });
      deflateDictionaryProbe = primed.length < plain.length;
    } catch {
      deflateDictionaryProbe = false;
    }
  }
  return deflateDictionaryProbe;
}

const HELLO = new Uint8Array([0x48, 0x65, 0x6c, 0x6c, 0x6f]);

/**
 * Which context-takeover paths this runtime's `node:zlib` supports, as
 * probed on first use. `inflateDictionary: false` means the window is
 * replayed as a stored block (correct, one extra copy); `deflateDictionary:
 * false` means outgoing messages never refer to earlier ones (valid, less
 * compressed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { zlibSupport } from "./permessage_deflate.ts";
 * const { inflateDictionary, deflateDictionary } = zlibSupport();
 * // Node and Bun honour preset dictionaries; Deno's node:zlib ignores them.
 * assert.equal(typeof inflateDictionary, "boolean");
 * assert.equal(typeof deflateDictionary, "boolean");
 * ```
 */
export function zlibSupport(): { inflateDictionary: boolean; deflateDictionary: boolean } {
  return {
    inflateDictionary: inflateHonoursDictionary(),
    deflateDictionary: deflateHonoursDictionary(),
  };
}

/**
 * Test hook: forces the stored-block replay on receive (`false`) or the
 * probed behaviour (`undefined`), so every runtime can test both paths.
 *
 * @internal
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { _setInflateDictionarySupport, zlibSupport } from "./permessage_deflate.ts";
 * _setInflateDictionarySupport(false); // replay the window as a stored block
 * assert.equal(zlibSupport().inflateDictionary, false);
 * _setInflateDictionarySupport(undefined); // back to probing
 * ```
 */
export function _setInflateDictionarySupport(value: false | undefined): void {
  inflateDictionaryProbe = value;
}

function endsWithTail(out: Uint8Array): boolean {
  const n = out.length;
  return n >= 4 && out[n - 4] === 0x00 && out[n - 3] === 0x00 && out[n - 2] === 0xff &&
    out[n - 1] === 0xff;
}

/**
 * The first `length` bytes of a zlib result as a plain Uint8Array. A small
 * result sits in a much larger chunk (Node's is 16 KiB); it is copied so a
 * kept message does not pin the whole chunk.
 */
function own(out: Uint8Array, length: number): Uint8Array {
  // (Buffer#slice makes a view, so copy through the Uint8Array constructor.)
  if (out.buffer.byteLength > 2 * length + 1024) return new Uint8Array(out.subarray(0, length));
  return new Uint8Array(out.buffer, out.byteOffset, length);
}

function inflateError(cause: unknown, limit: number, payloadLength: number): Error {
  const code = (cause as { code?: unknown } | null)?.code;
  if (code === "ERR_BUFFER_TOO_LARGE") return tooBig(limit, cause);
  // Z_FINISH found the input exhausted before the stream's end: the payload
  // stopped inside a DEFLATE block.
  if (code === "Z_BUF_ERROR") {
    return new ExtensionError(
      "INFLATE_TRUNCATED",
      `invalid compressed data: the ${payloadLength}-byte payload ends inside a DEFLATE block`,
      1007,
      { cause },
    );
  }
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ExtensionError("INFLATE_FAILED", `invalid compressed data: ${detail}`, 1007, {
    cause,
  });
}

function tooBig(limit: number, cause: unknown): MessageTooBigError {
  return new MessageTooBigError(
    "INFLATE_TOO_BIG",
    `the decompressed message exceeds ${limit} bytes`,
    limit,
    cause === undefined ? undefined : { cause },
  );
}

function log2ceil(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
