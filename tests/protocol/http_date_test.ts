// HTTP-date (RFC 9110 §5.6.7) and Retry-After (RFC 9110 §10.2.3), sans I/O.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { parseHttpDate, retryAfterMs } from "../../lib/protocol/http_date.ts";

const T = Date.UTC(1994, 10, 6, 8, 49, 37);

describe("parseHttpDate (RFC 9110 §5.6.7)", () => {
  it("reads the three forms a recipient MUST accept", () => {
    assert.equal(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), T); // IMF-fixdate
    assert.equal(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), T); // obsolete RFC 850
    assert.equal(parseHttpDate("Sun Nov  6 08:49:37 1994"), T); // asctime
    assert.equal(parseHttpDate("Sun Nov 16 08:49:37 1994"), Date.UTC(1994, 10, 16, 8, 49, 37));
  });
  it("an RFC 850 two-digit year more than 50 years ahead is in the past century", () => {
    const year = new Date().getUTCFullYear();
    const far = (year + 60) % 100;
    const near = (year + 1) % 100;
    const pad = (n: number) => String(n).padStart(2, "0");
    assert.equal(
      new Date(parseHttpDate(`Monday, 01-Jan-${pad(far)} 00:00:00 GMT`)!).getUTCFullYear(),
      year + 60 - 100,
    );
    assert.equal(
      new Date(parseHttpDate(`Monday, 01-Jan-${pad(near)} 00:00:00 GMT`)!).getUTCFullYear(),
      year + 1,
    );
  });
  it("refuses what is not an HTTP-date", () => {
    for (
      const bad of [
        "",
        "tomorrow",
        "Sun, 06 Nov 1994 08:49:37 UTC", // the zone is always GMT
        "Sun, 6 Nov 1994 08:49:37 GMT", // two-digit day
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 31 Feb 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "1994-11-06T08:49:37Z",
      ]
    ) {
      assert.equal(parseHttpDate(bad), undefined, bad);
    }
  });
});

describe("retryAfterMs (RFC 9110 §10.2.3)", () => {
  it("delay-seconds: digits only", () => {
    assert.equal(retryAfterMs("0", T), 0);
    assert.equal(retryAfterMs("120", T), 120_000);
    assert.equal(retryAfterMs(" 3 ", T), 3000);
    for (const bad of ["1.5", "-1", "1e3", "0x10", "3 s"]) {
      assert.equal(retryAfterMs(bad, T), undefined, bad);
    }
  });
  it("an HTTP-date, relative to now; a date in the past is 0", () => {
    assert.equal(retryAfterMs("Sun, 06 Nov 1994 08:49:40 GMT", T), 3000);
    assert.equal(retryAfterMs("Sun, 06 Nov 1994 08:49:30 GMT", T), 0);
    assert.equal(retryAfterMs("Sunday, 06-Nov-94 08:50:37 GMT", T), 60_000);
  });
});
