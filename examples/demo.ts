/**
 * The quick-start demo: sprig's client talks to a real peer (the `ws`
 * package's server, started here on 127.0.0.1) with compression on.
 *
 *   npm run demo            (Node, through tsx)
 *   deno run -A examples/demo.ts
 *   bun examples/demo.ts
 */
import { WebSocketServer } from "ws";
import { connect, detectRuntime } from "../mod.ts";

const server = new WebSocketServer({
  host: "127.0.0.1",
  port: 0,
  perMessageDeflate: { threshold: 0 },
});
await new Promise<void>((resolve) => server.once("listening", () => resolve()));
server.on(
  "connection",
  (peer) => peer.on("message", (data, isBinary) => peer.send(data, { binary: isBinary })),
);
const { port } = server.address() as { port: number };
const url = `ws://127.0.0.1:${port}/`;
console.log(`echo server (ws package) at ${url}; sprig client on ${detectRuntime()}`);

await using ws = await connect(url, { headers: { "user-agent": "sprig-demo" } });
console.log(`open: extensions "${ws.extensions}"`);

await ws.send("hello from sprig");
console.log("text back:  ", await ws.receive({ timeoutMs: 5000 }));

await ws.send(new Uint8Array([1, 2, 3, 4]));
console.log("binary back:", await ws.receive({ timeoutMs: 5000 }));

console.log(`ping rtt:    ${(await ws.ping()).toFixed(2)} ms`);

const closed = await ws.close(1000, "demo done");
console.log(`closed: code ${closed.code}, clean ${closed.wasClean}`);
server.close();
