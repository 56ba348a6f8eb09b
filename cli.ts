#!/usr/bin/env node
/**
 * `sprig`: a WebSocket client and server on the command line, like wscat
 * and websocat. `sprig --help` tells how; the README's "Command line"
 * section too.
 *
 * Run it with `npx sprig` (the built package), `deno run -A cli.ts`,
 * `bun cli.ts` or `tsx cli.ts`.
 *
 * @module
 */

import process from "node:process";
import { processIo } from "./lib/cli/io.ts";
import { main } from "./lib/cli/main.ts";

const io = processIo();
let code: number;
try {
  code = await main(process.argv.slice(2), io);
} catch (error) {
  io.err(`sprig: ${(error as Error)?.stack ?? error}`);
  code = 1;
}
await io.flush();
process.exit(code);
