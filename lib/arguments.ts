/**
 * Checks on the arguments of public entry points (`connect`, `serve`, the
 * adapters, `permessageDeflate`, …), so that a malformed argument fails at
 * the call with the documented error, {@link InvalidArgumentError} (a
 * `TypeError`) or {@link ArgumentRangeError} (a `RangeError`), naming the
 * argument, rather than later and deeper with a runtime's own message.
 *
 * `undefined` always passes (it means "the default"); each check returns
 * the value, typed.
 *
 * @module
 * @internal
 */

import { ArgumentRangeError, InvalidArgumentError } from "./errors.ts";

/** The longest delay `setTimeout` honours on every runtime (2^31 − 1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 0x7fff_ffff;

/** A short description of a value for an error message: `-1`, `"x"`, `null`, `an object`. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "boolean":
    case "bigint":
      return String(value);
    case "undefined":
      return "undefined";
    case "function":
      return "a function";
    case "symbol":
      return "a symbol";
    default:
      if (value === null) return "null";
      if (Array.isArray(value)) return "an array";
      return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  }
}

/**
 * The checks of one entry point: `fn` prefixes every message, as in
 * `connect(): options.port must be …`.
 */
export class ArgumentCheck {
  /** The entry point, e.g. `"connect()"`. */
  readonly fn: string;

  constructor(fn: string) {
    this.fn = fn;
  }

  /** An {@link InvalidArgumentError}: `argument` must be `expected`. */
  type(argument: string, expected: string, value: unknown, cause?: unknown): InvalidArgumentError {
    return new InvalidArgumentError(
      argument,
      `${this.fn}: ${argument} must be ${expected}, got ${describeValue(value)}`,
      cause === undefined ? undefined : { cause },
    );
  }

  /** An {@link InvalidArgumentError} in other words: `${fn}: ${argument} ${text}`. */
  problem(argument: string, text: string): InvalidArgumentError {
    return new InvalidArgumentError(argument, `${this.fn}: ${argument} ${text}`);
  }

  /** An {@link ArgumentRangeError}: `argument` must be `expected`. */
  range(argument: string, expected: string, value: unknown): ArgumentRangeError {
    return new ArgumentRangeError(
      argument,
      `${this.fn}: ${argument} must be ${expected}, got ${describeValue(value)}`,
    );
  }

  /** An options object: `undefined` gives `{}`; anything but a plain object fails. */
  options(argument: string, value: unknown): Record<string, unknown> {
    if (value === undefined) return {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw this.type(argument, "an object", value);
    }
    return value as Record<string, unknown>;
  }

  /**
   * Refuses every key of the options object `o` (named `argument`) that is
   * not one of `names`: a misspelt or foreign option (ws's
   * `perMessageDeflate`, Bun's `maxPayloadLength`) would otherwise be
   * ignored without a word. The message names the key and, in this order,
   * what `hints` says of it (the sprig option for another library's name),
   * the option it is a typo of, or the options there are.
   *
   * @throws {InvalidArgumentError} (a `TypeError`) naming `argument.key`
   */
  known(
    argument: string,
    o: Record<string, unknown>,
    names: readonly string[],
    hints: Readonly<Record<string, string>> = {},
  ): void {
    for (const key of Object.keys(o)) {
      if (names.includes(key)) continue;
      const hint = Object.hasOwn(hints, key) ? hints[key] : undefined;
      const near = hint === undefined ? nearest(key, names) : undefined;
      const text = hint !== undefined
        ? hint
        : near !== undefined
        ? `did you mean ${argument}.${near}?`
        : `the options are ${names.join(", ")}`;
      throw new InvalidArgumentError(
        `${argument}.${key}`,
        `${this.fn}: ${argument}.${key} is not an option of ${this.fn}: ${text}`,
      );
    }
  }

  /** An integer from `min` to `max`. */
  integer(argument: string, value: unknown, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "number") throw this.type(argument, "a number", value);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw this.range(argument, `an integer from ${min} to ${max}`, value);
    }
    return value;
  }

  /**
   * A duration in milliseconds, from `min` to {@link MAX_TIMER_MS}: a
   * larger one (or `Infinity`) would fire at once on some runtimes.
   */
  milliseconds(argument: string, value: unknown, min = 0): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "number") throw this.type(argument, "a number of milliseconds", value);
    if (!(value >= min && value <= MAX_TIMER_MS)) {
      throw this.range(argument, `a number of milliseconds from ${min} to ${MAX_TIMER_MS}`, value);
    }
    return value;
  }

  /** `true` or `false`. */
  boolean(argument: string, value: unknown): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") throw this.type(argument, "a boolean", value);
    return value;
  }

  /** A string. */
  string(argument: string, value: unknown): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "string") throw this.type(argument, "a string", value);
    return value;
  }

  /** A function. */
  function<F>(argument: string, value: unknown): F | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== "function") throw this.type(argument, "a function", value);
    return value as F;
  }

  /** One of `values`. */
  oneOf<T extends string>(argument: string, value: unknown, values: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (!values.includes(value as T)) {
      throw this.type(argument, `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, value);
    }
    return value as T;
  }

  /** An array (or other iterable) of strings, copied. */
  strings(argument: string, value: unknown): string[] | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string" || !isIterable(value)) {
      throw this.type(argument, "an array of strings", value);
    }
    const out = [...value];
    out.forEach((item, i) => {
      if (typeof item !== "string") throw this.type(`${argument}[${i}]`, "a string", item);
    });
    return out as string[];
  }

  /** An array (or other iterable), copied. */
  array(argument: string, value: unknown): unknown[] | undefined {
    if (value === undefined) return undefined;
    if (typeof value === "string" || !isIterable(value)) {
      throw this.type(argument, "an array", value);
    }
    return [...value];
  }

  /** Keepalive settings: `false`, or `{ intervalMs, timeoutMs }` (0 ms interval: off). */
  keepalive(argument: string, value: unknown): void {
    if (value === false || value === undefined) return;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw this.type(argument, "false or { intervalMs, timeoutMs }", value);
    }
    const k = value as Record<string, unknown>;
    this.known(argument, k, ["intervalMs", "timeoutMs"]);
    this.milliseconds(`${argument}.intervalMs`, k.intervalMs);
    this.milliseconds(`${argument}.timeoutMs`, k.timeoutMs, 1);
  }

  /** An `AbortSignal` (any object with `aborted` and `addEventListener`, as other realms make them). */
  signal(argument: string, value: unknown): AbortSignal | undefined {
    if (value === undefined) return undefined;
    const s = value as Partial<AbortSignal> | null;
    if (
      typeof s !== "object" || s === null || typeof s.aborted !== "boolean" ||
      typeof s.addEventListener !== "function"
    ) {
      throw this.type(argument, "an AbortSignal", value);
    }
    return value as AbortSignal;
  }
}

/** The name in `names` that `key` is a typo of (case, or at most two edits), if any. */
function nearest(key: string, names: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const limit = Math.min(2, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of names) {
    if (name.toLowerCase() === lower) return name;
    const d = editDistance(lower, name.toLowerCase());
    if (d <= limit && d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/** Edit distance counting a swap of neighbours as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    d.push([i]);
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        d[0][j] = j;
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return typeof value === "object" && value !== null &&
    typeof (value as Iterable<unknown>)[Symbol.iterator] === "function";
}

/**
 * Whether a PEM private key is encrypted: PKCS#8 `ENCRYPTED PRIVATE KEY`
 * (RFC 5958 §3), or a PKCS#1/SEC1 key with `Proc-Type: 4,ENCRYPTED`
 * (RFC 1421 §4.6.1.1). Such a key needs its `passphrase`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isEncryptedPemKey } from "./arguments.ts";
 * assert.equal(isEncryptedPemKey("-----BEGIN ENCRYPTED PRIVATE KEY-----\n…"), true);
 * assert.equal(isEncryptedPemKey("-----BEGIN PRIVATE KEY-----\n…"), false);
 * ```
 */
export function isEncryptedPemKey(pem: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4,\s*ENCRYPTED/m.test(pem);
}
