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
 * `onmessage`). Compression and keepalive pings are off, as
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

const adapter: DriverAdapter = {
  name: "sprig-client",
  runtime: `${runtime} ${version}`,
  connect(url, h) {
    let session: Session | undefined;
    let closeCode: number | undefined;
    connect(url, { compression: false, keepalive: false }).then((ws) => {
      session = ws;
      // A `message` listener consumes, in the socket's turn: the same shape
      // as the built-in clients' onmessage and ws's on("message").
      ws.on("message", (message) => h.message(message, typeof message !== "string"));
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
        void session!.send(data);
      },
      close(code) {
        if (session) session.close(code).catch(ignore);
        else closeCode = code;
      },
    };
  },
};

await driver.runClient(adapter, argv);
