// A real peer for interop tests: Deno's built-in WebSocket server
// (Deno.serve + Deno.upgradeWebSocket). Prints "LISTENING <port>" when ready.
//   /echo  echoes;  /headers  sends the request headers as JSON, then echoes;
//   /close/<code>  closes with that code and reason "bye".
// Deno's server does not negotiate permessage-deflate.
const server = Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`LISTENING ${port}`),
}, (req) => {
  const url = new URL(req.url);
  if (req.headers.get("upgrade") !== "websocket") {
    return new Response("not a websocket", { status: 426 });
  }
  const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim());
  const protocol = offered.includes("chat.v1") ? "chat.v1" : undefined;
  const headers = JSON.stringify(Object.fromEntries(req.headers));
  const { socket, response } = Deno.upgradeWebSocket(req, { protocol });
  socket.binaryType = "arraybuffer";
  socket.onopen = () => {
    if (url.pathname === "/headers") socket.send(headers);
    if (url.pathname.startsWith("/close/")) socket.close(Number(url.pathname.slice(7)), "bye");
  };
  socket.onmessage = (e) => socket.send(e.data);
  return response;
});
// Exit when the test run closes our stdin.
(async () => {
  for await (const _ of Deno.stdin.readable) { /* drain */ }
  await server.shutdown();
  Deno.exit(0);
})();
