/**
 * An in-memory stand-in for a Redis server's pub/sub, with clients shaped
 * like node-redis (`isReady`, `on("ready")`) or Bun's (`connected`,
 * `onconnect`, subscriptions forgotten on reconnect). Messages are delivered
 * in a later microtask, in publish order, as a Redis connection would.
 */

import type { RedisMessageListener, RedisPubSubClient } from "../../lib/scale/redis_broker.ts";

/** The server: channels and their subscribed clients. */
export class FakeRedis {
  readonly clients = new Set<FakeClient>();
  /** Every PUBLISH that reached the server, in order. */
  readonly log: Array<{ channel: string; message: string }> = [];

  /** A node-redis-like client (events, `isReady`, keeps subscriptions across reconnects). */
  nodeStyle(): FakeClient {
    const c = new FakeClient(this, "node");
    this.clients.add(c);
    return c;
  }

  /** A Bun-like client (`connected`, `onconnect`, forgets subscriptions on reconnect). */
  bunStyle(): FakeClient {
    const c = new FakeClient(this, "bun");
    this.clients.add(c);
    return c;
  }

  /** Every client's connection drops. */
  down(): void {
    for (const c of this.clients) c.drop();
  }

  /** Every client reconnects. */
  up(): void {
    for (const c of this.clients) c.reconnect();
  }

  route(channel: string, message: string): number {
    this.log.push({ channel, message });
    let n = 0;
    for (const c of this.clients) if (c.receive(channel, message)) n++;
    return n;
  }
}

/** One connection. */
export class FakeClient implements RedisPubSubClient {
  #up = true;
  readonly #listeners = new Map<string, Set<RedisMessageListener>>();
  /** Channels subscribed at the server (lost when the connection drops, for "bun"). */
  readonly serverChannels = new Set<string>();
  readonly #ready = new Set<() => void>();
  onconnect?: (() => void) | null;
  /** Commands issued, for assertions. */
  readonly commands: string[] = [];
  /** When set, publish rejects with this error (while up). */
  failPublish: Error | undefined;
  /** When true, UNSUBSCRIBE is answered only by {@link answerHeld} (or failed by {@link drop}). */
  holdUnsubscribe = false;
  readonly #held: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  constructor(readonly server: FakeRedis, readonly style: "node" | "bun") {
    if (style === "bun") this.onconnect = null;
    else {
      this.on = (event, listener) => {
        if (event === "ready") this.#ready.add(listener);
        return this;
      };
    }
  }

  get isReady(): boolean | undefined {
    return this.style === "node" ? this.#up : undefined;
  }

  get connected(): boolean | undefined {
    return this.style === "bun" ? this.#up : undefined;
  }

  /** node-redis style only (a Bun-style client has no `on`). */
  on?: (event: "ready", listener: () => void) => unknown;

  publish(channel: string, message: string): Promise<number> {
    this.commands.push(`PUBLISH ${channel}`);
    if (!this.#up) return Promise.reject(new Error("connection is closed"));
    if (this.failPublish) return Promise.reject(this.failPublish);
    // Redis routes in order; delivery reaches the subscribers asynchronously.
    return Promise.resolve().then(() => this.server.route(channel, message));
  }

  subscribe(channel: string, listener: RedisMessageListener): Promise<void> {
    this.commands.push(`SUBSCRIBE ${channel}`);
    let set = this.#listeners.get(channel);
    if (!set) this.#listeners.set(channel, set = new Set());
    set.add(listener);
    if (this.#up) this.serverChannels.add(channel);
    return Promise.resolve();
  }

  unsubscribe(channel: string, listener?: RedisMessageListener): Promise<void> {
    this.commands.push(`UNSUBSCRIBE ${channel}`);
    const set = this.#listeners.get(channel);
    if (set && listener) set.delete(listener);
    if (!set || !listener || set.size === 0) {
      this.#listeners.delete(channel);
      this.serverChannels.delete(channel);
    }
    if (!this.holdUnsubscribe) return Promise.resolve();
    return new Promise((resolve, reject) => this.#held.push({ resolve, reject }));
  }

  /** Answers the UNSUBSCRIBEs held so far; returns how many. */
  answerHeld(): number {
    const held = this.#held.splice(0);
    for (const h of held) h.resolve();
    return held.length;
  }

  receive(channel: string, message: string): boolean {
    if (!this.#up || !this.serverChannels.has(channel)) return false;
    const set = this.#listeners.get(channel);
    if (!set) return false;
    queueMicrotask(() => {
      for (const l of set) l(message, channel);
    });
    return true;
  }

  drop(): void {
    this.#up = false;
    this.serverChannels.clear();
    // Commands in flight fail with the connection, as a real client's do.
    for (const h of this.#held.splice(0)) h.reject(new Error("connection is closed"));
  }

  reconnect(): void {
    this.#up = true;
    // node-redis subscribes again by itself; Bun's client does not.
    if (this.style === "node") {
      for (const channel of this.#listeners.keys()) this.serverChannels.add(channel);
    }
    if (this.style === "node") { for (const l of this.#ready) l(); }
    else this.onconnect?.();
  }
}
