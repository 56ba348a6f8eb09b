// The client's permessage-deflate offer: by default what browsers send,
// which every mainstream server accepts (the interop tests run it against
// ws, Python websockets, Deno and Bun); a server that refuses an offer
// gives an error that names the parameter or the offer; and compression
// "if available" (compressionFallback) falls back to a plainer offer, then
// to none. The servers here are raw node:net sockets that answer exactly
// as the case needs, counting connections.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { connect, type ConnectOptions, HandshakeError } from "../../mod.ts";
import { acceptKey } from "../../lib/protocol/handshake.ts";

interface RawServer {
  url: string;
  /** The Sec-WebSocket-Extensions of each request, `null` when absent. */
  offers: Array<string | null>;
  close(): void;
}

const servers: RawServer[] = [];
after(() => servers.forEach((s) => s.close()));

/** Answers each request with `answer(offer)`: a 101 with that extensions value, or a refusal. */
async function rawServer(
  answer: (offer: string | null) => { extensions: string | null } | { status: string },
): Promise<RawServer> {
  const offers: Array<string | null> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    let head = "";
    socket.on("data", (chunk) => {
      if (head.includes("\r\n\r\n")) return;
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const offer = /\r\nsec-websocket-extensions: *([^\r]*)/i.exec(head)?.[1] ?? null;
      offers.push(offer);
      const key = /\r\nsec-websocket-key: *(\S+)/i.exec(head)![1];
      const a = answer(offer);
      if ("status" in a) {
        socket.end(`HTTP/1.1 ${a.status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      }
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Accept: ${acceptKey(key)}\r\n` +
          (a.extensions === null ? "" : `Sec-WebSocket-Extensions: ${a.extensions}\r\n`) + "\r\n",
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const raw = {
    url: `ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`,
    offers,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
  servers.push(raw);
  return raw;
}

const opts = (o: ConnectOptions = {}): ConnectOptions => ({ keepalive: false, ...o });

async function refusal(promise: Promise<unknown>): Promise<HandshakeError> {
  const error = await promise.then((s) => s, (e: unknown) => e);
  assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${error}`);
  return error;
}

describe("the default offer", () => {
  it("is what browsers send: permessage-deflate; client_max_window_bits", async () => {
    const server = await rawServer(() => ({ extensions: "permessage-deflate" }));
    const ws = await connect(server.url, opts());
    assert.deepEqual(server.offers, ["permessage-deflate; client_max_window_bits"]);
    assert.equal(ws.extensions, "permessage-deflate");
    ws.terminate();
  });

  it("a server that declines it gives an uncompressed connection", async () => {
    const server = await rawServer(() => ({ extensions: null }));
    const ws = await connect(server.url, opts());
    assert.equal(ws.extensions, "");
    ws.terminate();
  });
});

describe("a server that refuses an offer: the error names the parameter or the offer", () => {
  it("a response the tuned offer does not allow names the parameter (EXTENSION_REJECTED)", async () => {
    const server = await rawServer(() => ({ extensions: "permessage-deflate" }));
    const e = await refusal(
      connect(server.url, opts({ compression: { serverMaxWindowBits: 10 } })),
    );
    assert.equal(e.code, "EXTENSION_REJECTED");
    assert.match(e.message, /server_max_window_bits/);
    assert.equal(e.status, 101);
  });

  it("an unknown parameter in the response is named", async () => {
    const server = await rawServer(() => ({ extensions: "permessage-deflate; x-foo=1" }));
    const e = await refusal(connect(server.url, opts()));
    assert.equal(e.code, "EXTENSION_REJECTED");
    assert.match(e.message, /"x-foo=1"/);
  });

  it("a 400 answering an offer says what was offered and how to do without it", async () => {
    const server = await rawServer((offer) =>
      offer === null ? { extensions: null } : { status: "400 Bad Request" }
    );
    const e = await refusal(connect(server.url, opts({ compression: { serverMaxWindowBits: 9 } })));
    assert.equal(e.code, "HANDSHAKE_REFUSED");
    assert.equal(e.status, 400);
    assert.match(
      e.message,
      /offered Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9; client_max_window_bits;.*compressionFallback/,
    );
    assert.equal(server.offers.length, 1, "no second attempt without compressionFallback");
  });
});

describe("compressionFallback: compression if available", () => {
  it("a tuned offer is followed by the browsers' offer, and a server answering that one is accepted", async () => {
    const server = await rawServer((offer) => ({
      // A server that knows only the plain form declines the first element and takes the second.
      extensions: offer?.includes("server_max_window_bits") ? "permessage-deflate" : null,
    }));
    const ws = await connect(
      server.url,
      opts({ compression: { serverMaxWindowBits: 10 }, compressionFallback: true }),
    );
    assert.deepEqual(server.offers, [
      "permessage-deflate; server_max_window_bits=10; client_max_window_bits, " +
      "permessage-deflate; client_max_window_bits",
    ]);
    assert.equal(ws.extensions, "permessage-deflate");
    ws.terminate();
  });

  it("a server that refuses the handshake over the offer (400) is asked once more without it", async () => {
    const server = await rawServer((offer) =>
      offer === null ? { extensions: null } : { status: "400 Bad Request" }
    );
    const ws = await connect(server.url, opts({ compressionFallback: true }));
    assert.deepEqual(server.offers, ["permessage-deflate; client_max_window_bits", null]);
    assert.equal(ws.extensions, "");
    ws.terminate();
  });

  it("a response no offer allows is asked once more without compression", async () => {
    const server = await rawServer((offer) => ({
      extensions: offer === null ? null : "permessage-deflate; x-foo",
    }));
    const ws = await connect(server.url, opts({ compressionFallback: true }));
    assert.equal(server.offers.length, 2);
    assert.equal(server.offers[1], null);
    assert.equal(ws.extensions, "");
    ws.terminate();
  });

  it("a refusal that is not about the offer (401) is not retried", async () => {
    const server = await rawServer(() => ({ status: "401 Unauthorized" }));
    const e = await refusal(connect(server.url, opts({ compressionFallback: true })));
    assert.equal(e.status, 401);
    assert.equal(server.offers.length, 1);
  });

  it("without compression there is nothing to fall back from: one attempt", async () => {
    const server = await rawServer(() => ({ status: "400 Bad Request" }));
    const e = await refusal(
      connect(server.url, opts({ compression: false, compressionFallback: true })),
    );
    assert.equal(e.status, 400);
    assert.deepEqual(server.offers, [null]);
    assert.doesNotMatch(e.message, /offered/);
  });
});
