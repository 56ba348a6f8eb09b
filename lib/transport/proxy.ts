/**
 * Connecting through a proxy: an HTTP `CONNECT` tunnel (RFC 9110 §9.3.6)
 * or SOCKS5 (RFC 1928, with username/password authentication, RFC 1929),
 * then, for `wss:`, TLS to the target inside the tunnel — the proxy sees
 * only encrypted bytes and verifies nothing for us.
 *
 * How TLS is started over the connected tunnel, per runtime: on Deno,
 * `Deno.startTls` over the `Deno.Conn` (native); elsewhere, and on Deno
 * when `insecure` is asked for (Deno cannot skip verification), `node:tls`
 * `connect({ socket })` over a `node:net` socket — on Bun too, whose
 * `node:tls` supports it (its native `upgradeTLS` needs the socket's
 * handlers to be swapped, which the transport does not allow).
 *
 * The host name of the target is sent to the proxy, which resolves it
 * (SOCKS5 address type 3, as curl's `socks5h://`), except for IP literals.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { ConnectionError, InvalidArgumentError, ProxyError, SprigError } from "../errors.ts";
import { encodeBase64 } from "../protocol/base64.ts";
import { concatBytes } from "../protocol/bytes.ts";
import { HeadParser, type ResponseHead } from "../protocol/http1.ts";
import { encodeUtf8 } from "../protocol/utf8.ts";
import { abortReason } from "./abort.ts";
import { type DenoConn, denoNamespace, fromDenoConn } from "./deno.ts";
import { connectFailure } from "./failure.ts";
import { fromNodeSocket } from "./node.ts";
import type { ConnectTarget, Transport } from "./transport.ts";

/** The `proxy` option: a proxy URL, or `"env"` to read the conventional environment variables. */
export type ProxyOption = string | URL;

/** Largest response head accepted from an HTTP proxy, in bytes. */
const MAX_PROXY_HEAD_BYTES = 16 * 1024;

/** The default ports of the proxy schemes. */
const DEFAULT_PORTS: Record<string, number> = { "http:": 80, "socks5:": 1080, "socks5h:": 1080 };

/**
 * Checks a proxy URL: `http://[user:pass@]host[:port]` or
 * `socks5://[user:pass@]host[:port]` (`socks5h://` is the same here).
 *
 * @throws {InvalidArgumentError} naming `argument` for anything else
 */
export function parseProxyUrl(argument: string, fn: string, value: string | URL): URL {
  let url: URL;
  try {
    url = new URL(String(value));
  } catch (error) {
    throw new InvalidArgumentError(
      argument,
      `${fn}: ${argument} must be "env" or a proxy URL (http://host:port, socks5://host:port), got ${
        JSON.stringify(String(value))
      }`,
      { cause: error },
    );
  }
  if (!(url.protocol in DEFAULT_PORTS)) {
    throw new InvalidArgumentError(
      argument,
      `${fn}: ${argument} must be an http: or socks5: URL, got ${url.protocol} ` +
        "(TLS to the proxy itself is not supported; the tunnel to a wss: target is encrypted end to end)",
    );
  }
  if (url.hostname === "") {
    throw new InvalidArgumentError(argument, `${fn}: ${argument} has no host`);
  }
  if (url.protocol !== "http:") {
    // RFC 1929 §2: the username and the password are 1 to 255 bytes each.
    for (const part of [url.username, url.password]) {
      if (encodeUtf8(decodeURIComponent(part)).length > 255) {
        throw new InvalidArgumentError(
          argument,
          `${fn}: ${argument}'s username and password are at most 255 bytes each (RFC 1929)`,
        );
      }
    }
  }
  return url;
}

/** Reads an environment variable on any runtime; undefined when unset or empty. */
function readEnv(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(name: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  const value = g.Deno ? g.Deno.env.get(name) : g.process?.env[name];
  return value === "" ? undefined : value;
}

/**
 * The proxy to use for a target, from the environment as curl reads it:
 * `https_proxy` (then `HTTPS_PROXY`) for `wss:`, `http_proxy` (then
 * `HTTP_PROXY`) for `ws:`, either falling back to `all_proxy` /
 * `ALL_PROXY`; none when `no_proxy` (or `NO_PROXY`) lists the host: `*`
 * for every host, or comma- or space-separated names, each matching the
 * host itself and its subdomains (a leading `.` is optional), with an
 * optional `:port`; IP addresses match exactly (CIDR ranges are not
 * supported). A variable's value without a scheme is taken as `http://`.
 *
 * @param env reads one variable; default the process environment (on Deno
 *   it needs `--allow-env`)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { proxyFromEnvironment } from "./proxy.ts";
 * const env: Record<string, string> = {
 *   HTTPS_PROXY: "http://proxy:3128",
 *   NO_PROXY: "internal.test",
 * };
 * const getEnv = (name: string) => env[name];
 * const secure = { port: 443, tls: true };
 * assert.equal(
 *   proxyFromEnvironment({ hostname: "example.com", ...secure }, getEnv)?.href,
 *   "http://proxy:3128/",
 * );
 * assert.equal(proxyFromEnvironment({ hostname: "api.internal.test", ...secure }, getEnv), undefined);
 * ```
 */
export function proxyFromEnvironment(
  target: Pick<ConnectTarget, "hostname" | "port" | "tls">,
  env: (name: string) => string | undefined = readEnv,
): URL | undefined {
  const names = target.tls ? ["https_proxy", "HTTPS_PROXY"] : ["http_proxy", "HTTP_PROXY"];
  let value: string | undefined;
  for (const name of [...names, "all_proxy", "ALL_PROXY"]) {
    value = env(name);
    if (value) break;
  }
  if (!value) return undefined;
  const noProxy = env("no_proxy") ?? env("NO_PROXY");
  if (noProxy && bypasses(noProxy, target.hostname, target.port)) return undefined;
  const variable = target.tls ? "HTTPS_PROXY" : "HTTP_PROXY";
  return parseProxyUrl(
    variable,
    'proxy: "env"',
    /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`,
  );
}

/** Whether a `NO_PROXY` list covers `hostname:port`. */
function bypasses(list: string, hostname: string, port: number): boolean {
  const host = hostname.toLowerCase();
  for (const entry of list.toLowerCase().split(/[\s,]+/)) {
    if (entry === "") continue;
    if (entry === "*") return true;
    let name = entry;
    let entryPort: string | undefined;
    const bracketed = /^\[(.*)\](?::(\d+))?$/.exec(entry);
    if (bracketed) [, name, entryPort] = bracketed;
    else if (entry.split(":").length === 2) [name, entryPort] = entry.split(":");
    if (entryPort !== undefined && Number(entryPort) !== port) continue;
    name = name.replace(/^\*?\./, "");
    if (host === name || (net.isIP(host) === 0 && host.endsWith(`.${name}`))) return true;
  }
  return false;
}

/**
 * Opens a {@link Transport} to `target` through the proxy at `proxy`: the
 * tunnel, then TLS inside it when `target.tls`. Cancelled by `signal`
 * (connect, handshake with the proxy, TLS).
 *
 * @throws {ConnectionError} when the proxy cannot be reached (its code as
 *   for any host: `CONNECT_REFUSED`, …), or TLS to the target fails
 *   (`TLS_FAILED`)
 * @throws {ProxyError} when the proxy refuses the tunnel or does not speak its protocol
 * @throws {AbortError} when `signal` aborted
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as http from "node:http";
 * import * as net from "node:net";
 * import { serve } from "../../mod.ts";
 * import { connectThroughProxy } from "./proxy.ts";
 * // A target (sprig's server: a plain GET gets 426) and a CONNECT proxy, both on 127.0.0.1.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, { in: () => {} });
 * const tunnels = new Set<{ destroy(): void }>();
 * const proxy = http.createServer().on("connect", (request, client, head) => {
 *   tunnels.add(client);
 *   const [host, port] = request.url!.split(":");
 *   const upstream = net.connect(Number(port), host, () => {
 *     client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
 *     upstream.write(head);
 *     upstream.pipe(client).on("error", () => {});
 *     client.pipe(upstream).on("error", () => {});
 *   });
 *   upstream.on("error", () => client.destroy());
 *   client.on("error", () => upstream.destroy());
 * });
 * await once(proxy.listen(0, "127.0.0.1"), "listening");
 * const { port: proxyPort } = proxy.address() as net.AddressInfo;
 * const transport = await connectThroughProxy(
 *   new URL(`http://127.0.0.1:${proxyPort}`),
 *   { hostname: "127.0.0.1", port: server.port },
 *   AbortSignal.timeout(10_000),
 * );
 * await transport.write([new TextEncoder().encode("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")]);
 * assert.ok(new TextDecoder().decode((await transport.read())!).startsWith("HTTP/1.1 426 "));
 * transport.close();
 * for (const socket of tunnels) socket.destroy();
 * await new Promise((closed) => proxy.close(closed));
 * ```
 */
export async function connectThroughProxy(
  proxy: URL,
  target: ConnectTarget,
  signal?: AbortSignal,
): Promise<Transport> {
  if (signal?.aborted) throw abortReason(signal);
  const Deno = denoNamespace() as DenoWithTls | undefined;
  // Deno.startTls cannot skip verification: node:tls does that one.
  const native = Deno !== undefined && typeof Deno.startTls === "function" &&
    !(target.tls && target.insecure);
  const tunnel = native
    ? await openDenoTunnel(Deno!, proxy, signal)
    : await openNodeTunnel(proxy, signal);
  let onAbort: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => {
        tunnel.destroy();
        reject(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    await Promise.race([handshake(proxy, target, tunnel), aborted]);
    const leftover = tunnel.leftover();
    if (!target.tls) return tunnel.transport(leftover);
    if (leftover.length > 0) {
      throw new ProxyError(
        "PROXY_PROTOCOL_ERROR",
        `the proxy at ${proxy.host} sent ${leftover.length} bytes before the TLS handshake`,
        { protocol: proxy.protocol === "http:" ? "http" : "socks5", status: 0 },
      );
    }
    return await Promise.race([tunnel.startTls(target), aborted]);
  } catch (error) {
    tunnel.destroy();
    if (signal?.aborted) throw abortReason(signal);
    if (error instanceof SprigError) throw error;
    const where = `${target.hostname}:${target.port} through the proxy at ${proxy.host}`;
    if (target.tls && connectFailure(error, true) === "TLS_FAILED") {
      throw new ConnectionError(
        "TLS_FAILED",
        `TLS failed with ${where}: ${(error as Error)?.message}`,
        {
          cause: error,
        },
      );
    }
    throw new ConnectionError(
      "CONNECT_FAILED",
      `could not connect to ${where}: ${(error as Error)?.message}`,
      { cause: error },
    );
  } finally {
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  }
}

/** A connected socket to the proxy, before and after the proxy's handshake. */
interface Tunnel {
  read(): Promise<Uint8Array | null>;
  write(bytes: Uint8Array): Promise<void>;
  /** Puts back bytes read past the proxy's answer. */
  unread(bytes: Uint8Array): void;
  /** Takes the bytes read past the proxy's answer. */
  leftover(): Uint8Array;
  /** The plain tunnel as a transport. */
  transport(head: Uint8Array): Transport;
  /** TLS to the target inside the tunnel. */
  startTls(target: ConnectTarget): Promise<Transport>;
  destroy(): void;
}

/** A refusal to connect to the proxy itself, worded like connect()'s. */
function proxyUnreachable(proxy: URL, error: unknown): ConnectionError {
  const code = connectFailure(error, false);
  return new ConnectionError(
    code,
    `could not connect to the proxy at ${proxy.host}: ${(error as Error)?.message}`,
    { cause: error },
  );
}

function joined(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let total = 0;
  for (const c of chunks) total += c.length;
  return concatBytes(chunks, total);
}

function proxyPort(proxy: URL): number {
  return proxy.port === "" ? DEFAULT_PORTS[proxy.protocol] : Number(proxy.port);
}

function proxyHost(proxy: URL): string {
  return proxy.hostname.replace(/^\[|\]$/g, "");
}

// ------------------------------------------------------------------ node:net

function openNodeTunnel(proxy: URL, signal?: AbortSignal): Promise<Tunnel> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxyHost(proxy), port: proxyPort(proxy) });
    socket.setNoDelay(true);
    const onAbort = () => {
      socket.destroy();
      reject(abortReason(signal!));
    };
    const cleanup = () => {
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off("connect", onConnect);
    };
    const onError = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(proxyUnreachable(proxy, error));
    };
    const onConnect = () => {
      cleanup();
      resolve(new NodeTunnel(socket));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once("connect", onConnect);
  });
}

class NodeTunnel implements Tunnel {
  readonly #socket: net.Socket;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  readonly #onData = (chunk: Uint8Array) => {
    this.#chunks.push(chunk);
    this.#wake?.();
  };
  readonly #onEnd = () => {
    this.#ended = true;
    this.#wake?.();
  };
  readonly #onError = (error: Error) => {
    this.#error ??= error;
    this.#onEnd();
  };

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", this.#onData);
    socket.on("end", this.#onEnd);
    socket.on("close", this.#onEnd);
    socket.on("error", this.#onError);
  }

  async read(): Promise<Uint8Array | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
    }
    return this.#chunks.shift()!;
  }

  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  unread(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#chunks.unshift(bytes);
  }

  leftover(): Uint8Array {
    const socket = this.#socket;
    socket.pause();
    socket.off("data", this.#onData);
    socket.off("end", this.#onEnd);
    socket.off("close", this.#onEnd);
    socket.off("error", this.#onError);
    const chunks = this.#chunks;
    this.#chunks = [];
    return joined(chunks);
  }

  transport(head: Uint8Array): Transport {
    const transport = fromNodeSocket(this.#socket, head);
    // Paused by leftover(); the transport's reader takes the bytes from here.
    this.#socket.resume();
    return transport;
  }

  startTls(target: ConnectTarget): Promise<Transport> {
    const name = target.serverName ?? target.hostname;
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        socket: this.#socket,
        servername: net.isIP(name) ? undefined : name,
        host: name,
        ca: target.caCerts,
        rejectUnauthorized: !target.insecure,
        ALPNProtocols: target.alpnProtocols,
      } as tls.ConnectionOptions);
      const onError = (error: Error) => {
        socket.off("secureConnect", onReady);
        socket.destroy();
        reject(error);
      };
      const onReady = () => {
        socket.off("error", onError);
        resolve(fromNodeSocket(socket));
      };
      socket.once("error", onError);
      socket.once("secureConnect", onReady);
    });
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

// ------------------------------------------------------------------ Deno

interface DenoWithTls {
  connect(options: { hostname: string; port: number }): Promise<DenoConn>;
  startTls?(
    conn: DenoConn,
    options: { hostname?: string; caCerts?: string[]; alpnProtocols?: string[] },
  ): Promise<DenoConn>;
}

async function openDenoTunnel(
  Deno: DenoWithTls,
  proxy: URL,
  signal?: AbortSignal,
): Promise<Tunnel> {
  const pending = Deno.connect({ hostname: proxyHost(proxy), port: proxyPort(proxy) });
  let onAbort: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      if (!signal) return;
      onAbort = () => {
        pending.then((c) => c.close(), () => {});
        reject(abortReason(signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
    });
    const conn = await Promise.race([pending, aborted]);
    conn.setNoDelay?.(true);
    return new DenoTunnel(Deno, conn);
  } catch (error) {
    if (signal?.aborted) throw abortReason(signal);
    throw proxyUnreachable(proxy, error);
  } finally {
    if (onAbort) signal!.removeEventListener("abort", onAbort);
  }
}

class DenoTunnel implements Tunnel {
  readonly #deno: DenoWithTls;
  readonly #conn: DenoConn;
  #pending: Uint8Array[] = [];
  #destroyed = false;

  constructor(deno: DenoWithTls, conn: DenoConn) {
    this.#deno = deno;
    this.#conn = conn;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#pending.length > 0) return this.#pending.shift()!;
    const buffer = new Uint8Array(4096);
    const n = await this.#conn.read(buffer);
    return n === null ? null : buffer.subarray(0, n);
  }

  async write(bytes: Uint8Array): Promise<void> {
    while (bytes.length > 0) bytes = bytes.subarray(await this.#conn.write(bytes));
  }

  unread(bytes: Uint8Array): void {
    if (bytes.length > 0) this.#pending.unshift(bytes);
  }

  leftover(): Uint8Array {
    const chunks = this.#pending;
    this.#pending = [];
    return joined(chunks);
  }

  transport(head: Uint8Array): Transport {
    if (head.length === 0) return fromDenoConn(this.#conn);
    // Bytes that came with the proxy's answer are read first.
    const conn = this.#conn;
    let first: Uint8Array | undefined = head;
    const wrapped: DenoConn = {
      read: (p) => {
        if (first === undefined) return conn.read(p);
        const n = Math.min(p.length, first.length);
        p.set(first.subarray(0, n));
        first = n < first.length ? first.subarray(n) : undefined;
        return Promise.resolve(n);
      },
      write: (p) => conn.write(p),
      close: () => conn.close(),
      closeWrite: conn.closeWrite?.bind(conn),
      setNoDelay: conn.setNoDelay?.bind(conn),
      remoteAddr: conn.remoteAddr,
    };
    return fromDenoConn(wrapped);
  }

  async startTls(target: ConnectTarget): Promise<Transport> {
    const conn = await this.#deno.startTls!(this.#conn, {
      hostname: target.serverName ?? target.hostname,
      caCerts: target.caCerts,
      alpnProtocols: target.alpnProtocols,
    });
    try {
      // Deno handshakes lazily; finishing here makes a bad certificate a connect error.
      await conn.handshake?.();
    } catch (error) {
      conn.close();
      throw error;
    }
    return fromDenoConn(conn);
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

// ------------------------------------------------------------------ handshakes

function handshake(proxy: URL, target: ConnectTarget, tunnel: Tunnel): Promise<void> {
  return proxy.protocol === "http:"
    ? httpConnect(proxy, target, tunnel)
    : socks5Connect(proxy, target, tunnel);
}

function credentials(proxy: URL): { username: string; password: string } | undefined {
  if (proxy.username === "" && proxy.password === "") return undefined;
  return {
    username: decodeURIComponent(proxy.username),
    password: decodeURIComponent(proxy.password),
  };
}

/** The authority of the target, as CONNECT's request-target and Host (RFC 9110 §9.3.6). */
function authority(target: ConnectTarget): string {
  const host = target.hostname.includes(":") ? `[${target.hostname}]` : target.hostname;
  return `${host}:${target.port}`;
}

/** An HTTP CONNECT tunnel: one request, one 2xx response head, then the tunnel's bytes. */
async function httpConnect(proxy: URL, target: ConnectTarget, tunnel: Tunnel): Promise<void> {
  const where = authority(target);
  let request = `CONNECT ${where} HTTP/1.1\r\nHost: ${where}\r\n`;
  const creds = credentials(proxy);
  if (creds) {
    // RFC 9110 §11.7.2 and RFC 7617: Basic credentials for the proxy.
    const token = encodeBase64(encodeUtf8(`${creds.username}:${creds.password}`));
    request += `Proxy-Authorization: Basic ${token}\r\n`;
  }
  await tunnel.write(encodeUtf8(`${request}\r\n`));
  const parser = new HeadParser({ kind: "response", maxHeadBytes: MAX_PROXY_HEAD_BYTES });
  let head: ResponseHead | undefined;
  try {
    while (head === undefined) {
      const chunk = await tunnel.read();
      if (chunk === null) {
        throw new ProxyError(
          "PROXY_PROTOCOL_ERROR",
          `the proxy at ${proxy.host} closed the connection before answering CONNECT ${where}`,
          { protocol: "http", status: 0 },
        );
      }
      head = parser.push(chunk);
      // RFC 9110 §15.2: interim 1xx responses come before the final one.
      if (head !== undefined && head.status < 200) {
        const rest = parser.rest;
        return await httpConnectRest(proxy, where, tunnel, rest);
      }
    }
  } catch (error) {
    if (error instanceof ProxyError) throw error;
    if (error instanceof SprigError) {
      throw new ProxyError(
        "PROXY_PROTOCOL_ERROR",
        `the proxy at ${proxy.host} answered CONNECT with a malformed response: ${error.message}`,
        { protocol: "http", status: 0 },
        { cause: error },
      );
    }
    throw error;
  }
  settleConnect(proxy, where, head);
  tunnel.unread(parser.rest);
}

/** After an interim response: the final one follows. */
async function httpConnectRest(
  proxy: URL,
  where: string,
  tunnel: Tunnel,
  rest: Uint8Array,
): Promise<void> {
  tunnel.unread(rest);
  for (let interim = 0; interim < 32; interim++) {
    const parser = new HeadParser({ kind: "response", maxHeadBytes: MAX_PROXY_HEAD_BYTES });
    let head: ResponseHead | undefined;
    while (head === undefined) {
      const chunk = await tunnel.read();
      if (chunk === null) break;
      head = parser.push(chunk);
    }
    if (head === undefined) break;
    if (head.status >= 200) {
      settleConnect(proxy, where, head);
      tunnel.unread(parser.rest);
      return;
    }
    tunnel.unread(parser.rest);
  }
  throw new ProxyError(
    "PROXY_PROTOCOL_ERROR",
    `the proxy at ${proxy.host} gave no final answer to CONNECT ${where}`,
    { protocol: "http", status: 0 },
  );
}

/** A 2xx opens the tunnel (RFC 9110 §9.3.6); anything else is the proxy's refusal. */
function settleConnect(proxy: URL, where: string, head: ResponseHead): void {
  if (head.status >= 200 && head.status < 300) return;
  const code = head.status === 407 ? "PROXY_AUTH_REQUIRED" : "PROXY_REFUSED";
  const why = head.status === 407
    ? (proxy.username === ""
      ? " (it wants credentials: http://user:password@host:port)"
      : " (it refused the credentials)")
    : "";
  throw new ProxyError(
    code,
    `the proxy at ${proxy.host} refused CONNECT ${where}: ${head.status} ${head.statusText}${why}`,
    { protocol: "http", status: head.status, headers: head.headers },
  );
}

/** Reads exactly `n` bytes from the tunnel (SOCKS answers have fixed sizes). */
async function readExactly(tunnel: Tunnel, n: number, proxy: URL): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let have = 0;
  while (have < n) {
    const chunk = await tunnel.read();
    if (chunk === null) {
      throw new ProxyError(
        "PROXY_PROTOCOL_ERROR",
        `the SOCKS5 proxy at ${proxy.host} closed the connection in the middle of its answer`,
        { protocol: "socks5", status: 0 },
      );
    }
    const take = Math.min(n - have, chunk.length);
    out.set(chunk.subarray(0, take), have);
    have += take;
    if (take < chunk.length) tunnel.unread(chunk.subarray(take));
  }
  return out;
}

const SOCKS_REPLIES: Record<number, string> = {
  1: "general SOCKS server failure",
  2: "connection not allowed by ruleset",
  3: "network unreachable",
  4: "host unreachable",
  5: "connection refused",
  6: "TTL expired",
  7: "command not supported",
  8: "address type not supported",
};

/** SOCKS5 CONNECT (RFC 1928), with username/password (RFC 1929) when the URL has credentials. */
async function socks5Connect(proxy: URL, target: ConnectTarget, tunnel: Tunnel): Promise<void> {
  const creds = credentials(proxy);
  const bad = (message: string) =>
    new ProxyError(
      "PROXY_PROTOCOL_ERROR",
      `the SOCKS5 proxy at ${proxy.host} ${message}`,
      { protocol: "socks5", status: 0 },
    );
  // RFC 1928 §3: version 5, the methods offered: 0 no authentication, 2 username/password.
  await tunnel.write(creds ? new Uint8Array([5, 2, 0, 2]) : new Uint8Array([5, 1, 0]));
  const [version, method] = await readExactly(tunnel, 2, proxy);
  if (version !== 5) throw bad(`answered with version ${version}, not 5`);
  if (method === 0xff || (method === 2 && !creds) || (method !== 0 && method !== 2)) {
    throw new ProxyError(
      "PROXY_AUTH_REQUIRED",
      `the SOCKS5 proxy at ${proxy.host} accepts none of the offered authentication methods (${
        creds ? "none, username/password" : "none; it may want socks5://user:password@host:port"
      })`,
      { protocol: "socks5", status: method },
    );
  }
  if (method === 2) {
    // RFC 1929 §2: version 1, username, password, each with a length byte.
    const user = encodeUtf8(creds!.username);
    const pass = encodeUtf8(creds!.password);
    await tunnel.write(new Uint8Array([1, user.length, ...user, pass.length, ...pass]));
    const [, status] = await readExactly(tunnel, 2, proxy);
    if (status !== 0) {
      throw new ProxyError(
        "PROXY_AUTH_FAILED",
        `the SOCKS5 proxy at ${proxy.host} refused the username and password (status ${status})`,
        { protocol: "socks5", status },
      );
    }
  }
  // RFC 1928 §4: CONNECT to an IPv4 (1), domain name (3) or IPv6 (4) address.
  const port = [(target.port >> 8) & 0xff, target.port & 0xff];
  let address: number[];
  const kind = net.isIP(target.hostname);
  if (kind === 4) address = [1, ...target.hostname.split(".").map(Number)];
  else if (kind === 6) address = [4, ...ipv6Bytes(target.hostname)];
  else {
    const name = encodeUtf8(target.hostname);
    if (name.length > 255) throw bad("cannot be given a host name over 255 bytes");
    address = [3, name.length, ...name];
  }
  await tunnel.write(new Uint8Array([5, 1, 0, ...address, ...port]));
  // RFC 1928 §6: version, reply, reserved, the bound address (its type says its length), port.
  // A refusal is known from the first two bytes: proxies that close right
  // after them (or send a short address) still refused, and say why.
  const [v, reply] = await readExactly(tunnel, 2, proxy);
  if (v !== 5) throw bad(`answered with version ${v}, not 5`);
  if (reply !== 0) {
    throw new ProxyError(
      "PROXY_REFUSED",
      `the SOCKS5 proxy at ${proxy.host} refused CONNECT ${authority(target)}: ${
        SOCKS_REPLIES[reply] ?? "unknown reply"
      } (${reply})`,
      { protocol: "socks5", status: reply },
    );
  }
  const [, type] = await readExactly(tunnel, 2, proxy);
  const length = type === 1
    ? 4
    : type === 4
    ? 16
    : type === 3
    ? (await readExactly(tunnel, 1, proxy))[0]
    : -1;
  if (length < 0) throw bad(`answered with address type ${type}`);
  await readExactly(tunnel, length + 2, proxy);
}

/** The 16 bytes of an IPv6 address (which `net.isIP` accepted), for SOCKS5's address type 4. */
export function ipv6Bytes(address: string): number[] {
  let text = address.replace(/%.*$/, "");
  // A trailing dotted IPv4 part (::ffff:1.2.3.4) is two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((b[0] << 8) | b[1]).toString(16)}:${
      ((b[2] << 8) | b[3]).toString(16)
    }`;
  }
  const halves = text.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":").map((x) => parseInt(x, 16)));
  const left = groups(halves[0]);
  const right = halves.length > 1 ? groups(halves[1]) : [];
  const all = halves.length > 1
    ? [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right]
    : left;
  return all.flatMap((g) => [(g >> 8) & 0xff, g & 0xff]);
}
