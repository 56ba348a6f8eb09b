/**
 * sprig's `connect()` as a client on wsload's shared echo-client driver
 * (`peers/client_driver.mjs`), for the echo benchmark's client shapes:
 *
 *   deno run -A bench/echo/sprig_client.ts --driver PATH/client_driver.mjs --url ws://127.0.0.1:PORT/ [driver options]
 *   bun bench/echo/sprig_client.ts --driver ... ; node --import tsx bench/echo/sprig_client.ts --driver ...
 *
 * `--driver` names the driver file (it lives beside wsload, outside the
 * repo); every other argument goes to the driver (-c, -s, -d, -t, -w, ...).
 * The adapter uses the daily API only: `connect()`, `send()`, `close()` and
 * a `message` listener (which consumes, like the built-in clients'
 * `onmessage`), or with `--mode for-await|receive|readable` the session's
 * async iterator, `receive()` or `readable`. Compression and keepalive pings are off, as
 * for the built-in clients and `ws` it is compared with.
 */
import process from "node:process";
import { pathToFileURL } from "node:url";
import { connect, detectRuntime, type MessageData, type Session } from "../../mod.ts";

/** The driver's handlers, one set per connection. */
interface DriverHandlers {
  open(): void;
  message(data: MessageData, isBinary: boolean): void;
  close(code: number): void;
  error(err: unknown): void;
}

/** The driver's adapter contract. */
interface DriverAdapter {
  name: string;
  runtime: string;
  connect(url: string, handlers: DriverHandlers): {
    send(data: string | Uint8Array): void;
    close(code: number): void;
  };
}

interface DriverModule {
  runClient(adapter: DriverAdapter, argv: string[]): Promise<void>;
}

const argv = process.argv.slice(2);
const at = argv.indexOf("--driver");
if (at < 0 || at + 1 >= argv.length) {
  console.error("usage: sprig_client.ts --driver PATH/client_driver.mjs --url ws://... [options]");
  process.exit(2);
}
const driverPath = argv[at + 1];
argv.splice(at, 2);
const driver = await import(pathToFileURL(driverPath).href) as DriverModule;

const ignore = () => {};
const runtime = detectRuntime();
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const version = g.Deno ? g.Deno.version.deno : g.Bun ? g.Bun.version : process.version;

/**
 * How the adapter reads (`--mode`, default `listener`): a `message` listener
 * (the built-in clients' `onmessage`), `for-await` (`for await (const m of
 * ws)`, awaiting each reply's `send()` in the loop, the README's first
 * example), `receive` (`await ws.receive()` in a loop) or `readable`
 * (`ws.readable`'s reader).
 */
const MODES = ["listener", "for-await", "receive", "readable"] as const;
type Mode = typeof MODES[number];
let mode: Mode = "listener";
const modeAt = argv.indexOf("--mode");
if (modeAt >= 0) {
  const value = argv[modeAt + 1] as Mode;
  if (!MODES.includes(value)) {
    console.error(`--mode is one of ${MODES.join(", ")}`);
    process.exit(2);
  }
  mode = value;
  argv.splice(modeAt, 2);
}

/** Reads every message the way `mode` says, calling `deliver` for each; awaits the replies' sends. */
async function consume(
  ws: Session,
  deliver: (message: MessageData) => void,
  lastSend: () => Promise<void> | undefined,
): Promise<void> {
  if (mode === "for-await") {
    for await (const message of ws) {
      deliver(message);
      await lastSend();
    }
  } else if (mode === "receive") {
    while (true) {
      let message: MessageData;
      try {
        message = await ws.receive();
      } catch {
        return; // the end: `closed` reports how
      }
      deliver(message);
      await lastSend();
    }
  } else {
    const reader = ws.readable.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      deliver(value);
      await lastSend();
    }
  }
}

const adapter: DriverAdapter = {
  name: mode === "listener" ? "sprig-client" : `sprig-client ${mode}`,
  runtime: `${runtime} ${version}`,
  connect(url, h) {
    let session: Session | undefined;
    let closeCode: number | undefined;
    let pending: Promise<void> | undefined;
    const deliver = (message: MessageData) => h.message(message, typeof message !== "string");
    connect(url, { compression: false, keepalive: false }).then((ws) => {
      session = ws;
      if (mode === "listener") {
        // A `message` listener consumes, in the socket's turn: the same shape
        // as the built-in clients' onmessage and ws's on("message").
        ws.on("message", deliver);
      } else {
        consume(ws, deliver, () => {
          const p = pending;
          pending = undefined;
          return p;
        }).catch(ignore);
      }
      ws.closed.then((info) => h.close(info.code));
      h.open();
      if (closeCode !== undefined) ws.close(closeCode).catch(ignore);
    }, (err) => {
      h.error(err);
      h.close(1006);
    });
    return {
      send(data) {
        // A send that fails is never an unhandled rejection; the end is reported by `closed`.
        // The reading loops await the reply sent while handling a message.
        pending = session!.send(data);
        pending.catch(ignore);
      },
      close(code) {
        if (session) session.close(code).catch(ignore);
        else closeCode = code;
      },
    };
  },
};

await driver.runClient(adapter, argv);
