// Errors are visible by default (issue 20): a handler that throws is
// printed with the connection's id and URL unless `onError` says otherwise.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, serve } from "../../mod.ts";
import { until } from "./_hosts.ts";

describe("visible errors", () => {
  it("a handler that throws is printed by default, with the connection's id and URL", async () => {
    const printed: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
    try {
      const server = await serve({ hostname: "127.0.0.1", port: 0 }, {
        in: () => {
          throw new Error("kaboom in the handler");
        },
      });
      try {
        const ws = await connect(`ws://127.0.0.1:${server.port}/room?x=1`);
        await ws.send("hi");
        assert.equal((await ws.closed).code, 1011); // the handler's error closes with 1011
        await until(() => printed.some((l) => l.includes("kaboom in the handler")), "the print");
        const line = printed.find((l) => l.includes("kaboom in the handler"))!;
        assert.match(line, /^sprig: connection \d+ \(http:\/\/127\.0\.0\.1:\d+\/room\?x=1\): /);
      } finally {
        await server.shutdown();
      }
    } finally {
      console.error = original;
    }
  });

  it("onError replaces the default: nothing is printed", async () => {
    const printed: string[] = [];
    const seen: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void printed.push(args.map(String).join(" "));
    try {
      const server = await serve({
        hostname: "127.0.0.1",
        port: 0,
        onError: (error) => void seen.push(error),
      }, {
        in: () => {
          throw new Error("quiet kaboom");
        },
      });
      try {
        const ws = await connect(`ws://127.0.0.1:${server.port}/`);
        await ws.send("hi");
        await ws.closed;
        await until(() => seen.length === 1, "onError");
        assert.equal((seen[0] as Error).message, "quiet kaboom");
        assert.ok(!printed.some((l) => l.includes("quiet kaboom")));
      } finally {
        await server.shutdown();
      }
    } finally {
      console.error = original;
    }
  });
});
