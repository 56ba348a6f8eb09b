/**
 * `sprig --listen PORT`: an echo server, or a broadcast server.
 *
 * @module
 */

import {
  type ConnectionRef,
  defineHandler,
  type MessageData,
  serve,
  type Server,
} from "../../mod.ts";
import type { ServerConfig } from "./args.ts";
import { ExitCode } from "./format.ts";
import type { Io } from "./io.ts";

/** The topic every connection of a broadcast server joins. */
const EVERYONE = "everyone";

/** Runs the server until a signal shuts it down; resolves with the exit code. */
export async function runServer(config: ServerConfig, io: Io): Promise<number> {
  const log = config.verbose ? (line: string) => io.err(line) : () => {};
  const handler = defineHandler<ConnectionRef>({
    init: (ctx) => {
      const peer = ctx.remoteAddress
        ? ` from ${ctx.remoteAddress.hostname}:${ctx.remoteAddress.port}`
        : "";
      log(
        `* #${ctx.ref.id} open${peer} ${ctx.url.pathname}${ctx.url.search}` +
          (ctx.protocol ? `, subprotocol ${JSON.stringify(ctx.protocol)}` : "") +
          (ctx.extensions ? `, extensions ${JSON.stringify(ctx.extensions)}` : ""),
      );
      if (config.broadcast) ctx.ref.subscribe(EVERYONE);
      return { state: ctx.ref };
    },
    in: (message: MessageData, ref) => {
      // Broadcast: the others through the topic, the sender by its own push.
      if (config.broadcast) ref.publish(EVERYONE, message);
      return { push: message };
    },
    terminate: (reason, ref) => {
      log(
        `* #${ref.id} closed (${reason.type}): code ${reason.code}` +
          (reason.reason ? ` ${JSON.stringify(reason.reason)}` : "") +
          ("error" in reason ? ` (${reason.error.message})` : ""),
      );
    },
  });

  let server: Server;
  try {
    server = await serve({
      hostname: config.host,
      port: config.port,
      protocols: config.protocols,
      compression: config.compression,
      closeTimeoutMs: config.closeTimeoutMs,
      http2: config.http2,
      trace: config.verbose ? (line) => io.err(line) : undefined,
      onError: (error) => io.err(`sprig: ${(error as Error)?.message ?? error}`),
    }, handler);
  } catch (error) {
    io.err(`sprig: cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
    return ExitCode.Connect;
  }

  let signals = 0;
  let forced: ((code: number) => void) | undefined;
  const hardStop = new Promise<number>((resolve) => (forced = resolve));
  const stopSignals = io.onSignal((signal) => {
    if (++signals === 1) {
      io.err(`sprig: ${signal}: shutting down, closing connections with 1001`);
      void server.shutdown();
    } else {
      io.err(`sprig: ${signal} again: stopping now`);
      forced!(ExitCode.Interrupted);
    }
  });
  try {
    await io.out(`listening on ${server.url.href}\n`);
    return await Promise.race([server.finished.then(() => ExitCode.Ok), hardStop]);
  } finally {
    stopSignals();
  }
}
