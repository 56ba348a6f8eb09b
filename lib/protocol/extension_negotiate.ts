/**
 * Extension negotiation in the opening handshake (RFC 6455 §9.1): the
 * client's offer, the server's choice, the client's check of that choice.
 *
 * @module
 */

import { type ErrorCode, ExtensionError, HandshakeError } from "../errors.ts";
import type { Extension, ExtensionFactory, ExtensionOffer } from "./extension.ts";
import { formatExtensionsHeader, parseExtensionsHeader } from "./extension_header.ts";

/** What the server agreed to: the response header and the live extensions, in that order. */
export interface ServerNegotiation {
  /** The `Sec-WebSocket-Extensions` response value, or `undefined` when none was accepted. */
  header: string | undefined;
  /** The accepted extensions, in the order they were negotiated (and will run). */
  extensions: Extension[];
}

/** The response a client checks, carried into any {@link HandshakeError} it raises. */
export interface HandshakeResponseInfo {
  /** The response status (101 on a successful upgrade). */
  status: number;
  /** The response fields. */
  headers?: HeadersInit;
  /** The response body, if any was read. */
  body?: Uint8Array;
}

function disposeAll(extensions: readonly Extension[]): void {
  for (const e of extensions) {
    try {
      e.dispose?.();
    } catch {
      // Disposal is best effort on a failed handshake; the first error wins.
    }
  }
}

/**
 * Server side: picks extensions from the client's offer.
 *
 * The client's elements are grouped by name, keeping the client's order of
 * preference within each name. Then each factory, in the server's order of
 * preference, whose name was offered, is asked to `respond` to its offers.
 * A factory is skipped (declined) when its RSV bits are already taken by an
 * accepted extension, when it returns `null`, or when it throws an
 * {@link ExtensionError} (an offer it cannot accept). The response lists the
 * accepted extensions in the order they were accepted, which is the order
 * they run in (RFC 6455 §9.1).
 *
 * @param factories the server's extensions, most preferred first
 * @param offerHeader the request's `Sec-WebSocket-Extensions` value, or `null`
 * @throws {HandshakeError} 400 `EXTENSIONS_HEADER_MALFORMED` when the offer
 *   is not a valid header
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { negotiateAsServer } from "./extension_negotiate.ts";
 * import { permessageDeflate } from "../extensions/permessage_deflate.ts";
 * // No extension configured: nothing is accepted.
 * const none = negotiateAsServer([], "permessage-deflate");
 * assert.equal(none.header, undefined);
 * assert.equal(none.extensions.length, 0);
 * // permessage-deflate configured and offered: accepted, with the response header.
 * const deflate = negotiateAsServer([permessageDeflate()], "permessage-deflate; client_max_window_bits");
 * assert.equal(deflate.header, "permessage-deflate");
 * assert.equal(deflate.extensions.length, 1);
 * ```
 */
export function negotiateAsServer(
  factories: readonly ExtensionFactory[],
  offerHeader: string | null | undefined,
): ServerNegotiation {
  if (factories.length === 0 || offerHeader == null) return { header: undefined, extensions: [] };
  let offers: ExtensionOffer[];
  try {
    offers = parseExtensionsHeader(offerHeader);
  } catch (e) {
    throw new HandshakeError(
      "EXTENSIONS_HEADER_MALFORMED",
      "malformed Sec-WebSocket-Extensions request header",
      { status: 400 },
      { cause: e },
    );
  }
  const byName = new Map<string, ExtensionOffer[]>();
  for (const offer of offers) {
    const list = byName.get(offer.name);
    if (list) list.push(offer);
    else byName.set(offer.name, [offer]);
  }

  const responses: ExtensionOffer[] = [];
  const extensions: Extension[] = [];
  let rsv = 0;
  for (const factory of factories) {
    const offered = byName.get(factory.name);
    if (offered === undefined || (factory.rsv & rsv) !== 0) continue;
    let answer: ReturnType<ExtensionFactory["respond"]>;
    try {
      answer = factory.respond(offered);
    } catch (e) {
      if (e instanceof ExtensionError) continue;
      disposeAll(extensions);
      throw e;
    }
    if (answer === null) continue;
    if ((answer.extension.rsv & rsv) !== 0) {
      disposeAll([answer.extension]);
      continue;
    }
    rsv |= answer.extension.rsv | factory.rsv;
    responses.push(answer.response);
    extensions.push(answer.extension);
  }
  let header: string | undefined;
  try {
    header = responses.length === 0 ? undefined : formatExtensionsHeader(responses);
  } catch (e) {
    disposeAll(extensions);
    throw e;
  }
  return { header, extensions };
}

/**
 * Client side: the `Sec-WebSocket-Extensions` request value offering every
 * factory's elements, factories in order, or `undefined` when nothing is
 * offered.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offerHeader } from "./extension_negotiate.ts";
 * import { permessageDeflate } from "../extensions/permessage_deflate.ts";
 * assert.equal(offerHeader([]), undefined);
 * assert.equal(offerHeader([permessageDeflate()]), "permessage-deflate; client_max_window_bits");
 * ```
 */
export function offerHeader(factories: readonly ExtensionFactory[]): string | undefined {
  const offers: ExtensionOffer[] = [];
  for (const factory of factories) offers.push(...factory.offer());
  return offers.length === 0 ? undefined : formatExtensionsHeader(offers);
}

/**
 * Client side: checks the server's `Sec-WebSocket-Extensions` response and
 * builds the live extensions, in the order the server listed them (the
 * order they run in, RFC 6455 §9.1).
 *
 * RFC 6455 §4.1: the client MUST fail the connection when the response
 * names an extension it did not offer. Also refused: an extension named
 * twice, and two extensions claiming the same RSV bit. On failure the
 * extensions already built are disposed.
 *
 * @param factories the factories whose offers were sent (a factory that
 *   offered nothing must not be listed)
 * @param responseHeader the response's `Sec-WebSocket-Extensions` value, or `null`
 * @param response the response being checked, carried into the error
 * @throws {HandshakeError} with the response's status, headers and body:
 *   `EXTENSIONS_HEADER_MALFORMED`, `EXTENSION_NOT_OFFERED`,
 *   `EXTENSION_DUPLICATE`, `EXTENSION_RSV_CONFLICT`, or `EXTENSION_REJECTED`
 *   (a factory's `accept` threw an {@link ExtensionError}, which is the cause)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { acceptAsClient } from "./extension_negotiate.ts";
 * import { permessageDeflate } from "../extensions/permessage_deflate.ts";
 * // The server accepted nothing (no Sec-WebSocket-Extensions): no extension is active.
 * assert.equal(acceptAsClient([permessageDeflate()], null).length, 0);
 * // It accepted the offer: the extension is active.
 * assert.equal(acceptAsClient([permessageDeflate()], "permessage-deflate").length, 1);
 * ```
 */
export function acceptAsClient(
  factories: readonly ExtensionFactory[],
  responseHeader: string | null | undefined,
  response: HandshakeResponseInfo = { status: 101 },
): Extension[] {
  if (responseHeader == null) return [];
  const fail = (code: ErrorCode, message: string, cause?: unknown): never => {
    throw new HandshakeError(code, message, response, cause === undefined ? undefined : { cause });
  };
  let elements: ExtensionOffer[];
  try {
    elements = parseExtensionsHeader(responseHeader);
  } catch (e) {
    return fail(
      "EXTENSIONS_HEADER_MALFORMED",
      "malformed Sec-WebSocket-Extensions response header",
      e,
    );
  }
  const extensions: Extension[] = [];
  try {
    const seen = new Set<string>();
    let rsv = 0;
    for (const element of elements) {
      const factory = factories.find((f) => f.name === element.name);
      if (factory === undefined) {
        fail("EXTENSION_NOT_OFFERED", `the server accepted extension ${element.name}, not offered`);
      } else if (seen.has(element.name)) {
        fail("EXTENSION_DUPLICATE", `the server accepted extension ${element.name} twice`);
      } else if ((factory.rsv & rsv) !== 0) {
        fail("EXTENSION_RSV_CONFLICT", `extension ${element.name} needs RSV bits already in use`);
      } else {
        seen.add(element.name);
        let extension: Extension;
        try {
          extension = factory.accept(element);
        } catch (e) {
          if (!(e instanceof ExtensionError)) throw e;
          return fail(
            "EXTENSION_REJECTED",
            `the server's parameters for extension ${element.name} were refused: ${e.message}`,
            e,
          );
        }
        extensions.push(extension);
        if ((extension.rsv & rsv) !== 0) {
          fail("EXTENSION_RSV_CONFLICT", `extension ${element.name} needs RSV bits already in use`);
        }
        rsv |= extension.rsv | factory.rsv;
      }
    }
  } catch (e) {
    disposeAll(extensions);
    throw e;
  }
  return extensions;
}
