// Malformed arguments to the client's entry points (connect, WebSocketStream,
// withWebSocket) fail at the call with the documented typed error naming the
// argument: InvalidArgumentError (a TypeError) or ArgumentRangeError (a
// RangeError), before any socket is opened. URL user information is
// percent-decoded to bytes for Basic authentication (RFC 3986 §2.1, RFC 7617
// §2).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import {
  ArgumentRangeError,
  connect,
  type ConnectOptions,
  HandshakeError,
  InvalidArgumentError,
  WebSocketStream,
  withWebSocket,
} from "../../mod.ts";
import { createClientRequest } from "../../lib/protocol/handshake.ts";

/** A TCP server that records each request head and answers 401; counts connections. */
let server: net.Server;
let port = 0;
let connections = 0;
const requests: string[] = [];
before(async () => {
  server = net.createServer((socket) => {
    connections++;
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      requests.push(head);
      socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(() => server.close());

type Kind = "type" | "range";

/** Checks the error: its class, `code`, `argument`, and a message that starts with `fn: argument`. */
function isArgumentError(e: unknown, kind: Kind, argument: string, fn: string): true {
  if (kind === "type") {
    assert.ok(e instanceof InvalidArgumentError && e instanceof TypeError, `${argument}: ${e}`);
    assert.equal(e.code, "INVALID_ARGUMENT");
  } else {
    assert.ok(e instanceof ArgumentRangeError && e instanceof RangeError, `${argument}: ${e}`);
    assert.equal(e.code, "ARGUMENT_OUT_OF_RANGE");
  }
  assert.equal(e.argument, argument);
  assert.ok(e.message.startsWith(`${fn}: ${argument} `), e.message);
  return true;
}

const base = () => `ws://127.0.0.1:${port}/`;

/** Each case: [what, url, options, kind, argument]. */
const CASES: Array<[string, () => unknown, unknown, Kind, string]> = [
  ["a number as URL", () => 123, {}, "type", "url"],
  ["null as URL", () => null, {}, "type", "url"],
  ["an invalid URL", () => "not a url", {}, "type", "url"],
  ["another scheme", () => "ftp://127.0.0.1/", {}, "type", "url"],
  ["a fragment", () => `${base()}#x`, {}, "type", "url"],
  ["user info %ZZ", () => `ws://a%ZZ:b@127.0.0.1:${port}/`, {}, "type", "url"],
  ["a lone % in the password", () => `ws://a:b%@127.0.0.1:${port}/`, {}, "type", "url"],
  ["a colon in the user name (%3A)", () => `ws://a%3Ab:c@127.0.0.1:${port}/`, {}, "type", "url"],
  ["a control character (%0A)", () => `ws://a%0A:b@127.0.0.1:${port}/`, {}, "type", "url"],
  ["options null", base, null, "type", "options"],
  ["options a string", base, "fast", "type", "options"],
  ["protocols a string", base, { protocols: "chat" }, "type", "options.protocols"],
  ["a protocol not a token", base, { protocols: ["a b"] }, "type", "options.protocols[0]"],
  ["a protocol twice", base, { protocols: ["a", "a"] }, "type", "options.protocols[1]"],
  ["a protocol not a string", base, { protocols: [1] }, "type", "options.protocols[0]"],
  ["headers a number", base, { headers: 5 }, "type", "options.headers"],
  ["a header value with CRLF", base, { headers: { x: "a\r\nb" } }, "type", "options.headers"],
  ["a handshake header", base, { headers: { Upgrade: "h2c" } }, "type", "options.headers"],
  ["origin a number", base, { origin: 5 }, "type", "options.origin"],
  ["origin with CRLF", base, { origin: "a\r\nX: y" }, "type", "options.origin"],
  ["compression a string", base, { compression: "yes" }, "type", "options.compression"],
  [
    "compression.threshold -1",
    base,
    { compression: { threshold: -1 } },
    "range",
    "options.compression.threshold",
  ],
  [
    "compression.level a string",
    base,
    { compression: { level: "9" } },
    "type",
    "options.compression.level",
  ],
  [
    "compressionFallback a string",
    base,
    { compressionFallback: "yes" },
    "type",
    "options.compressionFallback",
  ],
  ["extensions an object", base, { extensions: {} }, "type", "options.extensions"],
  ["an extension not a factory", base, { extensions: [{}] }, "type", "options.extensions[0]"],
  ["connectTimeoutMs -1", base, { connectTimeoutMs: -1 }, "range", "options.connectTimeoutMs"],
  ["connectTimeoutMs NaN", base, { connectTimeoutMs: NaN }, "range", "options.connectTimeoutMs"],
  [
    "connectTimeoutMs a string",
    base,
    { connectTimeoutMs: "5" },
    "type",
    "options.connectTimeoutMs",
  ],
  [
    "handshakeTimeoutMs Infinity",
    base,
    { handshakeTimeoutMs: Infinity },
    "range",
    "options.handshakeTimeoutMs",
  ],
  [
    "handshakeTimeoutMs 2^31",
    base,
    { handshakeTimeoutMs: 2 ** 31 },
    "range",
    "options.handshakeTimeoutMs",
  ],
  ["signal an object", base, { signal: {} }, "type", "options.signal"],
  ["tls a string", base, { tls: "yes" }, "type", "options.tls"],
  ["tls.caCerts a string", base, { tls: { caCerts: "PEM" } }, "type", "options.tls.caCerts"],
  ["tls.insecure a string", base, { tls: { insecure: "yes" } }, "type", "options.tls.insecure"],
  ["tls.serverName a number", base, { tls: { serverName: 1 } }, "type", "options.tls.serverName"],
  ["unixPath a number", base, { unixPath: 5 }, "type", "options.unixPath"],
  ["transport a number", base, { transport: 5 }, "type", "options.transport"],
  ["transport without read", base, { transport: {} }, "type", "options.transport"],
  ["maxHeadBytes 10", base, { maxHeadBytes: 10 }, "range", "options.maxHeadBytes"],
  ["maxMessageBytes -1", base, { maxMessageBytes: -1 }, "range", "options.maxMessageBytes"],
  ["maxMessageBytes 1.5", base, { maxMessageBytes: 1.5 }, "range", "options.maxMessageBytes"],
  ["maxFrameBytes 100", base, { maxFrameBytes: 100 }, "range", "options.maxFrameBytes"],
  ["maxFragments 0", base, { maxFragments: 0 }, "range", "options.maxFragments"],
  ["autoPong a string", base, { autoPong: "no" }, "type", "options.autoPong"],
  ["keepalive a number", base, { keepalive: 5 }, "type", "options.keepalive"],
  ["keepalive true", base, { keepalive: true }, "type", "options.keepalive"],
  [
    "keepalive.intervalMs -1",
    base,
    { keepalive: { intervalMs: -1 } },
    "range",
    "options.keepalive.intervalMs",
  ],
  [
    "keepalive.timeoutMs 0",
    base,
    { keepalive: { timeoutMs: 0 } },
    "range",
    "options.keepalive.timeoutMs",
  ],
  ["closeTimeoutMs -1", base, { closeTimeoutMs: -1 }, "range", "options.closeTimeoutMs"],
  ["maxQueuedMessages 0", base, { maxQueuedMessages: 0 }, "range", "options.maxQueuedMessages"],
  ["trace a string", base, { trace: "yes" }, "type", "options.trace"],
  ["on with an unknown event", base, { on: { tick: () => {} } }, "type", "options.on"],
  ["on.message a string", base, { on: { message: "x" } }, "type", "options.on.message"],
  [
    "proxy with http2 (the HTTP/2 path is not tunnelled)",
    base,
    { proxy: "http://127.0.0.1:3128", http2: true },
    "type",
    "options.proxy",
  ],
];

/**
 * What `new WebSocketStream()` does with the cases where the standard speaks
 * (WHATWG WebSockets, the constructor steps and "get a URL record"; WebIDL's
 * conversions), by case; the others get sprig's typed errors.
 */
const WHATWG: Record<string, "TypeError" | "SyntaxError" | "accepted"> = {
  "a number as URL": "SyntaxError", // "123" does not parse
  "null as URL": "SyntaxError", // "null" does not parse
  "an invalid URL": "SyntaxError",
  "another scheme": "SyntaxError",
  "a fragment": "SyntaxError",
  "options null": "accepted",
  "options a string": "TypeError",
  "protocols a string": "TypeError",
  "a protocol not a token": "SyntaxError",
  "a protocol twice": "SyntaxError",
  "a protocol not a string": "accepted",
  "signal an object": "TypeError",
};

describe("connect(), new WebSocketStream(), withWebSocket(): malformed arguments", () => {
  for (const [what, url, options, kind, argument] of CASES) {
    it(`${what}: ${kind === "type" ? "InvalidArgumentError" : "ArgumentRangeError"} naming ${argument}, no socket opened`, async () => {
      const opened = connections;
      const u = url() as string;
      const o = options as ConnectOptions;
      await assert.rejects(connect(u, o), (e) => isArgumentError(e, kind, argument, "connect()"));
      // The WHATWG constructor throws at once: the standard's own errors
      // where the standard speaks (WebIDL's TypeError, a SyntaxError
      // DOMException), sprig's typed errors for sprig's options.
      const whatwg = WHATWG[what];
      if (whatwg === "accepted") {
        // What WebIDL converts and the standard accepts (null options are
        // an empty dictionary; 1 becomes the subprotocol "1") connects: to
        // this server's 401, so opened rejects.
        const wss = new WebSocketStream(u, o);
        await assert.rejects(
          wss.opened,
          (e) => e instanceof DOMException && e.name === "WebSocketError",
        );
        await assert.rejects(wss.closed);
      } else if (whatwg) {
        assert.throws(
          () => new WebSocketStream(u, o),
          (e) =>
            whatwg === "TypeError"
              ? (e as Error).constructor === TypeError
              : e instanceof DOMException && e.name === whatwg,
          `${what}: ${whatwg}`,
        );
      } else {
        assert.throws(
          () => new WebSocketStream(u, o),
          (e) => isArgumentError(e, kind, argument, "new WebSocketStream()"),
        );
      }
      await assert.rejects(
        withWebSocket(u, o, () => {}),
        (e) => isArgumentError(e, kind, argument, "withWebSocket()"),
      );
      const expected = opened + (WHATWG[what] === "accepted" ? 1 : 0);
      assert.equal(connections, expected, "no connection was attempted by connect()");
    });
  }

  it("withWebSocket() without a function: InvalidArgumentError naming fn", async () => {
    await assert.rejects(
      withWebSocket(base(), {}, 5 as unknown as () => void),
      (e) => isArgumentError(e, "type", "fn", "withWebSocket()"),
    );
  });

  it("the password of a URL that fails is not in the message", async () => {
    for (const url of ["ws://user:s3cret@exa mple/", "ws://user:s3cret%ZZ@127.0.0.1/"]) {
      await assert.rejects(connect(url), (e: Error) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.ok(!e.message.includes("s3cret"), e.message);
        return true;
      });
    }
  });

  it("limits at the edge of their range are accepted", async () => {
    const opened = connections;
    const error = await connect(base(), {
      connectTimeoutMs: 2 ** 31 - 1,
      handshakeTimeoutMs: 2 ** 31 - 1,
      maxFrameBytes: 125,
      maxMessageBytes: 0,
      maxFragments: 1,
      keepalive: { intervalMs: 0 },
      closeTimeoutMs: 0,
      maxQueuedMessages: 1,
      compression: { threshold: 0, level: 0, memLevel: 1, serverMaxWindowBits: 8 },
    }).catch((e) => e);
    assert.ok(error instanceof HandshakeError && error.status === 401, String(error));
    assert.equal(connections, opened + 1);
  });
});

describe("URL user information is sent as Basic credentials, percent-decoded to bytes", () => {
  const basic = (bytes: number[]) => `Basic ${btoa(String.fromCharCode(...bytes))}`;
  const cases: Array<[string, number[]]> = [
    // %FF is the octet 0xFF, not UTF-8 text (RFC 3986 §2.1; RFC 7617 §2 sends octets).
    ["%FF:x", [0xff, 0x3a, 0x78]],
    ["Aladdin:open%20sesame", [...new TextEncoder().encode("Aladdin:open sesame")]],
    // Non-ASCII is percent-encoded as UTF-8 by the URL parser, and sent so.
    ["us\u00e9r:p%40ss", [...new TextEncoder().encode("us\u00e9r:p@ss")]],
    ["user:", [...new TextEncoder().encode("user:")]],
    [":secret", [...new TextEncoder().encode(":secret")]],
    ["a:b%3Ac", [...new TextEncoder().encode("a:b:c")]],
  ];
  for (const [userinfo, bytes] of cases) {
    it(`ws://${userinfo}@… sends ${basic(bytes)}`, async () => {
      const url = `ws://${userinfo}@127.0.0.1:${port}/`;
      // Sans I/O first, then on the wire.
      const head = new TextDecoder("latin1").decode(createClientRequest({ url }).head);
      assert.match(
        head,
        new RegExp(`\r\nAuthorization: ${basic(bytes).replace(/[+/]/g, "\\$&")}\r\n`),
      );
      const seen = requests.length;
      await assert.rejects(connect(url, { compression: false }), HandshakeError);
      assert.ok(requests[seen].includes(`\r\nAuthorization: ${basic(bytes)}\r\n`), requests[seen]);
    });
  }

  it("an Authorization header given by the caller wins over the URL's user information", () => {
    const head = new TextDecoder().decode(
      createClientRequest({ url: "ws://%FF:x@host/", headers: { authorization: "Bearer t" } }).head,
    );
    assert.match(head, /\r\nauthorization: Bearer t\r\n/i);
    assert.doesNotMatch(head, /Basic/);
  });
});

describe("connect(), new WebSocketStream(), withWebSocket(): unknown options are refused", () => {
  /** [options, the argument named, what the message must say]. */
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    // ws's names, with sprig's for each.
    [{ perMessageDeflate: false }, "options.perMessageDeflate", /use options\.compression/],
    [{ handshakeTimeout: 1 }, "options.handshakeTimeout", /use options\.handshakeTimeoutMs/],
    [{ maxPayload: 10 }, "options.maxPayload", /use options\.maxMessageBytes/],
    [{ rejectUnauthorized: false }, "options.rejectUnauthorized", /tls: \{ insecure: true \}/],
    [{ socketPath: "/tmp/s" }, "options.socketPath", /use options\.unixPath/],
    [{ followRedirects: true }, "options.followRedirects", /redirects are not followed/],
    // Bun's and undici's.
    [{ maxPayloadLength: 10 }, "options.maxPayloadLength", /use options\.maxMessageBytes/],
    [{ dispatcher: {} }, "options.dispatcher", /use options\.proxy/],
    // A typo of sprig's own name.
    [{ maxMessageByte: 10 }, "options.maxMessageByte", /did you mean options\.maxMessageBytes\?/],
    [{ Compression: false }, "options.Compression", /did you mean options\.compression\?/],
    // Nothing like any option: the list of options.
    [{ frobnicate: 1 }, "options.frobnicate", /the options are protocols, headers, origin, /],
    // Nested objects are checked too.
    [{ tls: { rejectUnauthorized: false } }, "options.tls.rejectUnauthorized", /tls\.insecure/],
    [
      { keepalive: { interval: 5 } },
      "options.keepalive.interval",
      /options\.keepalive\.intervalMs/,
    ],
    // Inside compression (issue 26): ws's names, a typo, anything else.
    [
      { compression: { zlibDeflateOptions: { level: 1 } } },
      "options.compression.zlibDeflateOptions",
      /use level and memLevel/,
    ],
    [
      { compression: { concurrencyLimit: 4 } },
      "options.compression.concurrencyLimit",
      /no zlib job queue/,
    ],
    [
      { compression: { serverMaxWindowBit: 10 } },
      "options.compression.serverMaxWindowBit",
      /did you mean options\.compression\.serverMaxWindowBits\?/,
    ],
    [
      { compression: { frobnicate: 1 } },
      "options.compression.frobnicate",
      /the options are serverNoContextTakeover, clientNoContextTakeover, /,
    ],
  ];
  for (const [options, argument, says] of cases) {
    it(`${JSON.stringify(options)}: InvalidArgumentError naming ${argument}, no socket opened`, async () => {
      const opened = connections;
      const o = options as ConnectOptions;
      const check = (fn: string) => (e: unknown) =>
        isArgumentError(e, "type", argument, fn) &&
        (e as Error).message.startsWith(`${fn}: ${argument} is not an option of ${fn}: `) &&
        says.test((e as Error).message);
      await assert.rejects(connect(base(), o), check("connect()"));
      assert.throws(() => new WebSocketStream(base(), o), check("new WebSocketStream()"));
      await assert.rejects(withWebSocket(base(), o, () => {}), check("withWebSocket()"));
      assert.equal(connections, opened, "no connection was attempted");
    });
  }

  it("every documented option is accepted (the list is complete)", async () => {
    const opened = connections;
    const ac = new AbortController();
    const error = await connect(base(), {
      protocols: ["chat"],
      headers: { "x-a": "1" },
      origin: "https://a.test",
      compression: {
        serverNoContextTakeover: false,
        clientNoContextTakeover: false,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: true,
        threshold: 0,
        level: 6,
        memLevel: 8,
      },
      compressionFallback: false,
      extensions: [],
      connectTimeoutMs: 5000,
      handshakeTimeoutMs: 5000,
      signal: ac.signal,
      tls: { caCerts: [], serverName: "a.test", insecure: false },
      maxHeadBytes: 16384,
      http2: false,
      maxMessageBytes: 1024,
      maxFrameBytes: 1024,
      maxFragments: 10,
      autoPong: true,
      keepalive: { intervalMs: 1000, timeoutMs: 1000 },
      closeTimeoutMs: 1000,
      writeTimeoutMs: 1000,
      maxQueuedMessages: 4,
      trace: () => {},
      id: "c-test",
      on: { open: () => {} },
    }).catch((e) => e);
    assert.ok(error instanceof HandshakeError && error.status === 401, String(error));
    assert.equal(connections, opened + 1);
  });
});
