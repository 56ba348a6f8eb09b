// The client reads the server's final HTTP response per RFC 9112: interim
// 1xx responses before the 101 are skipped (RFC 9110 §15.2), and a
// refusal's body is read as its framing says (Content-Length, chunked,
// close-delimited; RFC 9112 §6.3, §7.1), however it is split into packets,
// bounded by a size cap and the handshake timeout. Exact packet boundaries
// come from an in-memory transport (every split point is tried); the same
// cases also run over real sockets against a raw node:net server.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import {
  CLIENT_DEFAULTS,
  connect,
  HandshakeError,
  HttpParseError,
  TimeoutError,
} from "../../mod.ts";
import { acceptKey } from "../../lib/protocol/handshake.ts";
import { encodeFrame, Opcode } from "../../lib/protocol/frame.ts";
import { memoryPair } from "../_helpers/memory_transport.ts";
import { concat, utf8 } from "../_helpers/bytes.ts";

type Parts = (key: string) => Array<string | Uint8Array>;

const keyOf = (request: string) => /sec-websocket-key: *(\S+)/i.exec(request)![1];

const switching = (key: string) =>
  `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n\r\n`;

const INTERIM = {
  "100 Continue": "HTTP/1.1 100 Continue\r\n\r\n",
  "102 Processing": "HTTP/1.1 102 Processing\r\n\r\n",
  "103 Early Hints":
    "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n",
};

/** A server frame carrying "hi", sent right behind the 101. */
const HI = encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Text, payload: utf8("hi") });

/**
 * Runs connect() over an in-memory transport whose server end answers with
 * `parts`, each delivered as its own read; then ends the stream when `eof`.
 */
async function overMemory(
  parts: Parts,
  options: { eof?: boolean; handshakeTimeoutMs?: number } = {},
) {
  const [client, server] = memoryPair();
  const served = (async () => {
    const request = await server.read();
    const key = keyOf(new TextDecoder().decode(request!));
    for (const part of parts(key)) {
      await server.write([typeof part === "string" ? utf8(part) : part]);
    }
    if (options.eof) server.close();
  })();
  try {
    return await connect("ws://memory.test/", {
      transport: client,
      compression: false,
      keepalive: false,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
    });
  } finally {
    await served;
    if (!options.eof) setTimeout(() => server.close(), 0);
  }
}

/** Splits one response at every byte boundary into two reads. */
function everySplit(whole: (key: string) => string): Parts[] {
  const probe = whole("dGhlIHNhbXBsZSBub25jZQ==").length;
  const out: Parts[] = [];
  for (let at = 1; at < probe; at++) {
    out.push((key) => {
      const bytes = utf8(whole(key));
      return [bytes.subarray(0, at), bytes.subarray(at)];
    });
  }
  return out;
}

async function refusal(promise: Promise<unknown>): Promise<HandshakeError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${error}`);
  return error;
}

const CHUNKED_401 = "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: chunked\r\n\r\n";
const CHUNKED_BODY = "5\r\nno to\r\n4\r\nken!\r\n0\r\n\r\n";

describe("client: interim 1xx responses before the 101 are skipped (RFC 9110 §15.2)", () => {
  for (const [name, interim] of Object.entries(INTERIM)) {
    it(`${name}, then 101 in the same packet, then a frame: the connection opens`, async () => {
      const ws = await overMemory((key) => [concat([utf8(interim + switching(key)), HI])]);
      assert.equal(await ws.receive({ timeoutMs: 2000 }), "hi");
      ws.terminate();
    });

    it(`${name}, then 101 in a later packet: the connection opens`, async () => {
      const ws = await overMemory((key) => [interim, switching(key), HI]);
      assert.equal(await ws.receive({ timeoutMs: 2000 }), "hi");
      ws.terminate();
    });

    it(`${name} + 101, split at every byte: the connection opens each time`, async () => {
      for (const parts of everySplit((key) => interim + switching(key))) {
        const ws = await overMemory(parts);
        assert.equal(ws.readyState, "open");
        ws.terminate();
      }
    });
  }

  it("several interim responses in a row, then 101", async () => {
    const ws = await overMemory((key) => [
      INTERIM["100 Continue"] + INTERIM["102 Processing"],
      INTERIM["103 Early Hints"],
      INTERIM["102 Processing"] + switching(key),
    ]);
    assert.equal(ws.readyState, "open");
    ws.terminate();
  });

  it("an interim response, then a refusal: the refusal's status and body", async () => {
    const e = await refusal(overMemory(() => [
      INTERIM["103 Early Hints"],
      "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nno token!",
    ]));
    assert.equal(e.status, 403);
    assert.equal(e.bodyText, "no token!");
  });

  it(`more than ${CLIENT_DEFAULTS.maxInterimResponses} interim responses fail the handshake`, async () => {
    const error = await overMemory(() => [
      INTERIM["102 Processing"].repeat(CLIENT_DEFAULTS.maxInterimResponses + 1),
    ]).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof HttpParseError, String(error));
    assert.equal(error.code, "TOO_MANY_INTERIM_RESPONSES");
  });
});

describe("client: a refusal's body is read as RFC 9112 §6.3 frames it", () => {
  it('chunked, with the head: HandshakeError.body is "no token!"', async () => {
    const e = await refusal(overMemory(() => [CHUNKED_401 + CHUNKED_BODY]));
    assert.equal(e.status, 401);
    assert.equal(e.code, "HANDSHAKE_REFUSED");
    assert.equal(e.bodyText, "no token!");
  });

  it('chunked, the body in later packets (the server keeps TCP open): "no token!"', async () => {
    const e = await refusal(
      overMemory(() => [CHUNKED_401, "5\r\nno to\r\n", "4\r\nken!\r\n0\r\n\r\n"]),
    );
    assert.equal(e.bodyText, "no token!");
  });

  it('chunked, split at every byte: "no token!" each time', async () => {
    for (const parts of everySplit(() => CHUNKED_401 + CHUNKED_BODY)) {
      assert.equal((await refusal(overMemory(parts))).bodyText, "no token!");
    }
  });

  it("chunked with extensions and trailer fields: they are dropped", async () => {
    const e = await refusal(overMemory(() => [
      CHUNKED_401,
      '5;name=value;q="x"\r\nno to\r\n4 ; a\r\nken!\r\n0\r\nX-Trailer: 1\r\n\r\n',
    ]));
    assert.equal(e.bodyText, "no token!");
  });

  it('Content-Length, the body in later packets: "no token!"', async () => {
    const e = await refusal(overMemory(() => [
      "HTTP/1.1 401 Unauthorized\r\nContent-Length: 9\r\n\r\n",
      "no to",
      "ken!",
    ]));
    assert.equal(e.bodyText, "no token!");
  });

  it('close-delimited (no length, Connection: close), the body after the head: "no token!"', async () => {
    const e = await refusal(overMemory(() => [
      "HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n",
      "no to",
      "ken!",
    ], { eof: true }));
    assert.equal(e.bodyText, "no token!");
  });

  it("a Transfer-Encoding other than chunked is read to the end of the connection", async () => {
    const e = await refusal(overMemory(() => [
      "HTTP/1.1 401 Unauthorized\r\nTransfer-Encoding: identity\r\nContent-Length: 3\r\n\r\n",
      "no token!",
    ], { eof: true }));
    assert.equal(e.bodyText, "no token!");
  });

  it("204 and 304 have no body: the refusal comes without waiting for more", async () => {
    for (const status of ["204 No Content", "304 Not Modified"]) {
      const e = await refusal(overMemory(() => [`HTTP/1.1 ${status}\r\n\r\n`]));
      assert.equal(e.body.length, 0);
    }
  });

  it(`a body over ${CLIENT_DEFAULTS.maxRefusalBodyBytes} bytes is kept cut there, without waiting for the rest`, async () => {
    const cap = CLIENT_DEFAULTS.maxRefusalBodyBytes;
    const e = await refusal(overMemory(() => [
      `HTTP/1.1 401 Unauthorized\r\nContent-Length: ${4 * cap}\r\n\r\n`,
      "x".repeat(cap / 2),
      "x".repeat(cap), // the rest never comes, and TCP stays open
    ]));
    assert.equal(e.body.length, cap);
    assert.equal(e.cause, undefined);
  });

  it("a body that does not finish within the handshake timeout: the refusal, with what came and the TimeoutError as cause", async () => {
    const e = await refusal(overMemory(
      () => ["HTTP/1.1 401 Unauthorized\r\nContent-Length: 100\r\n\r\n", "no token!"],
      { handshakeTimeoutMs: 200 },
    ));
    assert.equal(e.status, 401);
    assert.equal(e.bodyText, "no token!");
    assert.ok(e.cause instanceof TimeoutError);
  });

  it("a body cut by the end of the connection: the part that came, and the framing error as cause", async () => {
    const e = await refusal(
      overMemory(() => [CHUNKED_401, "5\r\nno to\r\n4\r\nke"], { eof: true }),
    );
    assert.equal(e.bodyText, "no toke");
    assert.ok(e.cause instanceof HttpParseError);
    assert.equal(e.cause.code, "BODY_INCOMPLETE");
  });

  it("malformed chunked framing: the part before it, and the framing error as cause", async () => {
    const e = await refusal(overMemory(() => [CHUNKED_401, "5\r\nno to\r\nzz\r\n"]));
    assert.equal(e.bodyText, "no to");
    assert.ok(e.cause instanceof HttpParseError);
    assert.equal(e.cause.code, "BODY_BAD_CHUNK");
  });

  it("an invalid Content-Length: the refusal without a body, and why", async () => {
    const e = await refusal(overMemory(() => [
      "HTTP/1.1 401 Unauthorized\r\nContent-Length: 9, 10\r\n\r\nno token!",
    ]));
    assert.equal(e.status, 401);
    assert.equal(e.body.length, 0);
    assert.ok(e.cause instanceof HttpParseError);
    assert.equal(e.cause.code, "BODY_BAD_LENGTH");
  });
});

/** A raw TCP server answering each connection with `parts`, one write per part, each after the last was flushed. */
async function rawServer(parts: Parts, options: { end?: boolean } = {}) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let request = "";
    socket.on("data", async (chunk) => {
      if (request.includes("\r\n\r\n")) return;
      request += chunk.toString("latin1");
      if (!request.includes("\r\n\r\n")) return;
      for (const part of parts(keyOf(request))) {
        await new Promise<void>((resolve) => socket.write(part, () => resolve()));
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (options.end) socket.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe("client over real sockets: interim responses and refusal bodies in separate writes", () => {
  it("103 Early Hints, then 101: the connection opens", async () => {
    const server = await rawServer((key) => [INTERIM["103 Early Hints"], switching(key), HI]);
    try {
      const ws = await connect(server.url, { compression: false, keepalive: false });
      assert.equal(await ws.receive({ timeoutMs: 2000 }), "hi");
      ws.terminate();
    } finally {
      server.close();
    }
  });

  for (
    const [name, parts, end] of [
      ["chunked", () => [CHUNKED_401, "5\r\nno to\r\n", "4\r\nken!\r\n0\r\n\r\n"], false],
      [
        "Content-Length",
        () => ["HTTP/1.1 401 Unauthorized\r\nContent-Length: 9\r\n\r\n", "no ", "token!"],
        false,
      ],
      [
        "close-delimited",
        () => ["HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n", "no ", "token!"],
        true,
      ],
    ] as Array<[string, Parts, boolean]>
  ) {
    it(`401 with a ${name} body after the head: "no token!"`, async () => {
      const server = await rawServer(parts, { end });
      try {
        const e = await refusal(
          connect(server.url, { compression: false, handshakeTimeoutMs: 5000 }),
        );
        assert.equal(e.status, 401);
        assert.equal(e.bodyText, "no token!");
        assert.equal(e.cause, undefined);
      } finally {
        server.close();
      }
    });
  }
});
