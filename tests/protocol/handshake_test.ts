import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ExtensionError, HandshakeError } from "../../lib/errors.ts";
import type { Extension, ExtensionFactory, ExtensionOffer } from "../../lib/protocol/extension.ts";
import {
  acceptKey,
  checkClientRequest,
  checkServerResponse,
  type ClientRequest,
  createClientRequest,
  createRejectResponse,
  createServerResponse,
  generateKey,
  HandshakeCode,
  WEBSOCKET_GUID,
} from "../../lib/protocol/handshake.ts";
import { HeadParser, type RequestHead, type ResponseHead } from "../../lib/protocol/http1.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

function request(text: string): RequestHead {
  return new HeadParser({ kind: "request" }).push(enc.encode(text))!;
}
function response(text: string): ResponseHead {
  return new HeadParser({ kind: "response" }).push(enc.encode(text))!;
}
function parseRequest(bytes: Uint8Array): RequestHead {
  const p = new HeadParser({ kind: "request" });
  const head = p.push(bytes)!;
  assert.equal(p.rest.length, 0);
  return head;
}

/** A minimal extension factory: accepts anything named `name`, on the given RSV bits. */
function fake(name: string, rsv = 0b100, opts: { acceptThrows?: boolean } = {}): ExtensionFactory {
  const live = (params: ExtensionOffer["params"]): Extension => ({
    name,
    rsv,
    params,
    encode: (payload) => ({ payload, rsv: 0 }),
    decode: (payload) => payload,
  });
  return {
    name,
    rsv,
    offer: () => [{ name, params: [["level", "1"]] }],
    accept(response) {
      if (opts.acceptThrows) throw new ExtensionError("X_FAKE_PARAMS", "bad params");
      return live(response.params);
    },
    respond: (offers) => ({ response: offers[0], extension: live(offers[0].params) }),
  };
}

function handshakeError(fn: () => unknown, code: string, status: number): HandshakeError {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof HandshakeError, `expected HandshakeError, got ${error}`);
  assert.equal(error.code, code, error.message);
  assert.equal(error.status, status, error.message);
  return error;
}

describe("keys", () => {
  test("acceptKey: the RFC 6455 §1.3 example", () => {
    assert.equal(WEBSOCKET_GUID, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    assert.equal(acceptKey(KEY), ACCEPT);
  });

  test("generateKey: base64 of 16 bytes from the given source, or crypto", () => {
    const key = generateKey((n) => new Uint8Array(n).fill(0xff));
    assert.equal(key, "/////////////////////w==");
    const a = generateKey(), b = generateKey();
    assert.match(a, /^[A-Za-z0-9+/]{22}==$/);
    assert.notEqual(a, b);
    assert.throws(() => generateKey((n) => new Uint8Array(n - 1)), RangeError);
  });
});

describe("createClientRequest (RFC 6455 §4.1)", () => {
  test("the request head: fields in order, key and version", () => {
    const req = createClientRequest({ url: "ws://example.test/chat?room=1", key: KEY });
    assert.equal(
      dec.decode(req.head),
      "GET /chat?room=1 HTTP/1.1\r\n" +
        "Host: example.test\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${KEY}\r\n` +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    );
    assert.equal(req.key, KEY);
    assert.equal(req.path, "/chat?room=1");
    assert.equal(req.host, "example.test");
    assert.equal(req.hostname, "example.test");
    assert.equal(req.port, 80);
    assert.equal(req.secure, false);
    assert.deepEqual(req.protocols, []);
    assert.deepEqual(req.extensions, []);
  });

  test("a generated key when none is given", () => {
    const req = createClientRequest({ url: "ws://a/" });
    assert.match(req.key, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(parseRequest(req.head).headers.get("sec-websocket-key"), req.key);
  });

  test("Host carries the port only when it is not the default; IPv6 bracketed", () => {
    const cases: Array<[string, string, string, number, boolean, string]> = [
      ["ws://a.test", "a.test", "a.test", 80, false, "/"],
      ["ws://a.test:80/", "a.test", "a.test", 80, false, "/"],
      ["ws://a.test:443/", "a.test:443", "a.test", 443, false, "/"],
      ["wss://a.test/", "a.test", "a.test", 443, true, "/"],
      ["wss://a.test:8443/x", "a.test:8443", "a.test", 8443, true, "/x"],
      ["http://a.test:8080/p?q", "a.test:8080", "a.test", 8080, false, "/p?q"],
      ["https://A.Test/", "a.test", "a.test", 443, true, "/"],
      ["ws://[::1]:9000/", "[::1]:9000", "::1", 9000, false, "/"],
      ["wss://[::1]/", "[::1]", "::1", 443, true, "/"],
      ["ws://127.0.0.1:1/", "127.0.0.1:1", "127.0.0.1", 1, false, "/"],
      ["ws://a.test?x=1", "a.test", "a.test", 80, false, "/?x=1"],
    ];
    for (const [url, host, hostname, port, secure, path] of cases) {
      const req = createClientRequest({ url: new URL(url) });
      assert.deepEqual(
        [req.host, req.hostname, req.port, req.secure, req.path],
        [host, hostname, port, secure, path],
        url,
      );
      const head = parseRequest(req.head);
      assert.equal(head.headers.get("host"), host);
      assert.equal(head.target, path);
    }
  });

  test("other schemes, fragments and invalid URLs are refused with TypeError", () => {
    for (
      const url of [
        "ftp://a/",
        "file:///x",
        "ws://a/#frag",
        "ws://a/#",
        "wss://a/x#",
        "not a url",
        "ws://",
      ]
    ) {
      assert.throws(() => createClientRequest({ url }), TypeError, url);
    }
    assert.throws(() => createClientRequest({ url: new URL("ws://a/#x") }), TypeError);
  });

  test("subprotocols: tokens, unique, sent in order", () => {
    const req = createClientRequest({ url: "ws://a/", protocols: ["chat.v2", "chat.v1"] });
    assert.equal(parseRequest(req.head).headers.get("sec-websocket-protocol"), "chat.v2, chat.v1");
    assert.deepEqual(req.protocols, ["chat.v2", "chat.v1"]);
    for (
      const protocols of [[""], ["a b"], ["a,b"], ["é"], ["a\r\nX: y"], ["a", "a"], ["x", "y", "x"]]
    ) {
      assert.throws(
        () => createClientRequest({ url: "ws://a/", protocols }),
        TypeError,
        String(protocols),
      );
    }
  });

  test("extensions: the offers of factories that offer something", () => {
    const none: ExtensionFactory = { ...fake("none"), offer: () => [] };
    const req = createClientRequest({
      url: "ws://a/",
      extensions: [fake("x-a"), none, fake("x-b", 0b010)],
    });
    assert.equal(
      parseRequest(req.head).headers.get("sec-websocket-extensions"),
      "x-a; level=1, x-b; level=1",
    );
    assert.deepEqual(req.extensions.map((f) => f.name), ["x-a", "x-b"]);
  });

  test("extra headers follow the handshake's, in the caller's order and case", () => {
    const req = createClientRequest({
      url: "ws://a/",
      origin: "https://app.test",
      headers: [["Authorization", "Bearer t"], ["X-Trace", "1"]],
    });
    const head = parseRequest(req.head);
    assert.deepEqual(head.rawHeaders.slice(5), [
      ["Origin", "https://app.test"],
      ["Authorization", "Bearer t"],
      ["X-Trace", "1"],
    ]);
    const fromRecord = parseRequest(
      createClientRequest({ url: "ws://a/", headers: { "X-A": "1" } }).head,
    );
    assert.deepEqual(fromRecord.rawHeaders.at(-1), ["X-A", "1"]);
    const fromHeaders = parseRequest(
      createClientRequest({ url: "ws://a/", headers: new Headers({ "X-A": "1" }) }).head,
    );
    assert.deepEqual(fromHeaders.rawHeaders.at(-1), ["x-a", "1"]);
  });

  test("Host can be set to address another virtual host", () => {
    const req = createClientRequest({
      url: "ws://127.0.0.1:8080/",
      headers: { host: "example.test" },
    });
    assert.equal(req.host, "example.test");
    assert.equal(req.hostname, "127.0.0.1");
    const head = parseRequest(req.head);
    assert.equal(head.rawHeaders[0][1], "example.test");
    assert.equal(head.rawHeaders.filter(([n]) => n.toLowerCase() === "host").length, 1);
  });

  test("URL credentials become Basic authorization, unless one is given", () => {
    const req = createClientRequest({ url: "ws://us%20er:p%40ss@a/" });
    assert.equal(
      parseRequest(req.head).headers.get("authorization"),
      `Basic ${btoa("us er:p@ss")}`,
    );
    assert.equal(req.host, "a");
    const given = createClientRequest({
      url: "ws://u:p@a/",
      headers: { Authorization: "Bearer x" },
    });
    assert.equal(parseRequest(given.head).headers.get("authorization"), "Bearer x");
  });

  test("the handshake's own headers cannot be overridden", () => {
    for (
      const name of [
        "Upgrade",
        "connection",
        "Sec-WebSocket-Key",
        "SEC-WEBSOCKET-VERSION",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Accept",
      ]
    ) {
      assert.throws(
        () => createClientRequest({ url: "ws://a/", headers: { [name]: "x" } }),
        TypeError,
        name,
      );
    }
    assert.throws(
      () =>
        createClientRequest({
          url: "ws://a/",
          origin: "https://o",
          headers: { origin: "https://p" },
        }),
      TypeError,
    );
  });

  test("header injection and invalid keys are refused with TypeError", () => {
    for (
      const headers of [
        [["X", "a\r\nInjected: 1"]],
        [["X", "a\nb"]],
        [["X", "a\0b"]],
        [["X\r\nY", "a"]],
        [["X Y", "a"]],
      ] as Array<Array<[string, string]>>
    ) {
      assert.throws(() => createClientRequest({ url: "ws://a/", headers }), TypeError);
    }
    assert.throws(() => createClientRequest({ url: "ws://a/", origin: "o\r\nX: y" }), TypeError);
    for (
      const key of ["", "abc", "AAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAA=", `${KEY}\r\nX: y`]
    ) {
      assert.throws(() => createClientRequest({ url: "ws://a/", key }), TypeError, key);
    }
  });
});

describe("checkServerResponse (RFC 6455 §4.1)", () => {
  const ok = (extra = "", status = "101 Switching Protocols") =>
    `HTTP/1.1 ${status}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Accept: ${ACCEPT}\r\n${extra}\r\n`;
  const req = (protocols: string[] = [], extensions: ExtensionFactory[] = []): ClientRequest =>
    createClientRequest({ url: "ws://a/", key: KEY, protocols, extensions });

  test("a valid response", () => {
    const result = checkServerResponse(req(), response(ok("X-Server: y\r\n")));
    assert.equal(result.protocol, "");
    assert.deepEqual(result.extensions, []);
    assert.equal(result.headers.get("x-server"), "y");
  });

  test("Upgrade and Connection compare case-insensitively; Connection is a list", () => {
    const text = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n` +
      `Connection: keep-alive, UPGRADE\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`;
    assert.equal(checkServerResponse(req(), response(text)).protocol, "");
  });

  test("a refusal keeps the status, headers and body (401 with a body)", () => {
    const body = enc.encode("who are you?");
    const head = response(
      "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 12\r\n\r\n",
    );
    const e = handshakeError(
      () => checkServerResponse(req(), head, body),
      HandshakeCode.Refused,
      401,
    );
    assert.equal(e.headers.get("www-authenticate"), "Bearer");
    assert.deepEqual(e.body, body);
    assert.equal(e.bodyText, "who are you?");
    assert.match(e.message, /401 Unauthorized/);
  });

  test("a 200 or a 302 is a refusal too", () => {
    handshakeError(
      () => checkServerResponse(req(), response("HTTP/1.1 200 OK\r\n\r\n")),
      "HANDSHAKE_REFUSED",
      200,
    );
    const e = handshakeError(
      () => checkServerResponse(req(), response("HTTP/1.1 302 Found\r\nLocation: /x\r\n\r\n")),
      "HANDSHAKE_REFUSED",
      302,
    );
    assert.equal(e.headers.get("location"), "/x");
    assert.equal(e.body.length, 0);
  });

  const failing: Array<[string, string, string]> = [
    ["no Upgrade", ok().replace("Upgrade: websocket\r\n", ""), "HANDSHAKE_UPGRADE"],
    [
      "Upgrade not websocket",
      ok().replace("Upgrade: websocket", "Upgrade: h2c"),
      "HANDSHAKE_UPGRADE",
    ],
    [
      "Upgrade a list",
      ok().replace("Upgrade: websocket", "Upgrade: websocket, h2c"),
      "HANDSHAKE_UPGRADE",
    ],
    ["no Connection", ok().replace("Connection: Upgrade\r\n", ""), "HANDSHAKE_CONNECTION"],
    [
      "Connection without upgrade",
      ok().replace("Connection: Upgrade", "Connection: keep-alive"),
      "HANDSHAKE_CONNECTION",
    ],
    [
      "Connection: upgraded",
      ok().replace("Connection: Upgrade", "Connection: upgraded"),
      "HANDSHAKE_CONNECTION",
    ],
    ["no Accept", ok().replace(`Sec-WebSocket-Accept: ${ACCEPT}\r\n`, ""), "ACCEPT_MISMATCH"],
    [
      "wrong Accept",
      ok().replace(ACCEPT, acceptKey("AAAAAAAAAAAAAAAAAAAAAA==")),
      "ACCEPT_MISMATCH",
    ],
    ["Accept of another case", ok().replace(ACCEPT, ACCEPT.toLowerCase()), "ACCEPT_MISMATCH"],
    ["Accept twice", ok(`Sec-WebSocket-Accept: ${ACCEPT}\r\n`), "ACCEPT_MISMATCH"],
    [
      "a subprotocol when none was offered",
      ok("Sec-WebSocket-Protocol: chat\r\n"),
      "PROTOCOL_NOT_OFFERED",
    ],
    [
      "an empty subprotocol when none was offered",
      ok("Sec-WebSocket-Protocol: \r\n"),
      "PROTOCOL_NOT_OFFERED",
    ],
    [
      "an extension when none was offered",
      ok("Sec-WebSocket-Extensions: x-a\r\n"),
      "EXTENSION_NOT_OFFERED",
    ],
  ];
  for (const [what, text, code] of failing) {
    test(`refused: ${what}`, () => {
      const body = enc.encode("b");
      const e = handshakeError(() => checkServerResponse(req(), response(text), body), code, 101);
      assert.deepEqual(e.body, body);
      assert.equal(e.headers.get("upgrade"), response(text).headers.get("upgrade"));
    });
  }

  test("subprotocols: the chosen one must have been offered", () => {
    const offered = req(["chat.v2", "chat.v1"]);
    assert.equal(
      checkServerResponse(offered, response(ok("Sec-WebSocket-Protocol: chat.v1\r\n"))).protocol,
      "chat.v1",
    );
    assert.equal(
      checkServerResponse(offered, response(ok())).protocol,
      "",
      "choosing none is allowed",
    );
    for (const p of ["chat.v3", "CHAT.V1", "chat.v2, chat.v1"]) {
      handshakeError(
        () => checkServerResponse(offered, response(ok(`Sec-WebSocket-Protocol: ${p}\r\n`))),
        "PROTOCOL_NOT_OFFERED",
        101,
      );
    }
    handshakeError(
      () =>
        checkServerResponse(
          offered,
          response(ok("Sec-WebSocket-Protocol: chat.v1\r\nSec-WebSocket-Protocol: chat.v2\r\n")),
        ),
      "PROTOCOL_NOT_OFFERED",
      101,
    );
  });

  test("extensions: accepted in the server's order; unknown, repeated, conflicting refused", () => {
    const offered = req([], [fake("x-a", 0b100), fake("x-b", 0b010), fake("x-c", 0b100)]);
    const ext = (v: string) => response(ok(`Sec-WebSocket-Extensions: ${v}\r\n`));
    const result = checkServerResponse(offered, ext("x-b, x-a; level=1"));
    assert.deepEqual(result.extensions.map((e) => e.name), ["x-b", "x-a"]);
    assert.deepEqual(result.extensions[1].params, [["level", "1"]]);
    handshakeError(() => checkServerResponse(offered, ext("x-z")), "EXTENSION_NOT_OFFERED", 101);
    handshakeError(() => checkServerResponse(offered, ext("x-a, x-a")), "EXTENSION_DUPLICATE", 101);
    handshakeError(
      () => checkServerResponse(offered, ext("x-a, x-c")),
      "EXTENSION_RSV_CONFLICT",
      101,
    );
    handshakeError(
      () => checkServerResponse(offered, ext("x-a;")),
      "EXTENSIONS_HEADER_MALFORMED",
      101,
    );
    const picky = req([], [fake("x-p", 0b100, { acceptThrows: true })]);
    const e = handshakeError(
      () => checkServerResponse(picky, ext("x-p; level=9")),
      "EXTENSION_REJECTED",
      101,
    );
    assert.ok(e.cause instanceof ExtensionError);
  });
});

describe("checkClientRequest (RFC 6455 §4.2.1)", () => {
  const FIELDS: Array<[string, string]> = [
    ["Host", "server.example.com"],
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Key", KEY],
    ["Origin", "http://example.com"],
    ["Sec-WebSocket-Protocol", "chat, superchat"],
    ["Sec-WebSocket-Version", "13"],
  ];
  /** The RFC 6455 §1.2 request, with fields replaced (`null` removes one). */
  const build = (
    changes: Record<string, string | null> = {},
    line = "GET /chat HTTP/1.1",
    extra: Array<[string, string]> = [],
  ) => {
    let text = `${line}\r\n`;
    for (const [name, value] of FIELDS) {
      const v = name in changes ? changes[name] : value;
      if (v !== null) text += `${name}: ${v}\r\n`;
    }
    for (const [name, value] of extra) text += `${name}: ${value}\r\n`;
    return request(`${text}\r\n`);
  };

  test("the RFC 6455 §1.2 request", () => {
    const r = checkClientRequest(build(), { protocols: ["superchat", "chat"] });
    assert.equal(r.key, KEY);
    assert.deepEqual(r.protocols, ["chat", "superchat"]);
    assert.equal(r.protocol, "chat");
    assert.equal(r.origin, "http://example.com");
    assert.equal(r.host, "server.example.com");
    assert.equal(r.path, "/chat");
    assert.deepEqual(r.extensions, []);
    assert.equal(r.extensionsHeader, undefined);
    assert.equal(
      dec.decode(createServerResponse(r)),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`,
    );
  });

  test("lenient where the RFC is: case-insensitive values, lists, absolute targets", () => {
    const r = checkClientRequest(
      build(
        {
          Upgrade: "WebSocket",
          Connection: "keep-alive, UPGRADE",
          Origin: null,
          "Sec-WebSocket-Protocol": null,
        },
        "GET ws://server.example.com/chat?x=1 HTTP/1.1",
      ),
    );
    assert.equal(r.path, "/chat?x=1");
    assert.equal(r.origin, undefined);
    assert.deepEqual(r.protocols, []);
    assert.equal(r.protocol, undefined);
    assert.equal(checkClientRequest(build({ Upgrade: "h2c, websocket" })).key, KEY);
    assert.equal(checkClientRequest(build({}, "GET https://h/x HTTP/1.1")).path, "/x");
    assert.equal(checkClientRequest(build({}, "GET / HTTP/1.2")).path, "/");
  });

  const refusals: Array<[string, RequestHead, string, number, Record<string, string>?]> = [
    ["POST", build({}, "POST /chat HTTP/1.1"), "HANDSHAKE_METHOD", 405, { allow: "GET" }],
    ["lowercase get", build({}, "get /chat HTTP/1.1"), "HANDSHAKE_METHOD", 405, { allow: "GET" }],
    ["HTTP/1.0", build({}, "GET /chat HTTP/1.0"), "HANDSHAKE_HTTP_VERSION", 400],
    ["target *", build({}, "GET * HTTP/1.1"), "HANDSHAKE_TARGET", 400],
    ["target ftp URI", build({}, "GET ftp://h/x HTTP/1.1"), "HANDSHAKE_TARGET", 400],
    ["target authority-form", build({}, "GET h:80 HTTP/1.1"), "HANDSHAKE_TARGET", 400],
    ["no Host", build({ Host: null }), "HANDSHAKE_HOST", 400],
    ["empty Host", build({ Host: "" }), "HANDSHAKE_HOST", 400],
    ["two Hosts", build({}, undefined, [["host", "other"]]), "HANDSHAKE_HOST", 400],
    ["no Upgrade", build({ Upgrade: null }), "HANDSHAKE_UPGRADE", 426, { upgrade: "websocket" }],
    ["Upgrade: h2c", build({ Upgrade: "h2c" }), "HANDSHAKE_UPGRADE", 426, { upgrade: "websocket" }],
    ["Upgrade: websockets", build({ Upgrade: "websockets" }), "HANDSHAKE_UPGRADE", 426, {
      upgrade: "websocket",
    }],
    ["no Connection", build({ Connection: null }), "HANDSHAKE_CONNECTION", 426, {
      upgrade: "websocket",
    }],
    ["Connection: keep-alive", build({ Connection: "keep-alive" }), "HANDSHAKE_CONNECTION", 426, {
      upgrade: "websocket",
    }],
    ["no version", build({ "Sec-WebSocket-Version": null }), "HANDSHAKE_VERSION", 426, {
      "sec-websocket-version": "13",
    }],
    ["version 8", build({ "Sec-WebSocket-Version": "8" }), "HANDSHAKE_VERSION", 426, {
      "sec-websocket-version": "13",
    }],
    [
      "version 13 twice",
      build({}, undefined, [["Sec-WebSocket-Version", "13"]]),
      "HANDSHAKE_VERSION",
      426,
      {
        "sec-websocket-version": "13",
      },
    ],
    ["no key", build({ "Sec-WebSocket-Key": null }), "HANDSHAKE_KEY_INVALID", 400],
    [
      "key of 15 bytes",
      build({ "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA" }),
      "HANDSHAKE_KEY_INVALID",
      400,
    ],
    [
      "key of 17 bytes",
      build({ "Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAAA=" }),
      "HANDSHAKE_KEY_INVALID",
      400,
    ],
    [
      "key not base64",
      build({ "Sec-WebSocket-Key": "!!!!!!!!!!!!!!!!!!!!!!==" }),
      "HANDSHAKE_KEY_INVALID",
      400,
    ],
    [
      "key unpadded",
      build({ "Sec-WebSocket-Key": KEY.slice(0, 22) }),
      "HANDSHAKE_KEY_INVALID",
      400,
    ],
    ["two keys", build({}, undefined, [["Sec-WebSocket-Key", KEY]]), "HANDSHAKE_KEY_INVALID", 400],
    [
      "protocol not a token",
      build({ "Sec-WebSocket-Protocol": "chat, a b" }),
      "HANDSHAKE_PROTOCOL_INVALID",
      400,
    ],
  ];
  for (const [what, head, code, status, headers = {}] of refusals) {
    test(`refused: ${what} -> ${status}`, () => {
      const e = handshakeError(
        () => checkClientRequest(head, { protocols: ["chat"] }),
        code,
        status,
      );
      assert.deepEqual(Object.fromEntries(e.headers), headers);
      // The refusal can be written as is.
      const reply = createRejectResponse(e.status, e.headers, e.message);
      const p = new HeadParser({ kind: "response" });
      const parsed = p.push(reply)!;
      assert.equal(parsed.status, status);
      for (const [name, value] of Object.entries(headers)) {
        assert.equal(parsed.headers.get(name), value);
      }
      assert.equal(dec.decode(p.rest), e.message);
    });
  }

  test("subprotocol selection: the client's first that the server speaks", () => {
    const head = build({ "Sec-WebSocket-Protocol": "b, a, c" });
    assert.equal(checkClientRequest(head, { protocols: ["a", "b"] }).protocol, "b");
    assert.equal(checkClientRequest(head, { protocols: ["c"] }).protocol, "c");
    assert.equal(checkClientRequest(head, { protocols: ["x"] }).protocol, undefined);
    assert.equal(
      checkClientRequest(head, { protocols: ["B"] }).protocol,
      undefined,
      "case-sensitive",
    );
    assert.equal(checkClientRequest(head).protocol, undefined);
    // Several fields are one list.
    const two = build({ "Sec-WebSocket-Protocol": "b" }, undefined, [[
      "Sec-WebSocket-Protocol",
      "a",
    ]]);
    assert.deepEqual(checkClientRequest(two).protocols, ["b", "a"]);
  });

  test("subprotocol selection by a function", () => {
    const head = build({ "Sec-WebSocket-Protocol": "b, a" });
    const seen: string[][] = [];
    const r = checkClientRequest(head, {
      protocols: (offered) => {
        seen.push(offered);
        return offered.at(-1);
      },
    });
    assert.equal(r.protocol, "a");
    assert.deepEqual(seen, [["b", "a"]]);
    assert.equal(checkClientRequest(head, { protocols: () => undefined }).protocol, undefined);
    assert.throws(() => checkClientRequest(head, { protocols: () => "z" }), TypeError);
    let called = false;
    checkClientRequest(build({ "Sec-WebSocket-Protocol": null }), {
      protocols: () => {
        called = true;
        return undefined;
      },
    });
    assert.equal(called, false, "not called without an offer");
  });

  test("extensions are negotiated in the server's order", () => {
    const head = build({}, undefined, [["Sec-WebSocket-Extensions", "x-b; level=1, x-a, x-c"]]);
    const r = checkClientRequest(head, {
      extensions: [fake("x-a", 0b100), fake("x-b", 0b010), fake("x-c", 0b100)],
    });
    assert.equal(r.extensionsHeader, "x-a, x-b; level=1");
    assert.deepEqual(r.extensions.map((e) => e.name), ["x-a", "x-b"]);
    const reply = new HeadParser({ kind: "response" }).push(createServerResponse(r))!;
    assert.equal(reply.headers.get("sec-websocket-extensions"), "x-a, x-b; level=1");
    // Malformed: 400 when the server has extensions, ignored when it has none.
    const bad = build({}, undefined, [["Sec-WebSocket-Extensions", "x-a; ="]]);
    handshakeError(
      () => checkClientRequest(bad, { extensions: [fake("x-a")] }),
      "EXTENSIONS_HEADER_MALFORMED",
      400,
    );
    assert.deepEqual(checkClientRequest(bad).extensions, []);
  });
});

describe("createServerResponse and createRejectResponse", () => {
  test("101 with extra fields; the handshake's own cannot be overridden", () => {
    const bytes = createServerResponse({
      key: KEY,
      extensionsHeader: "x-a",
      headers: [["X-Server", "s"]],
    });
    assert.equal(
      dec.decode(bytes),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${ACCEPT}\r\nSec-WebSocket-Extensions: x-a\r\nX-Server: s\r\n\r\n`,
    );
    for (
      const name of [
        "Upgrade",
        "Connection",
        "sec-websocket-accept",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Content-Length",
        "Transfer-Encoding",
      ]
    ) {
      assert.throws(
        () => createServerResponse({ key: KEY, headers: { [name]: "1" } }),
        TypeError,
        name,
      );
    }
    assert.throws(
      () => createServerResponse({ key: KEY, headers: [["X", "a\r\nb: c"]] }),
      TypeError,
    );
    assert.throws(() => createServerResponse({ key: KEY, protocol: "a\r\nX: y" }), TypeError);
    assert.throws(
      () => createServerResponse({ key: KEY, extensionsHeader: "a\r\nX: y" }),
      TypeError,
    );
  });

  test("a refusal with a text body", () => {
    const bytes = createRejectResponse(403, { "X-Why": "origin" }, "forbidden origin é");
    const p = new HeadParser({ kind: "response" });
    const head = p.push(bytes)!;
    assert.equal(head.status, 403);
    assert.equal(head.statusText, "Forbidden");
    assert.deepEqual(head.rawHeaders, [
      ["X-Why", "origin"],
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Connection", "close"],
      ["Content-Length", String(enc.encode("forbidden origin é").length)],
    ]);
    assert.equal(dec.decode(p.rest), "forbidden origin é");
  });

  test("a refusal with bytes, no body, or a given content type", () => {
    const p1 = new HeadParser({ kind: "response" });
    const h1 = p1.push(createRejectResponse(400, undefined, new Uint8Array([1, 2, 3])))!;
    assert.equal(h1.headers.get("content-type"), null);
    assert.equal(h1.headers.get("content-length"), "3");
    assert.deepEqual(p1.rest, new Uint8Array([1, 2, 3]));
    const h2 = new HeadParser({ kind: "response" }).push(createRejectResponse(431))!;
    assert.equal(h2.statusText, "Request Header Fields Too Large");
    assert.equal(h2.headers.get("content-length"), "0");
    assert.equal(h2.headers.get("connection"), "close");
    const h3 = new HeadParser({ kind: "response" }).push(
      createRejectResponse(418, {
        "content-type": "application/json",
        connection: "keep-alive",
        "content-length": "99",
      }, "{}"),
    )!;
    assert.equal(h3.statusText, "");
    assert.equal(h3.headers.get("content-type"), "application/json");
    assert.equal(h3.headers.get("connection"), "close");
    assert.equal(h3.headers.get("content-length"), "2");
  });

  test("refusal status range and injection", () => {
    for (const status of [101, 199, 600, 20.5]) {
      assert.throws(() => createRejectResponse(status), RangeError);
    }
    assert.throws(() => createRejectResponse(400, [["X", "a\r\nb"]]), TypeError);
  });
});

describe("client and server together", () => {
  test("a full handshake with a subprotocol and extensions, split at every byte", () => {
    const clientExtensions = [fake("x-a", 0b100), fake("x-b", 0b010)];
    const req = createClientRequest({
      url: "ws://[::1]:8080/live?x=1",
      protocols: ["v2", "v1"],
      extensions: clientExtensions,
      headers: { "X-Token": "t" },
    });
    for (let at = 0; at <= req.head.length; at++) {
      const sp = new HeadParser({ kind: "request" });
      const head = sp.push(req.head.subarray(0, at)) ?? sp.push(req.head.subarray(at))!;
      const accepted = checkClientRequest(head, {
        protocols: ["v1", "v2"],
        extensions: [fake("x-b", 0b010)],
      });
      assert.equal(accepted.host, "[::1]:8080");
      assert.equal(accepted.path, "/live?x=1");
      assert.equal(accepted.protocol, "v2");
      assert.equal(head.headers.get("x-token"), "t");
      const reply = createServerResponse(accepted);
      const cp = new HeadParser({ kind: "response" });
      const result = checkServerResponse(req, cp.push(reply)!);
      assert.equal(result.protocol, "v2");
      assert.deepEqual(result.extensions.map((e) => e.name), ["x-b"]);
    }
  });
});
