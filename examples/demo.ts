/**
 * The quick-start demo: sprig's server and sprig's client talk on
 * 127.0.0.1, with permessage-deflate on.
 *
 *   npm run demo            (Node, through tsx)
 *   deno run -A examples/demo.ts
 *   bun examples/demo.ts
 */
import { connect, detectRuntime, serve } from "../mod.ts";

// A server whose handler echoes, shouts back text, and reports how each connection ended.
const server = await serve({ hostname: "127.0.0.1", port: 0 }, {
  init: (ctx) => ({ state: { peer: ctx.remoteAddress?.hostname ?? "?" } }),
  in: (message) => ({ push: typeof message === "string" ? message.toUpperCase() : message }),
  terminate: (reason, state) =>
    console.log(`server: ${state.peer} left (${reason.type}, ${reason.code})`),
});
console.log(`server: listening on ${server.url} (${detectRuntime()})`);

await using ws = await connect(`ws://127.0.0.1:${server.port}/`, {
  headers: { "user-agent": "sprig-demo" },
});
console.log(`client: open, extensions "${ws.extensions}"`);

await ws.send("hello from sprig");
console.log("client: text back  ", await ws.receive({ timeoutMs: 5000 }));

await ws.send(new Uint8Array([1, 2, 3, 4]));
console.log("client: binary back", await ws.receive({ timeoutMs: 5000 }));

console.log(`client: ping rtt ${(await ws.ping()).toFixed(2)} ms`);

const closed = await ws.close(1000, "demo done");
console.log(`client: closed, code ${closed.code}, clean ${closed.wasClean}`);
await server.shutdown();
