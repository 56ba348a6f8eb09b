// The catalogue of error codes (issue 20): every code sprig uses is listed
// with its class and close code, every listed code is used, the classes with
// a fixed close code agree with the catalogue, and docs/errors.md's table is the
// catalogue.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  ERROR_CODES,
  type ErrorCode,
  HandshakeError,
  HttpParseError,
  InvalidDataError,
  MessageTooBigError,
  ProtocolError,
  type SprigError,
  TimeoutError,
} from "../mod.ts";

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (entry.endsWith(".ts") && entry !== "error_codes.ts") out.push(path);
  }
  return out;
}

const codes = Object.keys(ERROR_CODES) as ErrorCode[];
const libText = sources("lib").map((f) => readFileSync(f, "utf8")).join("\n");

describe("ERROR_CODES", () => {
  it("lists every code a sprig error is built with in lib/", () => {
    // Codes are passed as literals (the constructors' parameter type is the
    // catalogue's union, so tsc rejects unknown ones) or through small
    // tables such as HandshakeCode; both appear as quoted upper-case names.
    const quoted = new Set(
      [...libText.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"/g)].map((m) => m[1]!),
    );
    // Quoted upper-case names that are not sprig's codes: runtimes' error
    // codes that sprig matches on, the proxy environment variables, and
    // the ones runCluster() marks its workers with.
    const foreign = new Set([
      "EADDRINUSE",
      "ECONNREFUSED",
      "ERR_BUFFER_TOO_LARGE",
      "Z_BUF_ERROR",
      "HTTPS_PROXY",
      "HTTP_PROXY",
      "ALL_PROXY",
      "NO_PROXY",
      // node:tls's reason for an unverified client certificate (ctx.tls).
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      // Environment variables runCluster() marks its workers with.
      "SPRIG_CLUSTER_INDEX",
      "SPRIG_CLUSTER_COUNT",
    ]);
    const missing = [...quoted].filter((c) => !foreign.has(c) && !(c in ERROR_CODES));
    assert.deepEqual(missing, []);
  });

  it("has no code that lib/ never uses", () => {
    const unused = codes.filter((c) => !libText.includes(`"${c}"`));
    assert.deepEqual(unused, []);
  });

  it("agrees with the close code of each class that has a fixed one", () => {
    const fixed: [string, (code: ErrorCode) => SprigError][] = [
      ["ProtocolError", (c) => new ProtocolError(c, "m")],
      ["InvalidDataError", (c) => new InvalidDataError(c, "m")],
      ["MessageTooBigError", (c) => new MessageTooBigError(c, "m", 1)],
      ["HttpParseError", (c) => new HttpParseError(c, "m", 400)],
      ["HandshakeError", (c) => new HandshakeError(c, "m", { status: 400 })],
      ["TimeoutError", (c) => new TimeoutError(c, "m", 1)],
    ];
    for (const [name, make] of fixed) {
      for (const code of codes) {
        const entry = ERROR_CODES[code];
        if (entry.errors.length !== 1 || entry.errors[0] !== name) continue;
        assert.equal(make(code).closeCode ?? null, entry.closeCode, `${code} (${name})`);
      }
    }
  });

  it("every entry names known classes and a valid close code", () => {
    const classes = new Set([
      "SprigError",
      "ProtocolError",
      "InvalidDataError",
      "MessageTooBigError",
      "ExtensionError",
      "HandshakeError",
      "HttpParseError",
      "TimeoutError",
      "ConnectionError",
      "Http2Error",
      "ConnectionClosedError",
      "ConnectionClosedOK",
      "NotOpenError",
      "AbortError",
      "InvalidArgumentError",
      "ArgumentRangeError",
      "NotConnectedError",
      "SendQueueFullError",
      "ProxyError",
      "BrokerError",
    ]);
    for (const code of codes) {
      const entry = ERROR_CODES[code];
      assert.ok(entry.errors.length > 0, code);
      for (const e of entry.errors) assert.ok(classes.has(e), `${code}: ${e}`);
      const close = entry.closeCode;
      assert.ok(close === null || (close >= 1000 && close <= 1015), code);
      assert.ok(entry.description.length > 0, code);
    }
  });

  it("is the table of docs/errors.md, row for row", () => {
    const readme = readFileSync("docs/errors.md", "utf8");
    const rows = [
      ...readme.matchAll(/^\| `([A-Z][A-Z0-9_]+)` +\| (.+?) +\| (.+?) +\| (.+?) +\|$/gm),
    ]
      .map((m) => ({
        code: m[1]!,
        errors: m[2]!.split(", ").map((e) => e.replaceAll("`", "")),
        closeCode: m[3] === "—" ? null : Number(m[3]),
        description: m[4]!,
      }));
    assert.deepEqual(
      rows,
      codes.map((code) => ({
        code,
        errors: [...ERROR_CODES[code].errors],
        closeCode: ERROR_CODES[code].closeCode,
        description: ERROR_CODES[code].description,
      })),
    );
  });
});
