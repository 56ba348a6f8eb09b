/**
 * `sprig <url>`: stdin lines out as messages, messages in as stdout lines.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import {
  connect,
  ConnectionClosedError,
  type ConnectOptions,
  HandshakeError,
  NotOpenError,
  permessageDeflate,
  type Session,
} from "../../mod.ts";
import type { ClientConfig } from "./args.ts";
import {
  closeLine,
  closeOutcome,
  connectFailure,
  ExitCode,
  frameLine,
  messageLine,
  refusalLines,
  responseLines,
} from "./format.ts";
import { type Io, StdoutClosedError } from "./io.ts";
import { splitLines } from "./lines.ts";

const decoder = new TextDecoder();

/** Runs the client to its end; resolves with the exit code. */
export async function runClient(config: ClientConfig, io: Io): Promise<number> {
  const { url, verbose } = config;
  const log = verbose ? (line: string) => io.err(line) : () => {};

  let caCerts: string[] | undefined;
  try {
    caCerts = config.caFiles.length > 0
      ? config.caFiles.map((file) => readFileSync(file, "utf8"))
      : undefined;
  } catch (error) {
    io.err(`sprig: cannot read the CA file: ${(error as Error).message}`);
    return ExitCode.Usage;
  }

  const options: ConnectOptions = {
    protocols: config.protocols,
    headers: config.headers,
    compression: config.compression,
    closeTimeoutMs: config.closeTimeoutMs,
    tls: { insecure: config.insecure, caCerts },
    http2: config.http2,
  };
  if (verbose) {
    options.on = {
      open: (session) => {
        for (const line of responseLines(session.headers)) log(line);
        log(
          `* open: subprotocol ${JSON.stringify(session.protocol)}, extensions ${
            JSON.stringify(session.extensions)
          }`,
        );
      },
      frame: ({ direction, frame }) => log(frameLine(direction, frame)),
    };
    log(`* connecting to ${url.href}${config.insecure ? " (TLS not verified: --insecure)" : ""}`);
    for (const line of requestLines(config)) log(line);
  }

  // Ctrl-C or SIGTERM: before the connection, abort it; after, close with 1001.
  const aborter = new AbortController();
  let session: Session | undefined;
  let interrupts = 0;
  let interrupted: ((code: number) => void) | undefined;
  const hardStop = new Promise<number>((resolve) => (interrupted = resolve));
  const stopSignals = io.onSignal((signal) => {
    interrupts++;
    if (!session) {
      log(`* ${signal}: giving up`);
      aborter.abort();
      interrupted!(ExitCode.Interrupted);
    } else if (interrupts === 1) {
      log(`* ${signal}: closing with 1001`);
      session.close(1001).catch(() => session!.terminate());
    } else {
      log(`* ${signal} again: dropping the connection`);
      session.terminate();
      interrupted!(ExitCode.Interrupted);
    }
  });

  try {
    try {
      session = await connect(url, { ...options, signal: aborter.signal });
    } catch (error) {
      if (aborter.signal.aborted) return ExitCode.Interrupted;
      if (verbose && error instanceof HandshakeError && error.code === "HANDSHAKE_REFUSED") {
        for (const line of refusalLines(error)) log(line);
      }
      const { exit, lines } = connectFailure(error, url);
      io.err(`sprig: ${lines[0]}`);
      for (const line of lines.slice(1)) io.err(line);
      return exit;
    }
    const ws = session;

    // Incoming messages to stdout, in order, as fast as stdout takes them.
    const output = (async () => {
      try {
        for await (const message of ws) await io.out(messageLine(message));
      } catch (error) {
        if (error instanceof StdoutClosedError) {
          // Nobody reads any more: leave (1001), as a closed page does.
          log("* stdout closed: closing with 1001");
          await ws.close(1001).catch(() => ws.terminate());
        } else if (!(error instanceof ConnectionClosedError)) {
          io.err(`sprig: writing stdout failed: ${(error as Error)?.message ?? error}`);
          ws.terminate();
        }
      }
    })();

    const ping = () => {
      ws.ping().then(
        (ms) => io.err(`pong: ${ms.toFixed(1)} ms`),
        () => {},
      );
    };
    const pinger = config.pingIntervalMs === undefined
      ? undefined
      : setInterval(ping, config.pingIntervalMs);

    // stdin lines out; at its end, close with 1000.
    void (async () => {
      for await (const line of splitLines(io.stdin)) {
        if (ws.readyState !== "open") return;
        if (config.ping && line.length === 5 && decoder.decode(line) === "/ping") {
          ping();
          continue;
        }
        await ws.send(config.binary ? line : decoder.decode(line));
      }
      if (ws.readyState === "open") {
        log("* end of stdin: closing with 1000");
        await ws.close(1000);
      }
    })().catch((error) => {
      if (error instanceof NotOpenError) return; // the connection closed meanwhile
      io.err(`sprig: reading stdin failed: ${(error as Error).message}`);
      ws.close(1011).catch(() => ws.terminate());
    });

    const info = await Promise.race([ws.closed, hardStop]);
    clearInterval(pinger);
    if (typeof info === "number") return info;
    await Promise.race([output, hardStop]);
    log(closeLine(info));
    const outcome = closeOutcome(info);
    if (outcome.message) io.err(`sprig: ${outcome.message}`);
    return outcome.exit;
  } finally {
    stopSignals();
  }
}

/**
 * The request head as `connect()` builds it, for `--verbose` (its key is
 * random): a GET with Upgrade over HTTP/1.1, or the extended CONNECT of
 * RFC 8441 §4 over HTTP/2 (pseudo-header fields, no key).
 */
function requestLines(config: ClientConfig): string[] {
  const { url } = config;
  const own = config.headers.find(([name]) => name.toLowerCase() === "host");
  const lines = config.http2
    ? [
      `* HTTP/2 (${url.protocol === "wss:" ? "h2 by ALPN" : "h2c, prior knowledge"})`,
      "> :method: CONNECT",
      "> :protocol: websocket",
      `> :scheme: ${url.protocol === "wss:" ? "https" : "http"}`,
      `> :path: ${url.pathname || "/"}${url.search}`,
      `> :authority: ${own?.[1] ?? url.host}`,
      "> sec-websocket-version: 13",
    ]
    : [
      `> GET ${url.pathname || "/"}${url.search} HTTP/1.1`,
      `> Host: ${own?.[1] ?? url.host}`,
      "> Upgrade: websocket",
      "> Connection: Upgrade",
      "> Sec-WebSocket-Key: (16 random bytes, base64)",
      "> Sec-WebSocket-Version: 13",
    ];
  if (config.protocols.length > 0) {
    lines.push(`> Sec-WebSocket-Protocol: ${config.protocols.join(", ")}`);
  }
  if (config.compression) {
    const offers = permessageDeflate().offer().map((offer) =>
      [offer.name, ...offer.params.map(([k, v]) => (v === true ? k : `${k}=${v}`))].join("; ")
    );
    lines.push(`> Sec-WebSocket-Extensions: ${offers.join(", ")}`);
  }
  if (
    (url.username || url.password) &&
    !config.headers.some(([name]) => name.toLowerCase() === "authorization")
  ) {
    lines.push("> Authorization: Basic (from the URL)");
  }
  for (const [name, value] of config.headers) {
    if (name.toLowerCase() !== "host") lines.push(`> ${name}: ${value}`);
  }
  return lines;
}
