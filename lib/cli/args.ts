/**
 * The command line: options, their checks, and the help text.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { VERSION } from "./version.ts";

/** What `sprig <url>` was asked to do. */
export interface ClientConfig {
  /** Connect to a server. */
  mode: "client";
  /** The URL to connect to, normalized to `ws:` or `wss:`. */
  url: URL;
  /** Extra request headers, in order. */
  headers: Array<[string, string]>;
  /** Subprotocols to offer, most preferred first. */
  protocols: string[];
  /** Offer permessage-deflate. */
  compression: boolean;
  /** A `/ping` line sends a ping. */
  ping: boolean;
  /** Send a ping this often, in milliseconds. */
  pingIntervalMs: number | undefined;
  /** Skip TLS certificate verification. */
  insecure: boolean;
  /** Files of extra CA certificates (PEM). */
  caFiles: string[];
  /** Send stdin lines as binary messages. */
  binary: boolean;
  /** The closing handshake's limit, in milliseconds. */
  closeTimeoutMs: number | undefined;
  /** Show the handshake, frames and close on stderr. */
  verbose: boolean;
  /**
   * WebSocket over HTTP/2 (RFC 8441): `wss:` by ALPN `h2`, `ws:` as
   * cleartext HTTP/2 with prior knowledge (h2c). False: HTTP/1.1.
   */
  http2: boolean;
}

/** What `sprig --listen PORT` was asked to do. */
export interface ServerConfig {
  /** Run a server. */
  mode: "server";
  /** The port to listen on; 0 picks a free one. */
  port: number;
  /** The address to listen on. */
  host: string;
  /** Send every message to every connection instead of echoing it. */
  broadcast: boolean;
  /** Subprotocols the server accepts. */
  protocols: string[];
  /** Accept permessage-deflate. */
  compression: boolean;
  /** The closing handshake's limit, in milliseconds. */
  closeTimeoutMs: number | undefined;
  /** Log connections and frames on stderr. */
  verbose: boolean;
  /** Accept HTTP/2 too: cleartext HTTP/2 by prior knowledge (h2c) beside HTTP/1.1, on the same port. */
  http2: boolean;
}

/** A parsed command line. */
export type Command = ClientConfig | ServerConfig | { mode: "help" } | { mode: "version" };

/** The command line is wrong; the message says how. Exit code 2. */
export class UsageError extends Error {
  /** `message` names what is wrong, for stderr. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The help text, for `--help`. */
export const USAGE = `sprig ${VERSION}: a WebSocket client and server on the command line

Usage:
  sprig [options] <url>            connect: stdin lines are sent as messages,
                                   received messages are written to stdout
  sprig --listen <port> [options]  run an echo server (or a broadcast server)

Client options:
  -H, --header "Name: value"  add a request header (repeatable)
  -p, --protocol <name>       offer a subprotocol (repeatable, most preferred first)
      --compression           offer permessage-deflate (the default)
      --no-compression        do not offer permessage-deflate
      --binary                send each stdin line as a binary message (its bytes)
      --ping                  a "/ping" line sends a ping; the round trip goes to stderr
      --ping-interval <ms>    send a ping every <ms> milliseconds and show the round trip
      --insecure              do not verify the server's TLS certificate (wss:); unsafe
      --ca <file>             also trust this CA certificate, PEM (repeatable)
      --close-timeout <ms>    wait this long for the closing handshake (default 10000)
      --http2                 WebSocket over HTTP/2 (RFC 8441): wss: offers only h2 by
                              ALPN, ws: speaks cleartext HTTP/2 (h2c, prior knowledge)
      --h2c                   the same, for ws: URLs only (cleartext HTTP/2)
  -v, --verbose               show the handshake, every frame both ways and the close
                              on stderr

Server options:
  -l, --listen <port>         listen on <port> (0: a free one) and print the URL
      --host <address>        the address to listen on (default 127.0.0.1)
      --broadcast             send every message to every connection, sender included
      --http2, --h2c          accept HTTP/2 too: a connection that opens with the HTTP/2
                              preface is cleartext HTTP/2 (h2c) and carries WebSockets by
                              extended CONNECT (RFC 8441); others stay HTTP/1.1
  -p, --protocol, --no-compression, --close-timeout, -v/--verbose as for the client

  -h, --help                  show this help
  -V, --version               show the version

A URL without a scheme gets ws://; http:// and https:// mean ws:// and wss://.
A text message is written as it is, then a newline; a binary message as one line
"[binary <n> bytes] <base64>". Closing stdin (Ctrl-D) closes the connection with
1000; Ctrl-C closes it with 1001 (the server: shuts down, closing with 1001).

Exit codes:
  0  closed cleanly with 1000, 1001 or no code      4  TLS failure
  1  unexpected error                               5  handshake refused or invalid
  2  bad usage or URL                               6  closed with another code
  3  cannot connect (refused, unreachable, DNS,     7  connection lost without a
     timeout) or cannot listen                         closing handshake
  130 interrupted twice
`;

const OPTIONS = {
  header: { type: "string", short: "H", multiple: true },
  protocol: { type: "string", short: "p", multiple: true },
  compression: { type: "boolean" },
  "no-compression": { type: "boolean" },
  binary: { type: "boolean" },
  ping: { type: "boolean" },
  "ping-interval": { type: "string" },
  insecure: { type: "boolean" },
  ca: { type: "string", multiple: true },
  "close-timeout": { type: "string" },
  verbose: { type: "boolean", short: "v" },
  listen: { type: "string", short: "l" },
  host: { type: "string" },
  broadcast: { type: "boolean" },
  http2: { type: "boolean" },
  h2c: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

const CLIENT_ONLY = ["header", "binary", "ping", "ping-interval", "insecure", "ca"] as const;
const SERVER_ONLY = ["host", "broadcast"] as const;

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} for unknown options, missing or extra arguments, bad
 *   numbers, bad headers and bad URLs
 */
export function parseCommandLine(argv: string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, tokens: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) return { mode: "help" };
  if (values.version) return { mode: "version" };

  // --compression and --no-compression: the last one given wins.
  let compression = true;
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    if (token.name === "compression") compression = true;
    else if (token.name === "no-compression") compression = false;
  }
  const closeTimeoutMs = values["close-timeout"] === undefined
    ? undefined
    : parseInteger("--close-timeout", values["close-timeout"], 1, 2 ** 31 - 1);
  const protocols = values.protocol ?? [];
  const verbose = values.verbose ?? false;
  const http2 = (values.http2 ?? false) || (values.h2c ?? false);

  if (values.listen !== undefined) {
    const wrong = CLIENT_ONLY.find((name) => values[name] !== undefined);
    if (wrong) throw new UsageError(`--${wrong} is a client option; it does not go with --listen`);
    if (positionals.length > 0) {
      throw new UsageError(`--listen takes no URL (got "${positionals[0]}")`);
    }
    return {
      mode: "server",
      port: parseInteger("--listen", values.listen, 0, 65535),
      host: values.host ?? "127.0.0.1",
      broadcast: values.broadcast ?? false,
      protocols,
      compression,
      closeTimeoutMs,
      verbose,
      http2,
    };
  }

  const wrong = SERVER_ONLY.find((name) => values[name] !== undefined);
  if (wrong) throw new UsageError(`--${wrong} is a server option; it goes with --listen`);
  if (positionals.length === 0) {
    throw new UsageError("no URL to connect to (or --listen PORT to serve)");
  }
  if (positionals.length > 1) {
    throw new UsageError(`one URL only (got "${positionals.slice(1).join('", "')}" too)`);
  }
  const pingInterval = values["ping-interval"];
  const url = parseUrl(positionals[0]!);
  if (values.h2c && url.protocol === "wss:") {
    throw new UsageError(
      "--h2c is cleartext HTTP/2, for ws: URLs; for wss: use --http2 (h2 by ALPN)",
    );
  }
  return {
    mode: "client",
    url,
    headers: (values.header ?? []).map(parseHeader),
    protocols,
    compression,
    ping: (values.ping ?? false) || pingInterval !== undefined,
    pingIntervalMs: pingInterval === undefined
      ? undefined
      : parseInteger("--ping-interval", pingInterval, 1, 2 ** 31 - 1),
    insecure: values.insecure ?? false,
    caFiles: values.ca ?? [],
    binary: values.binary ?? false,
    closeTimeoutMs,
    verbose,
    http2,
  };
}

/**
 * A WebSocket URL from what the user typed: `ws:` and `wss:` as they are,
 * `http:` and `https:` as `ws:` and `wss:`, no scheme as `ws:`.
 *
 * @throws {UsageError} when it is not a URL, has another scheme or a fragment
 */
export function parseUrl(input: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `ws://${input}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`bad URL "${input}": not a valid URL`);
  }
  if (url.protocol === "http:") url = new URL(`ws:${url.href.slice("http:".length)}`);
  else if (url.protocol === "https:") url = new URL(`wss:${url.href.slice("https:".length)}`);
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError(`bad URL "${input}": the scheme must be ws: or wss:, not ${url.protocol}`);
  }
  if (url.hostname === "") throw new UsageError(`bad URL "${input}": no host`);
  if (url.hash !== "" || url.href.endsWith("#")) {
    throw new UsageError(`bad URL "${input}": a WebSocket URL cannot have a fragment (#)`);
  }
  return url;
}

/**
 * `"Name: value"` as a pair.
 *
 * @throws {UsageError} without a colon, or with a name or value HTTP refuses
 */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(":");
  if (colon <= 0) throw new UsageError(`bad header "${text}": expected "Name: value"`);
  const name = text.slice(0, colon).trim();
  const value = text.slice(colon + 1).trim();
  try {
    new Headers([[name, value]]);
  } catch {
    throw new UsageError(`bad header "${text}": not a valid HTTP header name or value`);
  }
  return [name, value];
}

function parseInteger(option: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) {
    throw new UsageError(`${option} takes a whole number from ${min} to ${max}, not "${text}"`);
  }
  return n;
}
