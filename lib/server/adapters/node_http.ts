/**
 * Runs a sprig handler on a `node:http` (or `node:https`) server: sprig
 * takes the raw socket from the `upgrade` event and speaks WebSocket on it
 * itself, so everything sprig's own server does works here too —
 * compression, control callbacks, backpressure both ways, every limit.
 *
 * What the `http` server keeps: plain requests (your `request` handler),
 * header limits and timeouts before the upgrade (`maxHeaderSize`,
 * `headersTimeout`), TLS. Works on Node, and on Deno and Bun through their
 * `node:http`.
 *
 * @module
 */

import type * as net from "node:net";
import type { NodeSocket } from "../../transport/node.ts";
import type { RequestHead } from "../../protocol/http1.ts";
import { nodeAcceptedSocket } from "../http/listen_node.ts";
import type { Handler } from "../handler/handler.ts";
import { adapterHost, type WebSocketHub } from "../handler/host.ts";
import { requestUrl, writeResponse } from "../http/http1_loop.ts";
import type { UpgradeOptions, WebSocketHostOptions } from "../handler/options.ts";
import { completeUpgrade } from "../http/socket_upgrade.ts";
import { EMPTY } from "../../protocol/bytes.ts";
import { noop } from "../../util/noop.ts";

/**
 * A `node:http` `IncomingMessage`, by the members the adapter reads: written
 * out so that sprig's type declarations need no `@types/node` (an
 * `IncomingMessage` fits as it is).
 */
export interface NodeHttpRequest {
  /** The request method. */
  readonly method?: string | undefined;
  /** The request target. */
  readonly url?: string | undefined;
  /** `"1.1"`. */
  readonly httpVersion: string;
  /** The header lines as received: name, value, name, value, … */
  readonly rawHeaders: readonly string[];
}

/**
 * A `node:http` or `node:https` `Server`, by the members `attach()` uses
 * (written out for the same reason as {@link NodeHttpRequest}).
 */
export interface NodeHttpServer {
  /** Listens to `upgrade`. */
  on(event: "upgrade", listener: NodeUpgradeListener): unknown;
  /** Stops listening. */
  off(event: "upgrade", listener: NodeUpgradeListener): unknown;
  /** How many listen to `upgrade` (`attach()` with `path` leaves others' paths to them). */
  listenerCount?(event: "upgrade"): number;
}

/**
 * A fetch-style app (`app.fetch` of Hono and the like) that decides each
 * upgrade request: it accepts with `adapter.accept(request, options)` (and
 * returns what that returns), or returns any other response, which is sent
 * as the refusal (401, 404…). `env` is the second argument of the app's
 * fetch, in the shape `@hono/node-server` gives it (`incoming`, the
 * `IncomingMessage`; no `outgoing`: the socket is not an HTTP response yet).
 */
export type NodeUpgradeFetch = (
  request: Request,
  env: { incoming: NodeHttpRequest; outgoing: undefined },
) => Response | Promise<Response>;

/** How `attach()` picks the upgrades it takes. */
export interface NodeAttachOptions {
  /**
   * Only upgrades to this path (or these paths), compared with the request
   * URL's pathname; the others are left to the server's other `upgrade`
   * listeners or, when there is none, refused with 404. Default: every path.
   */
  path?: string | readonly string[];
  /**
   * Runs each (routed) upgrade request through a fetch-style app first, so
   * that its routing and middleware (auth, CORS…) decide before the upgrade:
   * see {@link NodeUpgradeFetch}.
   */
  fetch?: NodeUpgradeFetch;
}

/** A listener of `node:http`'s `upgrade` event. */
export type NodeUpgradeListener = (
  request: NodeHttpRequest,
  socket: NodeSocket,
  head: Uint8Array,
) => void;

/** A handler hosted on `node:http`. */
export interface NodeHttpAdapter<I = unknown, D = unknown> extends WebSocketHub<I> {
  /**
   * Handles one `upgrade` event: refuses it (with the hook's response, 403,
   * 503…) or runs the handler. `options` carries what the app decided for
   * this request: `data` for `init`, headers for the 101.
   */
  handleUpgrade(
    request: NodeHttpRequest,
    socket: NodeSocket,
    head: Uint8Array,
    options?: UpgradeOptions<D>,
  ): void;
  /**
   * Listens to `server`'s `upgrade` events (those to `options.path`, and
   * through `options.fetch` if given); returns a function that stops.
   */
  attach(server: NodeHttpServer, options?: NodeAttachOptions): () => void;
  /**
   * Accepts, from inside `options.fetch` of `attach()`, the upgrade of
   * `request` (the `Request` that `fetch` was given), with `data` for
   * `init` and headers for the 101; returns a placeholder response for the
   * app's route to return (200, empty: sprig sends the 101 once `fetch` has
   * returned). For a request that did not come through `attach()` (a plain
   * request to the same route), returns 426 Upgrade Required.
   */
  accept(request: Request, options?: UpgradeOptions<D>): Response;
}

/**
 * Hosts `handler` on `node:http` upgrades.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { once } from "node:events";
 * import * as http from "node:http";
 * import type { AddressInfo } from "node:net";
 * import { connect, HandshakeError, type SprigError } from "../../../mod.ts";
 * import { nodeHttpAdapter } from "./node_http.ts";
 * const reported: unknown[] = [];
 * const ws = nodeHttpAdapter({ in: (message) => ({ push: message }) }, {
 *   origins: ["https://app.example"],
 *   onError: (error) => void reported.push(error), // default: console.error
 * });
 * const server = http.createServer((_req, res) => res.end("a page"));
 * ws.attach(server);
 * await once(server.listen(0, "127.0.0.1"), "listening");
 * const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
 * // The app's own page may connect; another site's page may not (403).
 * await using client = await connect(url, { headers: { origin: "https://app.example" } });
 * await client.send("hello");
 * assert.equal(await client.receive({ timeoutMs: 5000 }), "hello");
 * await assert.rejects(
 *   connect(url, { headers: { origin: "https://evil.example" } }),
 *   (error) => error instanceof HandshakeError && error.status === 403,
 * );
 * assert.equal((reported[0] as SprigError).code, "ORIGIN_REFUSED"); // once per origin
 * await ws.shutdown();
 * await new Promise((closed) => server.close(closed));
 * ```
 */
export function nodeHttpAdapter<S, I = unknown, D = unknown>(
  handler: Handler<S, I, D>,
  options: WebSocketHostOptions<D> = {},
): NodeHttpAdapter<I, D> {
  const host = adapterHost("nodeHttpAdapter()", handler, options);
  /**
   * Takes the socket of one `upgrade` event; `prepare` (the app's fetch)
   * may refuse with a response or say what to upgrade with.
   */
  const take = (
    request: NodeHttpRequest,
    duplex: NodeSocket,
    head: Uint8Array,
    upgradeOptions: UpgradeOptions<D> | undefined,
    prepare?: () => Promise<Response | UpgradeOptions<D>>,
  ): void => {
    const socket = duplex as net.Socket;
    socket.on("error", noop);
    socket.setNoDelay?.(true);
    const secure = (socket as { encrypted?: boolean }).encrypted === true;
    // The bytes after the request head (the first frames) are read first.
    const accepted = nodeAcceptedSocket(
      socket,
      secure,
      new Uint8Array(head.buffer, head.byteOffset, head.byteLength),
    );
    const transport = accepted.transport;
    const refuse = async (response: Response) => {
      await writeResponse(transport, response, { close: true }).catch(noop);
      accepted.close();
    };
    void (async () => {
      const requestHead = headOf(request);
      let url: URL;
      try {
        url = requestUrl(requestHead, secure);
      } catch {
        await refuse(new Response("bad request target or Host", { status: 400 }));
        return;
      }
      if (prepare) {
        const prepared = await prepare();
        if (prepared instanceof Response) {
          await refuse(prepared);
          return;
        }
        upgradeOptions = prepared;
        if (socket.destroyed) return;
      }
      const decision = await host.decide({
        head: requestHead,
        url,
        remoteAddress: transport.remoteAddress,
        negotiateExtensions: true,
        with: upgradeOptions,
      });
      if (!decision.accepted) {
        await refuse(decision.response);
        return;
      }
      if (socket.destroyed) {
        decision.release();
        return;
      }
      completeUpgrade(host, accepted, decision, EMPTY);
    })().catch((error) => {
      host.reportError(error);
      socket.destroy();
    });
  };
  // Requests that attach()'s fetch made, and the ones the app accepted.
  const bridged = new WeakSet<Request>();
  const acceptedRequests = new WeakMap<Request, UpgradeOptions<D>>();
  const throughFetch = (fetch: NodeUpgradeFetch, incoming: NodeHttpRequest, url: URL) => {
    return async (): Promise<Response | UpgradeOptions<D>> => {
      const head = headOf(incoming);
      let request: Request;
      try {
        request = new Request(url, { method: head.method, headers: head.headers });
      } catch {
        return new Response("bad upgrade request", { status: 400 }); // a method Request refuses
      }
      bridged.add(request);
      let response: Response;
      try {
        response = await fetch(request, { incoming, outgoing: undefined });
      } catch (error) {
        host.reportError(error);
        return new Response("internal error", { status: 500 });
      }
      const accepted = acceptedRequests.get(request);
      if (accepted === undefined) {
        return response instanceof Response
          ? response
          : new Response("the app returned no response", { status: 500 });
      }
      void response.body?.cancel().catch(noop);
      return accepted;
    };
  };
  return {
    ...host.hub<I>(),
    handleUpgrade: (request, socket, head, options) => take(request, socket, head, options),
    attach(server, options = {}) {
      const paths = options.path === undefined
        ? undefined
        : new Set(typeof options.path === "string" ? [options.path] : options.path);
      const fetch = options.fetch;
      const listener = (req: NodeHttpRequest, socket: NodeSocket, head: Uint8Array) => {
        if (paths || fetch) {
          let url: URL | undefined;
          try {
            url = requestUrl(headOf(req), (socket as { encrypted?: boolean }).encrypted === true);
          } catch {
            url = undefined; // take() answers 400
          }
          if (url && paths && !paths.has(url.pathname)) {
            // Another listener's path (a dev server's HMR, another WebSocket library…).
            if ((server.listenerCount?.("upgrade") ?? 1) > 1) return;
            take(
              req,
              socket,
              head,
              undefined,
              () => Promise.resolve(new Response("no WebSocket at this path", { status: 404 })),
            );
            return;
          }
          if (url && fetch) {
            take(req, socket, head, undefined, throughFetch(fetch, req, url));
            return;
          }
        }
        take(req, socket, head, undefined);
      };
      server.on("upgrade", listener);
      return () => void server.off("upgrade", listener);
    },
    accept(request, options) {
      if (!bridged.has(request)) {
        return new Response("this route takes WebSocket upgrades", {
          status: 426,
          headers: { upgrade: "websocket" },
        });
      }
      acceptedRequests.set(request, options ?? {});
      return new Response(null, { status: 200 });
    },
  };
}

/** The request as sprig's HTTP/1.1 parser would have given it. */
function headOf(request: NodeHttpRequest): RequestHead {
  const raw = request.rawHeaders;
  const rawHeaders: Array<[string, string]> = [];
  const headers = new Headers();
  for (let i = 0; i + 1 < raw.length; i += 2) {
    rawHeaders.push([raw[i], raw[i + 1]]);
    try {
      headers.append(raw[i], raw[i + 1]);
    } catch {
      // a value Headers refuses; the checks then see it as missing
    }
  }
  return {
    kind: "request",
    method: request.method ?? "GET",
    target: request.url ?? "/",
    version: `HTTP/${request.httpVersion}`,
    headers,
    rawHeaders,
  };
}
