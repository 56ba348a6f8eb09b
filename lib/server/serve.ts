/**
 * `serve()`: sprig's own HTTP/1.1 + WebSocket server over the runtime's
 * sockets (`Deno.listen`, `Bun.listen`, or `node:net`; TLS on each), running
 * one {@link Handler} for every WebSocket connection.
 *
 * @module
 */

import type { ConnectionRef, Handler, MessageOptions } from "./handler/handler.ts";
import type { OutgoingMessage } from "./handler/message.ts";
import type { Position } from "../session/envelope.ts";
import { ConnectionError, InvalidArgumentError } from "../errors.ts";
import type { NodeHttp2Front } from "./http2/node_front.ts";
import type { SprigHttp2Front } from "./http2/sprig_front.ts";
import { listenFailure } from "../transport/failure.ts";
import { type ShutdownOptions, WebSocketHost, type WebSocketHub } from "./handler/host.ts";
import { type HttpHost, serveSocket } from "./http/http1_loop.ts";
import { listenerFor } from "./http/listen.ts";
import type { AcceptedSocket, Listener } from "./http/listener.ts";
import { SERVER_DEFAULTS } from "./handler/options.ts";
import {
  checkServeArguments,
  http2Server,
  nodeOnlyTlsOption,
  type ServeOptions,
} from "./http/options.ts";
import { noop } from "../util/noop.ts";

/** A running server. */
export interface Server<I = unknown> extends WebSocketHub<I>, AsyncDisposable {
  /** `ws://host:port/` (or `wss:`); an unspecified address (`0.0.0.0`, `::`) shows as `localhost`. */
  readonly url: URL;
  /** The address listened on. */
  readonly hostname: string;
  /** The port listened on. */
  readonly port: number;
  /**
   * Graceful shutdown: stops accepting, closes idle HTTP connections, closes
   * every WebSocket with 1001, and resolves when all are closed or
   * `deadlineMs` passed (the rest are then dropped). Idempotent.
   */
  shutdown(options?: ShutdownOptions): Promise<void>;
  /** Resolves once a shutdown finished. */
  readonly finished: Promise<void>;
}

/**
 * Starts a server and resolves once it listens. Plain HTTP requests go to
 * `fetch` (426 without it); WebSocket upgrades pass the Origin check, the
 * connection limit and the `upgrade` hook, then run `handler`. Prints
 * nothing.
 *
 * @throws {InvalidArgumentError} (a `TypeError`) for a malformed option or
 *   handler, naming it (`options.fetch`, `handler.in`, …)
 * @throws {ArgumentRangeError} (a `RangeError`) for an option out of its
 *   range (`options.port`: 0 to 65535; timeouts: 0 to 2^31 − 1 ms; …)
 * @throws {ConnectionError} when the address cannot be listened on: code `ADDRESS_IN_USE`,
 *   `ADDRESS_NOT_AVAILABLE` or `LISTEN_FAILED`, the runtime's error as `cause`;
 *   `REUSE_PORT_UNSUPPORTED` for `reusePort` on Node before 22.12 outside `node:cluster`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect } from "../../mod.ts";
 * import { serve } from "./serve.ts";
 * // A chat room: every message goes to everyone in it, the sender too.
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: (ctx) => {
 *     ctx.ref.subscribe("chat");
 *     return { state: { name: ctx.url.searchParams.get("name") ?? "anon" } };
 *   },
 *   in: (message, state) => {
 *     server.publish("chat", `${state.name}: ${message}`);
 *   },
 * });
 * assert.equal(server.url.href, `ws://127.0.0.1:${server.port}/`);
 * await using ada = await connect(new URL("/?name=ada", server.url));
 * await using bob = await connect(new URL("/?name=bob", server.url));
 * await ada.send("hi");
 * assert.equal(await bob.receive({ timeoutMs: 5000 }), "ada: hi");
 * assert.equal(await ada.receive({ timeoutMs: 5000 }), "ada: hi");
 * ```
 */
export async function serve<S, I = unknown, D = unknown>(
  options: ServeOptions<D>,
  handler: Handler<S, I, D>,
): Promise<Server<I>> {
  checkServeArguments(options, handler);
  const server = new SprigServer<I>(
    options as ServeOptions<unknown>,
    handler as Handler<never, never, never>,
  );
  await server.listen(options);
  return server;
}

class SprigServer<I> implements Server<I> {
  readonly #host: WebSocketHost;
  readonly #http: HttpHost;
  #listener: Listener | undefined;
  #secure: boolean;
  /** Sockets in the HTTP phase, and whether each waits for a request head. */
  readonly #sockets = new Map<AcceptedSocket, boolean>();
  #shutdown: Promise<void> | undefined;
  #resolveFinished!: () => void;
  readonly finished: Promise<void> = new Promise((resolve) => (this.#resolveFinished = resolve));

  /**
   * HTTP/2 connections, when `options.http2`: on sprig's own endpoint (by
   * default on Deno and Node), or on `node:http2` (by default on Bun).
   */
  #h2: NodeHttp2Front | SprigHttp2Front | undefined;
  /** Whether HTTP/2 runs on sprig's own endpoint (over the runtime's listener). */
  readonly #sprigH2: boolean;

  constructor(options: ServeOptions<unknown>, handler: Handler<never, never, never>) {
    this.#host = new WebSocketHost(handler, options);
    this.#secure = options.tls !== undefined;
    this.#http = {
      host: this.#host,
      fetch: options.fetch,
      maxHeadBytes: options.maxHeadBytes ?? SERVER_DEFAULTS.maxHeadBytes,
      maxHeaders: options.maxHeaders ?? SERVER_DEFAULTS.maxHeaders,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? SERVER_DEFAULTS.handshakeTimeoutMs,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? SERVER_DEFAULTS.keepAliveTimeoutMs,
      maxBodyBytes: options.maxBodyBytes ?? SERVER_DEFAULTS.maxBodyBytes,
      setIdle: (socket, idle) => {
        if (this.#shutdown && idle) socket.destroy();
        else this.#sockets.set(socket, idle);
      },
      release: (socket) => this.#sockets.delete(socket),
    };
    this.#sprigH2 = options.http2 !== undefined && options.http2 !== false &&
      http2Server(options.http2) === "sprig";
  }

  async listen(options: ServeOptions<unknown>): Promise<void> {
    if (options.http2) {
      // Loaded on demand: node:http2 is not on every runtime.
      this.#h2 = this.#sprigH2
        ? new (await import("./http2/sprig_front.ts")).SprigHttp2Front(
          this.#http,
          this.#secure,
        )
        : new (await import("./http2/node_front.ts")).NodeHttp2Front(this.#http, this.#secure);
    }
    const listen = listenerFor(
      // node:http2 takes node:net sockets; sprig's endpoint, any listener's.
      // TLS beyond a certificate and key (client certificates, SNI, ALPN, a
      // passphrase) runs on node:tls (checkServeArguments refused another listener).
      (options.http2 && !this.#sprigH2) || nodeOnlyTlsOption(options.tls) !== undefined
        ? "node"
        : options.listener,
    );
    const h2 = this.#h2;
    const hostname = options.hostname ?? SERVER_DEFAULTS.hostname;
    const port = options.port ?? SERVER_DEFAULTS.port;
    try {
      this.#listener = await listen({
        hostname,
        port,
        tls: options.tls,
        handshakeTimeoutMs: this.#http.handshakeTimeoutMs,
        http2: h2 !== undefined && !this.#sprigH2
          ? (socket) => (h2 as NodeHttp2Front).accept(socket)
          : undefined,
        acceptHttp2: h2 !== undefined && this.#sprigH2
          ? (socket) => (h2 as SprigHttp2Front).accept(socket)
          : undefined,
        reusePort: options.reusePort,
      }, (socket) => {
        if (this.#shutdown) return socket.destroy();
        this.#sockets.set(socket, true);
        void serveSocket(socket, this.#http);
      });
    } catch (error) {
      if (error instanceof ConnectionError || error instanceof InvalidArgumentError) throw error;
      // One code on every runtime (Node's EADDRINUSE, Deno's AddrInUse, Bun's "Failed to listen").
      throw new ConnectionError(
        listenFailure(error),
        `could not listen on ${hostname}:${port}: ${(error as Error)?.message}`,
        { cause: error },
      );
    }
    const signal = options.signal;
    if (signal) {
      if (signal.aborted) void this.shutdown();
      else signal.addEventListener("abort", () => void this.shutdown(), { once: true });
    }
  }

  get hostname(): string {
    return this.#listener!.hostname;
  }

  get port(): number {
    return this.#listener!.port;
  }

  get url(): URL {
    let host = this.hostname;
    if (host === "0.0.0.0" || host === "::" || host === "") host = "localhost";
    else if (host.includes(":")) host = `[${host}]`;
    return new URL(`${this.#secure ? "wss" : "ws"}://${host}:${this.port}/`);
  }

  get connections(): ReadonlySet<ConnectionRef<I>> {
    return this.#host.connections as ReadonlySet<ConnectionRef<unknown>> as ReadonlySet<
      ConnectionRef<I>
    >;
  }

  publish(topic: string, message: OutgoingMessage, options?: MessageOptions): number {
    return this.#host.publish(topic, message, options);
  }

  subscriberCount(topic: string): number {
    return this.#host.topics.subscriberCount(topic);
  }

  lastPosition(topic: string): Position | undefined {
    return this.#host.topics.lastPosition(topic);
  }

  isWritable(topic: string): boolean {
    return this.#host.topics.isWritable(topic);
  }

  whenWritable(topic: string): Promise<void> {
    return this.#host.topics.whenWritable(topic);
  }

  shutdown(options: ShutdownOptions = {}): Promise<void> {
    return this.#shutdown ??= this.#shutdownNow(options);
  }

  async #shutdownNow(options: ShutdownOptions): Promise<void> {
    const released = this.#listener?.close();
    // Sockets waiting for a request go now; one being answered finishes its response first.
    for (const [socket, idle] of this.#sockets) if (idle) socket.destroy();
    const deadlineMs = options.deadlineMs ?? SERVER_DEFAULTS.shutdownDeadlineMs;
    const started = Date.now();
    await this.#host.shutdown({ ...options, deadlineMs });
    // HTTP/2: GOAWAY, and what is left of the deadline for requests in progress.
    await this.#h2?.shutdown(Math.max(0, deadlineMs - (Date.now() - started)));
    // HTTP requests still being answered get what is left of the deadline.
    for (
      let i = 0;
      this.#sockets.size > 0 && Date.now() - started < deadlineMs && i < 10_000;
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const socket of this.#sockets.keys()) socket.destroy();
    this.#sockets.clear();
    // Resolve once the port can be bound again (Deno releases it only when
    // the pending accept has settled).
    await released;
    this.#resolveFinished();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown().catch(noop);
  }
}
