// sprig's own HTTP/2 server connection (lib/server/http2/sprig_front.ts) over a
// socket whose writes stay blocked: a client that sends PINGs (or anything
// else that owes it a reply) but never reads must not make the server buffer
// without end, so the server stops reading until its writes drain. Driven
// with a fake socket, so it runs the same on every runtime.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SprigHttp2Front } from "../../../lib/server/http2/sprig_front.ts";
import {
  CLIENT_PREFACE,
  encodeFrame,
  encodeSettings,
  FrameType,
} from "../../../lib/protocol/http2/frame.ts";
import type { HttpHost } from "../../../lib/server/http/http1_loop.ts";
import type { AcceptedSocket } from "../../../lib/server/http/listener.ts";
import type { Transport, TransportSink } from "../../../lib/transport/transport.ts";

describe("sprig's HTTP/2 server: a client that never reads", () => {
  it("stops reading while its writes are blocked, and reads again once they drain", () => {
    let sink: TransportSink | undefined;
    let paused = false;
    let written = 0;
    let writable = true;
    const transport: Transport = {
      closed: new Promise<void>(() => {}),
      remoteAddress: undefined,
      bufferedAmount: 0,
      read: () => Promise.resolve(null),
      write: () => Promise.resolve(),
      writeNow: (chunks: readonly Uint8Array[]) => {
        for (const c of chunks) written += c.length;
        return writable;
      },
      attach: (s: TransportSink) => (sink = s),
      pause: () => (paused = true),
      resume: () => (paused = false),
      close: () => {},
      destroy: () => {},
    } as unknown as Transport;
    const socket: AcceptedSocket = {
      transport,
      close: () => {},
      destroy: () => {},
      secure: false,
    };
    const http = {
      maxHeadBytes: 16384,
      handshakeTimeoutMs: 60_000,
      keepAliveTimeoutMs: 60_000,
    } as unknown as HttpHost;
    const front = new SprigHttp2Front(http, false);
    front.accept(socket);
    assert.ok(sink);
    sink.data(Uint8Array.from([...CLIENT_PREFACE, ...encodeSettings([])]));
    assert.equal(paused, false);
    writable = false;
    const ping = encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8));
    sink.data(ping);
    assert.equal(paused, true, "reads go on while nothing drains");
    writable = true;
    sink.drain();
    assert.equal(paused, false);
    assert.ok(written > 0);
    front.destroy();
  });

  it("drops the connection after writeTimeoutMs of writes that never drain (issue 28)", async () => {
    let sink: TransportSink | undefined;
    let destroyed = false;
    const transport = {
      closed: new Promise<void>(() => {}),
      remoteAddress: undefined,
      bufferedAmount: 0,
      read: () => Promise.resolve(null),
      write: () => Promise.resolve(),
      writeNow: () => false, // the client reads nothing, ever
      attach: (s: TransportSink) => (sink = s),
      pause: () => {},
      resume: () => {},
      close: () => {},
      destroy: () => {},
    } as unknown as Transport;
    const socket: AcceptedSocket = {
      transport,
      close: () => {},
      destroy: () => void (destroyed = true),
      secure: false,
    };
    const http = {
      maxHeadBytes: 16384,
      handshakeTimeoutMs: 60_000,
      keepAliveTimeoutMs: 60_000,
      host: { options: { writeTimeoutMs: 50 } },
    } as unknown as HttpHost;
    const front = new SprigHttp2Front(http, false);
    front.accept(socket);
    assert.ok(sink);
    sink.data(Uint8Array.from([...CLIENT_PREFACE, ...encodeSettings([])]));
    sink.data(encodeFrame(FrameType.PING, 0, 0, new Uint8Array(8)));
    assert.equal(destroyed, false);
    const deadline = Date.now() + 5000;
    while (!destroyed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(destroyed, true, "the connection was not dropped");
    assert.equal(front.size, 0);
    front.destroy();
  });
});
