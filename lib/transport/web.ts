/**
 * The {@link Transport} over a socket of the WinterTC / Cloudflare
 * `connect()` shape: `{ readable, writable, opened, closed, close() }`, as
 * edge runtimes with TCP provide.
 *
 * @module
 */

import type { Transport, TransportAddress, TransportSink } from "./transport.ts";
import { ReadGate } from "./read_gate.ts";

/** A socket of the `connect()` shape (Cloudflare Workers `cloudflare:sockets`, WinterTC sockets). */
export interface WebSocketLikeSocket {
  /** Bytes from the peer; the transport takes its reader when it wraps the socket. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer; the transport takes its writer when it wraps the socket. */
  readonly writable: WritableStream<Uint8Array>;
  /** Settles once connected. The transport does not wait for it. */
  readonly opened?: Promise<{ remoteAddress?: string; localAddress?: string } | unknown>;
  /** Settles once the socket is closed; a rejection counts as closed too. */
  readonly closed: Promise<unknown>;
  /** Closes the socket; called after the writable has been closed. */
  close(): Promise<unknown> | void;
}

/**
 * Wraps a `connect()`-shaped socket as a {@link Transport}, for edge
 * runtimes: pass the socket your platform's `connect()` returned.
 *
 * @example
 * ```ts
 * // On Cloudflare Workers (workerd), `connect()` from "cloudflare:sockets" gives
 * // such a socket (tests/edge/workerd_test.ts runs this in workerd):
 * //   import { connect as tcpConnect } from "cloudflare:sockets";
 * //   const transport = () => fromWebSocketLikeSocket(tcpConnect({ hostname, port }));
 * // Here the same shape is made from a node:net socket, so the example runs anywhere.
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as net from "node:net";
 * import { connect, serve } from "../../mod.ts";
 * import { fromWebSocketLikeSocket, type WebSocketLikeSocket } from "./web.ts";
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   in: (message) => ({ push: message }),
 * });
 * function tcpConnect(address: { hostname: string; port: number }): WebSocketLikeSocket {
 *   const socket = net.connect(address.port, address.hostname);
 *   return {
 *     readable: new ReadableStream({
 *       start(controller) {
 *         socket.on("data", (bytes: Uint8Array) => controller.enqueue(new Uint8Array(bytes)));
 *         socket.on("end", () => controller.close());
 *         socket.on("error", (error) => controller.error(error));
 *       },
 *       cancel: () => void socket.destroy(),
 *     }),
 *     writable: new WritableStream({
 *       write: (bytes) => new Promise((done, fail) => socket.write(bytes, (e) => e ? fail(e) : done())),
 *       close: () => new Promise<void>((done) => socket.end(done)),
 *     }),
 *     closed: once(socket, "close"),
 *     close: () => void socket.destroy(),
 *   };
 * }
 * await using ws = await connect(server.url, {
 *   transport: (target) =>
 *     Promise.resolve(fromWebSocketLikeSocket(tcpConnect(target))),
 * });
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "hello");
 * ```
 */
export function fromWebSocketLikeSocket(socket: WebSocketLikeSocket): Transport {
  return new WebTransport(socket);
}

class WebTransport implements Transport {
  readonly #socket: WebSocketLikeSocket;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly closed: Promise<void>;
  readonly remoteAddress: TransportAddress | undefined = undefined;
  #closed = false;
  readonly #gate = new ReadGate();

  constructor(socket: WebSocketLikeSocket) {
    this.#socket = socket;
    this.#reader = socket.readable.getReader();
    this.#writer = socket.writable.getWriter();
    this.closed = socket.closed.then(() => {}, () => {});
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    const { value, done } = await this.#reader.read();
    return done ? null : value;
  }

  attach(sink: TransportSink): void {
    void this.#pump(sink);
  }

  async #pump(sink: TransportSink): Promise<void> {
    let error: Error | undefined;
    try {
      while (true) {
        const held = this.#gate.held;
        if (held) await held;
        const chunk = await this.read();
        if (chunk === null) break;
        sink.data(chunk);
      }
    } catch (e) {
      error = e as Error;
    }
    sink.end(error);
  }

  pause(): void {
    this.#gate.hold();
  }

  resume(): void {
    this.#gate.release();
  }

  async write(chunks: readonly Uint8Array[]): Promise<void> {
    for (const chunk of chunks) await this.#writer.write(chunk);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.resume();
    this.#writer.close().catch(() => {}).finally(() => {
      this.#reader.cancel().catch(() => {});
      Promise.resolve(this.#socket.close()).catch(() => {});
    });
  }
}
