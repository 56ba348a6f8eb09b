// Per-message compression control: `send(data, { compress: false })` on the
// session, `{ data, compress: false }` push items, `ref.send(..., { compress })`
// and `publish(..., { compress })`. A message sent so goes out with RSV1 clear
// (RFC 7692 §6) even where permessage-deflate was negotiated, and does not
// enter the compression window: alternating compressed and uncompressed
// messages decode on a real peer (`ws`) and on sprig's, with and without
// context takeover. RSV1 is read on the wire through the client's trace.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import {
  connect,
  type ConnectionRef,
  defineHandler,
  InvalidArgumentError,
  type Push,
  reconnecting,
  serve,
  type Session,
} from "../../mod.ts";
import { type Peer, startWsPeer } from "../_helpers/peer.ts";
import { hostsOfRuntime, labelOf, startHost, type TestHost, until } from "../server/_hosts.ts";

/** Compressible messages above sprig's default threshold (1024 bytes), each different. */
const messages = Array.from(
  { length: 8 },
  (_, i) => `message ${i}: ` + `the quick brown fox ${i} jumps over the lazy dog `.repeat(60),
);
/** Compress the even ones, not the odd ones. */
const compressOf = (i: number) => i % 2 === 0;

/** The RSV bits of the data frames in a trace, in order, for one direction. */
function rsvOf(trace: string[], direction: "<<" | ">>"): number[] {
  return trace
    .filter((l) => l.startsWith(direction) && / op=[12] /.test(l))
    .map((l) => Number(/ rsv=(\d)/.exec(l)![1]));
}

const takeovers = [
  { name: "with context takeover", flags: [], compression: true },
  {
    name: "without context takeover",
    flags: ["--server-no-context-takeover", "--client-no-context-takeover"],
    compression: { serverNoContextTakeover: true, clientNoContextTakeover: true },
  },
] as const;

describe("session send(data, { compress }) against ws", () => {
  for (const t of takeovers) {
    describe(t.name, () => {
      let peer: Peer;
      before(async () => {
        peer = await startWsPeer("--deflate", ...t.flags);
      });
      after(async () => {
        await peer?.stop();
      });

      it("alternating compressed and uncompressed messages decode on ws (echoed back)", async () => {
        const trace: string[] = [];
        await using ws = await connect(`ws://127.0.0.1:${peer.port}/echo`, {
          compression: t.compression,
          trace: (line) => trace.push(line),
        });
        assert.match(ws.extensions, /permessage-deflate/);
        if (t.flags.length > 0) assert.match(ws.extensions, /client_no_context_takeover/);
        for (const [i, m] of messages.entries()) await ws.send(m, { compress: compressOf(i) });
        // Binary too, uncompressed then compressed.
        const bytes = new TextEncoder().encode(messages[0]);
        await ws.send(bytes, { compress: false });
        await ws.send(bytes);
        for (const m of messages) assert.equal(await ws.receive({ timeoutMs: 5000 }), m);
        assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), bytes);
        assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), bytes);
        // What went out: RSV1 set exactly on the messages not sent with compress: false.
        assert.deepEqual(rsvOf(trace, ">>"), [
          ...messages.map((_, i) => (compressOf(i) ? 4 : 0)),
          0,
          4,
        ]);
      });
    });
  }
});

describe("the compress option is checked", () => {
  it("send(data, { compress: 'no' }) rejects with InvalidArgumentError; ref.send throws", async () => {
    let ref: ConnectionRef | undefined;
    await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
      init: (ctx) => void (ref = ctx.ref),
      in: () => {},
    });
    await using ws = await connect(server.url);
    await assert.rejects(
      ws.send("x", { compress: "no" as unknown as boolean }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "options.compress",
    );
    await until(() => ref !== undefined, "init");
    assert.throws(
      () => ref!.send("x", { compress: 1 as unknown as boolean }),
      (e: unknown) => e instanceof InvalidArgumentError,
    );
    assert.throws(
      () => server.publish("t", "x", { compress: "yes" as unknown as boolean }),
      (e: unknown) => e instanceof InvalidArgumentError,
    );
  });
});

describe("reconnecting().send(data, { compress })", () => {
  let peer: Peer;
  before(async () => {
    peer = await startWsPeer("--deflate");
  });
  after(async () => {
    await peer?.stop();
  });

  it("keeps the option for queued sends and direct ones", async () => {
    const trace: string[] = [];
    let opened!: (session: Session) => void;
    const up = new Promise<Session>((resolve) => (opened = resolve));
    const c = reconnecting(`ws://127.0.0.1:${peer.port}/echo`, {
      sendQueue: true,
      trace: (line) => trace.push(line.replace(/^\S+ /, "")), // without the connection's id
      connected: ({ session }) => opened(session),
    });
    try {
      // Queued before the connection opened, then sent on it.
      const queued = [
        c.send(messages[0], { compress: false }),
        c.send(messages[1]),
      ];
      const session = await up;
      await Promise.all(queued);
      await c.send(messages[2], { compress: false });
      await c.send(messages[3]);
      for (const m of messages.slice(0, 4)) {
        assert.equal(await session.receive({ timeoutMs: 5000 }), m);
      }
      assert.deepEqual(rsvOf(trace, ">>"), [0, 4, 0, 4]);
    } finally {
      await c.close();
    }
  });
});

/** A handler whose behaviour the path chooses. */
function compressHandler() {
  return defineHandler<{ path: string }, string>({
    init(ctx) {
      const path = ctx.url.pathname;
      if (path === "/sub") ctx.ref.subscribe("feed");
      if (path === "/ref") {
        // From outside the handler: a timer, after init returned.
        setTimeout(() => {
          for (const [i, m] of messages.entries()) {
            ctx.ref.send(m, compressOf(i) ? undefined : { compress: false });
          }
        }, 0);
      }
      return { state: { path } };
    },
    in(message, state) {
      if (state.path === "/push" && message === "go") {
        const push: Push[] = messages.map((m, i) =>
          compressOf(i) ? m : { data: m, compress: false }
        );
        return { push };
      }
      return { push: message };
    },
  });
}

for (const kind of hostsOfRuntime()) {
  describe(`per-message compression on ${labelOf(kind)}`, () => {
    // Deno's server does not negotiate permessage-deflate: everything goes uncompressed there.
    const compresses = kind !== "Deno.serve";
    for (const t of takeovers) {
      describe(t.name, () => {
        let host: TestHost;
        before(async () => {
          host = await startHost(kind, compressHandler(), { compression: t.compression });
        });
        after(async () => {
          await host?.stop();
        });

        const expected = () => messages.map((_, i) => (compresses && compressOf(i) ? 4 : 0));

        it("push items with compress: false go uncompressed; sprig's client decodes all", async () => {
          const trace: string[] = [];
          await using ws = await connect(host.url("/push"), {
            compression: t.compression,
            trace: (line) => trace.push(line),
          });
          await ws.send("go");
          for (const m of messages) assert.equal(await ws.receive({ timeoutMs: 5000 }), m);
          assert.deepEqual(rsvOf(trace, "<<"), expected());
        });

        it("push items with compress: false decode on ws's client", async () => {
          const ws = new WebSocket(host.url("/push"), {
            perMessageDeflate: t.flags.length > 0
              ? { serverNoContextTakeover: true, clientNoContextTakeover: true }
              : true,
          });
          await new Promise((resolve, reject) => {
            ws.once("open", resolve);
            ws.once("error", reject);
          });
          if (compresses) assert.match(ws.extensions, /permessage-deflate/);
          const got: string[] = [];
          ws.on("message", (data) => got.push(String(data)));
          ws.send("go");
          await until(() => got.length === messages.length, "every push");
          assert.deepEqual(got, messages);
          const closed = new Promise<number>((resolve) => ws.once("close", resolve));
          ws.close(1000);
          assert.equal(await closed, 1000);
        });

        it("the server decodes alternating messages from sprig's client and from ws", async () => {
          const trace: string[] = [];
          await using ws = await connect(host.url("/echo"), {
            compression: t.compression,
            trace: (line) => trace.push(line),
          });
          for (const [i, m] of messages.entries()) await ws.send(m, { compress: compressOf(i) });
          for (const m of messages) assert.equal(await ws.receive({ timeoutMs: 5000 }), m);
          assert.deepEqual(rsvOf(trace, ">>"), expected());
          // ws's client, with its own per-message compress option.
          const peer = new WebSocket(host.url("/echo"), {
            perMessageDeflate: t.flags.length > 0
              ? { serverNoContextTakeover: true, clientNoContextTakeover: true, threshold: 0 }
              : { threshold: 0 },
          });
          await new Promise((resolve, reject) => {
            peer.once("open", resolve);
            peer.once("error", reject);
          });
          const got: string[] = [];
          peer.on("message", (data) => got.push(String(data)));
          for (const [i, m] of messages.entries()) peer.send(m, { compress: compressOf(i) });
          await until(() => got.length === messages.length, "every echo");
          assert.deepEqual(got, messages);
          const closed = new Promise<number>((resolve) => peer.once("close", resolve));
          peer.close(1000);
          assert.equal(await closed, 1000);
        });

        it("ref.send(data, { compress: false }) from a timer goes uncompressed", async () => {
          const trace: string[] = [];
          await using ws = await connect(host.url("/ref"), {
            compression: t.compression,
            trace: (line) => trace.push(line),
          });
          for (const m of messages) assert.equal(await ws.receive({ timeoutMs: 5000 }), m);
          assert.deepEqual(rsvOf(trace, "<<"), expected());
        });

        it("publish(topic, m, { compress: false }) reaches deflate and plain subscribers", async () => {
          const traces: string[][] = [[], []];
          const subs = await Promise.all(
            [true, false].map((deflate, i) =>
              connect(host.url("/sub"), {
                compression: deflate ? t.compression : false,
                trace: (line) => traces[i].push(line),
              })
            ),
          );
          await until(() => host.hub.subscriberCount("feed") === 2, "two subscribers");
          for (const [i, m] of messages.entries()) {
            assert.equal(
              host.hub.publish("feed", m, compressOf(i) ? undefined : { compress: false }),
              2,
            );
          }
          for (const ws of subs) {
            for (const m of messages) assert.equal(await ws.receive({ timeoutMs: 5000 }), m);
          }
          assert.deepEqual(rsvOf(traces[0], "<<"), expected());
          assert.deepEqual(rsvOf(traces[1], "<<"), messages.map(() => 0));
          await Promise.all(subs.map((ws) => ws.close()));
        });
      });
    }
  });
}
