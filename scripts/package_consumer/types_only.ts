// A TypeScript consumer of the installed package without @types/node, for
// scripts/package_test.mjs: copied into a fresh project whose node_modules
// holds sprig alone, and type-checked by tsc (strict, skipLibCheck false,
// `types: []`, lib ES2022 + DOM + DOM.Iterable + ESNext.Disposable), so that
// every declaration reachable from the export paths is checked without
// Node's types: the web platform's globals (URL, Headers, streams) come from
// the DOM library, as in a browser, Deno or Bun project. Never run.
import {
  connect,
  ConnectionClosedError,
  ConnectionClosedOK,
  type ConnectOptions,
  type Handler,
  type Http2ClientSession,
  type MessageData,
  reconnecting,
  serve,
  type Session,
  SprigError,
  WebSocket,
  WebSocketStream,
} from "@sprig/websocket";
import {
  bunServeAdapter,
  denoServeAdapter,
  type NodeHttpAdapter,
  nodeHttpAdapter,
  type NodeHttpRequest,
} from "@sprig/websocket/adapters";
import { CloseCode, Connection, encodeFrame } from "@sprig/websocket/protocol";
import { FrameDecoderStream, MessageStream } from "@sprig/websocket/streams";
import { detectRuntime, fromNodeSocket, type NodeSocket } from "@sprig/websocket/transport";
import * as scale from "@sprig/websocket/scale";
import * as otel from "@sprig/websocket/otel";
import * as testing from "@sprig/websocket/testing";

export async function client(url: string, h2?: Http2ClientSession): Promise<MessageData[]> {
  const options: ConnectOptions = { compression: { threshold: 0 }, keepalive: false };
  const ws: Session = await connect(
    url,
    h2 === undefined ? options : { ...options, http2Session: h2 },
  );
  const got: MessageData[] = [];
  try {
    for await (const message of ws) got.push(message);
  } catch (error) {
    if (error instanceof ConnectionClosedError) return [String(error.closeCode), error.reason];
    if (error instanceof ConnectionClosedOK || error instanceof SprigError) throw error;
  }
  await using again = await connect(url);
  got.push(await again.receive({ timeoutMs: 1000 }));
  return got;
}

const echo: Handler<number> = {
  init: () => ({ state: 0 }),
  in: (message, n) => ({ push: message, state: n + 1 }),
};

export async function server(): Promise<string> {
  await using s = await serve({ hostname: "127.0.0.1", port: 0 }, echo);
  const adapter: NodeHttpAdapter = nodeHttpAdapter(echo);
  const upgrade = (request: NodeHttpRequest, socket: NodeSocket, head: Uint8Array) =>
    adapter.handleUpgrade(request, socket, head);
  void upgrade;
  void bunServeAdapter(echo);
  void denoServeAdapter(echo);
  return s.url.href;
}

export const parts: unknown[] = [
  reconnecting,
  WebSocket,
  WebSocketStream,
  CloseCode.Normal,
  new Connection({ role: "client" }),
  encodeFrame,
  FrameDecoderStream,
  MessageStream,
  detectRuntime(),
  fromNodeSocket,
  scale,
  otel,
  testing,
];
