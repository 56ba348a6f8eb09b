/**
 * sprig beside an Express app, on the app's own `http.Server`: Express
 * answers the plain routes, sprig takes the WebSocket upgrades to `/ws`
 * (Express never sees upgrades: Node emits them as the server's `upgrade`
 * event). One token check serves both: Express middleware for the routes,
 * sprig's `upgrade` hook for the WebSocket, which refuses without a token
 * (401, no upgrade) and hands the user to `init`. Ctrl-C closes the
 * WebSockets with 1001, then the server.
 *
 *   npx tsx examples/express.ts --port 8080
 *   bun examples/express.ts --port 8080
 *   deno run -A examples/express.ts --port 8080
 *
 * Then `GET /hello` answers, `GET /me` with `Authorization: Bearer
 * token-ada` says "ada", and a WebSocket to `/ws` with that header is
 * greeted "hello, ada" and echoes as "ada: …". Upgrades to other paths get
 * 404. Options: --port N (default 8080; 0 picks a free port), --host
 * ADDRESS (default 127.0.0.1). Prints one line with its URL once it listens.
 */
import process from "node:process";
import type { AddressInfo } from "node:net";
import express from "express";
import { defineHandler } from "../mod.ts";
import { nodeHttpAdapter } from "../lib/server/adapters/mod.ts";

/** Who a request's bearer token belongs to (a stand-in for a session store or a JWT check). */
interface User {
  name: string;
}
const tokens = new Map([["token-ada", "ada"], ["token-bob", "bob"]]);
function userOf(authorization: string | null | undefined): User | undefined {
  const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
  const name = token === undefined ? undefined : tokens.get(token);
  return name === undefined ? undefined : { name };
}

/** A sprig handler: greets the user the upgrade hook found, then echoes. */
const echo = defineHandler({
  init: (ctx: { data: User }) => ({ state: ctx.data, push: `hello, ${ctx.data.name}` }),
  in: (message, user: User) => ({ push: `${user.name}: ${message}` }),
});

const ws = nodeHttpAdapter(echo, {
  // Express middleware does not run for upgrades: the same check runs here.
  upgrade: (request) => {
    const user = userOf(request.headers.get("authorization"));
    if (!user) {
      return new Response("unauthorized\n", {
        status: 401,
        headers: { "www-authenticate": 'Bearer realm="example"' },
      });
    }
    return { data: user };
  },
});

const app = express();
app.get("/hello", (_req, res) => void res.send("hello from Express\n"));
app.get("/me", (req, res) => {
  const user = userOf(req.get("authorization"));
  if (!user) {
    res.status(401).set("www-authenticate", 'Bearer realm="example"').send("unauthorized\n");
  } else res.send(`${user.name}\n`);
});

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(name);
  return at === -1 || at + 1 >= args.length ? fallback : args[at + 1]!;
};
const port = Number(option("--port", "8080"));
const hostname = option("--host", "127.0.0.1");
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port takes a port number, not ${option("--port", "")}`);
  process.exit(2);
}

// app.listen() returns the http.Server: sprig listens to its upgrades to /ws.
const server = await new Promise<ReturnType<typeof app.listen>>((resolve, reject) => {
  const s = app.listen(port, hostname, (error?: Error) => error ? reject(error) : resolve(s));
});
ws.attach(server, { path: "/ws" });
const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
console.log(
  `sprig beside Express on http://${shown}:${(server.address() as AddressInfo).port}/`,
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await ws.shutdown({ deadlineMs: 5000 }); // every WebSocket closes with 1001
  await new Promise<void>((resolve) => server.close(() => resolve()));
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
