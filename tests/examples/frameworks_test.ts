// The framework examples (examples/hono.ts, express.ts, fastify.ts) run as
// their header comments say, on the runtime running this test (deno run -A,
// bun, or tsx on Node), and do what they promise: the framework's plain
// routes answer beside the WebSocket route; its auth (middleware, or sprig's
// upgrade hook) refuses an upgrade without a token with 401 and lets the
// token's user reach init; Hono's adapters refuse another site's Origin
// (403); messages echo; an unknown path's upgrade is refused; Ctrl-C closes
// the WebSockets with 1001, then the server.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { startExample } from "../_helpers/example_process.ts";
import { connect, detectRuntime, HandshakeError } from "../../mod.ts";
import { rawHandshake } from "../_helpers/handshake_head.ts";

const runtime = detectRuntime();

/** The refusal a sprig client gets for `path`. */
async function refusal(url: URL, path: string, headers: Record<string, string> = {}) {
  const ws = `ws://${url.host}${path}`;
  const error = await connect(ws, { headers }).then(
    async (client) => {
      await client.close();
      return undefined;
    },
    (error: unknown) => error,
  );
  assert.ok(error instanceof HandshakeError, `${path}: expected a refusal, got ${String(error)}`);
  return error;
}

const ORIGIN = "https://app.example";

describe(`examples/hono.ts (on ${runtime})`, () => {
  it("Hono's middleware runs before the upgrade, its user reaches init, and Ctrl-C closes with 1001", async () => {
    const app = await startExample("hono.ts", ["--port", "0"]);
    let clean = false;
    try {
      // A plain route beside the WebSocket route, with Hono's CORS.
      const page = await fetch(new URL("/hello", app.url), { headers: { origin: ORIGIN } });
      assert.equal(page.status, 200);
      assert.equal(await page.text(), "hello from Hono\n");
      assert.equal(page.headers.get("access-control-allow-origin"), ORIGIN);

      // No token: the auth middleware answers 401, no upgrade.
      const refused = await refusal(app.url, "/ws", { origin: ORIGIN });
      assert.equal(refused.status, 401);
      assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
      assert.equal(refused.headers.get("access-control-allow-origin"), ORIGIN);
      assert.equal((await refusal(app.url, "/ws", { authorization: "Bearer wrong" })).status, 401);

      // With a token: 101, with the headers Hono's middleware set.
      const head = await rawHandshake(Number(app.url.port), "/ws", {
        origin: ORIGIN,
        authorization: "Bearer token-ada",
      });
      assert.equal(head.status, 101);
      assert.equal(head.headers.get("access-control-allow-origin"), ORIGIN);

      // Another site's page (CORS refuses no WebSocket): the adapter's origins, 403.
      const foreign = await refusal(app.url, "/ws", {
        origin: "https://evil.example",
        authorization: "Bearer token-ada",
      });
      assert.equal(foreign.status, 403);

      // A plain GET to the WebSocket route: 426 Upgrade Required.
      const plain = await fetch(new URL("/ws", app.url), {
        headers: { authorization: "Bearer token-ada" },
      });
      assert.equal(plain.status, 426);
      await plain.body?.cancel();

      // An unknown path: Hono's 404.
      assert.equal(
        (await refusal(app.url, "/nowhere", { authorization: "Bearer token-ada" })).status,
        404,
      );

      // The middleware's user reaches init; messages echo.
      const ada = await connect(`ws://${app.url.host}/ws`, {
        headers: { authorization: "Bearer token-ada" },
      });
      const bob = await connect(`ws://${app.url.host}/ws`, {
        headers: { authorization: "Bearer token-bob" },
      });
      assert.equal(await ada.receive({ timeoutMs: 5000 }), "hello, ada");
      assert.equal(await bob.receive({ timeoutMs: 5000 }), "hello, bob");
      await ada.send("hi");
      await bob.send("yo");
      assert.equal(await ada.receive({ timeoutMs: 5000 }), "ada: hi");
      assert.equal(await bob.receive({ timeoutMs: 5000 }), "bob: yo");

      // Ctrl-C: the WebSockets close with 1001, then the process ends cleanly.
      const exited = app.interrupt();
      assert.equal((await ada.closed).code, 1001);
      assert.equal((await bob.closed).code, 1001);
      assert.equal(await exited, true);
      clean = true;
    } finally {
      if (!clean) await app.interrupt();
    }
  });
});

for (const [name, framework] of [["express.ts", "Express"], ["fastify.ts", "Fastify"]]) {
  describe(`examples/${name} (on ${runtime})`, () => {
    it(`sprig shares ${framework}'s http.Server: routes by path, refuses without a token, closes both on Ctrl-C`, async () => {
      const app = await startExample(name, ["--port", "0"]);
      let clean = false;
      try {
        // The app's plain routes, with its own auth.
        const page = await fetch(new URL("/hello", app.url));
        assert.equal(page.status, 200);
        assert.equal(await page.text(), `hello from ${framework}\n`);
        const me = await fetch(new URL("/me", app.url), {
          headers: { authorization: "Bearer token-bob" },
        });
        assert.equal(await me.text(), "bob\n");
        const anonymous = await fetch(new URL("/me", app.url));
        assert.equal(anonymous.status, 401);
        await anonymous.body?.cancel();

        // The same check refuses the upgrade (sprig's upgrade hook): 401, no upgrade.
        const refused = await refusal(app.url, "/ws");
        assert.equal(refused.status, 401);
        assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
        // An upgrade to a path sprig does not take: 404.
        assert.equal(
          (await refusal(app.url, "/nowhere", { authorization: "Bearer token-ada" })).status,
          404,
        );

        // The hook's user reaches init; messages echo.
        const ada = await connect(`ws://${app.url.host}/ws`, {
          headers: { authorization: "Bearer token-ada" },
        });
        assert.equal(await ada.receive({ timeoutMs: 5000 }), "hello, ada");
        await ada.send("hi");
        assert.equal(await ada.receive({ timeoutMs: 5000 }), "ada: hi");
        // Plain routes still answer while a WebSocket is open.
        assert.equal(
          await (await fetch(new URL("/hello", app.url))).text(),
          `hello from ${framework}\n`,
        );

        // Ctrl-C: the WebSocket closes with 1001, then the server, and the process ends cleanly.
        const exited = app.interrupt();
        assert.equal((await ada.closed).code, 1001);
        assert.equal(await exited, true);
        clean = true;
      } finally {
        if (!clean) await app.interrupt();
      }
    });
  });
}
