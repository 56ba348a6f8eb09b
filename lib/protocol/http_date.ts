/**
 * HTTP-date (RFC 9110 §5.6.7), as `Retry-After` carries it: the preferred
 * IMF-fixdate and, as recipients MUST accept them, the obsolete RFC 850 and
 * asctime forms. Pure: no clock.
 *
 * @module
 * @internal
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

// Sun, 06 Nov 1994 08:49:37 GMT
const IMF_FIXDATE = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sunday, 06-Nov-94 08:49:37 GMT
const RFC850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
// Sun Nov  6 08:49:37 1994
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * The time an HTTP-date stands for, in milliseconds since the epoch, or
 * `undefined` when `value` is not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHttpDate } from "./http_date.ts";
 * const t = Date.UTC(1994, 10, 6, 8, 49, 37);
 * assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), t);
 * assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), t);
 * assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), t);
 * assert.equal(parseHttpDate("tomorrow"), undefined);
 * ```
 */
export function parseHttpDate(value: string): number | undefined {
  const text = value.trim();
  let day: string, month: string, year: number, h: string, m: string, s: string;
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    [, day, month, , h, m, s] = match;
    year = Number(match[3]);
  } else if ((match = RFC850.exec(text))) {
    [, day, month, , h, m, s] = match;
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(match[3]);
    const thisYear = new Date().getUTCFullYear();
    year = 2000 + yy > thisYear + 50 ? 1900 + yy : 2000 + yy;
  } else if ((match = ASCTIME.exec(text))) {
    [, month, day, h, m, s] = match;
    year = Number(match[6]);
  } else {
    return undefined;
  }
  const monthIndex = MONTHS.indexOf(month.toLowerCase());
  const d = Number(day.trim());
  const [hh, mm, ss] = [Number(h), Number(m), Number(s)];
  if (monthIndex === -1 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60) return undefined;
  const time = Date.UTC(year, monthIndex, d, hh, mm, Math.min(ss, 59));
  // A day past the month's end (31 Feb) rolls over in Date.UTC: refuse it.
  return new Date(time).getUTCDate() === d ? time : undefined;
}

/**
 * The delay a `Retry-After` value asks for, in milliseconds (RFC 9110
 * §10.2.3): delay-seconds, or an HTTP-date taken relative to `now` (the
 * response's own `Date`, where it has one, so that the two clocks need
 * not agree). `undefined` for anything else; 0 for a date in the past.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryAfterMs } from "./http_date.ts";
 * assert.equal(retryAfterMs("120", 0), 120_000);
 * const now = Date.UTC(2026, 11, 7, 12, 0, 0);
 * assert.equal(retryAfterMs("Mon, 07 Dec 2026 12:00:03 GMT", now), 3000);
 * assert.equal(retryAfterMs("soon", now), undefined);
 * ```
 */
export function retryAfterMs(value: string, now: number): number | undefined {
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = parseHttpDate(text);
  return date === undefined ? undefined : Math.max(0, date - now);
}
