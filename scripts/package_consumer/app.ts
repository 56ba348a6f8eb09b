// A consumer of the installed package, for scripts/package_test.mjs: it is
// copied into a fresh project outside the repository, type-checked there by
// tsc with strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess and
// without the DOM library, compiled and run by plain `node`, run by `bun`,
// and run by `deno` through `npm:` and `jsr:` specifiers (the test rewrites
// the specifiers). It uses each export path and prints one line, "ok".
// 127.0.0.1 and free ports only; bounded by timeouts.
import { connect, type MessageData, serve, SprigError } from "@sprig/websocket";
import { nodeHttpAdapter } from "@sprig/websocket/adapters";
import { CloseCode, Connection, encodeFrame } from "@sprig/websocket/protocol";
import { FrameDecoderStream } from "@sprig/websocket/streams";
import { detectRuntime } from "@sprig/websocket/transport";
import { otelInstrumentation } from "@sprig/websocket/otel";
import { connectPeer, driveHandler } from "@sprig/websocket/testing";
import * as http from "node:http";
import type { AddressInfo } from "node:net";

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`package consumer: ${what}`);
}

// The OpenTelemetry entry: a telemetry hook from a tracer alone.
const spans: string[] = [];
const otel = otelInstrumentation({
  tracer: {
    startSpan: (name) => {
      spans.push(name);
      return {
        setAttribute: () => {},
        setStatus: () => {},
        recordException: () => {},
        end: () => {},
      };
    },
  },
});
check(typeof otel.telemetry.channel === "function", "otel gives a telemetry hook");

// The protocol core: a frame encoded by hand, parsed by a server connection.
const server = new Connection({ role: "server" });
const frame = encodeFrame({
  fin: true,
  rsv: 0,
  opcode: 1,
  payload: new TextEncoder().encode("core"),
}, {
  mask: new Uint8Array([1, 2, 3, 4]),
});
const events = server.receive(frame);
const first = events[0]; // noUncheckedIndexedAccess: possibly undefined
check(first?.type === "text" && first.data === "core", "Connection parses a masked text frame");
check(typeof FrameDecoderStream === "function", "streams export");
check(["node", "deno", "bun"].includes(detectRuntime()), "transport export");

// exactOptionalPropertyTypes: optional options accept an explicit undefined.
const maybeSignal: AbortSignal | undefined = undefined;

async function echo(url: string): Promise<void> {
  const ws = await connect(url, { compression: true, signal: maybeSignal, connectTimeoutMs: 5000 });
  try {
    const big = "sprig ".repeat(1000); // above the compression threshold
    await ws.send(big);
    const reply: MessageData = await ws.receive({ timeoutMs: 5000 });
    check(reply === big, `echo from ${url}`);
    check(ws.extensions.startsWith("permessage-deflate"), `compression negotiated with ${url}`);
  } finally {
    const info = await ws.close(CloseCode.Normal, "done");
    check(info.wasClean, `clean close with ${url}`);
  }
}

// sprig's own server.
const sprig = await serve({ hostname: "127.0.0.1", port: 0, telemetry: otel.telemetry }, {
  init: () => ({ state: { count: 0 } }),
  in: (message, state) => ({ state: { count: state.count + 1 }, push: message }),
});
// The node:http adapter.
const adapter = nodeHttpAdapter({ in: (message) => ({ push: message }) });
const web = http.createServer((_request, response) => response.end("a page"));
const detach = adapter.attach(web);
await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
try {
  await echo(`ws://127.0.0.1:${sprig.port}/`);
  check(spans.includes("websocket connection"), "otel records a server connection's span");
  // The test kit: a scripted peer splits a frame at every byte; a handler runs without a socket.
  const peer = await connectPeer(`ws://127.0.0.1:${sprig.port}/`);
  await peer.sendSplit(peer.encode({ opcode: 1, payload: "kit" }), 1);
  check(await peer.nextText() === "kit", "the scripted peer's split frame is echoed");
  peer.destroy();
  const driven = await driveHandler({ in: (message: unknown) => ({ push: message as string }) });
  await driven.in("unit");
  check(driven.take()[0] === "unit", "driveHandler records a push");
  await echo(`ws://127.0.0.1:${(web.address() as AddressInfo).port}/`);
  try {
    await connect("ws://[not a url", { connectTimeoutMs: 1000 });
    check(false, "a bad URL is refused");
  } catch (error) {
    check(error instanceof SprigError || error instanceof TypeError, "a bad URL is refused");
  }
} finally {
  detach();
  await new Promise<void>((resolve) => web.close(() => resolve()));
  await sprig.shutdown({ deadlineMs: 2000 });
}
console.log("ok");
