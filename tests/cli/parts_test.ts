// The CLI's parts without a process: the command line, URLs, headers,
// line splitting and the output formats.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  parseCommandLine,
  parseHeader,
  parseUrl,
  type ServerConfig,
  UsageError,
} from "../../lib/cli/args.ts";
import {
  binaryLine,
  closeOutcome,
  ExitCode,
  frameLine,
  messageLine,
  toBase64,
} from "../../lib/cli/format.ts";
import { splitLines } from "../../lib/cli/lines.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function linesOf(chunks: Array<string | Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (
    const line of splitLines((async function* () {
      yield* chunks;
    })())
  ) {
    out.push(text(line));
  }
  return out;
}

describe("CLI command line", () => {
  it("client options", () => {
    const c = parseCommandLine([
      "-H",
      "A: 1",
      "--header",
      "B:2",
      "-p",
      "x",
      "--protocol=y",
      "--no-compression",
      "--ping-interval",
      "500",
      "--close-timeout",
      "2000",
      "--insecure",
      "-v",
      "localhost:8080/path",
    ]);
    assert.equal(c.mode, "client");
    if (c.mode !== "client") return;
    assert.equal(c.url.href, "ws://localhost:8080/path");
    assert.deepEqual(c.headers, [["A", "1"], ["B", "2"]]);
    assert.deepEqual(c.protocols, ["x", "y"]);
    assert.equal(c.compression, false);
    assert.equal(c.ping, true, "--ping-interval implies --ping");
    assert.equal(c.pingIntervalMs, 500);
    assert.equal(c.closeTimeoutMs, 2000);
    assert.equal(c.insecure, true);
    assert.equal(c.verbose, true);
  });

  it("--compression and --no-compression: the last one wins", () => {
    const on = parseCommandLine(["--no-compression", "--compression", "ws://h/"]);
    const off = parseCommandLine(["--compression", "--no-compression", "ws://h/"]);
    assert.equal(on.mode === "client" && on.compression, true);
    assert.equal(off.mode === "client" && off.compression, false);
  });

  it("server options", () => {
    const s = parseCommandLine(["--listen", "0", "--broadcast", "-p", "chat"]) as ServerConfig;
    assert.deepEqual(s, {
      mode: "server",
      port: 0,
      host: "127.0.0.1",
      broadcast: true,
      protocols: ["chat"],
      compression: true,
      closeTimeoutMs: undefined,
      verbose: false,
      http2: false,
    });
    assert.equal((parseCommandLine(["-l", "80", "--host", "::1"]) as ServerConfig).host, "::1");
  });

  it("--http2 and --h2c, in both modes; --h2c is for ws: URLs", () => {
    for (const flag of ["--http2", "--h2c"]) {
      const s = parseCommandLine(["--listen", "0", flag]);
      assert.equal(s.mode === "server" && s.http2, true, flag);
      const c = parseCommandLine([flag, "ws://h/"]);
      assert.equal(c.mode === "client" && c.http2, true, flag);
    }
    const tls = parseCommandLine(["--http2", "wss://h/"]);
    assert.equal(tls.mode === "client" && tls.http2, true);
    assert.equal((parseCommandLine(["ws://h/"]) as { http2: boolean }).http2, false);
    assert.throws(
      () => parseCommandLine(["--h2c", "wss://h/"]),
      (e: unknown) => e instanceof UsageError && /--h2c is cleartext HTTP\/2/.test(e.message),
    );
  });

  it("refuses what does not make sense", () => {
    for (
      const argv of [
        [],
        ["ws://a/", "ws://b/"],
        ["--bogus", "ws://a/"],
        ["--listen", "70000"],
        ["--listen", "x"],
        ["--listen", "0", "ws://a/"],
        ["--listen", "0", "-H", "A: 1"],
        ["--broadcast", "ws://a/"],
        ["--ping-interval", "0", "ws://a/"],
        ["--close-timeout", "-5", "ws://a/"],
        ["-H", "no colon", "ws://a/"],
        ["-H", "Bad Name: 1", "ws://a/"],
      ]
    ) {
      assert.throws(() => parseCommandLine(argv), UsageError, argv.join(" "));
    }
    assert.deepEqual(parseCommandLine(["-h"]), { mode: "help" });
    assert.deepEqual(parseCommandLine(["--version", "ws://a/"]), { mode: "version" });
  });

  it("URLs: ws: and wss:, http(s): mapped, no scheme means ws:", () => {
    assert.equal(parseUrl("ws://a:1/x?y=1").href, "ws://a:1/x?y=1");
    assert.equal(parseUrl("wss://a/").href, "wss://a/");
    assert.equal(parseUrl("http://a:8080/x").href, "ws://a:8080/x");
    assert.equal(parseUrl("https://a/x").href, "wss://a/x");
    assert.equal(parseUrl("127.0.0.1:9000").href, "ws://127.0.0.1:9000/");
    assert.equal(parseUrl("[::1]:9000/p").href, "ws://[::1]:9000/p");
    for (const bad of ["ftp://a/", "ws://a b/", "ws://a/#x", "ws://a/#", "ws://a:99999/"]) {
      assert.throws(() => parseUrl(bad), UsageError, bad);
    }
  });

  it("headers: Name: value, trimmed; the value may hold colons", () => {
    assert.deepEqual(parseHeader("Authorization:  Bearer a:b "), ["Authorization", "Bearer a:b"]);
    assert.deepEqual(parseHeader("X-Empty:"), ["X-Empty", ""]);
    assert.throws(() => parseHeader(": v"), UsageError);
  });
});

describe("CLI line splitting", () => {
  it("splits on \\n and \\r\\n across chunks, keeps empty lines and a last partial line", async () => {
    assert.deepEqual(await linesOf(["a\nb", "c\r\n", "\n", "d"]), ["a", "bc", "", "d"]);
    assert.deepEqual(await linesOf(["x\n"]), ["x"]);
    assert.deepEqual(await linesOf([]), []);
  });

  it("keeps multi-byte characters split between chunks", async () => {
    const bytes = new TextEncoder().encode("é✓\n");
    assert.deepEqual(
      await linesOf([bytes.subarray(0, 1), bytes.subarray(1, 3), bytes.subarray(3)]),
      [
        "é✓",
      ],
    );
  });
});

describe("CLI output", () => {
  it("messages: text as is, binary as a marked base64 line", () => {
    assert.equal(messageLine("héllo"), "héllo\n");
    assert.equal(messageLine(new Uint8Array([104, 105])), "[binary 2 bytes] aGk=\n");
    assert.equal(binaryLine(new Uint8Array([0])), "[binary 1 byte] AA==");
    assert.equal(binaryLine(new Uint8Array(0)), "[binary 0 bytes]");
  });

  it("base64 as btoa has it, for every length mod 3", () => {
    for (let n = 0; n < 40; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      assert.equal(toBase64(bytes), btoa(String.fromCharCode(...bytes)));
    }
  });

  it("frames", () => {
    const enc = new TextEncoder();
    assert.equal(
      frameLine("out", { fin: true, rsv: 0, opcode: 1, payload: enc.encode("hi") }),
      '>> text 2 bytes "hi"',
    );
    assert.equal(
      frameLine("in", { fin: false, rsv: 4, opcode: 2, payload: new Uint8Array([1, 255]) }),
      "<< binary (not final) rsv1 (compressed) 2 bytes 01 ff",
    );
    assert.equal(
      frameLine("in", {
        fin: true,
        rsv: 0,
        opcode: 8,
        payload: new Uint8Array([3, 232, 0x6f, 0x6b]),
      }),
      '<< close 4 bytes code 1000 "ok"',
    );
    assert.equal(
      frameLine("out", { fin: true, rsv: 0, opcode: 1, payload: enc.encode("x".repeat(100)) }),
      `>> text 100 bytes "${"x".repeat(60)}"…`,
    );
  });

  it("exit codes of a close", () => {
    assert.equal(closeOutcome({ code: 1000, reason: "", wasClean: true }).exit, ExitCode.Ok);
    assert.equal(closeOutcome({ code: 1001, reason: "", wasClean: true }).exit, ExitCode.Ok);
    assert.equal(closeOutcome({ code: 1005, reason: "", wasClean: true }).exit, ExitCode.Ok);
    assert.deepEqual(closeOutcome({ code: 4000, reason: "bye", wasClean: true }), {
      exit: ExitCode.ClosedWithError,
      message: 'the connection closed with 4000 "bye"',
    });
    const lost = closeOutcome({
      code: 1006,
      reason: "",
      wasClean: false,
      error: new Error("reset"),
    });
    assert.equal(lost.exit, ExitCode.Abnormal);
    assert.equal(lost.message, "the connection closed abnormally (1006): reset");
  });
});
