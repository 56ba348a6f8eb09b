// Libraries written for the browser's WebSocket, driven by sprig's
// `WebSocket` class unchanged (issue 20): graphql-ws's client (queries and a
// subscription, against graphql-ws's own protocol core served by sprig's
// server), and partysocket's ReconnectingWebSocket (which reconnects after
// the server restarts on the same port).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { buildSchema } from "graphql";
import { makeServer } from "graphql-ws";
import { createClient } from "graphql-ws/client";
import ReconnectingWebSocket from "partysocket/ws";
import { serve, type Server, WebSocket } from "../../mod.ts";
import { until } from "../server/_hosts.ts";

/** graphql-ws's server core (transport-agnostic) as a sprig handler. */
async function graphqlServer(): Promise<Server> {
  const schema = buildSchema(`
    type Query { hello(name: String!): String }
    type Subscription { count(to: Int!): Int }
  `);
  const core = makeServer({
    schema,
    roots: {
      query: { hello: ({ name }: { name: string }) => `hello, ${name}` },
      subscription: {
        count: async function* ({ to }: { to: number }) {
          for (let i = 1; i <= to; i++) yield { count: i };
        },
      },
    },
  });
  type State = {
    onMessage?: (data: string) => Promise<void>;
    closed?: (code?: number, reason?: string) => Promise<void>;
  };
  return await serve<State, string>({
    hostname: "127.0.0.1",
    port: 0,
    protocols: ["graphql-transport-ws"],
    onError: () => {},
  }, {
    init: (ctx) => {
      const state: State = {};
      state.closed = core.opened({
        protocol: ctx.protocol,
        send: (data) => void ctx.ref.post(data),
        close: (code, reason) => ctx.ref.close(code, reason),
        onMessage: (cb) => (state.onMessage = cb),
      }, {});
      return { state };
    },
    in: async (message, state) => {
      await state.onMessage?.(String(message));
    },
    info: (data) => ({ push: data }),
    terminate: (why, state) => void state.closed?.(why.code, why.reason),
  });
}

describe("third-party libraries on sprig's WebSocket class", () => {
  it("graphql-ws: a query and a subscription", async () => {
    const server = await graphqlServer();
    const client = createClient({
      url: `ws://127.0.0.1:${server.port}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    try {
      const answers = [];
      for await (const result of client.iterate({ query: `{ hello(name: "sprig") }` })) {
        answers.push(result);
      }
      assert.deepEqual(answers, [{ data: { hello: "hello, sprig" } }]);
      const counts = [];
      for await (const result of client.iterate({ query: `subscription { count(to: 5) }` })) {
        counts.push((result.data as { count: number }).count);
      }
      assert.deepEqual(counts, [1, 2, 3, 4, 5]);
    } finally {
      await client.dispose();
      await server.shutdown();
    }
  });

  it("partysocket: reconnects after the server restarts on the same port", async () => {
    const echo = { in: (m: string | Uint8Array) => ({ push: m }) };
    let server = await serve({ hostname: "127.0.0.1", port: 0 }, echo);
    const port = server.port;
    const socket = new ReconnectingWebSocket(`ws://127.0.0.1:${port}/`, [], {
      WebSocket,
      minReconnectionDelay: 10,
      maxReconnectionDelay: 50,
      maxRetries: 200,
      connectionTimeout: 5000,
    });
    const received: string[] = [];
    let opens = 0;
    socket.addEventListener("open", () => {
      opens++;
      socket.send(`hello ${opens}`);
    });
    socket.addEventListener("message", (e) => void received.push(String(e.data)));
    try {
      await until(() => received.includes("hello 1"), "the first echo");
      await server.shutdown(); // closes with 1001; partysocket reconnects
      server = await serve({ hostname: "127.0.0.1", port }, echo);
      await until(() => received.includes("hello 2"), "the echo after reconnecting", 20_000);
      assert.deepEqual(received, ["hello 1", "hello 2"]);
    } finally {
      socket.close();
      await server.shutdown();
    }
  });
});
