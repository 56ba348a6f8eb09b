/**
 * Stable codes for socket failures, whatever the runtime: Node, Deno and
 * Bun word the same failure differently (`ECONNREFUSED`, `ConnectionRefused`,
 * "Failed to connect"), so sprig reads the runtime's `code`, `name` and
 * message once, here, and every caller gets one of these codes with the
 * runtime's error as `cause`.
 *
 * @module
 */

/** Why opening a connection failed. */
export type ConnectFailure =
  | "CONNECT_REFUSED"
  | "HOST_NOT_FOUND"
  | "HOST_UNREACHABLE"
  | "TLS_FAILED"
  | "CONNECT_FAILED";

/** Why listening failed. */
export type ListenFailure = "ADDRESS_IN_USE" | "ADDRESS_NOT_AVAILABLE" | "LISTEN_FAILED";

function parts(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  return `${e?.code ?? ""} ${e?.name ?? ""} ${e?.message ?? String(error)}`;
}

const TLS =
  /cert|tls|ssl|self[ -]?signed|issuer|verify|handshake|wrong.version|InvalidData|InvalidContentType|alert|EPROTO/i;

/**
 * The code of a failure to connect; `tls` says whether TLS was asked for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connectFailure } from "./failure.ts";
 * const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
 * assert.equal(connectFailure(refused, false), "CONNECT_REFUSED");
 * assert.equal(connectFailure(new Error("something else"), false), "CONNECT_FAILED");
 * ```
 */
export function connectFailure(error: unknown, tls: boolean): ConnectFailure {
  const text = parts(error);
  if (/ECONNREFUSED|ConnectionRefused|Connection refused/i.test(text)) return "CONNECT_REFUSED";
  if (/ENOTFOUND|EAI_AGAIN|EAI_NONAME|failed to lookup|Name or service not known|DNS/i.test(text)) {
    return "HOST_NOT_FOUND";
  }
  if (/EHOSTUNREACH|ENETUNREACH|unreachable/i.test(text)) return "HOST_UNREACHABLE";
  if (tls && TLS.test(text)) return "TLS_FAILED";
  return "CONNECT_FAILED";
}

/**
 * The code of a failure to listen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenFailure } from "./failure.ts";
 * const inUse = Object.assign(new Error("listen EADDRINUSE"), { code: "EADDRINUSE" });
 * assert.equal(listenFailure(inUse), "ADDRESS_IN_USE");
 * ```
 */
export function listenFailure(error: unknown): ListenFailure {
  const text = parts(error);
  if (/EADDRINUSE|AddrInUse|address already in use/i.test(text)) return "ADDRESS_IN_USE";
  if (/EADDRNOTAVAIL|AddrNotAvailable|EACCES|permission denied/i.test(text)) {
    return "ADDRESS_NOT_AVAILABLE";
  }
  return "LISTEN_FAILED";
}
