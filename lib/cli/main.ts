/**
 * The CLI's entry: parse the command line, run the client or the server.
 *
 * @module
 */

import { parseCommandLine, USAGE, UsageError } from "./args.ts";
import { runClient } from "./client.ts";
import { ExitCode } from "./format.ts";
import { type Io, processIo } from "./io.ts";
import { runServer } from "./server.ts";
import { VERSION } from "./version.ts";

/**
 * Runs `sprig` with the arguments after the program name; resolves with the
 * exit code (it does not exit).
 */
export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  let command;
  try {
    command = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`sprig: ${error.message}`);
    io.err("Try 'sprig --help'.");
    return ExitCode.Usage;
  }
  switch (command.mode) {
    case "help":
      await io.out(USAGE);
      return ExitCode.Ok;
    case "version":
      await io.out(`sprig ${VERSION}\n`);
      return ExitCode.Ok;
    case "client":
      return await runClient(command, io);
    case "server":
      return await runServer(command, io);
  }
}
