/**
 * The handler specification: what a WebSocket application writes once and
 * every host runs (sprig's own server, `Deno.serve`, `Bun.serve`,
 * `node:http`). It follows Elixir's WebSock: `init` makes the state, `in`
 * takes each message, `control` sees pings and pongs, `info` takes what the
 * rest of the application posts to the connection, `terminate` learns how it
 * ended. Each callback returns what to do — push messages, keep or replace
 * the state, stop with a close code — instead of doing it, so a handler is a
 * set of plain functions that tests can call without a socket.
 *
 * @module
 */

import type { MessageData } from "../../session/session.ts";
import type { CloseInfo } from "../../errors.ts";
import type { TransportAddress } from "../../transport/transport.ts";
import type { ResumeReport } from "./history.ts";
import type { Position } from "../../session/envelope.ts";
import type { OutgoingMessage } from "./message.ts";
import type { SubscribeOptions } from "./pubsub.ts";

/** A value, or a promise of it: every callback may be async. */
export type Awaitable<T> = T | Promise<T>;

/** A control frame to push: a ping, or a pong (a heartbeat, or a reply when the host's autoPong is off). */
export interface ControlFrame {
  /**
   * `"ping"` asks the peer for a pong (seen by `control` where the host
   * reports control frames); `"pong"` needs no answer.
   */
  type: "ping" | "pong";
  /** At most 125 bytes. Default empty. */
  data?: Uint8Array;
}

/** Per-message options of a push item, `ref.send()` and `publish()`. */
export interface MessageOptions {
  /**
   * `false` sends the message uncompressed (RSV1 clear, RFC 7692 §6) even
   * where permessage-deflate was negotiated; it does not enter the
   * compression window, so context takeover stays consistent. Default
   * `true`: compressed when negotiated, from the `threshold` on. Deno's
   * server never negotiates compression, so there it changes nothing.
   */
  compress?: boolean;
}

/**
 * A message with its options, as a push item:
 * `{ push: { data: jpeg, compress: false } }`.
 */
export interface MessageItem extends MessageOptions {
  /** The message: a string goes as text, bytes as binary. */
  data: OutgoingMessage;
}

/** What a callback can push: messages (plain, or with options) and control frames, sent in order. */
export type Push = OutgoingMessage | MessageItem | ControlFrame;

/** How to stop: a close code and reason. */
export interface Stop {
  /** 1000 (default), 1001, 1003, 1007–1014 or 3000–4999. */
  code?: number;
  /** At most 123 bytes of UTF-8; longer reasons are cut at a character boundary. */
  reason?: string;
}

/**
 * What a callback returns. Every field is optional, and returning nothing
 * keeps the state and does nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../../mod.ts";
 * import type { HandlerResult } from "./handler.ts";
 * const reply: HandlerResult<number> = { state: 2, push: ["two", new Uint8Array([2])] };
 * const bye: HandlerResult<number> = { push: "bye", stop: { code: 4000, reason: "done" } };
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, {
 *   init: () => ({ state: 1 }),
 *   in: (message) => (message === "bye" ? bye : reply),
 * });
 * await using ws = await connect(server.url);
 * await ws.send("hello");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "two");
 * assert.deepEqual(await ws.receive({ timeoutMs: 5000 }), new Uint8Array([2]));
 * await ws.send("bye");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "bye"); // pushed before the close
 * assert.deepEqual(await ws.closed, { code: 4000, reason: "done", wasClean: true });
 * ```
 */
export interface HandlerResult<S> {
  /** The new state. Present (even as `undefined`) replaces it; absent keeps it. */
  state?: S;
  /** One message or control frame, or a list, sent in order before anything else happens. */
  push?: Push | readonly Push[];
  /**
   * Close the connection (after the pushes) with a code and reason; `true`
   * means 1000. No callback but `terminate` runs after a stop.
   */
  stop?: true | Stop;
}

/** A callback's return value: a {@link HandlerResult}, or nothing. */
export type Reply<S> = HandlerResult<S> | void | undefined;

/** A control frame that arrived: `control` sees it after the host already answered a ping. */
export interface ControlMessage {
  /** A ping (the host has already answered it) or a pong. */
  type: "ping" | "pong";
  /** Its payload, 0 to 125 bytes (for a pong, usually the ping's payload echoed). */
  data: Uint8Array;
}

/**
 * Why the connection ended, as `terminate` learns it. `code`, `reason` and
 * `wasClean` are the close as it happened on the wire (1006 when the TCP
 * connection just ended).
 *
 * - `normal`: the handler returned `stop`, or the app called `ref.close()`;
 * - `remote`: the peer closed (or the TCP connection ended);
 * - `shutdown`: the server is shutting down (1001);
 * - `lifetime`: the connection reached the server's `maxLifetimeMs` (plus
 *   its jitter) and was closed with 1001, so that clients reconnect and
 *   spread again over the instances behind a load balancer;
 * - `timeout`: the idle timeout (1001), a keepalive pong that never came, or
 *   the closing handshake timing out; `error` says which;
 * - `error`: a callback threw (1011), the peer broke the protocol (1002, 1007,
 *   1009), or it did not read fast enough (the send-buffer cap; the connection
 *   is dropped, see `maxSendBufferBytes`; or a topic's `close` policy, 1013,
 *   code `SLOW_SUBSCRIBER`).
 */
export type TerminateReason =
  & { code: number; reason: string; wasClean: boolean }
  & (
    | { type: "normal" | "remote" | "shutdown" | "lifetime" }
    | { type: "timeout" | "error"; error: Error }
  );

/**
 * The address of one live connection, to hand to the rest of the
 * application: post it `info`, subscribe it to topics, close it.
 */
export interface ConnectionRef<I = unknown> {
  /** Unique within the process. */
  readonly id: number;
  /** The request URL (`http:` or `https:`, as the upgrade request came). */
  readonly url: URL;
  /** The subprotocol chosen, or `""`. */
  readonly protocol: string;
  /** The peer's address, when the host knows it. */
  readonly remoteAddress: TransportAddress | undefined;
  /** False once the connection is stopping or closed. */
  readonly isOpen: boolean;
  /**
   * Queues `message` for the handler's `info` callback, which runs in turn
   * with `in` (never concurrently). Returns false when the connection is no
   * longer open (the message is dropped).
   */
  post(message: I): boolean;
  /**
   * Sends `message` to this connection now, from anywhere in the app (a
   * timer, another connection's handler): it is queued on the connection at
   * once, in call order with everything else queued on it, and written at
   * the end of the current turn. Ordering with the handler's own pushes: a
   * callback's pushes are queued when the callback returns (or its promise
   * settles), so a `ref.send()` made while a callback runs goes out before
   * that callback's pushes, and one made after it returned goes after them.
   * Published messages are queued the same way, when `publish` is called.
   * It does not wait for a busy handler and does not run `info`.
   *
   * Returns false, sending nothing, when the connection is no longer open
   * (stopping, closing or closed): no error is thrown for a connection
   * that went away.
   *
   * @throws {TypeError} for a value that is not a message
   */
  send(message: OutgoingMessage, options?: MessageOptions): boolean;
  /**
   * Subscribes to a topic for `publish`, from now on. `options.slow` sets
   * this subscription's slow-subscriber policy (instead of the topic's).
   * Returns false once closed.
   *
   * @throws {TypeError} for a bad `options.slow`
   */
  subscribe(topic: string, options?: SubscribeOptions): boolean;
  /**
   * Subscribes "from position `from`", the last position the client saw (on
   * a topic with history, see the server's `topics` option): what the topic
   * published after it is queued to this connection at once, before any
   * later message, then messages come live: each once, in order, no gap and
   * no duplicate at the boundary. The report says what was replayed and,
   * exactly, what could not be (`gap`: the missing range; `epoch`: the
   * history was lost). Without `from`, subscribes from now and reports the
   * topic's current position. Already subscribed: nothing changes (status
   * `subscribed`).
   *
   * The report is a promise so that the same call works where history is
   * read from an engine; in one process it is settled at once.
   *
   * @throws {NotOpenError} (rejects) once the connection closed
   * @throws {TypeError} (rejects) for a bad `options.slow`
   */
  resume(topic: string, from?: Position, options?: SubscribeOptions): Promise<ResumeReport>;
  /** Unsubscribes. Returns true when it was subscribed. */
  unsubscribe(topic: string): boolean;
  /** True when subscribed to `topic`. */
  isSubscribed(topic: string): boolean;
  /** The topics subscribed to. */
  readonly subscriptions: readonly string[];
  /**
   * Publishes to the topic's subscribers except this connection; returns how
   * many it reached. On a topic whose history the broker keeps, every
   * subscriber gets it through the broker, this connection included, and
   * this returns 0. `options.compress` false: every subscriber gets it
   * uncompressed.
   */
  publish(topic: string, message: OutgoingMessage, options?: MessageOptions): number;
  /** Closes the connection, as a `stop` result would (after pushes already made). */
  close(code?: number, reason?: string): void;
  /** Resolves when the connection has closed, with how it ended. */
  readonly closed: Promise<CloseInfo>;
}

/** A peer's TLS certificate, as `init` sees it (`ctx.tls.peerCertificate`). */
export interface PeerCertificate {
  /** The subject's name fields, e.g. `{ CN: "alice", O: "Example" }` (a repeated field is an array). */
  subject: Readonly<Record<string, string | string[]>>;
  /** The issuer's name fields. */
  issuer: Readonly<Record<string, string | string[]>>;
  /** The subject alternative names as OpenSSL writes them (`"DNS:a.example, IP Address:…"`), if any. */
  subjectAltName: string | undefined;
  /** The serial number, hex. */
  serialNumber: string;
  /** Not valid before, e.g. `"Dec  7 19:40:00 2026 GMT"`. */
  validFrom: string;
  /** Not valid after. */
  validTo: string;
  /** SHA-256 of the DER certificate, colon-separated hex pairs (`"AB:CD:…"`). */
  fingerprint256: string;
  /** The certificate, DER. */
  raw: Uint8Array;
}

/** The TLS session of a connection, where the listener reports it (`ctx.tls`). */
export interface TlsInfo {
  /** The ALPN protocol chosen (RFC 7301), if any. */
  alpnProtocol: string | undefined;
  /** The host name the client asked for (SNI), if any. */
  serverName: string | undefined;
  /** True when the client sent a certificate that the server's `tls.ca` verified. */
  authorized: boolean;
  /** Why the client's certificate was not verified (e.g. `"UNABLE_TO_VERIFY_LEAF_SIGNATURE"`), if it was not. */
  authorizationError: string | undefined;
  /** The client's certificate (mutual TLS, `tls.requestCert`), if it sent one. */
  peerCertificate: PeerCertificate | undefined;
}

/** What `init` learns about the new connection. */
export interface ConnectionContext<I = unknown, D = unknown> {
  /** The request URL (`http:` or `https:`). */
  url: URL;
  /** The upgrade request's headers. */
  headers: Headers;
  /** The subprotocol chosen, or `""`. */
  protocol: string;
  /** The negotiated extensions, as a `Sec-WebSocket-Extensions` value, or `""`. */
  extensions: string;
  /** The peer's address, when the host knows it. */
  remoteAddress: TransportAddress | undefined;
  /**
   * How the WebSocket was opened: `"1.1"` by an HTTP/1.1 upgrade (RFC 6455
   * §4), `"2"` by an extended CONNECT on an HTTP/2 stream (RFC 8441).
   */
  httpVersion: "1.1" | "2";
  /** What the `upgrade` hook attached (`{ data }`), else `undefined`. */
  data: D;
  /**
   * The TLS session: ALPN, SNI name and the client's certificate (mutual
   * TLS). Present on sprig's server over the `node:tls` listener (which any
   * `tls` option beyond `cert`/`key` selects, on every runtime);
   * `undefined` without TLS, on the native TLS listeners (`Deno.listenTls`,
   * `Bun.listen`) and on the adapters.
   */
  tls?: TlsInfo;
  /** This connection's address, for the rest of the app. */
  ref: ConnectionRef<I>;
}

/**
 * A WebSocket application, run by any host. `S` is the per-connection state,
 * `I` what other parts of the app post to a connection, `D` what the upgrade
 * hook attaches.
 *
 * Callbacks for one connection run one at a time, in arrival order; while
 * one runs (or its promise is pending) the host stops reading that socket
 * once a few messages are queued. A callback that throws closes the
 * connection with 1011; the server keeps serving, and `terminate` gets the
 * error. The host answers pings itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { connect, serve } from "../../../mod.ts";
 * import { defineHandler } from "./handler.ts";
 * const ended: string[] = [];
 * const echo = defineHandler({
 *   init: () => ({ state: { count: 0 } }),
 *   in: (message, state) => ({ push: message, state: { count: state.count + 1 } }),
 *   terminate: (reason, state) => void ended.push(`${reason.type} after ${state.count}`),
 * });
 * await using server = await serve({ hostname: "127.0.0.1", port: 0 }, echo);
 * await using ws = await connect(server.url);
 * await ws.send("one");
 * await ws.send("two");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "one");
 * assert.equal(await ws.receive({ timeoutMs: 5000 }), "two");
 * await ws.close(1000, "bye");
 * await server.shutdown(); // resolves once every connection has ended
 * assert.deepEqual(ended, ["remote after 2"]);
 * ```
 */
export interface Handler<S = unknown, I = unknown, D = unknown> {
  /** The connection opened. Returns the first state (absent: `undefined`), and may push or stop. */
  init?(context: ConnectionContext<I, D>): Awaitable<Reply<S>>;
  /** A text (string) or binary (`Uint8Array`) message arrived. */
  in(message: MessageData, state: S): Awaitable<Reply<S>>;
  /**
   * A ping or pong arrived. Optional; pings are answered by the host
   * whether or not this exists. Not every host can report these (see the
   * adapters' docs).
   */
  control?(frame: ControlMessage, state: S): Awaitable<Reply<S>>;
  /** Something was posted to this connection through `ref.post()`. */
  info?(message: I, state: S): Awaitable<Reply<S>>;
  /** The connection ended. Runs once, last; its result is ignored. */
  terminate?(reason: TerminateReason, state: S): Awaitable<void>;
}

/**
 * Returns the handler unchanged, letting TypeScript infer the state type
 * from `init`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineHandler, testContext } from "./handler.ts";
 * // S is inferred from init: the state is a number.
 * const counter = defineHandler({
 *   init: () => ({ state: 0 }),
 *   in: (_message, n) => ({ state: n + 1, push: String(n + 1) }),
 * });
 * const first = await counter.init!(testContext().context);
 * assert.deepEqual(await counter.in("tick", first!.state!), { state: 1, push: "1" });
 * ```
 */
export function defineHandler<S, I = unknown, D = unknown>(
  handler: Handler<S, I, D>,
): Handler<S, I, D> {
  return handler;
}

/** What {@link testContext} records. */
export interface TestContext<I = unknown, D = unknown> {
  /** A context to pass to `init`. */
  context: ConnectionContext<I, D>;
  /** What was posted to `context.ref`. */
  posted: I[];
  /** What was sent through `context.ref.send()`, in order. */
  sent: Array<{ message: OutgoingMessage; options?: MessageOptions }>;
  /** What was published through `context.ref`, in order. */
  published: Array<{ topic: string; message: OutgoingMessage }>;
  /** The close requested through `context.ref.close()`, if any. */
  closedWith: Stop | undefined;
}

/**
 * A context for calling a handler's `init` in a unit test, without a
 * socket. Its `ref` records posts, subscriptions, publishes and closes;
 * `ref.resume()` subscribes and reports `no-history` (no topic keeps history
 * without a server).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineHandler, testContext } from "./handler.ts";
 * const room = defineHandler({
 *   init: (ctx) => {
 *     ctx.ref.subscribe("lobby");
 *     return { state: { name: ctx.url.searchParams.get("name") ?? "anon" } };
 *   },
 *   in: (message, state) => ({ push: `${state.name}: ${message}` }),
 * });
 * const t = testContext({ url: "http://test/chat?name=ada" });
 * const first = await room.init!(t.context);
 * assert.ok(t.context.ref.isSubscribed("lobby"));
 * const reply = await room.in("hi", first!.state!);
 * assert.equal(reply!.push, "ada: hi");
 * ```
 */
export function testContext<I = unknown, D = unknown>(
  options: { url?: string; headers?: HeadersInit; protocol?: string; data?: D } = {},
): TestContext<I, D> {
  const topics = new Set<string>();
  let open = true;
  const record: TestContext<I, D> = {
    posted: [],
    sent: [],
    published: [],
    closedWith: undefined,
    context: undefined as unknown as ConnectionContext<I, D>,
  };
  const url = new URL(options.url ?? "http://localhost/");
  const ref: ConnectionRef<I> = {
    id: 0,
    url,
    protocol: options.protocol ?? "",
    remoteAddress: undefined,
    get isOpen() {
      return open;
    },
    post(message) {
      if (!open) return false;
      record.posted.push(message);
      return true;
    },
    send(message, options) {
      if (!open) return false;
      record.sent.push(options === undefined ? { message } : { message, options });
      return true;
    },
    subscribe(topic) {
      if (!open) return false;
      topics.add(topic);
      return true;
    },
    resume(topic) {
      if (!open) return Promise.reject(new TypeError("resume() after close"));
      topics.add(topic);
      return Promise.resolve({ topic, status: "no-history", replayed: 0, epoch: "" });
    },
    unsubscribe: (topic) => topics.delete(topic),
    isSubscribed: (topic) => topics.has(topic),
    get subscriptions() {
      return [...topics];
    },
    publish(topic, message) {
      record.published.push({ topic, message });
      return 0;
    },
    close(code, reason) {
      open = false;
      record.closedWith = { code, reason };
    },
    closed: new Promise(() => {}),
  };
  record.context = {
    url,
    headers: new Headers(options.headers),
    protocol: options.protocol ?? "",
    extensions: "",
    remoteAddress: undefined,
    httpVersion: "1.1",
    data: options.data as D,
    ref,
  };
  return record;
}
