/**
 * Driving the protocol core by hand, with no sockets at all: a client and a
 * server `Connection` exchange bytes through two arrays. This is the layer
 * to build on for a custom transport, a test harness, or a fuzzer.
 *
 *   npx tsx examples/sans_io.ts   |   deno run examples/sans_io.ts   |   bun examples/sans_io.ts
 */
import { Connection } from "../lib/protocol/mod.ts";

const client = new Connection({ role: "client" });
const server = new Connection({ role: "server" });

/** Moves the bytes one side owes to the other and returns the events they caused. */
function deliver(from: Connection, to: Connection) {
  const events = [];
  for (const chunk of from.takeOutput()) events.push(...to.receive(chunk));
  return events;
}

client.send("hello");
client.ping("are you there?");
for (const event of deliver(client, server)) {
  console.log("server got", event);
  if (event.type === "text") server.send(event.data.toUpperCase());
}
// The server owes a pong for the ping; the core queued it for us.
for (const event of deliver(server, client)) console.log("client got", event);

client.close(1000, "bye");
for (const event of deliver(client, server)) console.log("server got", event);
for (const event of deliver(server, client)) console.log("client got", event);
console.log(
  "states:",
  client.state,
  server.state,
  "— the server closes TCP now:",
  server.shouldCloseTransport,
);
