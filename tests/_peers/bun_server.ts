// A real peer for interop tests: Bun's built-in WebSocket server (Bun.serve,
// uWebSockets) with permessage-deflate. Prints "LISTENING <port>" when ready.
//   /echo  echoes;  /headers  sends the request headers as JSON, then echoes;
//   /close/<code>  closes with that code and reason "bye".
type Data = { path: string; headers: Record<string, string> };
// The few Bun types used here, so that tsc and deno check read this file too.
interface Ws {
  data: Data;
  send(m: string | Uint8Array): void;
  close(code: number, reason: string): void;
}
interface BunServe {
  serve(options: {
    hostname: string;
    port: number;
    fetch(
      req: Request,
      server: { upgrade(req: Request, o: { data: Data; headers?: HeadersInit }): boolean },
    ): Response | undefined;
    websocket: {
      perMessageDeflate: boolean;
      maxPayloadLength: number;
      open(ws: Ws): void;
      message(ws: Ws, message: string | Uint8Array): void;
    };
  }): { port: number; stop(force: boolean): void };
  stdin: { stream(): ReadableStream<Uint8Array> };
}
const Bun = (globalThis as unknown as { Bun: BunServe }).Bun;
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, server) {
    const url = new URL(req.url);
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) =>
      s.trim()
    );
    const headers = offered.includes("chat.v1")
      ? { "sec-websocket-protocol": "chat.v1" }
      : undefined;
    if (
      server.upgrade(req, {
        data: { path: url.pathname, headers: Object.fromEntries(req.headers) },
        headers,
      })
    ) return undefined;
    return new Response("not a websocket", { status: 426 });
  },
  websocket: {
    perMessageDeflate: true,
    maxPayloadLength: 64 * 1024 * 1024,
    open(ws) {
      if (ws.data.path === "/headers") ws.send(JSON.stringify(ws.data.headers));
      if (ws.data.path.startsWith("/close/")) ws.close(Number(ws.data.path.slice(7)), "bye");
    },
    message(ws, message) {
      ws.send(message);
    },
  },
});
console.log(`LISTENING ${server.port}`);
// Exit when the test run closes our stdin.
(async () => {
  for await (const _ of Bun.stdin.stream()) { /* drain */ }
  server.stop(true);
  (globalThis as unknown as { process: { exit(code: number): never } }).process.exit(0);
})();
