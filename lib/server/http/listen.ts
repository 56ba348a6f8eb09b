/**
 * Listening for TCP (and TLS) connections on each runtime's own socket API,
 * behind one small interface. `serve()` picks the runtime's listener; the
 * `node:net` one runs everywhere.
 *
 * @module
 */

import type * as net from "node:net";
import { detectRuntime } from "../../transport/connect.ts";
import { listenBun } from "./listen_bun.ts";
import { listenDeno } from "./listen_deno.ts";
import { listenNode } from "./listen_node.ts";
import type { ServeTlsOptions } from "../handler/options.ts";
import type { AcceptedSocket } from "./socket_channel.ts";

/** Where and how to listen. */
export interface ListenOptions {
  /**
   * The address to bind: `"127.0.0.1"` for this machine only, `"0.0.0.0"` or
   * `"::"` for every interface.
   */
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Serve TLS with this certificate and key. */
  tls?: ServeTlsOptions;
  /** Bound on the TLS handshake, where the listener runs it before handing the socket out. */
  handshakeTimeoutMs: number;
  /**
   * HTTP/2 connections (ALPN `h2`, or the h2c preface) go here as they are,
   * instead of to `onSocket`. Only the `node:net` listener supports it.
   */
  http2?: (socket: net.Socket) => void;
  /**
   * HTTP/2 connections (ALPN `h2`, or the h2c preface, which stays in the
   * transport to be read again) go here as accepted sockets, for sprig's
   * own HTTP/2 server. Every listener supports it.
   */
  acceptHttp2?: (socket: AcceptedSocket) => void;
  /**
   * Share the port with other sockets that ask for it too (`SO_REUSEPORT`):
   * the kernel spreads connections over one server per core.
   */
  reusePort?: boolean;
}

/** A listening socket. */
export interface Listener {
  /** The address listened on. */
  readonly hostname: string;
  /** The port listened on (the chosen one when 0 was asked). */
  readonly port: number;
  /**
   * Stops accepting; accepted sockets stay open. Idempotent. Resolves once
   * the listening socket is released, so the port can be bound again.
   */
  close(): Promise<void>;
}

/** Starts listening and hands every accepted socket to `onSocket`. */
export type Listen = (
  options: ListenOptions,
  onSocket: (socket: AcceptedSocket) => void,
) => Promise<Listener>;

/** The listener names. */
export type ListenerName = "node" | "deno" | "bun";

/**
 * The listener for `name`, or the runtime's own: `Deno.listen` on Deno,
 * `Bun.listen` on Bun, `node:net` elsewhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { listenerFor } from "./listen.ts";
 * const listen = listenerFor(); // Deno.listen on Deno, Bun.listen on Bun, node:net on Node
 * // Each accepted socket gets a greeting, then a graceful close.
 * const greeting = new TextEncoder().encode("hello\n");
 * const listener = await listen(
 *   { hostname: "127.0.0.1", port: 0, handshakeTimeoutMs: 10_000 },
 *   (socket) => void socket.transport.write([greeting]).then(() => socket.close()),
 * );
 * const client = net.connect(listener.port, "127.0.0.1");
 * const [data] = await once(client, "data");
 * assert.equal(String(data), "hello\n");
 * client.end();
 * await once(client, "close");
 * await listener.close();
 * ```
 */
export function listenerFor(name: ListenerName = detectRuntime()): Listen {
  switch (name) {
    case "deno":
      return listenDeno;
    case "bun":
      return listenBun;
    default:
      return listenNode;
  }
}
