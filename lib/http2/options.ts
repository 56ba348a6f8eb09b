/**
 * The HTTP/2 options of `connect()` (`http2`, `http2Session`): their checks
 * and when they apply. Kept apart from the HTTP/2 client so that importing
 * `connect()` does not load `node:http2` (edge runtimes lack it); the client
 * is imported when a connection asks for HTTP/2.
 *
 * @module
 */

import type { ArgumentCheck } from "../arguments.ts";
import type { ConnectOptions } from "../client/connect.ts";

/**
 * A `node:http2` `ClientHttp2Session` (from `http2.connect()`), by the
 * members that tell it apart: written out so that sprig's type declarations
 * need no `@types/node` (a `ClientHttp2Session` fits as it is). sprig uses
 * the rest of its API as Node documents it.
 */
export interface Http2ClientSession {
  /** True once the session was closed. */
  readonly closed: boolean;
  /** True once the session was destroyed. */
  readonly destroyed: boolean;
  /** The peer's SETTINGS (RFC 9113 §6.5; `enableConnectProtocol` is RFC 8441's). */
  readonly remoteSettings: { enableConnectProtocol?: boolean | undefined };
  /** Opens a stream (sprig calls it with the extended CONNECT's headers). */
  request(headers: never, options?: never): unknown;
}

/** True when `connect()` is to go over HTTP/2 for a URL that is (or is not) secure. @internal */
export function usesHttp2(options: ConnectOptions, secure: boolean): boolean {
  if (options.http2Session !== undefined) return true;
  return options.http2 === true || (options.http2 === "auto" && secure);
}

/** Checks `http2` and `http2Session`, and what they cannot be combined with. @internal */
export function checkHttp2Options(check: ArgumentCheck, o: Record<string, unknown>): void {
  if (o.http2 !== undefined && o.http2 !== true && o.http2 !== false && o.http2 !== "auto") {
    throw check.type("options.http2", 'true, false or "auto"', o.http2);
  }
  const session = o.http2Session as { request?: unknown } | undefined;
  if (
    session !== undefined &&
    (typeof session !== "object" || session === null || typeof session.request !== "function")
  ) {
    throw check.type("options.http2Session", "a ClientHttp2Session of node:http2", session);
  }
  if ((o.http2 || session !== undefined) && o.transport !== undefined) {
    throw check.problem("options.transport", "cannot be combined with http2 or http2Session");
  }
  if ((o.http2 || session !== undefined) && o.unixPath !== undefined) {
    throw check.problem("options.unixPath", "cannot be combined with http2 or http2Session");
  }
}
