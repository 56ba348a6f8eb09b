/**
 * sprig's client inside Cloudflare Workers (workerd): a Worker that, for each
 * request `GET /?url=ws://host:port/path`, connects to that WebSocket server
 * through `connect()` from `cloudflare:sockets`, sends a few messages (one
 * large enough to be compressed), pings, closes cleanly and answers with a
 * JSON report.
 *
 * Edge runtimes have no `node:net`: the one thing to add is the `transport`
 * option, which opens the TCP socket with the platform's `connect()` and
 * wraps it with `fromWebSocketLikeSocket`. permessage-deflate uses
 * `node:zlib`, which needs the `nodejs_compat` compatibility flag.
 *
 * Bundle it as any Worker (wrangler, or `bun build --target=node`, which
 * keeps `cloudflare:` and `node:` imports external); examples/edge_worker.ts
 * runs it in workerd against a sprig server on 127.0.0.1.
 */
import { connect as tcpConnect } from "cloudflare:sockets";
import { connect, type ConnectTarget, type Transport } from "../../mod.ts";
import { fromWebSocketLikeSocket } from "../../lib/transport/mod.ts";

/** Opens the TCP socket with the Workers runtime, for sprig's client. */
function workersTransport(target: ConnectTarget): Promise<Transport> {
  const socket = tcpConnect(
    { hostname: target.hostname, port: target.port },
    { secureTransport: target.tls ? "on" : "off" },
  );
  return Promise.resolve(fromWebSocketLikeSocket(socket));
}

/** One frame as it crossed the wire. */
export interface FrameSummary {
  rsv: number;
  bytes: number;
}

/** What the worker reports. */
export interface EdgeReport {
  ok: boolean;
  protocol?: string;
  extensions?: string;
  /** What came back for each message sent, in order ("<n> bytes" for the large one). */
  replies?: string[];
  /** The largest data frame each way: its RSV bits (4 = RSV1, compressed) and bytes on the wire. */
  largestFrame?: { sent: FrameSummary; received: FrameSummary };
  pingMs?: number;
  close?: { code: number | undefined; reason: string; wasClean: boolean };
  error?: string;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const target = new URL(request.url).searchParams.get("url");
    if (!target) return new Response("add ?url=ws://host:port/", { status: 400 });
    const report: EdgeReport = { ok: false };
    try {
      const ws = await connect(target, {
        transport: workersTransport,
        compression: true,
        keepalive: false, // the Worker lives for this request only
      });
      report.protocol = ws.protocol;
      report.extensions = ws.extensions;
      report.replies = [];
      const largest = { sent: { rsv: 0, bytes: 0 }, received: { rsv: 0, bytes: 0 } };
      ws.on("frame", ({ direction, frame }) => {
        const side = direction === "out" ? largest.sent : largest.received;
        if (frame.opcode <= 2 && frame.payload.length > side.bytes) {
          side.rsv = frame.rsv;
          side.bytes = frame.payload.length;
        }
      });
      report.largestFrame = largest;
      // A large, compressible message: with permessage-deflate it crosses the wire compressed.
      const large = "sprig on the edge. ".repeat(4096);
      for (const message of ["hello from workerd", large, new Uint8Array([1, 2, 3])]) {
        await ws.send(message);
        const reply = await ws.receive({ timeoutMs: 5000 });
        report.replies.push(
          typeof reply === "string"
            ? (reply.length > 100
              ? `${reply.length} chars${reply === large ? ", intact" : ""}`
              : reply)
            : `binary ${Array.from(reply).join(",")}`,
        );
      }
      report.pingMs = await ws.ping();
      const info = await ws.close(1000, "done");
      report.close = { code: info.code, reason: info.reason, wasClean: info.wasClean };
      report.ok = info.wasClean;
    } catch (error) {
      report.error = String((error as Error)?.stack ?? error);
    }
    return Response.json(report);
  },
};
