/**
 * Completes an accepted upgrade on a raw socket: writes the 101 response
 * (RFC 6455 §4.2.2) and starts the handler over a sprig session. Used by
 * sprig's own server and by the `node:http` adapter.
 *
 * @module
 */

import { PERMESSAGE_DEFLATE } from "../../extensions/permessage_deflate.ts";
import { createServerResponse } from "../../protocol/handshake.ts";
import { allocateConnectionId, type Driver } from "../handler/driver.ts";
import type { Accepted, WebSocketHost } from "../handler/host.ts";
import { SERVER_DEFAULTS } from "../handler/options.ts";
import { type AcceptedSocket, SocketChannel } from "./socket_channel.ts";

const noop = () => {};

/**
 * Writes the 101 and starts the handler. Returns undefined (after
 * answering 500) when the 101 cannot be built, e.g. the hook's headers
 * name one of the handshake's own fields. @internal
 */
export function completeUpgrade(
  host: WebSocketHost,
  socket: AcceptedSocket,
  accepted: Accepted,
  rest: Uint8Array,
): Driver | undefined {
  let response: Uint8Array;
  try {
    response = createServerResponse({
      key: accepted.checked.key,
      protocol: accepted.protocol,
      extensionsHeader: accepted.extensionsHeader,
      headers: accepted.headers,
    });
  } catch (error) {
    accepted.release();
    host.reportError(error);
    const body = "internal error";
    socket.transport.write([
      new TextEncoder().encode(
        `HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      ),
    ]).catch(noop).finally(() => socket.close());
    return undefined;
  }
  // The 101 goes first; every frame the session writes follows it in order.
  socket.transport.write([response]).catch(noop);
  return startChannel(host, socket, accepted, rest);
}

/**
 * Starts the handler over a socket (or an HTTP/2 stream) whose handshake
 * response went out. @internal
 */
export function startChannel(
  host: WebSocketHost,
  socket: AcceptedSocket,
  accepted: Accepted,
  rest: Uint8Array,
): Driver {
  const o = host.options;
  const extensions = accepted.checked.extensions;
  const id = allocateConnectionId();
  const channel = new SocketChannel({
    socket,
    initial: rest,
    extensions,
    maxMessageBytes: o.maxMessageBytes ?? SERVER_DEFAULTS.maxMessageBytes,
    maxFrameBytes: o.maxFrameBytes,
    maxFragments: o.maxFragments,
    maxSendBufferBytes: o.maxSendBufferBytes ?? SERVER_DEFAULTS.maxSendBufferBytes,
    writeTimeoutMs: o.writeTimeoutMs ?? SERVER_DEFAULTS.writeTimeoutMs,
    closeTimeoutMs: o.closeTimeoutMs ?? SERVER_DEFAULTS.closeTimeoutMs,
    keepalive: o.keepalive ?? SERVER_DEFAULTS.keepalive,
    keepaliveTicker: host.keepaliveTicker(o.keepalive ?? SERVER_DEFAULTS.keepalive),
    trace: o.trace,
    telemetry: host.telemetry && { publisher: host.telemetry, id: `s${id}` },
    deflateThreshold: extensions.length === 1 && extensions[0].name === PERMESSAGE_DEFLATE
      ? host.deflateThreshold
      : undefined,
  });
  return host.start(channel, accepted, accepted.extensionsHeader ?? "", { id });
}
