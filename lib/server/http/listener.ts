/**
 * What a listener is: where and how it listens ({@link ListenOptions}), the
 * listening socket ({@link Listener}), and what it hands out for every
 * connection ({@link AcceptedSocket}). `listen.ts` picks the runtime's
 * listener; `listen_node.ts`, `listen_deno.ts` and `listen_bun.ts` are the
 * three.
 *
 * @module
 */

import type * as net from "node:net";
import type { Transport } from "../../transport/transport.ts";
import type { TlsInfo } from "../handler/handler.ts";
import type { ServeTlsOptions } from "./options.ts";

/** An accepted socket, as a `Listen` function hands it out: its transport, and ways to close it. */
export interface AcceptedSocket {
  /** The socket's bytes; with TLS, the decrypted ones. */
  transport: Transport;
  /**
   * Closes gracefully: sends what is queued, then FIN, then reads and
   * discards until the peer closes too (or {@link LINGER_MS} passed). Closing
   * at once while the peer is still sending makes the kernel answer with a
   * RST, which can destroy the close frame or refusal the peer has not read
   * yet (RFC 6455 §7.1.1 has the server close first, so this matters here).
   */
  close(): void;
  /** Closes the socket now, discarding what waits to be sent. */
  destroy(): void;
  /** True when TLS runs on it. */
  secure: boolean;
  /** The TLS session (ALPN, SNI, the client's certificate), where the listener knows it. */
  tlsInfo?(): TlsInfo | undefined;
}

/**
 * How long a lingering close waits for the peer to close, in milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LINGER_MS } from "./listener.ts";
 * assert.equal(LINGER_MS, 2000);
 * ```
 */
export const LINGER_MS = 2000;

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
