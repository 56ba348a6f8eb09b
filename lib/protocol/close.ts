/**
 * Close frames (RFC 6455 §5.5.1, §7.4): status codes and payloads.
 *
 * @module
 */

import { CloseCode, InvalidDataError, ProtocolError } from "../errors.ts";
import { decodeUtf8, encodeUtf8 } from "./utf8.ts";

/** Longest close reason, in UTF-8 bytes: 125 minus the 2-byte code. */
export const MAX_CLOSE_REASON_BYTES = 123;

/** A close code and reason, as carried by a close frame. */
export interface CloseInfo {
  /** The status code; 1005 when the frame had no payload. */
  code: number;
  /** The reason, possibly empty. */
  reason: string;
}

/**
 * True for a status code that may appear in a close frame received from the
 * peer: 1000–1003, 1007–1014 (RFC 6455 and the IANA registry), and 3000–4999
 * (registered and private use). 1004, 1005, 1006 and 1015 are reserved and
 * MUST NOT be sent (RFC 6455 §7.4.1), everything else below 3000 is unassigned.
 */
export function isValidReceivedCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
    (code >= 3000 && code <= 4999);
}

/**
 * True for a status code an application may send: 1000, and 3000–4999.
 * The other codes of the 1xxx range describe protocol conditions that
 * sprig itself reports; {@link isValidReceivedCloseCode} says which may
 * cross the wire at all.
 */
export function isValidApplicationCloseCode(code: number): boolean {
  return code === CloseCode.Normal || (code >= 3000 && code <= 4999);
}

/**
 * Parses a close frame's payload.
 *
 * @throws {ProtocolError} (1002) for a 1-byte payload or a code that must not be sent
 * @throws {InvalidDataError} (1007) for a reason that is not valid UTF-8
 */
export function parseClosePayload(payload: Uint8Array): CloseInfo {
  if (payload.length === 0) return { code: CloseCode.NoStatus, reason: "" };
  // RFC 6455 §5.5.1: if there is a body, its first two bytes MUST be a code.
  if (payload.length === 1) {
    throw new ProtocolError("CLOSE_PAYLOAD_1_BYTE", "close frame with a 1-byte payload");
  }
  const code = (payload[0] << 8) | payload[1];
  if (!isValidReceivedCloseCode(code)) {
    throw new ProtocolError("CLOSE_CODE_INVALID", `close code ${code} may not be sent`);
  }
  let reason: string;
  try {
    reason = decodeUtf8(payload.subarray(2));
  } catch (cause) {
    throw new InvalidDataError("CLOSE_REASON_INVALID_UTF8", "close reason is not valid UTF-8", {
      cause,
    });
  }
  return { code, reason };
}

/**
 * Builds a close frame's payload. With no code the payload is empty (the
 * peer sees 1005). The code must be one that may be sent, and the reason at
 * most 123 bytes of UTF-8; a reason without a code is refused.
 *
 * @throws {RangeError} for a code that may not be sent or a reason too long
 */
export function buildClosePayload(code?: number, reason = ""): Uint8Array {
  if (code === undefined) {
    if (reason !== "") throw new RangeError("a close reason needs a close code");
    return new Uint8Array(0);
  }
  if (!Number.isInteger(code) || !isValidReceivedCloseCode(code)) {
    throw new RangeError(`close code ${code} may not be sent`);
  }
  const bytes = encodeUtf8(reason);
  if (bytes.length > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason is ${bytes.length} bytes of UTF-8 (at most 123)`);
  }
  const out = new Uint8Array(2 + bytes.length);
  out[0] = code >>> 8;
  out[1] = code & 0xff;
  out.set(bytes, 2);
  return out;
}
