/**
 * The client's WebSocket over HTTP/2 (RFC 8441) on `node:http2`, which
 * Deno, Bun and Node all ship: the HTTP/2 connection (TLS with ALPN, or
 * h2c with prior knowledge), the wait for the server's SETTINGS, the
 * extended CONNECT, and then sprig's own session over the stream.
 *
 * @module
 */

import * as http2 from "node:http2";
import * as net from "node:net";
import * as tls from "node:tls";
import { ConnectionError, Http2Error, SprigError, TimeoutError } from "../errors.ts";
import {
  checkExtendedConnectResponse,
  extendedConnectHeaders,
  type Http2Headers,
} from "../protocol/extended_connect.ts";
import type { HandshakeResult } from "../protocol/handshake.ts";
import type { Session } from "../session/session.ts";
import { abortReason } from "../transport/abort.ts";
import { connectFailure } from "../transport/failure.ts";
import { NodeHttp2StreamTransport } from "../transport/http2.ts";
import { fromNodeSocket } from "../transport/node.ts";
import type { Transport } from "../transport/transport.ts";
import { HandshakeBound } from "./handshake_bound.ts";
import type { ConnectOptions, PreparedConnection } from "./options.ts";
import { EMPTY } from "../protocol/bytes.ts";
import { noop } from "../util/noop.ts";

/** A refusal's body is kept up to this many bytes, as over HTTP/1.1. */
const MAX_REFUSAL_BODY_BYTES = 64 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** What {@link openHttp2} needs from `connect()`. @internal */
export interface Http2Continuations {
  /** Starts the session once the handshake succeeded. */
  start(
    prepared: PreparedConnection,
    transport: Transport,
    result: HandshakeResult,
    rest: Uint8Array,
  ): Session;
  /** HTTP/1.1 instead (`http2: "auto"`): over this transport, or a new connection. */
  http1(transport: Transport | undefined): Promise<Session>;
}

/**
 * Opens a WebSocket over HTTP/2: on `options.http2Session`, or on a new
 * connection that closes with the WebSocket. @internal
 *
 * @throws {Http2Error} `EXTENDED_CONNECT_DISABLED`, `HTTP2_NOT_NEGOTIATED`, `HTTP2_STREAM_FAILED`
 * @throws {HandshakeError} for a status other than 2xx (status, headers, body), or a bad negotiation
 * @throws {ConnectionError} / {@link TimeoutError} / {@link AbortError} as `connect()` does
 */
export async function openHttp2(
  prepared: PreparedConnection,
  next: Http2Continuations,
): Promise<Session> {
  const { options, request } = prepared;
  const signal = options.signal;
  const auto = options.http2 === "auto" && options.http2Session === undefined;
  let session = options.http2Session as http2.ClientHttp2Session | undefined;
  const own = session === undefined;
  if (session === undefined) {
    const socket = await openSocket(options, request.hostname, request.port, request.secure, auto);
    if (request.secure && (socket as tls.TLSSocket).alpnProtocol !== "h2") {
      if (auto) return await next.http1(fromNodeSocket(socket));
      socket.destroy();
      throw new Http2Error(
        "HTTP2_NOT_NEGOTIATED",
        `the server at ${request.host} did not choose h2 by ALPN (http2: "auto" would use HTTP/1.1)`,
      );
    }
    session = http2.connect(`${request.secure ? "https" : "http"}://${request.host}`, {
      createConnection: () => socket,
    });
    // Failures reach the stream (and so the handshake or the session); an
    // unheard 'error' would throw.
    session.on("error", noop);
  }

  const timeoutMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  const bound = new HandshakeBound(timeoutMs, signal);
  let stream: http2.ClientHttp2Stream | undefined;
  let result: HandshakeResult;
  try {
    // 1. The server's SETTINGS (RFC 8441 §3): extended CONNECT only once
    // it sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    await bound.race(settled(session, own, request.host, request.secure));
    if (!session.remoteSettings?.enableConnectProtocol) {
      if (auto) {
        session.close();
        return await next.http1(undefined);
      }
      throw new Http2Error(
        "EXTENDED_CONNECT_DISABLED",
        `the HTTP/2 server at ${request.host} does not allow WebSockets over HTTP/2 ` +
          "(no SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441 §3)",
      );
    }
    // 2. The extended CONNECT and its response.
    stream = session.request(extendedConnectHeaders(request) as http2.OutgoingHttpHeaders, {
      endStream: false,
    });
    const head = await bound.race(responseOf(stream));
    const status = Number(head[":status"]);
    if (status >= 200 && status < 300) {
      result = checkExtendedConnectResponse(request, head);
    } else {
      const body = await bound.race(bodyOf(stream));
      checkExtendedConnectResponse(request, head, body);
      throw new TypeError("unreachable: a status other than 2xx is a refusal");
    }
  } catch (error) {
    if (stream && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
    if (own) session.destroy();
    if (error instanceof SprigError) throw error;
    throw new Http2Error(
      "HTTP2_STREAM_FAILED",
      `the HTTP/2 connection failed during the handshake: ${(error as Error)?.message}`,
      { cause: error },
    );
  } finally {
    bound.clear();
  }
  const transport = new NodeHttp2StreamTransport(stream);
  // A connection opened for this WebSocket ends with it (GOAWAY, then the socket).
  if (own) transport.closed.then(() => session.close());
  return next.start(prepared, transport, result, EMPTY);
}

/**
 * Resolves once the server's first SETTINGS arrived. For an application's
 * session, which may have had them long ago, a PING round trip tells: the
 * server's SETTINGS come first in its connection preface (RFC 9113 §3.4),
 * so by the PING's answer they are known. On a connection of our own, a
 * failure before them means the server does not speak HTTP/2 there (most
 * often an HTTP/1.1-only server given h2c's prior-knowledge preface), and
 * the error says so rather than only node:http2's "Protocol error".
 */
function settled(
  session: http2.ClientHttp2Session,
  own: boolean,
  host: string,
  secure: boolean,
): Promise<void> {
  const hint = own
    ? `: the server at ${host} did not answer as an HTTP/2 server` +
      (secure ? "" : " (over ws:, http2: true speaks h2c by prior knowledge, which" +
        " the server must accept, as serve({ http2: true }) does; http2: false uses HTTP/1.1)")
    : "";
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      session.off("remoteSettings", onSettings);
      session.off("error", onError);
      session.off("close", onClose);
      session.off("connect", onConnect);
      if (error) reject(error);
      else resolve();
    };
    const onSettings = () => done();
    const onError = (error: Error) =>
      done(
        new ConnectionError("CONNECTION_LOST", `HTTP/2: ${error.message}${hint}`, {
          cause: error,
        }),
      );
    const onClose = () =>
      done(
        new ConnectionError(
          "CONNECTION_LOST",
          `the HTTP/2 connection closed before the server's SETTINGS${hint}`,
        ),
      );
    const ping = () => {
      try {
        session.ping((error) => (error ? onError(error) : done()));
      } catch (error) {
        onError(error as Error);
      }
    };
    const onConnect = () => ping();
    if (session.closed || session.destroyed) return onClose();
    session.once("remoteSettings", onSettings);
    session.once("error", onError);
    session.once("close", onClose);
    if (!own) {
      if (session.remoteSettings?.enableConnectProtocol) return done();
      if (session.connecting) session.once("connect", onConnect);
      else ping();
    }
  });
}

/** The response headers of a stream. */
function responseOf(stream: http2.ClientHttp2Stream): Promise<Http2Headers> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      stream.off("response", onResponse);
      stream.off("error", onError);
      stream.off("close", onClose);
    };
    const onResponse = (headers: http2.IncomingHttpHeaders) => {
      cleanup();
      resolve(headers as Http2Headers);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(
        new Http2Error(
          "HTTP2_STREAM_FAILED",
          `the server reset the extended CONNECT stream (error code ${stream.rstCode})`,
        ),
      );
    };
    stream.on("response", onResponse);
    stream.on("error", onError);
    stream.on("close", onClose);
  });
}

/** A refusal's body, at most {@link MAX_REFUSAL_BODY_BYTES}. */
function bodyOf(stream: http2.ClientHttp2Stream): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const finish = () => {
      stream.off("data", onData);
      const out = new Uint8Array(Math.min(size, MAX_REFUSAL_BODY_BYTES));
      let at = 0;
      for (const c of chunks) {
        const take = Math.min(c.length, out.length - at);
        out.set(c.subarray(0, take), at);
        at += take;
      }
      resolve(out);
    };
    const onData = (chunk: Uint8Array) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= MAX_REFUSAL_BODY_BYTES) finish();
    };
    stream.on("data", onData);
    stream.once("end", finish);
    stream.once("close", finish);
    stream.once("error", finish);
  });
}

/**
 * A TCP (or TLS, with ALPN `h2`, and `http/1.1` too when `auto`) socket,
 * within the connect timeout, failures coded as `connect()` codes them.
 */
function openSocket(
  options: ConnectOptions,
  hostname: string,
  port: number,
  secure: boolean,
  auto: boolean,
): Promise<net.Socket> {
  const timeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const signal = options.signal;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const serverName = options.tls?.serverName ?? hostname;
    const socket: net.Socket = secure
      ? tls.connect({
        host: hostname,
        port,
        servername: net.isIP(serverName) ? undefined : serverName,
        ca: options.tls?.caCerts,
        rejectUnauthorized: !options.tls?.insecure,
        cert: options.tls?.cert,
        key: options.tls?.key,
        passphrase: options.tls?.passphrase,
        ALPNProtocols: auto ? ["h2", "http/1.1"] : ["h2"],
      })
      : net.connect({ host: hostname, port });
    socket.setNoDelay(true);
    const ready = secure ? "secureConnect" : "connect";
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      socket.off(ready, onReady);
    };
    const fail = (error: Error) => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onAbort = () => fail(abortReason(signal!));
    const onError = (error: Error) => {
      // RFC 7301 §3.2: a TLS server that speaks none of the offered
      // protocols answers with the no_application_protocol alert.
      if (
        /NO_APPLICATION_PROTOCOL/i.test(`${(error as { code?: string }).code} ${error.message}`)
      ) {
        return fail(
          new Http2Error(
            "HTTP2_NOT_NEGOTIATED",
            `the server at ${hostname}:${port} does not speak h2 (ALPN: no_application_protocol)`,
            { cause: error },
          ),
        );
      }
      const code = connectFailure(error, secure);
      const what = code === "TLS_FAILED" ? "TLS failed with" : "could not connect to";
      fail(
        new ConnectionError(code, `${what} ${hostname}:${port}: ${error.message}`, {
          cause: error,
        }),
      );
    };
    const onReady = () => {
      cleanup();
      resolve(socket);
    };
    const timer = setTimeout(
      () =>
        fail(
          new TimeoutError(
            "CONNECT_TIMEOUT",
            `could not connect within ${timeoutMs} ms`,
            timeoutMs,
          ),
        ),
      timeoutMs,
    );
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", onError);
    socket.once(ready, onReady);
  });
}
