import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ExtensionError, HandshakeError } from "../../lib/errors.ts";
import type { Extension, ExtensionFactory, ExtensionOffer } from "../../lib/protocol/extension.ts";
import {
  formatExtensionsHeader,
  parseExtensionsHeader,
} from "../../lib/protocol/extension_header.ts";
import {
  acceptAsClient,
  negotiateAsServer,
  offerHeader,
} from "../../lib/protocol/extension_negotiate.ts";

describe("parseExtensionsHeader (RFC 6455 §9.1)", () => {
  const good: Array<[string, ExtensionOffer[]]> = [
    ["foo", [{ name: "foo", params: [] }]],
    ["foo, bar", [{ name: "foo", params: [] }, { name: "bar", params: [] }]],
    [
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
      [{
        name: "permessage-deflate",
        params: [["client_max_window_bits", true], ["server_max_window_bits", "10"]],
      }],
    ],
    [
      ' \tfoo ;a = 1 ; b="2";c , bar;d="x\\y" \t',
      [
        { name: "foo", params: [["a", "1"], ["b", "2"], ["c", true]] },
        { name: "bar", params: [["d", "xy"]] },
      ],
    ],
    ["foo,,  , bar,", [{ name: "foo", params: [] }, { name: "bar", params: [] }]],
    ["", []],
    [" , ", []],
    ["foo; a=1, foo; a=2", [{ name: "foo", params: [["a", "1"]] }, {
      name: "foo",
      params: [["a", "2"]],
    }]],
    ['x; q="!#$%&\'*+-.^_`|~"', [{ name: "x", params: [["q", "!#$%&'*+-.^_`|~"]] }]],
  ];
  for (const [value, expected] of good) {
    test(`parses ${JSON.stringify(value)}`, () => {
      assert.deepEqual(parseExtensionsHeader(value), expected);
    });
  }

  const bad = [
    "foo;",
    "foo; ",
    ";foo",
    "=foo",
    "foo=1",
    "foo; a=",
    "foo; a= ,bar",
    "foo; =1",
    "foo; a==1",
    "foo; a=1=2",
    "foo bar",
    "foo; a b",
    'foo; a="1 2"', // quoted, but not a token once unquoted
    'foo; a=""',
    'foo; a="1,2"',
    'foo; a="unterminated',
    'foo; a="x"y',
    'foo; a=1"',
    '"foo"',
    "fo@o",
    "foo; a=\u00e9",
    "foo\r\n, bar",
    'foo; a="\u0001"',
  ];
  for (const value of bad) {
    test(`refuses ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => parseExtensionsHeader(value),
        (e) => e instanceof ExtensionError && e.code === "EXTENSIONS_HEADER_MALFORMED",
      );
    });
  }
});

describe("formatExtensionsHeader", () => {
  test("formats and round-trips", () => {
    const offers: ExtensionOffer[] = [
      {
        name: "permessage-deflate",
        params: [["client_max_window_bits", true], ["server_max_window_bits", "10"]],
      },
      { name: "x-y", params: [] },
    ];
    const value = formatExtensionsHeader(offers);
    assert.equal(
      value,
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-y",
    );
    assert.deepEqual(parseExtensionsHeader(value), offers);
    assert.equal(formatExtensionsHeader([]), "");
  });

  test("refuses what is not a token (no injection)", () => {
    for (
      const offer of [
        { name: "a b", params: [] },
        { name: "", params: [] },
        { name: "a", params: [["b c", true]] },
        { name: "a", params: [["b", "1, evil"]] },
        { name: "a", params: [["b", "1\r\nX: y"]] },
        { name: "a", params: [["b", ""]] },
      ] as ExtensionOffer[]
    ) {
      assert.throws(() => formatExtensionsHeader([offer]), RangeError, JSON.stringify(offer));
    }
  });
});

/** A small fake extension for negotiation tests. */
interface FakeOptions {
  rsv?: number;
  offers?: ExtensionOffer[];
  respond?: ExtensionFactory["respond"];
  accept?: (response: ExtensionOffer) => void;
  /** Overrides the live extension's RSV bits (to test a factory that lies). */
  liveRsv?: number;
}

class FakeFactory implements ExtensionFactory {
  readonly rsv: number;
  readonly seen: ExtensionOffer[][] = [];
  readonly live: Array<Extension & { disposed: boolean }> = [];
  constructor(readonly name: string, private options: FakeOptions = {}) {
    this.rsv = options.rsv ?? 0b100;
  }
  offer(): ExtensionOffer[] {
    return this.options.offers ?? [{ name: this.name, params: [] }];
  }
  make(params: ExtensionOffer["params"]): Extension & { disposed: boolean } {
    const e = {
      name: this.name,
      rsv: this.options.liveRsv ?? this.rsv,
      params,
      disposed: false,
      encode: (payload: Uint8Array) => ({ payload, rsv: 0 }),
      decode: (payload: Uint8Array) => payload,
      dispose() {
        this.disposed = true;
      },
    };
    this.live.push(e);
    return e;
  }
  accept(response: ExtensionOffer): Extension {
    this.options.accept?.(response);
    return this.make(response.params);
  }
  respond(offers: ExtensionOffer[]) {
    this.seen.push(offers);
    if (this.options.respond) return this.options.respond(offers);
    return { response: offers[0], extension: this.make(offers[0].params) };
  }
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
  assert.equal(error.status, status);
  return error;
}

describe("negotiateAsServer", () => {
  test("nothing offered, or no factories: no header, no extensions", () => {
    const a = new FakeFactory("a");
    assert.deepEqual(negotiateAsServer([a], null), { header: undefined, extensions: [] });
    assert.deepEqual(negotiateAsServer([a], ""), { header: undefined, extensions: [] });
    assert.deepEqual(negotiateAsServer([a], "b, c"), { header: undefined, extensions: [] });
    // Without factories the header is not even parsed.
    assert.deepEqual(negotiateAsServer([], "a;;;"), { header: undefined, extensions: [] });
    assert.equal(a.seen.length, 0);
  });

  test("server preference order, client order within a name", () => {
    const a = new FakeFactory("a", { rsv: 0b100 });
    const b = new FakeFactory("b", { rsv: 0b010 });
    const { header, extensions } = negotiateAsServer([a, b], "b; x=1, a; y=1, c, a; y=2");
    assert.equal(header, "a; y=1, b; x=1");
    assert.deepEqual(extensions.map((e) => e.name), ["a", "b"]);
    assert.deepEqual(a.seen, [[
      { name: "a", params: [["y", "1"]] },
      { name: "a", params: [["y", "2"]] },
    ]]);
    assert.deepEqual(b.seen, [[{ name: "b", params: [["x", "1"]] }]]);
  });

  test("a factory whose RSV bits are taken is declined without being asked", () => {
    const a = new FakeFactory("a", { rsv: 0b100 });
    const b = new FakeFactory("b", { rsv: 0b110 });
    const c = new FakeFactory("c", { rsv: 0b001 });
    const { header, extensions } = negotiateAsServer([a, b, c], "a, b, c");
    assert.equal(header, "a, c");
    assert.deepEqual(extensions.map((e) => e.name), ["a", "c"]);
    assert.equal(b.seen.length, 0);
  });

  test("a live extension whose RSV bits collide is declined and disposed", () => {
    const a = new FakeFactory("a", { rsv: 0b100 });
    const liar = new FakeFactory("liar", { rsv: 0b010, liveRsv: 0b100 });
    const { header } = negotiateAsServer([a, liar], "a, liar");
    assert.equal(header, "a");
    assert.equal(liar.live[0].disposed, true);
  });

  test("respond returning null or throwing ExtensionError declines", () => {
    const a = new FakeFactory("a", { respond: () => null });
    const b = new FakeFactory("b", {
      rsv: 0b010,
      respond: () => {
        throw new ExtensionError("X_BAD_PARAMS", "bad params");
      },
    });
    const c = new FakeFactory("c", { rsv: 0b001 });
    const { header, extensions } = negotiateAsServer([a, b, c], "a, b, c");
    assert.equal(header, "c");
    assert.equal(extensions.length, 1);
  });

  test("respond throwing anything else propagates, disposing what was accepted", () => {
    const a = new FakeFactory("a");
    const bug = new Error("bug");
    const b = new FakeFactory("b", {
      rsv: 0b010,
      respond: () => {
        throw bug;
      },
    });
    assert.throws(() => negotiateAsServer([a, b], "a, b"), (e) => e === bug);
    assert.equal(a.live[0].disposed, true);
  });

  test("a malformed offer is a 400 HandshakeError caused by an ExtensionError", () => {
    const e = handshakeError(
      () => negotiateAsServer([new FakeFactory("a")], 'a; b="c d"'),
      "EXTENSIONS_HEADER_MALFORMED",
      400,
    );
    assert.ok(e.cause instanceof ExtensionError);
  });
});

describe("offerHeader", () => {
  test("every factory's offers, in order", () => {
    const a = new FakeFactory("a", {
      offers: [{ name: "a", params: [["x", "1"]] }, { name: "a", params: [] }],
    });
    const b = new FakeFactory("b");
    assert.equal(offerHeader([a, b]), "a; x=1, a, b");
    assert.equal(offerHeader([]), undefined);
    assert.equal(offerHeader([new FakeFactory("n", { offers: [] })]), undefined);
  });
});

describe("acceptAsClient", () => {
  const response = { status: 101, headers: { "x-server": "1" }, body: new Uint8Array([1]) };

  test("no header: no extensions", () => {
    assert.deepEqual(acceptAsClient([new FakeFactory("a")], null), []);
    assert.deepEqual(acceptAsClient([], null), []);
  });

  test("builds extensions in the server's order", () => {
    const a = new FakeFactory("a", { rsv: 0b100 });
    const b = new FakeFactory("b", { rsv: 0b010 });
    const extensions = acceptAsClient([a, b], "b; q, a; r=2");
    assert.deepEqual(extensions.map((e) => e.name), ["b", "a"]);
    assert.deepEqual(extensions[0].params, [["q", true]]);
    assert.deepEqual(extensions[1].params, [["r", "2"]]);
  });

  test("an extension that was not offered is refused (RFC 6455 §4.1)", () => {
    const a = new FakeFactory("a");
    const e = handshakeError(
      () => acceptAsClient([a], "a, x", response),
      "EXTENSION_NOT_OFFERED",
      101,
    );
    assert.equal(e.headers.get("x-server"), "1");
    assert.deepEqual(e.body, new Uint8Array([1]));
    assert.equal(a.live[0].disposed, true, "the extension built before the failure is disposed");
    handshakeError(() => acceptAsClient([], "x"), "EXTENSION_NOT_OFFERED", 101);
  });

  test("the same extension twice is refused", () => {
    const a = new FakeFactory("a");
    handshakeError(() => acceptAsClient([a], "a, a", response), "EXTENSION_DUPLICATE", 101);
    assert.equal(a.live[0].disposed, true);
  });

  test("two extensions on the same RSV bit are refused", () => {
    const a = new FakeFactory("a", { rsv: 0b100 });
    const b = new FakeFactory("b", { rsv: 0b100 });
    handshakeError(() => acceptAsClient([a, b], "a, b", response), "EXTENSION_RSV_CONFLICT", 101);
    assert.equal(b.live.length, 0, "b is never accepted");
    assert.equal(a.live[0].disposed, true);
    const liar = new FakeFactory("liar", { rsv: 0b010, liveRsv: 0b100 });
    handshakeError(() => acceptAsClient([a, liar], "a, liar"), "EXTENSION_RSV_CONFLICT", 101);
    assert.equal(liar.live[0].disposed, true);
  });

  test("accept throwing ExtensionError: EXTENSION_REJECTED with the cause", () => {
    const cause = new ExtensionError("X_PMD_PARAMS", "bad window bits");
    const a = new FakeFactory("a", {
      accept: () => {
        throw cause;
      },
    });
    const e = handshakeError(
      () => acceptAsClient([a], "a; x=99", { status: 101 }),
      "EXTENSION_REJECTED",
      101,
    );
    assert.equal(e.cause, cause);
  });

  test("accept throwing anything else propagates", () => {
    const bug = new TypeError("bug");
    const a = new FakeFactory("a", {
      accept: () => {
        throw bug;
      },
    });
    assert.throws(() => acceptAsClient([a], "a"), (e) => e === bug);
  });

  test("a malformed response header is refused with the response's status", () => {
    const e = handshakeError(
      () => acceptAsClient([new FakeFactory("a")], "a;", { status: 101 }),
      "EXTENSIONS_HEADER_MALFORMED",
      101,
    );
    assert.ok(e.cause instanceof ExtensionError);
  });
});
