// HTTP/1.1 message bodies (RFC 9112 §6, §7): the framing rules for
// requests and responses, and the body decoder fed whole, split at every
// byte, and one byte at a time, with its limits and errors.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HttpParseError } from "../../lib/errors.ts";
import { HeadParser, type RequestHead, type ResponseHead } from "../../lib/protocol/http1.ts";
import {
  BodyDecoder,
  type BodyFraming,
  requestBodyFraming,
  responseBodyFraming,
} from "../../lib/protocol/http1_body.ts";
import { utf8 } from "../_helpers/bytes.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function response(head: string): ResponseHead {
  return new HeadParser({ kind: "response" }).push(utf8(`${head}\r\n\r\n`))!;
}

function request(fields: string, version = "HTTP/1.1"): RequestHead {
  return new HeadParser({ kind: "request" }).push(
    utf8(`POST / ${version}\r\nHost: a\r\n${fields}\r\n`),
  )!;
}

function parseError(fn: () => unknown, code: string, status: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof HttpParseError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.status, status);
    return true;
  });
}

/** Feeds `pieces` until the body is done; returns the decoder and what followed the body. */
function decode(framing: BodyFraming, pieces: Uint8Array[], maxBodyBytes?: number) {
  const d = new BodyDecoder(framing, { maxBodyBytes });
  let i = 0;
  while (i < pieces.length && !d.done) d.push(pieces[i++]);
  const after = text(d.rest) + pieces.slice(i).map(text).join("");
  return Object.assign(d, { after });
}

/** Every way to cut `bytes` in two, plus one byte at a time. */
function splits(bytes: Uint8Array): Uint8Array[][] {
  const out: Uint8Array[][] = [[bytes]];
  for (let at = 1; at < bytes.length; at++) out.push([bytes.subarray(0, at), bytes.subarray(at)]);
  out.push(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)));
  return out;
}

describe("responseBodyFraming (RFC 9112 §6.3)", () => {
  it("1xx, 204 and 304 have no body, whatever the fields say", () => {
    for (
      const status of ["100 Continue", "103 Early Hints", "204 No Content", "304 Not Modified"]
    ) {
      assert.deepEqual(responseBodyFraming(response(`HTTP/1.1 ${status}\r\nContent-Length: 5`)), {
        type: "none",
      });
    }
  });

  it("Transfer-Encoding ending in chunked is chunked, and overrides Content-Length", () => {
    for (const te of ["chunked", "Chunked", "gzip, chunked", "gzip,chunked"]) {
      const head = response(
        `HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: ${te}\r\nContent-Length: 3`,
      );
      assert.equal(responseBodyFraming(head).type, "chunked", te);
    }
  });

  it("another Transfer-Encoding, or one in HTTP/1.0, is read to the end of the connection", () => {
    assert.equal(
      responseBodyFraming(response("HTTP/1.1 401 x\r\nTransfer-Encoding: chunked, gzip")).type,
      "close",
    );
    assert.equal(
      responseBodyFraming(response("HTTP/1.0 401 x\r\nTransfer-Encoding: chunked")).type,
      "close",
    );
  });

  it("Content-Length gives the length; equal repeated values are one length; none means close-delimited", () => {
    assert.deepEqual(responseBodyFraming(response("HTTP/1.1 401 x\r\nContent-Length: 9")), {
      type: "length",
      length: 9,
    });
    assert.deepEqual(
      responseBodyFraming(response("HTTP/1.1 401 x\r\nContent-Length: 9\r\nContent-Length: 9")),
      { type: "length", length: 9 },
    );
    assert.deepEqual(responseBodyFraming(response("HTTP/1.1 401 x\r\nContent-Length: 0")), {
      type: "none",
    });
    assert.deepEqual(responseBodyFraming(response("HTTP/1.1 401 x\r\nConnection: close")), {
      type: "close",
    });
  });

  it("an invalid Content-Length is an error (item 5)", () => {
    for (const value of ["9, 10", "-1", "0x10", "1e3", "", "9 9", "1234567890123456"]) {
      parseError(
        () => responseBodyFraming(response(`HTTP/1.1 401 x\r\nContent-Length: ${value}`)),
        "BODY_BAD_LENGTH",
        400,
      );
    }
  });
});

describe("requestBodyFraming (RFC 9112 §6.3)", () => {
  it("chunked alone is chunked; Content-Length gives the length; neither is no body", () => {
    assert.deepEqual(requestBodyFraming(request("Transfer-Encoding: chunked\r\n")), {
      type: "chunked",
    });
    assert.deepEqual(requestBodyFraming(request("Content-Length: 3\r\n")), {
      type: "length",
      length: 3,
    });
    assert.deepEqual(requestBodyFraming(request("")), { type: "none" });
  });

  it("refuses what request smuggling is made of (400), and codings it does not know (501)", () => {
    parseError(
      () => requestBodyFraming(request("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n")),
      "BODY_BAD_FRAMING",
      400,
    );
    parseError(
      () => requestBodyFraming(request("Transfer-Encoding: chunked\r\n", "HTTP/1.0")),
      "BODY_BAD_FRAMING",
      400,
    );
    parseError(
      () => requestBodyFraming(request("Transfer-Encoding: chunked, chunked\r\n")),
      "BODY_BAD_FRAMING",
      400,
    );
    parseError(
      () => requestBodyFraming(request("Transfer-Encoding: gzip, chunked\r\n")),
      "BODY_CODING_UNSUPPORTED",
      501,
    );
    parseError(
      () => requestBodyFraming(request("Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n")),
      "BODY_CODING_UNSUPPORTED",
      501,
    );
    parseError(
      () => requestBodyFraming(request("Content-Length: 1\r\nContent-Length: 2\r\n")),
      "BODY_BAD_LENGTH",
      400,
    );
  });
});

describe("BodyDecoder", () => {
  const CHUNKED = utf8("5\r\nno to\r\n4;a=1; b\r\nken!\r\n0\r\nTrailer: x\r\n\r\nNEXT");

  it('chunked: "no token!" and the rest, however the bytes are split', () => {
    for (const pieces of splits(CHUNKED)) {
      const d = decode({ type: "chunked" }, pieces);
      assert.ok(d.done);
      assert.equal(text(d.body), "no token!");
      assert.equal(d.after, "NEXT");
    }
  });

  it("chunked: the data is complete at the last chunk, before the trailers", () => {
    const d = new BodyDecoder({ type: "chunked" });
    d.push(utf8("3\r\nabc\r\n0\r\n"));
    assert.ok(d.dataComplete);
    assert.ok(!d.done);
    d.push(utf8("\r\n"));
    assert.ok(d.done);
    assert.equal(text(d.body), "abc");
  });

  it("chunked: sizes in upper and lower case hex, and leading zeros", () => {
    const d = decode({ type: "chunked" }, [
      utf8("0A\r\n0123456789\r\na\r\n0123456789\r\n000\r\n\r\n"),
    ]);
    assert.ok(d.done);
    assert.equal(d.body.length, 20);
  });

  it("chunked: malformed framing is BODY_BAD_CHUNK (400), with the data before it kept", () => {
    for (
      const bad of [
        "x\r\n",
        "\r\n",
        "5\nno to\r\n",
        "5\r\nno tox\r\n",
        "5\r\nno to\n",
        "5\rno to",
        "5 x\r\n",
        "fffffffffffffff\r\n",
        "0\r\nTrailer: x\n\r\n",
        "0\r\n\rX",
      ]
    ) {
      const d = new BodyDecoder({ type: "chunked" });
      assert.throws(() => d.push(utf8(bad)), (e: unknown) => {
        assert.ok(e instanceof HttpParseError, `${JSON.stringify(bad)}: ${e}`);
        assert.equal(e.code, "BODY_BAD_CHUNK", JSON.stringify(bad));
        assert.equal(e.status, 400);
        return true;
      });
      // Every later push fails the same way.
      assert.throws(() => d.push(utf8("0\r\n\r\n")), HttpParseError);
    }
    const d = new BodyDecoder({ type: "chunked" });
    assert.throws(() => d.push(utf8("5\r\nno to\r\nzz")), HttpParseError);
    assert.equal(text(d.body), "no to");
  });

  it("chunked: the decoded size counts toward maxBodyBytes, keeping the first part (413)", () => {
    const d = new BodyDecoder({ type: "chunked" }, { maxBodyBytes: 6 });
    parseError(() => d.push(utf8("5\r\nno to\r\n4\r\nken!\r\n0\r\n\r\n")), "BODY_TOO_LARGE", 413);
    assert.equal(text(d.body), "no to ".slice(0, 5) + "k");
    // 1-byte chunks count too.
    const many = new BodyDecoder({ type: "chunked" }, { maxBodyBytes: 10 });
    parseError(() => many.push(utf8("1\r\nx\r\n".repeat(11))), "BODY_TOO_LARGE", 413);
  });

  it("chunked: extensions and trailers together are bounded by maxMetadataBytes (431)", () => {
    const ext = new BodyDecoder({ type: "chunked" }, { maxMetadataBytes: 100 });
    parseError(
      () => ext.push(utf8(`1;${"e".repeat(60)}\r\nx\r\n1;${"e".repeat(60)}\r\nx\r\n`)),
      "BODY_METADATA_TOO_LARGE",
      431,
    );
    const trailer = new BodyDecoder({ type: "chunked" }, { maxMetadataBytes: 100 });
    parseError(
      () => trailer.push(utf8(`0\r\nX: ${"t".repeat(200)}\r\n\r\n`)),
      "BODY_METADATA_TOO_LARGE",
      431,
    );
  });

  it("Content-Length: exactly the length, the rest kept, however split", () => {
    const bytes = utf8("no token!NEXT");
    for (const pieces of splits(bytes)) {
      const d = decode({ type: "length", length: 9 }, pieces);
      assert.ok(d.done);
      assert.equal(text(d.body), "no token!");
      assert.equal(d.after, "NEXT");
    }
  });

  it("Content-Length over maxBodyBytes: 413 when the data passes it, with the first part kept", () => {
    const d = new BodyDecoder({ type: "length", length: 100 }, { maxBodyBytes: 4 });
    d.push(utf8("no"));
    parseError(() => d.push(utf8(" token!")), "BODY_TOO_LARGE", 413);
    assert.equal(text(d.body), "no t");
  });

  it("close-delimited: everything until end()", () => {
    const d = new BodyDecoder({ type: "close" });
    d.push(utf8("no "));
    d.push(utf8("token!"));
    assert.ok(!d.done);
    d.end();
    assert.ok(d.done);
    assert.equal(text(d.body), "no token!");
  });

  it("end() inside a body with a length or chunked is BODY_INCOMPLETE (400)", () => {
    const a = new BodyDecoder({ type: "length", length: 9 });
    a.push(utf8("no"));
    parseError(() => a.end(), "BODY_INCOMPLETE", 400);
    const b = new BodyDecoder({ type: "chunked" });
    b.push(utf8("5\r\nno"));
    parseError(() => b.end(), "BODY_INCOMPLETE", 400);
    assert.equal(text(b.body), "no");
  });

  it("no body: done at once; pushing more is a TypeError", () => {
    const d = new BodyDecoder({ type: "none" });
    assert.ok(d.done && d.dataComplete);
    assert.equal(d.body.length, 0);
    assert.throws(() => d.push(utf8("x")), TypeError);
  });

  it("limits out of range are a RangeError naming the option", () => {
    assert.throws(() => new BodyDecoder({ type: "none" }, { maxBodyBytes: -1 }), /maxBodyBytes/);
    assert.throws(
      () => new BodyDecoder({ type: "none" }, { maxMetadataBytes: 1.5 }),
      /maxMetadataBytes/,
    );
  });
});
