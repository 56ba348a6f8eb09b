/**
 * Comma-separated field values (RFC 9110 §5.6.1: `Connection`, `Upgrade`),
 * as the handshake and every server front read them.
 *
 * @module
 */

/**
 * True when a comma-separated field value (RFC 9110 §5.6.1) lists `token`,
 * ASCII case-insensitively.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listHas } from "./field_list.ts";
 * assert.ok(listHas("keep-alive, Upgrade", "upgrade")); // tokens compare case-insensitively
 * assert.ok(!listHas("keep-alive", "upgrade"));
 * ```
 */
export function listHas(value: string | null, token: string): boolean {
  if (value === null) return false;
  for (const item of value.split(",")) if (item.trim().toLowerCase() === token) return true;
  return false;
}
