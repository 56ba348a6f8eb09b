// Malformed arguments to serve() (and, through checkHostArguments, to the
// adapters) fail at the call with the documented typed error naming the
// argument: InvalidArgumentError (a TypeError) or ArgumentRangeError (a
// RangeError), before anything listens.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ArgumentRangeError, InvalidArgumentError, serve, type ServeOptions } from "../../mod.ts";
import { checkHostArguments } from "../../lib/server/handler/options.ts";
import {
  bunServeAdapter,
  denoServeAdapter,
  nodeHttpAdapter,
} from "../../lib/server/adapters/mod.ts";

type Kind = "type" | "range";

function isArgumentError(e: unknown, kind: Kind, argument: string, fn: string): true {
  if (kind === "type") {
    assert.ok(e instanceof InvalidArgumentError && e instanceof TypeError, `${argument}: ${e}`);
  } else {
    assert.ok(e instanceof ArgumentRangeError && e instanceof RangeError, `${argument}: ${e}`);
  }
  assert.equal(e.argument, argument);
  assert.ok(e.message.startsWith(`${fn}: ${argument} `), e.message);
  return true;
}

const handler = { in: () => {} };

/** Options every host shares: [what, options, kind, argument]. */
const HOST_CASES: Array<[string, unknown, Kind, string]> = [
  ["options null", null, "type", "options"],
  ["protocols a string", { protocols: "chat" }, "type", "options.protocols"],
  ["a protocol not a token", { protocols: ["a b"] }, "type", "options.protocols[0]"],
  ["origins a string", { origins: "https://a.test" }, "type", "options.origins"],
  ["upgrade not a function", { upgrade: true }, "type", "options.upgrade"],
  ["maxConnections 0", { maxConnections: 0 }, "range", "options.maxConnections"],
  ["maxConnections a string", { maxConnections: "10" }, "type", "options.maxConnections"],
  ["idleTimeoutMs -5", { idleTimeoutMs: -5 }, "range", "options.idleTimeoutMs"],
  ["idleTimeoutMs Infinity", { idleTimeoutMs: Infinity }, "range", "options.idleTimeoutMs"],
  ["maxMessageBytes -1", { maxMessageBytes: -1 }, "range", "options.maxMessageBytes"],
  ["maxFrameBytes 10", { maxFrameBytes: 10 }, "range", "options.maxFrameBytes"],
  ["maxFragments 0", { maxFragments: 0 }, "range", "options.maxFragments"],
  ["maxSendBufferBytes -1", { maxSendBufferBytes: -1 }, "range", "options.maxSendBufferBytes"],
  ["maxQueuedMessages 0", { maxQueuedMessages: 0 }, "range", "options.maxQueuedMessages"],
  ["writeTimeoutMs -1", { writeTimeoutMs: -1 }, "range", "options.writeTimeoutMs"],
  ["closeTimeoutMs a string", { closeTimeoutMs: "10" }, "type", "options.closeTimeoutMs"],
  ["keepalive a number", { keepalive: 30 }, "type", "options.keepalive"],
  [
    "keepalive.intervalMs -1",
    { keepalive: { intervalMs: -1 } },
    "range",
    "options.keepalive.intervalMs",
  ],
  ["compression a string", { compression: "on" }, "type", "options.compression"],
  [
    "compression.serverMaxWindowBits 16",
    { compression: { serverMaxWindowBits: 16 } },
    "range",
    "options.compression.serverMaxWindowBits",
  ],
  ["an extension not a factory", { extensions: [5] }, "type", "options.extensions[0]"],
  ["onError not a function", { onError: "log" }, "type", "options.onError"],
  ["trace not a function", { trace: 1 }, "type", "options.trace"],
];

/** serve()'s own options. */
const SERVE_CASES: Array<[string, unknown, Kind, string]> = [
  ["port 70000", { port: 70000 }, "range", "options.port"],
  ["port -1", { port: -1 }, "range", "options.port"],
  ["port a string", { port: "8080" }, "type", "options.port"],
  ["hostname a number", { hostname: 127 }, "type", "options.hostname"],
  ["tls without key", { tls: { cert: "PEM" } }, "type", "options.tls.key"],
  ["tls a string", { tls: "yes" }, "type", "options.tls"],
  ["fetch not a function", { fetch: 5 }, "type", "options.fetch"],
  ["maxHeadBytes 8", { maxHeadBytes: 8 }, "range", "options.maxHeadBytes"],
  ["maxHeaders -1", { maxHeaders: -1 }, "range", "options.maxHeaders"],
  ["handshakeTimeoutMs -1", { handshakeTimeoutMs: -1 }, "range", "options.handshakeTimeoutMs"],
  ["keepAliveTimeoutMs NaN", { keepAliveTimeoutMs: NaN }, "range", "options.keepAliveTimeoutMs"],
  ["maxBodyBytes 0.5", { maxBodyBytes: 0.5 }, "range", "options.maxBodyBytes"],
  ["listener unknown", { listener: "uv" }, "type", "options.listener"],
  ["http2 a number", { http2: 2 }, "type", "options.http2"],
  ["http2 naming no HTTP/2 server of sprig's", { http2: "nghttp2" }, "type", "options.http2"],
  // node:http2 takes node:net sockets; Deno's node:http2 server is not offered.
  [
    "http2 node:http2 on another listener",
    { http2: "node:http2", listener: "bun" },
    "type",
    "Deno" in globalThis ? "options.http2" : "options.listener",
  ],
  ["signal an object", { signal: {} }, "type", "options.signal"],
];

const HANDLER_CASES: Array<[string, unknown, string]> = [
  ["handler null", null, "handler"],
  ["handler missing", undefined, "handler"],
  ["handler without in", {}, "handler.in"],
  ["handler.init not a function", { in: () => {}, init: {} }, "handler.init"],
  ["handler.terminate not a function", { in: () => {}, terminate: "x" }, "handler.terminate"],
];

describe("serve(): malformed arguments", () => {
  for (const [what, options, kind, argument] of [...HOST_CASES, ...SERVE_CASES]) {
    it(`${what}: ${kind === "type" ? "InvalidArgumentError" : "ArgumentRangeError"} naming ${argument}`, async () => {
      await assert.rejects(
        serve(
          options === null ? null as unknown as ServeOptions : {
            hostname: "127.0.0.1",
            ...(options as ServeOptions),
          },
          handler,
        ),
        (e) => isArgumentError(e, kind, argument, "serve()"),
      );
    });
  }
  for (const [what, h, argument] of HANDLER_CASES) {
    it(`${what}: InvalidArgumentError naming ${argument}`, async () => {
      await assert.rejects(
        serve({ hostname: "127.0.0.1" }, h as typeof handler),
        (e) => isArgumentError(e, "type", argument, "serve()"),
      );
    });
  }

  it("valid options at the edge of their ranges start a server", async () => {
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      maxConnections: 1,
      idleTimeoutMs: 0,
      keepalive: false,
      maxFrameBytes: 125,
      maxHeadBytes: 16,
      maxBodyBytes: 0,
      compression: false,
    }, handler);
    await server.shutdown();
  });
});

describe("checkHostArguments (for adapters): the same checks under the adapter's name", () => {
  for (const [what, options, kind, argument] of HOST_CASES) {
    it(`${what}`, () => {
      assert.throws(
        () => checkHostArguments("nodeHttpAdapter()", handler, options),
        (e) => isArgumentError(e, kind, argument, "nodeHttpAdapter()"),
      );
    });
  }
  it("a handler without in", () => {
    assert.throws(
      () => checkHostArguments("bunServeAdapter()", {}, {}),
      (e) => isArgumentError(e, "type", "handler.in", "bunServeAdapter()"),
    );
  });
});

describe("a ws-, Bun- or browser-style handler is named as such", () => {
  const shapes: Array<[string, Record<string, unknown>, RegExp]> = [
    ["ws-style onMessage", { onMessage: () => {} }, /onMessage → in/],
    ["Bun.serve-style open/message/close", {
      open: () => {},
      message: () => {},
      close: () => {},
    }, /message → in, open → init, close → terminate|open → init, message → in, close → terminate/],
    [
      "browser-style onmessage/onclose",
      { onmessage: () => {}, onclose: () => {} },
      /onmessage → in/,
    ],
  ];
  for (const [what, h, renames] of shapes) {
    it(`${what}: serve() rejects it, naming sprig's callbacks and the renames`, async () => {
      await assert.rejects(
        serve({ hostname: "127.0.0.1", port: 0 }, h as typeof handler),
        (e) =>
          isArgumentError(e, "type", "handler", "serve()") &&
          /init\(ctx\), in\(message, state\), control, info and terminate/.test(
            (e as Error).message,
          ) &&
          renames.test((e as Error).message),
      );
    });
  }
  it("a function as the handler: serve() names the object it wants", async () => {
    await assert.rejects(
      serve({ hostname: "127.0.0.1", port: 0 }, ((m: string) => m) as never),
      (e) =>
        isArgumentError(e, "type", "handler", "serve()") &&
        /\{ in: \(message\) => … \}/.test((e as Error).message),
    );
  });
  it("the adapters say the same", () => {
    assert.throws(
      () => nodeHttpAdapter({ onMessage: () => {} } as never),
      (e) =>
        isArgumentError(e, "type", "handler", "nodeHttpAdapter()") &&
        /onMessage → in/.test((e as Error).message),
    );
  });
});

describe("the adapters check their arguments at the call", () => {
  const adapters: Array<[string, (h: unknown, o: unknown) => unknown]> = [
    ["nodeHttpAdapter()", (h, o) => nodeHttpAdapter(h as never, o as never)],
    ["bunServeAdapter()", (h, o) => bunServeAdapter(h as never, o as never)],
    ["denoServeAdapter()", (h, o) => denoServeAdapter(h as never, o as never)],
  ];
  for (const [fn, make] of adapters) {
    it(`${fn}: a handler without in, and an option out of range`, () => {
      assert.throws(() => make({}, {}), (e) => isArgumentError(e, "type", "handler.in", fn));
      assert.throws(
        () => make(handler, { maxConnections: 0 }),
        (e) => isArgumentError(e, "range", "options.maxConnections", fn),
      );
    });
  }
});

describe("unknown options are refused, naming sprig's option for a well-known one", () => {
  /** [options, the argument named, what the message must say]: every host. */
  const hostCases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ perMessageDeflate: false }, "options.perMessageDeflate", /use options\.compression/],
    [{ maxPayload: 10 }, "options.maxPayload", /use options\.maxMessageBytes/],
    [{ maxPayloadLength: 10 }, "options.maxPayloadLength", /use options\.maxMessageBytes/],
    [{ path: "/x" }, "options.path", /accepted on any path: refuse the others in options\.upgrade/],
    [{ verifyClient: () => true }, "options.verifyClient", /options\.origins .*options\.upgrade/],
    [{ handleProtocols: () => "a" }, "options.handleProtocols", /use options\.protocols/],
    [{ idleTimeout: 10 }, "options.idleTimeout", /use options\.idleTimeoutMs \(in milliseconds/],
    [{ backpressureLimit: 1 }, "options.backpressureLimit", /use options\.maxSendBufferBytes/],
    [{ sendPings: false }, "options.sendPings", /use options\.keepalive/],
    [{ maxConection: 1 }, "options.maxConection", /did you mean options\.maxConnections\?/],
    [{ keepalive: { timeout: 5 } }, "options.keepalive.timeout", /options\.keepalive\.timeoutMs/],
    // Inside compression: ws's and Bun's names, a typo, anything else.
    [
      { compression: { zlibDeflateOptions: { level: 1 } } },
      "options.compression.zlibDeflateOptions",
      /use level and memLevel/,
    ],
    [{ compression: { compress: "shared" } }, "options.compression.compress", /Bun's compress/],
    [
      { compression: { treshold: 10 } },
      "options.compression.treshold",
      /did you mean options\.compression\.threshold\?/,
    ],
    [
      { compression: { frobnicate: 1 } },
      "options.compression.frobnicate",
      /the options are serverNoContextTakeover, clientNoContextTakeover, serverMaxWindowBits, /,
    ],
  ];
  /** serve() only: the listening server's names of other servers. */
  const serveCases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ host: "127.0.0.1" }, "options.host", /use options\.hostname/],
    [{ noServer: true }, "options.noServer", /nodeHttpAdapter\(\)/],
    [{ cert: "PEM", key: "PEM" }, "options.cert", /options\.tls: \{ cert, key \}/],
    [{ onListen: () => {} }, "options.onListen", /serve\(\) resolves once listening/],
    [{ tls: { cert: "a", key: "b", caCerts: ["c"] } }, "options.tls.caCerts", /use options.tls.ca/],
    [
      { tls: { cert: "a", key: "b", ciphers: "c" } },
      "options.tls.ciphers",
      /the options are cert, key, passphrase, ca/,
    ],
    [{ prot: 1 }, "options.prot", /did you mean options\.port\?/],
  ];
  const message = (fn: string, argument: string, says: RegExp) => (e: unknown) =>
    isArgumentError(e, "type", argument, fn) &&
    (e as Error).message.startsWith(`${fn}: ${argument} is not an option of ${fn}: `) &&
    says.test((e as Error).message);

  for (const [options, argument, says] of [...hostCases, ...serveCases]) {
    it(`serve(${JSON.stringify(options)}): InvalidArgumentError naming ${argument}`, async () => {
      await assert.rejects(
        serve({ hostname: "127.0.0.1", port: 0, ...options } as ServeOptions, handler),
        message("serve()", argument, says),
      );
    });
  }

  const adapters: Array<[string, (h: unknown, o: unknown) => unknown]> = [
    ["nodeHttpAdapter()", (h, o) => nodeHttpAdapter(h as never, o as never)],
    ["bunServeAdapter()", (h, o) => bunServeAdapter(h as never, o as never)],
    ["denoServeAdapter()", (h, o) => denoServeAdapter(h as never, o as never)],
  ];
  for (const [fn, make] of adapters) {
    it(`${fn}: the same, and the listening server's options belong to the host server`, () => {
      for (const [options, argument, says] of hostCases) {
        assert.throws(() => make(handler, options), message(fn, argument, says));
      }
      for (const name of ["port", "hostname", "tls", "fetch"]) {
        assert.throws(
          () => make(handler, { [name]: undefined }),
          message(fn, `options.${name}`, /an option of the server the adapter is attached to/),
        );
      }
    });
  }

  it("every documented option of serve() is accepted (the list is complete)", async () => {
    const ac = new AbortController();
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      protocols: ["chat"],
      origins: ["https://a.test"],
      upgrade: () => {},
      maxConnections: 10,
      idleTimeoutMs: 1000,
      maxMessageBytes: 1024,
      maxFrameBytes: 1024,
      maxFragments: 10,
      maxSendBufferBytes: 1024,
      writeTimeoutMs: 1000,
      maxQueuedMessages: 4,
      closeTimeoutMs: 1000,
      keepalive: { intervalMs: 1000, timeoutMs: 1000 },
      compression: false,
      extensions: [],
      onError: () => {},
      trace: undefined,
      telemetry: undefined,
      broker: undefined,
      fetch: () => new Response("page"),
      maxHeadBytes: 16384,
      maxHeaders: 100,
      handshakeTimeoutMs: 1000,
      keepAliveTimeoutMs: 1000,
      maxBodyBytes: 1024,
      listener: undefined,
      http2: false,
      reusePort: false,
      signal: ac.signal,
    }, handler);
    await server.shutdown();
  });
});
