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
import { WebSocketHost, type WebSocketHub } from "../handler/host.ts";
import { requestUrl, writeResponse } from "../http/http1_loop.ts";
import { checkHostArguments, type WebSocketHostOptions } from "../handler/options.ts";
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
}

/** A listener of `node:http`'s `upgrade` event. */
export type NodeUpgradeListener = (
  request: NodeHttpRequest,
  socket: NodeSocket,
  head: Uint8Array,
) => void;

/** A handler hosted on `node:http`. */
export interface NodeHttpAdapter<I = unknown> extends WebSocketHub<I> {
  /** Handles one `upgrade` event: refuses it (with the hook's response, 403, 503…) or runs the handler. */
  handleUpgrade(request: NodeHttpRequest, socket: NodeSocket, head: Uint8Array): void;
  /** Listens to `server`'s `upgrade` events; returns a function that stops. */
  attach(server: NodeHttpServer): () => void;
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
): NodeHttpAdapter<I> {
  checkHostArguments("nodeHttpAdapter()", handler, options);
  const host = new WebSocketHost(
    handler as Handler<never, never, never>,
    options as WebSocketHostOptions<unknown>,
  );
  const handleUpgrade = (request: NodeHttpRequest, duplex: NodeSocket, head: Uint8Array): void => {
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
    void (async () => {
      const requestHead = headOf(request);
      let url: URL;
      try {
        url = requestUrl(requestHead, secure);
      } catch {
        await writeResponse(
          transport,
          new Response("bad request target or Host", { status: 400 }),
          { close: true },
        )
          .catch(noop);
        accepted.close();
        return;
      }
      const decision = await host.decide({
        head: requestHead,
        url,
        remoteAddress: transport.remoteAddress,
        negotiateExtensions: true,
      });
      if (!decision.accepted) {
        await writeResponse(transport, decision.response, { close: true }).catch(noop);
        accepted.close();
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
  return {
    ...host.hub<I>(),
    handleUpgrade,
    attach(server: NodeHttpServer) {
      const listener = (req: NodeHttpRequest, socket: NodeSocket, head: Uint8Array) =>
        handleUpgrade(req, socket, head);
      server.on("upgrade", listener);
      return () => void server.off("upgrade", listener);
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
