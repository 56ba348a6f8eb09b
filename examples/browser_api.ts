/**
 * The browser's WebSocket API on Deno, Bun and Node: code written for
 * `new WebSocket(url)` with `onopen`/`onmessage`/`onclose` runs unchanged on
 * sprig's `WebSocket` class, with sprig's extras (here a custom header) as
 * the third argument. It talks to a sprig server it starts on 127.0.0.1.
 *
 *   deno run -A examples/browser_api.ts
 *   bun examples/browser_api.ts
 *   npx tsx examples/browser_api.ts
 */
import { type CloseEvent, serve, WebSocket } from "../mod.ts";

const server = await serve({ hostname: "127.0.0.1", port: 0 }, {
  init: (ctx) => ({ state: ctx.headers.get("x-client") ?? "anonymous" }),
  in: (message, client) => ({ push: `${client} said: ${message}` }),
});

// From here on, the code is what a browser page would run.
const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`, [], {
  headers: { "x-client": "example" },
});
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  console.log(`open: readyState ${ws.readyState}, extensions "${ws.extensions}"`);
  ws.send("hello");
  ws.send("goodbye");
};
let replies = 0;
ws.onmessage = (event) => {
  console.log(`message: ${event.data}`);
  if (++replies === 2) ws.close(1000, "done");
};
const closed = new Promise<CloseEvent>((resolve) => {
  ws.onclose = (event) => resolve(event);
});

const event = await closed;
console.log(`close: code ${event.code}, clean ${event.wasClean}, readyState ${ws.readyState}`);
await server.shutdown();
