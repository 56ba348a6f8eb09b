// Raw HTTP/2 bytes from hostile clients against serve({ http2: "sprig" }),
// sprig's own HTTP/2 endpoint (lib/protocol/http2/ through
// lib/server/http2/sprig_front.ts), on every runtime and its own listener:
// h2spec-style checks at the frame level (the sans-I/O core alone is tested
// in tests/protocol/http2/attack_test.ts).
//
// SPRIG_TEST_H2_SERVER=node:http2 runs the same cases against serve({
// http2: "node:http2" }) on Node or Bun, to compare (bench/h2/README.md
// lists which of them node:http2 fails; the suite runs sprig's endpoint).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import process from "node:process";
import { serve } from "../../../mod.ts";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeSettings,
  Flag,
  FrameReader,
  FrameType,
  H2ErrorCode,
  type RawFrame,
  Setting,
} from "../../../lib/protocol/http2/frame.ts";
import {
  encodeHeaderBlock,
  type HeaderField,
  HpackDecoder,
} from "../../../lib/protocol/http2/hpack.ts";
import { goawayCode } from "../../_helpers/http2.ts";

/** A raw HTTP/2 client: writes bytes, reads frames. */
class RawClient {
  readonly socket: net.Socket;
  readonly #reader = new FrameReader(1 << 24);
  readonly #frames: RawFrame[] = [];
  #waiters: Array<() => void> = [];
  ended = false;

  private constructor(socket: net.Socket, ack: boolean) {
    this.socket = socket;
    socket.on("data", (chunk: Uint8Array) => {
      this.#reader.push(new Uint8Array(chunk));
      for (let f = this.#reader.next(); f !== undefined; f = this.#reader.next()) {
        assert.notEqual(f, "too-large");
        const frame = f as RawFrame;
        this.#frames.push(frame);
        // RFC 9113 §6.5.3: a client acknowledges the server's SETTINGS at once.
        if (ack && frame.type === FrameType.SETTINGS && (frame.flags & Flag.ACK) === 0) {
          socket.write(encodeFrame(FrameType.SETTINGS, Flag.ACK, 0, new Uint8Array(0)));
        }
      }
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.ended = true;
      this.#wake();
    });
  }

  /** The frames received so far. */
  get frames(): RawFrame[] {
    return [...this.#frames];
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Connects and sends the preface; with `ack: false` it never acknowledges the server's SETTINGS. */
  static connect(
    port: number,
    { ack = true, settings = [] }: { ack?: boolean; settings?: Array<[number, number]> } = {},
  ): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        const c = new RawClient(socket, ack);
        socket.write(Uint8Array.from([...CLIENT_PREFACE, ...encodeSettings(settings)]));
        resolve(c);
      });
      socket.once("error", reject);
    });
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Waits (bounded) for a frame matching `test`, or the end of the connection. */
  async until(test: (f: RawFrame) => boolean, ms = 10_000): Promise<RawFrame | undefined> {
    const deadline = Date.now() + ms;
    while (true) {
      const found = this.#frames.find(test);
      if (found || this.ended) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no such frame in time");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits (bounded) for the server to close the connection. */
  async closed(ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      if (Date.now() > deadline) throw new Error("the server did not close");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const u32 = (n: number) => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const codeOf = (f: RawFrame | undefined, at: number) =>
  f && new DataView(f.payload.buffer, f.payload.byteOffset).getUint32(at);
const isGoaway = (f: RawFrame) => f.type === FrameType.GOAWAY;

/** The HTTP/2 server under test. */
const H2 = process.env.SPRIG_TEST_H2_SERVER === "node:http2" ? "node:http2" : "sprig";

function request(port: number, path: string, extra: HeaderField[] = []): HeaderField[] {
  return [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", path],
    [":authority", `127.0.0.1:${port}`],
    ...extra,
  ];
}

async function startServer() {
  return await serve({
    hostname: "127.0.0.1",
    port: 0,
    http2: H2,
    fetch: (req) => new Response(`alive ${new URL(req.url).pathname}`),
  }, { in: (m) => ({ push: m }) });
}

/** A GET on a fresh connection answers 200: the server survived. */
async function stillServes(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    c.write(
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        1,
        encodeHeaderBlock(request(port, "/ok")),
      ),
    );
    const reply = await c.until((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    assert.ok(reply, "no response");
  } finally {
    c.destroy();
  }
}

describe(`serve({ http2: ${JSON.stringify(H2)} }) against raw hostile bytes`, () => {
  it("survives header names that HTTP/2 allows but Headers refuses", async () => {
    await using server = await startServer();
    const c = await RawClient.connect(server.port);
    let id = 1;
    for (const name of ["x(y", 'x"y', "x{y}", "x/y", "__proto__", "constructor"]) {
      c.write(
        encodeFrame(
          FrameType.HEADERS,
          Flag.END_HEADERS | Flag.END_STREAM,
          id,
          encodeHeaderBlock(request(server.port, "/h", [[name, "1"]])),
        ),
      );
      const reply = await c.until((f) =>
        (f.type === FrameType.HEADERS || f.type === FrameType.RST_STREAM) && f.streamId === id
      );
      assert.ok(reply, `no answer to ${name}`);
      id += 2;
    }
    c.destroy();
    await stillServes(server.port);
  });

  it("ends the connection on an HPACK integer padded with zero bytes (COMPRESSION_ERROR)", async () => {
    await using server = await startServer();
    const c = await RawClient.connect(server.port);
    const block = new Uint8Array(202);
    block[0] = 0x3f;
    block.fill(0x80, 1, 201);
    c.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, block));
    const goaway = await c.until(isGoaway);
    assert.equal(codeOf(goaway, 4), H2ErrorCode.COMPRESSION_ERROR);
    await c.closed();
    await stillServes(server.port);
  });

  it("ends a rapid-reset flood with ENHANCE_YOUR_CALM and goes on serving others", async () => {
    await using server = await startServer();
    const c = await RawClient.connect(server.port);
    const parts: Uint8Array[] = [];
    for (let i = 0, id = 1; i < 2000; i++, id += 2) {
      parts.push(
        encodeFrame(
          FrameType.HEADERS,
          Flag.END_HEADERS,
          id,
          encodeHeaderBlock(request(server.port, "/r")),
        ),
        encodeFrame(FrameType.RST_STREAM, 0, id, u32(H2ErrorCode.CANCEL)),
      );
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    c.write(all);
    const goaway = await c.until(isGoaway);
    assert.equal(codeOf(goaway, 4), H2ErrorCode.ENHANCE_YOUR_CALM);
    await c.closed();
    await stillServes(server.port);
  });

  it("answers 408 to a request whose body never ends, as HTTP/1.1 does", async () => {
    // The same bound also times the client's SETTINGS ACK (from accept): at
    // 200 ms, a CPU-starved run saw GOAWAY SETTINGS_TIMEOUT first (the
    // timer ran before the read holding the ACK). 1 s keeps that out of reach.
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      http2: H2,
      handshakeTimeoutMs: 1000,
      fetch: () => new Response("never"),
    }, { in: (m) => ({ push: m }) });
    const c = await RawClient.connect(server.port);
    const post: HeaderField[] = [[":method", "POST"], ...request(server.port, "/slow").slice(1)];
    c.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaderBlock(post)));
    c.write(encodeFrame(FrameType.DATA, 0, 1, new Uint8Array(10)));
    const reply = await c.until((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    assert.ok(reply, `no response; the connection ended (GOAWAY ${goawayCode(c.frames)})`);
    const { fields } = new HpackDecoder().decode(reply.payload);
    assert.equal(fields.find(([n]) => n === ":status")?.[1], "408");
    c.destroy();
  });

  it("answers a frame-level fault with GOAWAY and closes, other connections unharmed", async () => {
    await using server = await startServer();
    const other = await RawClient.connect(server.port);
    const c = await RawClient.connect(server.port);
    c.write(encodeFrame(FrameType.PING, 0, 0, new Uint8Array(7)));
    assert.equal(codeOf(await c.until(isGoaway), 4), H2ErrorCode.FRAME_SIZE_ERROR);
    await c.closed();
    other.write(encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8)));
    assert.ok(await other.until((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0));
    other.destroy();
  });

  // Issue 28: what h2spec found (RFC 9113 §5.3.1, §8.1.1, §3.4, §6.5.3).
  it("a PRIORITY frame making a stream depend on itself: RST_STREAM PROTOCOL_ERROR", async () => {
    await using server = await startServer();
    const c = await RawClient.connect(server.port);
    const selfDependent = (id: number) => {
      const p = new Uint8Array(5);
      new DataView(p.buffer).setUint32(0, id);
      p[4] = 15;
      return encodeFrame(FrameType.PRIORITY, 0, id, p);
    };
    // On an open stream (a POST whose body has not ended) and on an idle one.
    const post: HeaderField[] = [[":method", "POST"], ...request(server.port, "/p").slice(1)];
    c.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaderBlock(post)));
    c.write(selfDependent(1));
    c.write(selfDependent(3));
    for (const id of [1, 3]) {
      const rst = await c.until((f) => f.type === FrameType.RST_STREAM && f.streamId === id);
      assert.ok(rst, `no RST_STREAM on stream ${id}`);
      assert.equal(codeOf(rst, 0), H2ErrorCode.PROTOCOL_ERROR);
    }
    // A PRIORITY on another stream is read and ignored; the connection goes on.
    const ok = new Uint8Array(5);
    ok[3] = 1;
    c.write(encodeFrame(FrameType.PRIORITY, 0, 5, ok));
    c.write(
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        7,
        encodeHeaderBlock(request(server.port, "/after")),
      ),
    );
    assert.ok(await c.until((f) => f.type === FrameType.HEADERS && f.streamId === 7));
    assert.equal(
      await c.until((f) => f.type === FrameType.RST_STREAM && f.streamId === 5, 0).catch(() =>
        undefined
      ),
      undefined,
    );
    c.destroy();
  });

  it("an extended CONNECT with an empty :path is malformed: RST_STREAM PROTOCOL_ERROR", async () => {
    await using server = await startServer();
    const c = await RawClient.connect(server.port);
    const connect: HeaderField[] = [
      [":method", "CONNECT"],
      [":protocol", "websocket"],
      [":scheme", "http"],
      [":path", ""],
      [":authority", `127.0.0.1:${server.port}`],
      ["sec-websocket-version", "13"],
    ];
    c.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 1, encodeHeaderBlock(connect)));
    const answer = await c.until((f) =>
      (f.type === FrameType.RST_STREAM || f.type === FrameType.HEADERS) && f.streamId === 1
    );
    assert.equal(answer?.type, FrameType.RST_STREAM, "no response, a stream reset");
    assert.equal(codeOf(answer, 0), H2ErrorCode.PROTOCOL_ERROR);
    c.destroy();
    await stillServes(server.port);
  });

  it("h2c: bytes that start as the preface but are not it get GOAWAY PROTOCOL_ERROR, not HTTP/1.1", async () => {
    await using server = await startServer();
    for (const bad of ["PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", "PRI / HTTP/1.1\r\nHost: x\r\n\r\n"]) {
      const socket = net.connect(server.port, "127.0.0.1");
      socket.on("error", () => {});
      const chunks: Uint8Array[] = [];
      socket.on("data", (chunk: Uint8Array) => chunks.push(new Uint8Array(chunk)));
      const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
      socket.write(new TextEncoder().encode(bad));
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        ended,
        new Promise((resolve) => (timer = setTimeout(resolve, 10_000))),
      ]);
      clearTimeout(timer);
      socket.destroy();
      const bytes = Uint8Array.from(chunks.flatMap((c) => [...c]));
      assert.ok(!new TextDecoder().decode(bytes.subarray(0, 8)).startsWith("HTTP/1.1"), bad);
      const reader = new FrameReader(1 << 24);
      reader.push(bytes);
      const frames: RawFrame[] = [];
      for (let f = reader.next(); f !== undefined && f !== "too-large"; f = reader.next()) {
        frames.push(f);
      }
      const goaway = frames.find(isGoaway);
      assert.ok(goaway, `no GOAWAY for ${JSON.stringify(bad)}`);
      assert.equal(codeOf(goaway, 4), H2ErrorCode.PROTOCOL_ERROR);
    }
    // An HTTP/1.1 request is still HTTP/1.1.
    const r = await fetch(`http://127.0.0.1:${server.port}/h1`);
    assert.equal(await r.text(), "alive /h1");
  });

  it("a client that never acknowledges SETTINGS gets GOAWAY SETTINGS_TIMEOUT; one that does stays", async () => {
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      http2: H2,
      handshakeTimeoutMs: 300,
      keepAliveTimeoutMs: 60_000,
      fetch: (req) => new Response(`alive ${new URL(req.url).pathname}`),
    }, { in: (m) => ({ push: m }) });
    const polite = await RawClient.connect(server.port);
    const silent = await RawClient.connect(server.port, { ack: false });
    const goaway = await silent.until(isGoaway);
    assert.equal(codeOf(goaway, 4), H2ErrorCode.SETTINGS_TIMEOUT);
    await silent.closed();
    // The polite client's timer ran out too by now: it was not dropped.
    polite.write(
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        1,
        encodeHeaderBlock(request(server.port, "/still")),
      ),
    );
    const reply = await polite.until((f) => f.type === FrameType.HEADERS && f.streamId === 1);
    assert.ok(reply);
    assert.equal(await polite.until(isGoaway, 0).catch(() => undefined), undefined);
    polite.destroy();
  });

  it("bounds the request bodies one connection holds: 4 × maxBodyBytes, then REFUSED_STREAM", async () => {
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      http2: H2,
      maxBodyBytes: 1000,
      fetch: async (req) => new Response(`got ${(await req.arrayBuffer()).byteLength}`),
    }, { in: (m) => ({ push: m }) });
    const c = await RawClient.connect(server.port);
    const post: HeaderField[] = [[":method", "POST"], ...request(server.port, "/b").slice(1)];
    // Five bodies of 900 bytes, none ended: 4,500 bytes past the 4,000 budget.
    for (let id = 1; id <= 9; id += 2) {
      c.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, id, encodeHeaderBlock(post)));
      c.write(encodeFrame(FrameType.DATA, 0, id, new Uint8Array(900)));
    }
    const refused = await c.until((f) => f.type === FrameType.RST_STREAM && f.streamId === 9);
    assert.equal(codeOf(refused, 0), H2ErrorCode.REFUSED_STREAM);
    // The four within the budget finish; the budget they held is free again.
    for (let id = 1; id <= 7; id += 2) {
      c.write(encodeFrame(FrameType.DATA, Flag.END_STREAM, id, new Uint8Array(0)));
    }
    c.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 11, encodeHeaderBlock(post)));
    c.write(encodeFrame(FrameType.DATA, Flag.END_STREAM, 11, new Uint8Array(900)));
    const decoder = new HpackDecoder();
    const statuses: string[] = [];
    for (const id of [1, 3, 5, 7, 11]) {
      const reply = await c.until((f) => f.type === FrameType.HEADERS && f.streamId === id);
      assert.ok(reply, `no response on ${id}`);
      statuses.push(decoder.decode(reply.payload).fields.find(([n]) => n === ":status")![1]);
    }
    assert.deepEqual(statuses, ["200", "200", "200", "200", "200"]);
    // A body over maxBodyBytes itself is still a 413, not a refusal.
    c.write(encodeFrame(FrameType.HEADERS, Flag.END_HEADERS, 13, encodeHeaderBlock(post)));
    c.write(encodeFrame(FrameType.DATA, Flag.END_STREAM, 13, new Uint8Array(1500)));
    const big = await c.until((f) => f.type === FrameType.HEADERS && f.streamId === 13);
    assert.ok(big, "no response to the large body");
    assert.equal(decoder.decode(big.payload).fields.find(([n]) => n === ":status")![1], "413");
    c.destroy();
  });

  it("a response held by a stream window the client never opens is reset after writeTimeoutMs", async () => {
    await using server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      http2: H2,
      writeTimeoutMs: 300,
      fetch: () => new Response("x".repeat(1000)),
    }, { in: (m) => ({ push: m }) });
    // SETTINGS_INITIAL_WINDOW_SIZE 0: no DATA may come until a WINDOW_UPDATE that never does.
    const c = await RawClient.connect(server.port, {
      settings: [[Setting.INITIAL_WINDOW_SIZE, 0]],
    });
    c.write(
      encodeFrame(
        FrameType.HEADERS,
        Flag.END_HEADERS | Flag.END_STREAM,
        1,
        encodeHeaderBlock(request(server.port, "/held")),
      ),
    );
    assert.ok(await c.until((f) => f.type === FrameType.HEADERS && f.streamId === 1));
    const rst = await c.until((f) => f.type === FrameType.RST_STREAM && f.streamId === 1);
    assert.equal(codeOf(rst, 0), H2ErrorCode.CANCEL);
    assert.equal(
      await c.until((f) => f.type === FrameType.DATA, 0).catch(() => undefined),
      undefined,
    );
    // The connection goes on.
    c.write(encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8)));
    assert.ok(await c.until((f) => f.type === FrameType.PING && (f.flags & Flag.ACK) !== 0));
    c.destroy();
  });
});
