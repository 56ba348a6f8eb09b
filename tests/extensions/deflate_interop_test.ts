// permessage-deflate against real peers, parameter by parameter: the `ws`
// package's server (Node) and Python's `websockets` (Debian
// python3-websockets), each started by the test on 127.0.0.1, with sprig as
// the client; and sprig's server with the `ws` package's client.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import WsClient from "ws";
import { connect, type PerMessageDeflateOptions, serve, type Server } from "../../mod.ts";
import { type Peer, startPythonPeer, startWsPeer } from "../_helpers/peer.ts";
import { pseudoRandomBytes } from "../_helpers/bytes.ts";

/** Messages of every kind: small and large, text and binary, compressible and not. */
function corpus(): Array<string | Uint8Array> {
  const out: Array<string | Uint8Array> = [];
  for (let i = 0; i < 40; i++) {
    out.push(JSON.stringify({ i, user: "sprig", text: "the quick brown fox ".repeat(i % 7) }));
  }
  out.push("");
  out.push("x".repeat(200_000)); // a final block far larger than a few KiB
  out.push(pseudoRandomBytes(100_000, 3)); // incompressible
  out.push(new Uint8Array(300_000)); // highly compressible binary
  out.push("κόσμε 𝄞 ".repeat(5000));
  for (let i = 0; i < 40; i++) out.push(`again ${i}: the quick brown fox jumps over the lazy dog`);
  return out;
}

async function roundTrip(url: string, compression: PerMessageDeflateOptions | true = true) {
  const ws = await connect(url, { compression });
  const messages = corpus();
  for (const m of messages) await ws.send(m);
  for (const m of messages) assert.deepEqual(await ws.receive({ timeoutMs: 20_000 }), m);
  const extensions = ws.extensions;
  assert.equal((await ws.close()).wasClean, true);
  return extensions;
}

describe("permessage-deflate with ws, each parameter", () => {
  const cases: Array<[string, string[], PerMessageDeflateOptions | true, RegExp]> = [
    ["defaults", [], true, /^permessage-deflate/],
    [
      "server_no_context_takeover (server's choice)",
      ["--server-no-context-takeover"],
      true,
      /server_no_context_takeover/,
    ],
    [
      "client_no_context_takeover (server's choice)",
      ["--client-no-context-takeover"],
      true,
      /client_no_context_takeover/,
    ],
    [
      "server_max_window_bits=10 (server's choice)",
      ["--server-max-window-bits", "10"],
      true,
      /server_max_window_bits=10/,
    ],
    [
      "client_max_window_bits=9 (server's choice)",
      ["--client-max-window-bits", "9"],
      true,
      /client_max_window_bits=9/,
    ],
    [
      "server_max_window_bits=11 (client's request)",
      [],
      { serverMaxWindowBits: 11 },
      /server_max_window_bits=11/,
    ],
    [
      "server_no_context_takeover (client's request)",
      [],
      { serverNoContextTakeover: true },
      /server_no_context_takeover/,
    ],
    [
      "client_no_context_takeover (client's offer)",
      [],
      { clientNoContextTakeover: true },
      /client_no_context_takeover/,
    ],
  ];
  const peers: Peer[] = [];
  after(async () => {
    await Promise.all(peers.map((p) => p.stop()));
  });
  for (const [name, flags, options, expected] of cases) {
    it(`${name}: negotiated, and 85 messages round-trip`, async () => {
      const peer = await startWsPeer("--deflate", ...flags);
      peers.push(peer);
      const extensions = await roundTrip(`ws://127.0.0.1:${peer.port}/echo`, options);
      assert.match(extensions, expected);
    });
  }
});

describe("permessage-deflate with Python websockets", () => {
  let plain: Peer, small: Peer, noTakeover: Peer, uncompressed: Peer;
  before(async () => {
    [plain, small, noTakeover, uncompressed] = await Promise.all([
      startPythonPeer(),
      startPythonPeer("--server-max-window-bits", "10"),
      startPythonPeer("--no-context-takeover"),
      startPythonPeer("--no-compression"),
    ]);
  });
  after(async () => {
    await Promise.all([plain, small, noTakeover, uncompressed].map((p) => p?.stop()));
  });

  it("defaults: negotiated, and every message round-trips", async () => {
    assert.match(await roundTrip(`ws://127.0.0.1:${plain.port}/echo`), /^permessage-deflate/);
  });

  it("server_max_window_bits=10", async () => {
    assert.match(await roundTrip(`ws://127.0.0.1:${small.port}/echo`), /server_max_window_bits=10/);
  });

  it("no context takeover both ways", async () => {
    const extensions = await roundTrip(`ws://127.0.0.1:${noTakeover.port}/echo`);
    assert.match(extensions, /server_no_context_takeover/);
    assert.match(extensions, /client_no_context_takeover/);
  });

  it("a server that declines compression: plain messages", async () => {
    assert.equal(await roundTrip(`ws://127.0.0.1:${uncompressed.port}/echo`), "");
  });

  it("compressed messages that arrive in fragments", async () => {
    const ws = await connect(`ws://127.0.0.1:${plain.port}/fragments`);
    const messages = corpus().filter((m) => m.length >= 3);
    for (const m of messages) await ws.send(m);
    for (const m of messages) assert.deepEqual(await ws.receive({ timeoutMs: 20_000 }), m);
    await ws.close();
  });
});

describe("permessage-deflate as the server: the ws package's client, each parameter", () => {
  // sprig's server on node:net (every runtime has it), echoing.
  let server: Server;
  before(async () => {
    server = await serve({ hostname: "127.0.0.1", port: 0, listener: "node" }, {
      in: (message) => ({ push: message }),
    });
  });
  after(async () => {
    await server?.shutdown();
  });

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ["defaults", {}, /^permessage-deflate/],
    ["server_no_context_takeover", { serverNoContextTakeover: true }, /server_no_context_takeover/],
    ["client_no_context_takeover", { clientNoContextTakeover: true }, /client_no_context_takeover/],
    ["server_max_window_bits=10", { serverMaxWindowBits: 10 }, /server_max_window_bits=10/],
    ["client_max_window_bits=11", { clientMaxWindowBits: 11 }, /client_max_window_bits=11/],
  ];
  for (const [name, params, expected] of cases) {
    it(`${name}: negotiated, and every message round-trips`, async () => {
      const ws = new WsClient(`ws://127.0.0.1:${server.port}/`, {
        perMessageDeflate: { threshold: 0, ...params },
      });
      ws.binaryType = "nodebuffer";
      const received: Array<string | Uint8Array> = [];
      const messages = corpus();
      const done = new Promise<void>((resolve, reject) => {
        ws.on("message", (data: Buffer, isBinary: boolean) => {
          received.push(isBinary ? new Uint8Array(data) : data.toString("utf8"));
          if (received.length === messages.length) resolve();
        });
        ws.on("error", reject);
      });
      // The response's Sec-WebSocket-Extensions (ws.extensions names only the extension).
      let negotiated = "";
      ws.on("upgrade", (res: { headers: Record<string, string | undefined> }) => {
        negotiated = res.headers["sec-websocket-extensions"] ?? "";
      });
      await new Promise<void>((resolve, reject) => {
        ws.on("open", () => resolve());
        ws.on("error", reject);
      });
      for (const m of messages) ws.send(m, { binary: typeof m !== "string" });
      await done;
      assert.deepEqual(received, messages);
      ws.close();
      await new Promise((resolve) => ws.on("close", resolve));
      assert.match(negotiated, expected);
    });
  }
});
