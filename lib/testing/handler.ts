/**
 * Drives a {@link Handler} without a socket: `init`, then messages, control
 * frames, posts and topic messages, then `terminate`, in the order a host
 * runs them, recording what the handler pushed, its state, how it stopped,
 * and what it did through its `ConnectionRef` (posts, subscriptions,
 * publishes, closes).
 *
 * @module
 */

import type { MessageData } from "../session/session.ts";
import type { CloseInfo } from "../errors.ts";
import type {
  ConnectionContext,
  ConnectionRef,
  Handler,
  Push,
  Reply,
  Stop,
  TerminateReason,
} from "../server/handler/handler.ts";
import type { OutgoingMessage } from "../server/handler/message.ts";
import type { ResumeReport } from "../server/handler/history.ts";

/** Options of {@link driveHandler}. */
export interface DriveHandlerOptions<D = unknown> {
  /** The request URL `init` sees. Default `http://localhost/`. */
  url?: string;
  /** The upgrade request's headers. Default none. */
  headers?: HeadersInit;
  /** The subprotocol chosen. Default `""`. */
  protocol?: string;
  /** The negotiated extensions. Default `""`. */
  extensions?: string;
  /** What the `upgrade` hook attached. Default `undefined`. */
  data?: D;
  /** `ConnectionRef.id`. Default 1. */
  id?: number;
}

/** A stop, as the handler asked for it: by `stop` in a reply, or by `ref.close()`. */
export interface RecordedStop {
  /** The close code (1000 when the handler said `stop: true` or gave none). */
  code: number;
  /** The close reason, or `""`. */
  reason: string;
  /** `"reply"` (a callback's `stop`) or `"ref"` (`ref.close()`). */
  by: "reply" | "ref";
}

/** A handler under test, from {@link driveHandler}. */
export interface HandlerDriver<S, I = unknown> {
  /** The connection's ref, as the handler got it in `init`. */
  readonly ref: ConnectionRef<I>;
  /** The state, as the last callback left it. */
  readonly state: S;
  /** Every push and `ref.send()`, in order (messages and control frames), since the start. */
  readonly pushed: readonly Push[];
  /** The stop asked for, if any: once stopped, no callback but `terminate` runs. */
  readonly stopped: RecordedStop | undefined;
  /** What the handler published through `ref.publish()`, in order. */
  readonly published: ReadonlyArray<{ topic: string; message: OutgoingMessage }>;
  /** The topics the connection is subscribed to. */
  readonly subscriptions: readonly string[];
  /** True once `terminate` ran. */
  readonly terminated: boolean;
  /** The pushes since the last `take()` (or the start), and forgets them. */
  take(): Push[];
  /**
   * A message arrives: runs `in`, then every `info` that `ref.post()`
   * queued meanwhile. Resolves with `in`'s reply.
   *
   * @throws {Error} (rejects) after a stop or `terminate`; what `in` throws
   */
  in(message: MessageData): Promise<Reply<S>>;
  /**
   * A ping or pong arrives: runs `control` (when the handler has one).
   *
   * @throws {Error} (rejects) after a stop or `terminate`
   */
  control(type: "ping" | "pong", data?: Uint8Array): Promise<Reply<S>>;
  /**
   * Posts `message` through the ref and runs `info` for it (and for
   * anything else posted meanwhile). Resolves with the last reply.
   *
   * @throws {Error} (rejects) after a stop or `terminate`
   */
  info(message: I): Promise<Reply<S>>;
  /**
   * A message another connection (or the server) published to `topic`:
   * pushed to this connection when it is subscribed, as a host does.
   * Returns whether it was delivered.
   */
  deliver(topic: string, message: OutgoingMessage): boolean;
  /**
   * Ends the connection and runs `terminate` once. Default reason: `normal`
   * with the stop's code after a stop, else `remote` 1000. Settles
   * `ref.closed`.
   */
  terminate(reason?: TerminateReason): Promise<void>;
}

/**
 * Runs `handler.init` with a context built from `options` and returns a
 * driver for the rest of the connection's life. Callbacks run one at a
 * time, in call order, as on a host; a callback that throws rejects the
 * call (a host would close with 1011 and call `terminate` with `error`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineHandler } from "../server/handler/handler.ts";
 * import { driveHandler } from "./handler.ts";
 * const chat = defineHandler<{ name: string }, string>({
 *   init: (ctx) => {
 *     ctx.ref.subscribe("room");
 *     return { state: { name: ctx.url.searchParams.get("name") ?? "anon" } };
 *   },
 *   in: (message, state) =>
 *     message === "/quit" ? { stop: { code: 4000, reason: "bye" } } : { push: `${state.name}: ${message}` },
 *   info: (notice) => ({ push: `notice: ${notice}` }),
 * });
 * const h = await driveHandler(chat, { url: "http://test/?name=ada" });
 * await h.in("hi");
 * await h.info("server restarts soon");
 * assert.ok(h.deliver("room", "from bob"));
 * assert.deepEqual(h.take(), ["ada: hi", "notice: server restarts soon", "from bob"]);
 * await h.in("/quit");
 * assert.deepEqual(h.stopped, { code: 4000, reason: "bye", by: "reply" });
 * await h.terminate();
 * assert.equal((await h.ref.closed).code, 4000);
 * ```
 */
export async function driveHandler<S, I = unknown, D = unknown>(
  handler: Handler<S, I, D>,
  options: DriveHandlerOptions<D> = {},
): Promise<HandlerDriver<S, I>> {
  const url = new URL(options.url ?? "http://localhost/");
  const topics = new Set<string>();
  const pushed: Push[] = [];
  let taken = 0;
  const published: Array<{ topic: string; message: OutgoingMessage }> = [];
  const posts: I[] = [];
  let state = undefined as S;
  let stopped: RecordedStop | undefined;
  let terminated = false;
  let settleClosed!: (info: CloseInfo) => void;
  const closed = new Promise<CloseInfo>((resolve) => (settleClosed = resolve));
  const isOpen = () => stopped === undefined && !terminated;

  const ref: ConnectionRef<I> = {
    id: options.id ?? 1,
    url,
    protocol: options.protocol ?? "",
    remoteAddress: undefined,
    get isOpen() {
      return isOpen();
    },
    post(message) {
      if (!isOpen()) return false;
      posts.push(message);
      return true;
    },
    send(message, options) {
      // As on a host: queued on the connection at once, in order with the pushes.
      if (!isOpen()) return false;
      pushed.push(options?.compress === false ? { data: message, compress: false } : message);
      return true;
    },
    subscribe(topic) {
      if (!isOpen()) return false;
      topics.add(topic);
      return true;
    },
    resume(topic): Promise<ResumeReport> {
      if (!isOpen()) return Promise.reject(new Error("resume() after the connection closed"));
      topics.add(topic);
      return Promise.resolve({ topic, status: "no-history", replayed: 0, epoch: "" });
    },
    unsubscribe: (topic) => topics.delete(topic),
    isSubscribed: (topic) => topics.has(topic),
    get subscriptions() {
      return [...topics];
    },
    publish(topic, message) {
      published.push({ topic, message });
      return 0;
    },
    close(code = 1000, reason = "") {
      if (stopped !== undefined || terminated) return;
      stopped = { code, reason, by: "ref" };
    },
    closed,
  };

  const apply = (reply: Reply<S>): Reply<S> => {
    if (!reply) return reply;
    if ("state" in reply) state = reply.state as S;
    if (reply.push !== undefined) {
      if (Array.isArray(reply.push)) pushed.push(...(reply.push as Push[]));
      else pushed.push(reply.push as Push);
    }
    if (reply.stop !== undefined && stopped === undefined) {
      const stop: Stop = reply.stop === true ? {} : reply.stop;
      stopped = { code: stop.code ?? 1000, reason: stop.reason ?? "", by: "reply" };
    }
    return reply;
  };
  let turn: Promise<unknown> = Promise.resolve();
  /** Runs `call` after the calls before it, as a host runs one callback at a time. */
  const serial = <T>(call: () => Promise<T>): Promise<T> => {
    const next = turn.then(call, call);
    turn = next.catch(() => {});
    return next;
  };
  const guard = (what: string) => {
    if (terminated) throw new Error(`driveHandler: ${what} after terminate`);
    if (stopped) throw new Error(`driveHandler: ${what} after the handler stopped`);
  };
  const drainPosts = async (): Promise<Reply<S>> => {
    let last: Reply<S>;
    for (let i = 0; i < 10_000 && posts.length > 0 && isOpen(); i++) {
      const message = posts.shift()!;
      if (handler.info) last = apply(await handler.info(message, state));
    }
    return last;
  };

  const context: ConnectionContext<I, D> = {
    url,
    headers: new Headers(options.headers),
    protocol: options.protocol ?? "",
    extensions: options.extensions ?? "",
    remoteAddress: undefined,
    httpVersion: "1.1",
    data: options.data as D,
    ref,
  };
  if (handler.init) apply(await handler.init(context));
  await drainPosts();

  return {
    ref,
    get state() {
      return state;
    },
    get pushed() {
      return pushed;
    },
    get stopped() {
      return stopped;
    },
    get published() {
      return published;
    },
    get subscriptions() {
      return [...topics];
    },
    get terminated() {
      return terminated;
    },
    take() {
      const out = pushed.slice(taken);
      taken = pushed.length;
      return out;
    },
    in(message) {
      return serial(async () => {
        guard("in()");
        const reply = apply(await handler.in(message, state));
        await drainPosts();
        return reply;
      });
    },
    control(type, data = new Uint8Array(0)) {
      return serial(async () => {
        guard("control()");
        if (!handler.control) return undefined;
        const reply = apply(await handler.control({ type, data }, state));
        await drainPosts();
        return reply;
      });
    },
    info(message) {
      return serial(async () => {
        guard("info()");
        posts.push(message);
        return await drainPosts();
      });
    },
    deliver(topic, message) {
      if (!isOpen() || !topics.has(topic)) return false;
      pushed.push(message);
      return true;
    },
    terminate(reason) {
      return serial(async () => {
        if (terminated) return;
        const r: TerminateReason = reason ??
          (stopped
            ? { type: "normal", code: stopped.code, reason: stopped.reason, wasClean: true }
            : { type: "remote", code: 1000, reason: "", wasClean: true });
        terminated = true;
        topics.clear();
        try {
          if (handler.terminate) await handler.terminate(r, state);
        } finally {
          settleClosed({ code: r.code, reason: r.reason, wasClean: r.wasClean });
        }
      });
    },
  };
}
