import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HttpParseError } from "../../lib/errors.ts";
import {
  HeadParser,
  isToken,
  type ParsedHead,
  type RequestHead,
  type ResponseHead,
  writeRequestHead,
  writeResponseHead,
} from "../../lib/protocol/http1.ts";
import { DEFAULT_MAX_HEAD_BYTES, DEFAULT_MAX_HEADERS } from "../../lib/protocol/limits.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0)); // Latin-1
const latin1 = (b: Uint8Array) => String.fromCharCode(...b); // Latin-1

const REQUEST = "GET /chat?x=1 HTTP/1.1\r\n" +
  "Host: server.example.com\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
  "X-Multi: one\r\n" +
  "x-multi:two \t\r\n" +
  "X-Empty:\r\n" +
  "Sec-WebSocket-Version: 13\r\n\r\n";
const RESPONSE = "HTTP/1.1 101 Switching Protocols\r\n" +
  "Upgrade: websocket\r\n" +
  "Connection: Upgrade\r\n" +
  "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
const TRAILING = "\x81\x05Hello\r\n\r\nmore";

/** Feeds `chunks` in order; returns the head and the bytes after it. */
function feed<K extends "request" | "response">(
  parser: HeadParser<K>,
  chunks: Uint8Array[],
): { head: ParsedHead | undefined; rest: string } {
  let head: ParsedHead | undefined;
  let rest = "";
  for (const chunk of chunks) {
    if (head) {
      rest += latin1(chunk);
      continue;
    }
    head = parser.push(chunk);
    if (head) rest += latin1(parser.rest);
  }
  return { head, rest };
}

function checkRequest(head: ParsedHead | undefined): void {
  assert.ok(head && head.kind === "request");
  assert.equal(head.method, "GET");
  assert.equal(head.target, "/chat?x=1");
  assert.equal(head.version, "HTTP/1.1");
  assert.equal(head.headers.get("host"), "server.example.com");
  assert.equal(head.headers.get("x-multi"), "one, two");
  assert.equal(head.headers.get("x-empty"), "");
  assert.equal(head.headers.get("sec-websocket-version"), "13");
  assert.deepEqual(head.rawHeaders, [
    ["Host", "server.example.com"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="],
    ["X-Multi", "one"],
    ["x-multi", "two"],
    ["X-Empty", ""],
    ["Sec-WebSocket-Version", "13"],
  ]);
}

function checkResponse(head: ParsedHead | undefined): void {
  assert.ok(head && head.kind === "response");
  assert.equal(head.version, "HTTP/1.1");
  assert.equal(head.status, 101);
  assert.equal(head.statusText, "Switching Protocols");
  assert.equal(head.headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert.equal(head.rawHeaders.length, 3);
}

function parseError(fn: () => unknown, status: number, code?: string): HttpParseError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof HttpParseError, `expected HttpParseError, got ${error}`);
  assert.equal(error.status, status, error.message);
  if (code) assert.equal(error.code, code);
  return error;
}

function parseWhole(text: string, kind: "request" | "response" = "request", opts = {}) {
  const p = new HeadParser({ kind, ...opts });
  return p.push(bytes(text));
}

describe("HeadParser: splitting", () => {
  for (
    const [kind, text, check] of [
      ["request", REQUEST, checkRequest],
      ["response", RESPONSE, checkResponse],
    ] as const
  ) {
    const all = bytes(text + TRAILING);

    test(`${kind}: whole, with the bytes after it preserved`, () => {
      const p = new HeadParser({ kind });
      const { head, rest } = feed(p, [all]);
      check(head);
      assert.equal(rest, TRAILING);
      assert.equal(p.head, head);
    });

    test(`${kind}: split in two at every byte boundary`, () => {
      for (let at = 0; at <= all.length; at++) {
        const { head, rest } = feed(new HeadParser({ kind }), [
          all.subarray(0, at),
          all.subarray(at),
        ]);
        check(head);
        assert.equal(rest, TRAILING, `split at ${at}`);
      }
    });

    test(`${kind}: split in three at every pair of boundaries`, () => {
      const n = text.length + 3;
      for (let a = 0; a <= n; a++) {
        for (let b = a; b <= n; b++) {
          const { head, rest } = feed(new HeadParser({ kind }), [
            all.subarray(0, a),
            all.subarray(a, b),
            all.subarray(b),
          ]);
          check(head);
          assert.equal(rest, TRAILING, `split at ${a}, ${b}`);
        }
      }
    });

    test(`${kind}: one byte at a time`, () => {
      const chunks = Array.from(all, (_, i) => all.subarray(i, i + 1));
      const { head, rest } = feed(new HeadParser({ kind }), chunks);
      check(head);
      assert.equal(rest, TRAILING);
    });
  }

  test("empty chunks are ignored", () => {
    const p = new HeadParser({ kind: "request" });
    assert.equal(p.push(new Uint8Array(0)), undefined);
    const all = enc.encode(REQUEST);
    assert.equal(p.push(all.subarray(0, REQUEST.length - 2)), undefined);
    assert.equal(p.push(new Uint8Array(0)), undefined);
    checkRequest(p.push(all.subarray(REQUEST.length - 2)));
    assert.equal(p.rest.length, 0);
  });

  test("a head of exactly maxHeadBytes, split at every boundary, with rest", () => {
    const text = "GET / HTTP/1.1\r\nHost: a\r\nX: " + "y".repeat(100) + "\r\n\r\n";
    const all = enc.encode(text + "tail");
    for (let at = 0; at <= all.length; at++) {
      const p = new HeadParser({ kind: "request", maxHeadBytes: text.length });
      const { head, rest } = feed(p, [all.subarray(0, at), all.subarray(at)]);
      assert.equal(head?.headers.get("x"), "y".repeat(100));
      assert.equal(rest, "tail");
    }
  });

  test("push after completion is a TypeError", () => {
    const p = new HeadParser({ kind: "response" });
    assert.ok(p.push(enc.encode(RESPONSE)));
    assert.throws(() => p.push(enc.encode("x")), TypeError);
  });
});

describe("HeadParser: contents", () => {
  test("status line without a reason phrase, with or without the SP", () => {
    for (const line of ["HTTP/1.1 101", "HTTP/1.1 101 "]) {
      const head = parseWhole(`${line}\r\nUpgrade: websocket\r\n\r\n`, "response") as ResponseHead;
      assert.equal(head.status, 101);
      assert.equal(head.statusText, "");
    }
  });

  test("reason phrase with spaces, tabs and obs-text", () => {
    const head = parseWhole(
      "HTTP/1.0 401 Not \tAuthorized \xe9\r\n\r\n",
      "response",
    ) as ResponseHead;
    assert.equal(head.version, "HTTP/1.0");
    assert.equal(head.status, 401);
    assert.equal(head.statusText, "Not \tAuthorized \xe9");
  });

  test("a head with no fields", () => {
    const head = parseWhole("GET / HTTP/1.1\r\n\r\n") as RequestHead;
    assert.equal(head.rawHeaders.length, 0);
    assert.equal([...head.headers].length, 0);
  });

  test("field values: OWS trimmed, inner whitespace and obs-text kept (Latin-1)", () => {
    const head = parseWhole(
      "GET / HTTP/1.1\r\nA:  x \t y\t \r\nB:\xe9\xff\x80\r\n\r\n",
    ) as RequestHead;
    assert.equal(head.headers.get("a"), "x \t y");
    assert.equal(head.rawHeaders[1][1], "\xe9\xff\x80");
  });

  test("absolute-form and asterisk-form targets, HTTP/1.0 and HTTP/1.9", () => {
    assert.equal(
      (parseWhole("GET ws://a/b?c HTTP/1.1\r\n\r\n") as RequestHead).target,
      "ws://a/b?c",
    );
    assert.equal((parseWhole("OPTIONS * HTTP/1.0\r\n\r\n") as RequestHead).version, "HTTP/1.0");
    assert.equal((parseWhole("GET / HTTP/1.9\r\n\r\n") as RequestHead).version, "HTTP/1.9");
  });

  test("leading empty lines before a request line are skipped (RFC 9112 §2.2)", () => {
    const all = enc.encode("\r\n\r\n" + REQUEST + "z");
    for (let at = 0; at <= all.length; at++) {
      const { head, rest } = feed(new HeadParser({ kind: "request" }), [
        all.subarray(0, at),
        all.subarray(at),
      ]);
      checkRequest(head);
      assert.equal(rest, "z");
    }
  });

  test("obs-fold in a response is unfolded to SP (RFC 9112 §5.2)", () => {
    const head = parseWhole(
      "HTTP/1.1 200 OK\r\nX-Long: one\r\n  two\r\n\tthree\r\nY: z\r\n\r\n",
      "response",
    ) as ResponseHead;
    assert.equal(head.headers.get("x-long"), "one two three");
    assert.deepEqual(head.rawHeaders, [["X-Long", "one two three"], ["Y", "z"]]);
  });
});

describe("HeadParser: limits", () => {
  test("431 HEAD_TOO_LARGE one byte beyond the limit, whole or split", () => {
    const text = "GET / HTTP/1.1\r\nHost: a\r\nX: " + "y".repeat(100) + "\r\n\r\n";
    const all = enc.encode(text);
    assert.ok(parseWhole(text, "request", { maxHeadBytes: text.length }));
    for (let at = 0; at <= all.length; at++) {
      const p = new HeadParser({ kind: "request", maxHeadBytes: text.length - 1 });
      parseError(() => feed(p, [all.subarray(0, at), all.subarray(at)]), 431, "HEAD_TOO_LARGE");
    }
  });

  test("fails as soon as the limit is passed, not after buffering more", () => {
    const max = 64;
    const p = new HeadParser({ kind: "request", maxHeadBytes: max });
    const endless = enc.encode("GET / HTTP/1.1\r\nX: " + "a".repeat(1000));
    let pushed = 0;
    const error = parseError(
      () => {
        for (; pushed < endless.length; pushed++) p.push(endless.subarray(pushed, pushed + 1));
      },
      431,
      "HEAD_TOO_LARGE",
    );
    // The 64th byte, with no end in it, means the head is at least 65 bytes.
    assert.equal(pushed, max - 1);
    // The parser stays failed, with the same error.
    assert.throws(() => p.push(enc.encode("\r\n\r\n")), (e) => e === error);
  });

  test("a huge first chunk fails at once", () => {
    const p = new HeadParser({ kind: "request" });
    const huge = new Uint8Array(4 << 20).fill(0x61);
    parseError(() => p.push(huge), 431, "HEAD_TOO_LARGE");
  });

  test("the default limit is 16 KiB", () => {
    const filler = (n: number) => "GET / HTTP/1.1\r\nX: " + "a".repeat(n) + "\r\n\r\n";
    const overhead = filler(0).length;
    assert.equal(DEFAULT_MAX_HEAD_BYTES, 16384);
    assert.ok(parseWhole(filler(16384 - overhead)));
    parseError(() => parseWhole(filler(16384 - overhead + 1)), 431, "HEAD_TOO_LARGE");
  });

  test("a complete head plus data beyond the limit in the same chunk is fine", () => {
    const p = new HeadParser({ kind: "response", maxHeadBytes: RESPONSE.length });
    const head = p.push(enc.encode(RESPONSE + "x".repeat(100_000)));
    checkResponse(head);
    assert.equal(p.rest.length, 100_000);
  });

  test("431 HEAD_TOO_MANY_HEADERS past maxHeaders, failing at the extra line", () => {
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `H${i}: v\r\n`).join("");
    assert.ok(parseWhole(`GET / HTTP/1.1\r\n${lines(3)}\r\n`, "request", { maxHeaders: 3 }));
    parseError(
      () => parseWhole(`GET / HTTP/1.1\r\n${lines(4)}\r\n`, "request", { maxHeaders: 3 }),
      431,
      "HEAD_TOO_MANY_HEADERS",
    );
    // Without the end of the head yet: the fourth complete line is enough.
    const p = new HeadParser({ kind: "request", maxHeaders: 3 });
    parseError(() => p.push(enc.encode(`GET / HTTP/1.1\r\n${lines(4)}`)), 431);
    assert.equal(DEFAULT_MAX_HEADERS, 100);
    assert.ok(parseWhole(`GET / HTTP/1.1\r\n${lines(100)}\r\n`));
    parseError(
      () => parseWhole(`GET / HTTP/1.1\r\n${lines(101)}\r\n`),
      431,
      "HEAD_TOO_MANY_HEADERS",
    );
  });

  test("invalid limits are refused", () => {
    assert.throws(() => new HeadParser({ kind: "request", maxHeadBytes: 0 }), RangeError);
    assert.throws(() => new HeadParser({ kind: "request", maxHeadBytes: NaN }), RangeError);
    assert.throws(() => new HeadParser({ kind: "request", maxHeaders: -1 }), RangeError);
  });
});

describe("HeadParser: malformed heads are 400 (or 505)", () => {
  const requests: Array<[string, string, number?]> = [
    ["bare LF ending a field line", "GET / HTTP/1.1\nHost: a\r\n\r\n"],
    ["bare LF ending the head", "GET / HTTP/1.1\r\nHost: a\r\n\n"],
    ["bare CR inside a field value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"],
    ["bare CR inside the request line", "GET /\r HTTP/1.1\r\n\r\n"],
    ["whitespace before the colon (RFC 9112 §5.1)", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"],
    ["obs-fold in a request (RFC 9112 §5.2)", "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"],
    ["field line without a colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n"],
    ["empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n"],
    ["non-token field name", "GET / HTTP/1.1\r\nHo(st: a\r\n\r\n"],
    ["NUL in a field value", "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n"],
    ["DEL in a field value", "GET / HTTP/1.1\r\nA: b\x7fc\r\n\r\n"],
    ["control character in a field value", "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n"],
    ["non-token method", "G(T / HTTP/1.1\r\n\r\n"],
    ["missing target", "GET HTTP/1.1\r\n\r\n"],
    ["double space", "GET  / HTTP/1.1\r\n\r\n"],
    ["space inside the target", "GET /a b HTTP/1.1\r\n\r\n"],
    ["non-ASCII in the target", "GET /\xe9 HTTP/1.1\r\n\r\n"],
    ["trailing space after the version", "GET / HTTP/1.1 \r\n\r\n"],
    ["lowercase version", "GET / http/1.1\r\n\r\n"],
    ["malformed version", "GET / HTTP/1.10\r\n\r\n"],
    ["version without minor", "GET / HTTP/2\r\n\r\n"],
    ["leading whitespace before the request line", " GET / HTTP/1.1\r\n\r\n"],
    ["HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505],
    ["HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505],
  ];
  for (const [what, text, status = 400] of requests) {
    test(`request: ${what}`, () => {
      const all = bytes(text);
      parseError(() => parseWhole(text), status);
      // The same error however the bytes are split.
      for (let at = 0; at <= all.length; at++) {
        parseError(
          () => feed(new HeadParser({ kind: "request" }), [all.subarray(0, at), all.subarray(at)]),
          status,
        );
      }
    });
  }

  const responses: Array<[string, string, number?]> = [
    ["two-digit status", "HTTP/1.1 20 OK\r\n\r\n"],
    ["non-digit status", "HTTP/1.1 2x0 OK\r\n\r\n"],
    ["four-digit status", "HTTP/1.1 1010 OK\r\n\r\n"],
    ["no status", "HTTP/1.1\r\n\r\n"],
    ["short line", "HTTP/1\r\n\r\n"],
    ["not HTTP", "HTXP/1.1 101 OK\r\n\r\n"],
    ["obs-fold before any field", "HTTP/1.1 101 OK\r\n a\r\n\r\n"],
    ["control in the reason", "HTTP/1.1 101 O\x01K\r\n\r\n"],
    ["bare LF", "HTTP/1.1 101 OK\nUpgrade: websocket\n\n"],
    ["HTTP/2.0", "HTTP/2.0 101 OK\r\n\r\n", 505],
  ];
  for (const [what, text, status = 400] of responses) {
    test(`response: ${what}`, () => {
      parseError(() => parseWhole(text, "response"), status);
    });
  }
});

describe("writers", () => {
  test("writeRequestHead round-trips through HeadParser, in order", () => {
    const out = writeRequestHead("GET", "/a?b=c", [["Host", "h"], ["X-Y", "1\t2"], ["x-y", "3"]]);
    assert.equal(dec.decode(out), "GET /a?b=c HTTP/1.1\r\nHost: h\r\nX-Y: 1\t2\r\nx-y: 3\r\n\r\n");
    const head = new HeadParser({ kind: "request" }).push(out)!;
    assert.equal(head.headers.get("x-y"), "1\t2, 3");
  });

  test("writeResponseHead accepts Headers and writes Latin-1 octets", () => {
    const out = writeResponseHead(200, "OK", new Headers({ "x-a": "\xe9" }));
    assert.deepEqual(out, bytes("HTTP/1.1 200 OK\r\nx-a: \xe9\r\n\r\n"));
    const head = new HeadParser({ kind: "response" }).push(out)!;
    assert.equal(head.headers.get("x-a"), "\xe9");
  });

  test("header injection is refused with RangeError", () => {
    const bad: Array<[string, string]> = [
      ["X", "a\r\nInjected: yes"],
      ["X", "a\nb"],
      ["X", "a\rb"],
      ["X", "a\0b"],
      ["X", "a\x7f"],
      ["X", "\u0100"],
      ["X\r\nInjected", "yes"],
      ["X: y", "z"],
      ["", "z"],
      ["X Y", "z"],
    ];
    for (const field of bad) {
      assert.throws(() => writeRequestHead("GET", "/", [field]), RangeError, JSON.stringify(field));
      assert.throws(() => writeResponseHead(200, "OK", [field]), RangeError, JSON.stringify(field));
    }
    assert.throws(() => writeRequestHead("GET", "/ HTTP/1.1\r\nX: y\r\n\r\nGET /", []), RangeError);
    assert.throws(() => writeRequestHead("GET", "", []), RangeError);
    assert.throws(() => writeRequestHead("G T", "/", []), RangeError);
    assert.throws(() => writeResponseHead(200, "OK\r\nX: y", []), RangeError);
    assert.throws(() => writeResponseHead(99, "", []), RangeError);
    assert.throws(() => writeResponseHead(1000, "", []), RangeError);
    assert.throws(() => writeResponseHead(200.5, "", []), RangeError);
  });

  test("isToken", () => {
    assert.ok(isToken("permessage-deflate"));
    assert.ok(isToken("!#$%&'*+-.^_`|~09azAZ"));
    for (const bad of ["", "a b", "a,b", "a;b", 'a"', "a/b", "\u00e9", "a=b", "a\t"]) {
      assert.equal(isToken(bad), false, bad);
    }
  });
});
