/**
 * The long texts a connection received in this turn, with their UTF-8
 * bytes: a text sent back (an echo, a relay) is then neither encoded again
 * nor copied, and when its bytes are its frame's own payload, the room its
 * received header left in front of them takes the new header (see
 * `OutputBuffer.frame`). Forgotten at the end of the turn, so no bytes are
 * held past it.
 *
 * @module
 */

/** Texts from this many UTF-16 units on are remembered. */
const REMEMBER_FROM = 1024;
/** Most texts remembered per turn. */
const REMEMBER_MAX = 32;

/** Texts received this turn and their bytes. @internal */
export class ReceivedTexts {
  readonly #texts: string[] = [];
  readonly #bytes: Uint8Array[] = [];
  /** For each: the bytes in front of it that its frame's header held (FrameParser.lastRoom). */
  readonly #rooms: number[] = [];

  /** Shorter texts are not remembered (encoding them again costs little). */
  static readonly MIN_LENGTH: number = REMEMBER_FROM;

  /**
   * Remembers `text` (at least {@link MIN_LENGTH} long), received as
   * `bytes` (valid UTF-8), with `room` free bytes in front; past the most
   * per turn, does nothing.
   */
  remember(text: string, bytes: Uint8Array, room: number): void {
    if (this.#texts.length >= REMEMBER_MAX) return;
    this.#texts.push(text);
    this.#bytes.push(bytes);
    this.#rooms.push(room);
  }

  /** The index of `text` among those remembered (the latest first), or -1. */
  find(text: string): number {
    const texts = this.#texts;
    for (let i = texts.length - 1; i >= 0; i--) {
      const t = texts[i];
      if (text.length === t.length && text === t) return i;
    }
    return -1;
  }

  /** The UTF-8 bytes of the text at `index`. */
  bytesAt(index: number): Uint8Array {
    return this.#bytes[index];
  }

  /** The free bytes in front of {@link bytesAt}'s. */
  roomAt(index: number): number {
    return this.#rooms[index];
  }

  /** Forgets them all (the turn is over). */
  clear(): void {
    if (this.#texts.length === 0) return;
    this.#texts.length = 0;
    this.#bytes.length = 0;
    this.#rooms.length = 0;
  }
}
