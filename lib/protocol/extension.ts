/**
 * The Extension interface (RFC 6455 §9): how an extension is offered,
 * chosen, checked and run. permessage-deflate is one implementation; users
 * can write their own against the same interface.
 *
 * An extension has two halves:
 * - an {@link ExtensionFactory}, configured by the application, that takes
 *   part in the opening handshake (the client's offer, the server's choice
 *   and response, the client's check of that response);
 * - an {@link Extension}, one per connection, made by the factory once the
 *   handshake agreed on parameters, that transforms each message.
 *
 * sprig's extensions are per-message: they transform a whole message's
 * payload and mark it with RSV bits on its first frame only. Control frames
 * and continuation frames never carry RSV bits (the core refuses them with
 * 1002).
 *
 * @module
 */

import type { ArgumentCheck } from "../arguments.ts";

/** One element of a `Sec-WebSocket-Extensions` header: a name and its parameters, in order. */
export interface ExtensionOffer {
  /** The extension token, e.g. `"permessage-deflate"`. */
  name: string;
  /** Parameters in header order; a valueless parameter has the value `true`. */
  params: Array<[name: string, value: string | true]>;
}

/** What an extension's encoder did with one outgoing message. */
export interface EncodedMessage {
  /** The payload to send. */
  payload: Uint8Array;
  /** RSV bits to set on the message's first frame (0 to leave it as it was). */
  rsv: number;
}

/**
 * A negotiated extension, live for one connection. Its methods are
 * synchronous so that the protocol core stays a pure state machine.
 */
export interface Extension {
  /** The extension token. */
  readonly name: string;
  /** RSV bits this extension uses (RSV1 = 4, RSV2 = 2, RSV3 = 1). */
  readonly rsv: number;
  /** The response parameters the server sent, as agreed. */
  readonly params: ExtensionOffer["params"];
  /**
   * Transforms an outgoing text or binary message. May leave it unchanged
   * (for instance below a size threshold) by returning `rsv: 0`.
   * `compress` is `false` when the application asked for this message not
   * to be compressed (`send(data, { compress: false })`): a compressing
   * extension then returns it unchanged with `rsv: 0`, and leaves its state
   * (a context-takeover window) as it was. Absent means compress as usual.
   */
  encode(payload: Uint8Array, opcode: number, compress?: boolean): EncodedMessage;
  /**
   * Transforms a received message whose first frame carried `rsv`. Must
   * return the payload unchanged when none of its own bits are set, and
   * must throw a {@link MessageTooBigError} as soon as the output would pass
   * `maxBytes`, without producing it all first.
   */
  decode(payload: Uint8Array, rsv: number, maxBytes: number): Uint8Array;
  /** Releases what the extension holds; called once when the connection ends. */
  dispose?(): void;
}

/**
 * The negotiating half of an extension, configured once and used for every
 * handshake.
 */
export interface ExtensionFactory {
  /** The extension token. */
  readonly name: string;
  /** RSV bits the extension will use. */
  readonly rsv: number;
  /** Client: the offers to send, most preferred first. */
  offer(): ExtensionOffer[];
  /**
   * Client: checks the server's response element and returns the live
   * extension.
   *
   * @throws {ExtensionError} when the response is not one this offer allows
   */
  accept(response: ExtensionOffer): Extension;
  /**
   * Server: picks from the client's offers for this extension (every element
   * with this name, in the client's order of preference) and returns the
   * response element with the live extension, or `null` to decline.
   */
  respond(offers: ExtensionOffer[]): { response: ExtensionOffer; extension: Extension } | null;
}

/**
 * A chain of negotiated extensions, applied in the order they were
 * negotiated on send and in reverse order on receive (RFC 6455 §9.1).
 */
export class ExtensionChain {
  /** The negotiated extensions, in negotiation order. */
  readonly extensions: readonly Extension[];
  /** The union of the RSV bits the chain owns. */
  readonly rsv: number;

  /** The chain of no extension, shared (it holds no state). */
  static readonly none: ExtensionChain = new ExtensionChain();

  /** A chain of `extensions`, in the order they were negotiated. */
  constructor(extensions: readonly Extension[] = []) {
    this.extensions = extensions;
    let rsv = 0;
    for (const e of extensions) rsv |= e.rsv;
    this.rsv = rsv;
  }

  /** True when no extension is negotiated. */
  get empty(): boolean {
    return this.extensions.length === 0;
  }

  /** Runs every encoder in order. */
  encode(payload: Uint8Array, opcode: number, compress?: boolean): EncodedMessage {
    let rsv = 0;
    for (const e of this.extensions) {
      const out = e.encode(payload, opcode, compress);
      payload = out.payload;
      rsv |= out.rsv;
    }
    return { payload, rsv };
  }

  /** Runs every decoder in reverse order. */
  decode(payload: Uint8Array, rsv: number, maxBytes: number): Uint8Array {
    for (let i = this.extensions.length - 1; i >= 0; i--) {
      payload = this.extensions[i].decode(payload, rsv, maxBytes);
    }
    return payload;
  }

  /** Disposes every extension. */
  dispose(): void {
    for (const e of this.extensions) e.dispose?.();
  }
}

/**
 * Checks a list of extension factories given to a public entry point
 * (`connect()`'s or `serve()`'s `options.extensions`): each an object with
 * a string `name`, RSV bits in `rsv`, and `offer`, `accept` and `respond`
 * methods.
 *
 * @throws {InvalidArgumentError} naming the element that is not a factory
 * @internal
 */
export function checkExtensionFactories(
  check: ArgumentCheck,
  argument: string,
  value: unknown,
): ExtensionFactory[] | undefined {
  const list = check.array(argument, value);
  list?.forEach((f, i) => {
    const factory = f as Partial<ExtensionFactory> | null;
    if (
      typeof factory !== "object" || factory === null || typeof factory.name !== "string" ||
      typeof factory.rsv !== "number" || typeof factory.offer !== "function" ||
      typeof factory.accept !== "function" || typeof factory.respond !== "function"
    ) {
      throw check.type(
        `${argument}[${i}]`,
        "an ExtensionFactory (name, rsv, offer, accept, respond)",
        f,
      );
    }
  });
  return list as ExtensionFactory[] | undefined;
}
