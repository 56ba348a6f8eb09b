/**
 * Default limits, in one place. Each is no stricter than the mainstream peers
 * users already run (`ws` accepts 100 MiB messages, Bun 16 MiB), so ordinary
 * traffic passes; what they stop is waste.
 *
 * @module
 */

/** Limits applied to what a peer sends. */
export interface Limits {
  /**
   * Largest payload of one frame, in bytes, before any extension transform.
   * Default 64 MiB; range 125 … 2^53 − 1.
   */
  maxFrameBytes: number;
  /**
   * Largest message, in bytes, after reassembly and after decompression
   * (a compression bomb is stopped here). Default 64 MiB; range 0 … 2^53 − 1.
   */
  maxMessageBytes: number;
  /**
   * Most frames in one fragmented message, counting empty ones. Default
   * 4,194,304 (so a multi-MiB message in 1-byte fragments still arrives);
   * memory stays proportional to bytes because small fragments are coalesced.
   */
  maxFragments: number;
}

/** The defaults for {@link Limits}. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 64 * 1024 * 1024,
  maxMessageBytes: 64 * 1024 * 1024,
  maxFragments: 4 * 1024 * 1024,
});

/** Largest HTTP/1.1 head (request or status line plus headers), in bytes. Default 16 KiB. */
export const DEFAULT_MAX_HEAD_BYTES = 16 * 1024;
/** Most header lines in an HTTP/1.1 head. Default 100. */
export const DEFAULT_MAX_HEADERS = 100;
