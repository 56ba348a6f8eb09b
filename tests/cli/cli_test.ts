// The `sprig` command line (cli.ts), run as a child process on the runtime
// running this test (deno run -A, bun, or tsx on Node), against sprig's
// server on 127.0.0.1, and as a server (--listen) for sprig's client.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import process from "node:process";
import { connect, detectRuntime, serve, type Server, type TerminateReason } from "../../mod.ts";
import { VERSION } from "../../lib/cli/version.ts";

const runtime = detectRuntime();
const root = new URL("../../", import.meta.url);
const cliPath = new URL("cli.ts", root).pathname;
const bin = (name: string) => new URL(`node_modules/.bin/${name}`, root).pathname;
/** The CLI on this runtime: Deno and Bun run TypeScript themselves, Node through tsx. */
const command: [string, string[]] = runtime === "deno"
  ? [process.execPath, ["run", "-A", "--no-check", cliPath]]
  : runtime === "bun"
  ? [process.execPath, [cliPath]]
  : [bin("tsx"), [cliPath]];

const fixture = (name: string) => readFileSync(new URL(`tests/_fixtures/${name}`, root), "utf8");

/** A CLI process, with its output so far. */
interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (bounded: killed after the limit). */
  exited: Promise<number | null>;
  /** Resolves when stdout matches (rejects after `timeoutMs`, or if the CLI exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

function startCli(args: string[], limitMs = 30_000): Cli {
  const child = spawn(command[0], [...command[1], ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let out = "";
  let err = "";
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => {
    out += text;
    for (const w of waiters) w();
  });
  child.stderr!.on("data", (text: string) => (err += text));
  const killer = setTimeout(() => child.kill("SIGKILL"), limitMs);
  const exited = new Promise<number | null>((resolve) => {
    child.once("close", (code) => {
      clearTimeout(killer);
      for (const w of waiters) w();
      resolve(code);
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) {
            done();
            resolve(m);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`the CLI exited before ${pattern}: ${out}\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} on stdout within ${timeoutMs} ms: ${out}\n${err}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/**
 * Sends a signal to the CLI by its pid. (Deno's `child.kill()` makes the
 * child's exit show as killed by the signal, even when it handled the
 * signal and exited with 0.)
 */
function signal(cli: Cli, name: "SIGINT" | "SIGTERM"): void {
  process.kill(cli.child.pid!, name);
}

/** Runs the CLI to its end with `input` on stdin; resolves with its exit code and output. */
async function runCli(args: string[], input = ""): Promise<{
  code: number | null;
  stdout: string;
  stderr: string;
}> {
  const cli = startCli(args);
  cli.child.stdin!.end(input);
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

/** Resolves with `promise`, or rejects after `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]);
}

/** What the test server saw of one connection. */
interface Seen {
  path: string;
  headers: Headers;
  protocol: string;
  messages: Array<string | Uint8Array>;
  ended: Promise<TerminateReason>;
}

let server: Server;
let tlsServer: Server;
const seen: Seen[] = [];

before(async () => {
  const handler = {
    init: (ctx: { url: URL; headers: Headers; protocol: string }) => {
      let end!: (reason: TerminateReason) => void;
      const record: Seen = {
        path: ctx.url.pathname,
        headers: ctx.headers,
        protocol: ctx.protocol,
        messages: [],
        ended: new Promise((resolve) => (end = resolve)),
      };
      seen.push(record);
      const state = { record, end };
      if (ctx.url.pathname === "/bye") return { state, stop: { code: 4000, reason: "bye" } };
      return { state };
    },
    in: (
      message: string | Uint8Array,
      state: { record: Seen; end: (r: TerminateReason) => void },
    ) => {
      state.record.messages.push(message);
      return { push: message };
    },
    terminate: (reason: TerminateReason, state: { end: (r: TerminateReason) => void }) => {
      state.end(reason);
    },
  };
  server = await serve({
    hostname: "127.0.0.1",
    port: 0,
    protocols: ["chat.v2", "chat.v1"],
    upgrade: (request) => {
      if (new URL(request.url).pathname === "/private") {
        return new Response("a token is needed\n", { status: 401 });
      }
    },
  }, handler);
  tlsServer = await serve({
    hostname: "127.0.0.1",
    port: 0,
    tls: { cert: fixture("server.pem"), key: fixture("server.key") },
  }, handler);
});

after(async () => {
  await server?.shutdown({ deadlineMs: 2000 });
  await tlsServer?.shutdown({ deadlineMs: 2000 });
});

/** The server's record of the connection to `path` opened last. */
function last(path: string): Seen {
  const record = seen.findLast((s) => s.path === path);
  assert.ok(record, `the server saw no connection to ${path}`);
  return record;
}

describe(`sprig CLI (run with ${runtime === "node" ? "tsx" : runtime})`, () => {
  it("--help and --version", async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage:\n\s+sprig \[options\] <url>/);
    assert.match(help.stdout, /--listen <port>/);
    const version = await runCli(["--version"]);
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `sprig ${VERSION}\n`);
    const pkg = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));
    assert.equal(VERSION, pkg.version, "lib/cli/version.ts follows package.json");
  });

  it("sends stdin lines as messages and prints the echoes; EOF closes with 1000, exit 0", async () => {
    const cli = startCli([`${server.url.href}echo`]);
    cli.child.stdin!.write("hello\n");
    await cli.waitFor(/^hello\n/);
    cli.child.stdin!.write("wörld ✓\r\n\nlast line");
    await cli.waitFor(/^hello\nwörld ✓\n\n/);
    // The last line has no newline: it is sent when stdin ends.
    cli.child.stdin!.end();
    assert.equal(await cli.exited, 0, cli.stderr());
    assert.equal(cli.stderr(), "");
    const record = last("/echo");
    const reason = await within(record.ended, 10_000, "the server's terminate");
    assert.deepEqual(record.messages, ["hello", "wörld ✓", "", "last line"]);
    assert.equal(reason.type, "remote");
    assert.equal(reason.code, 1000);
    assert.equal(reason.wasClean, true);
  });

  it("--binary sends lines as binary; binary messages print as [binary n bytes] base64", async () => {
    const cli = startCli(["--binary", `${server.url.href}binary`]);
    cli.child.stdin!.write("abc\n");
    await cli.waitFor(/^\[binary 3 bytes\] YWJj\n/);
    cli.child.stdin!.end("\n");
    assert.equal(await cli.exited, 0, cli.stderr());
    const record = last("/binary");
    await within(record.ended, 10_000, "the server's terminate");
    assert.deepEqual(record.messages, [new Uint8Array([0x61, 0x62, 0x63]), new Uint8Array(0)]);
  });

  it("headers and subprotocols reach the server; --verbose shows handshake, frames and close", async () => {
    const cli = startCli([
      "-H",
      "X-Token: abc 123",
      "--header=X-Other:two",
      "-p",
      "chat.v1",
      "-p",
      "chat.v2",
      "--no-compression",
      "--verbose",
      `${server.url.href}hdr?x=1`,
    ]);
    cli.child.stdin!.write("hi\n");
    await cli.waitFor(/^hi\n/);
    cli.child.stdin!.end();
    assert.equal(await cli.exited, 0, cli.stderr());
    const record = last("/hdr");
    assert.equal(record.headers.get("x-token"), "abc 123");
    assert.equal(record.headers.get("x-other"), "two");
    assert.equal(record.headers.get("sec-websocket-protocol"), "chat.v1, chat.v2");
    assert.equal(record.headers.get("sec-websocket-extensions"), null);
    assert.equal(record.protocol, "chat.v1", "the client's first choice the server speaks");
    const err = cli.stderr();
    assert.match(err, /^> GET \/hdr\?x=1 HTTP\/1\.1$/m);
    assert.match(err, /^> X-Token: abc 123$/m);
    assert.match(err, /^< HTTP\/1\.1 101 Switching Protocols$/m);
    assert.match(err, /^< sec-websocket-protocol: chat\.v1$/m);
    assert.match(err, /^>> text 2 bytes "hi"$/m);
    assert.match(err, /^<< text 2 bytes "hi"$/m);
    assert.match(err, /^>> close 2 bytes code 1000 ""$/m);
    assert.match(err, /^\* closed: code 1000, reason "", clean$/m);
  });

  it("--ping: a /ping line sends a ping and shows the round trip", async () => {
    const cli = startCli(["--ping", `${server.url.href}ping`]);
    cli.child.stdin!.write("/ping\nafter\n");
    await cli.waitFor(/^after\n/);
    cli.child.stdin!.end();
    assert.equal(await cli.exited, 0, cli.stderr());
    assert.match(cli.stderr(), /^pong: \d+(\.\d+)? ms$/m);
    await within(last("/ping").ended, 10_000, "the server's terminate");
    assert.deepEqual(last("/ping").messages, ["after"]);
  });

  it("a bad URL: exit 2 and a message naming it", async () => {
    for (const url of ["ftp://example.test/", "ws://exa mple/", "ws://example.test/#frag"]) {
      const { code, stdout, stderr } = await runCli([url]);
      assert.equal(code, 2, url);
      assert.equal(stdout, "");
      assert.match(stderr, /^sprig: bad URL "/, url);
    }
    const usage = await runCli(["--no-such-option", server.url.href]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /Try 'sprig --help'/);
  });

  it("a refused handshake: exit 5, with the status and the body", async () => {
    const { code, stdout, stderr } = await runCli([`${server.url.href}private`]);
    assert.equal(code, 5);
    assert.equal(stdout, "");
    assert.match(stderr, /^sprig: handshake refused: 401 Unauthorized\n {2}a token is needed\n$/);
  });

  it("nothing listening: exit 3, connection refused", async () => {
    // A port that was free a moment ago.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const { code, stderr } = await runCli([`ws://127.0.0.1:${port}/`]);
    assert.equal(code, 3);
    assert.match(stderr, new RegExp(`^sprig: cannot connect to 127\\.0\\.0\\.1:${port}: `));
  });

  it("TLS: an untrusted certificate is exit 4; --insecure or --ca connects", async () => {
    const url = `wss://127.0.0.1:${tlsServer.port}/tls`;
    const refused = await runCli([url]);
    assert.equal(refused.code, 4);
    assert.match(refused.stderr, /^sprig: TLS failed with 127\.0\.0\.1:\d+: /);
    const insecure = startCli(["--insecure", url]);
    insecure.child.stdin!.write("over tls\n");
    await insecure.waitFor(/^over tls\n/);
    insecure.child.stdin!.end();
    assert.equal(await insecure.exited, 0, insecure.stderr());
    const ca = new URL("tests/_fixtures/ca.pem", root).pathname;
    const verified = await runCli(["--ca", ca, `wss://localhost:${tlsServer.port}/tls`]);
    assert.equal(verified.code, 0, verified.stderr);
  });

  it("the server closes with 4000: exit 6, naming the code and reason", async () => {
    const cli = startCli([`${server.url.href}bye`]);
    const code = await cli.exited; // stdin stays open: the server ends it
    assert.equal(code, 6);
    assert.match(cli.stderr(), /^sprig: the connection closed with 4000 "bye"$/m);
    cli.child.stdin!.destroy();
  });

  it("--listen: an echo server for sprig's client; SIGTERM closes with 1001 and exits 0", async () => {
    const cli = startCli(["--listen", "0"]);
    const [, url] = await cli.waitFor(/^listening on (ws:\/\/127\.0\.0\.1:\d+\/)$/m);
    const ws = await connect(url!, { keepalive: false });
    await ws.send("echo me");
    assert.equal(await ws.receive({ timeoutMs: 10_000 }), "echo me");
    await ws.send(new Uint8Array([1, 2, 3]));
    assert.deepEqual(await ws.receive({ timeoutMs: 10_000 }), new Uint8Array([1, 2, 3]));
    signal(cli, "SIGTERM");
    const info = await within(ws.closed, 15_000, "the client's close");
    assert.equal(info.code, 1001);
    assert.equal(info.wasClean, true);
    assert.equal(await cli.exited, 0, cli.stderr());
  });

  it("--h2c and --http2: the client speaks WebSocket over HTTP/2 (RFC 8441), cleartext and TLS", async () => {
    const h2 = await serve({ hostname: "127.0.0.1", port: 0, http2: true }, {
      in: (message) => ({ push: `h2 ${message}` }),
    });
    const h2tls = await serve({
      hostname: "127.0.0.1",
      port: 0,
      http2: true,
      tls: { cert: fixture("server.pem"), key: fixture("server.key") },
    }, { in: (message) => ({ push: `h2 tls ${message}` }) });
    try {
      const clear = await runCli(["--h2c", "-v", h2.url.href], "hello\n");
      assert.equal(clear.code, 0, clear.stderr);
      assert.equal(clear.stdout, "h2 hello\n");
      assert.match(clear.stderr, /^\* HTTP\/2 \(h2c, prior knowledge\)$/m);
      assert.match(clear.stderr, /^> :protocol: websocket$/m);
      const secure = await runCli(
        ["--http2", "--insecure", `wss://127.0.0.1:${h2tls.port}/`],
        "hello\n",
      );
      assert.equal(secure.code, 0, secure.stderr);
      assert.equal(secure.stdout, "h2 tls hello\n");
    } finally {
      await h2.shutdown({ deadlineMs: 2000 });
      await h2tls.shutdown({ deadlineMs: 2000 });
    }
  });

  it("--listen --http2: HTTP/2 (h2c) and HTTP/1.1 clients on the same port", async () => {
    const cli = startCli(["--listen", "0", "--http2"]);
    const [, url] = await cli.waitFor(/^listening on (ws:\/\/127\.0\.0\.1:\d+\/)$/m);
    const h2 = await connect(url!, { http2: true, keepalive: false });
    const h1 = await connect(url!, { keepalive: false });
    await h2.send("over h2");
    assert.equal(await h2.receive({ timeoutMs: 10_000 }), "over h2");
    await h1.send("over h1");
    assert.equal(await h1.receive({ timeoutMs: 10_000 }), "over h1");
    await h2.close();
    await h1.close();
    signal(cli, "SIGINT");
    assert.equal(await cli.exited, 0, cli.stderr());
  });

  it("--listen --broadcast: every message goes to every connection", async () => {
    const cli = startCli(["--listen", "0", "--broadcast", "-p", "chat"]);
    const [, url] = await cli.waitFor(/^listening on (ws:\/\/127\.0\.0\.1:\d+\/)$/m);
    const a = await connect(url!, { protocols: ["chat"], keepalive: false });
    const b = await connect(url!, { keepalive: false });
    assert.equal(a.protocol, "chat");
    await a.send("to all");
    assert.equal(await a.receive({ timeoutMs: 10_000 }), "to all");
    assert.equal(await b.receive({ timeoutMs: 10_000 }), "to all");
    await a.close();
    await b.close();
    signal(cli, "SIGINT");
    assert.equal(await cli.exited, 0, cli.stderr());
  });
});
