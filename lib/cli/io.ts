/**
 * The CLI's contact with its process: stdin, stdout, stderr and signals.
 *
 * @module
 */

import process from "node:process";

/** What the CLI reads, writes and listens to. */
export interface Io {
  /** The bytes of stdin. */
  stdin: AsyncIterable<Uint8Array | string>;
  /**
   * Writes data to stdout; resolves when it was taken (backpressure), and
   * rejects with {@link StdoutClosedError} once stdout is gone.
   */
  out(text: string): Promise<void>;
  /** Writes one line to stderr. */
  err(line: string): void;
  /** Calls `handler` on SIGINT and SIGTERM; returns a function that stops. */
  onSignal(handler: (signal: "SIGINT" | "SIGTERM") => void): () => void;
  /** Resolves once what was written to stdout and stderr has been handed over. */
  flush(): Promise<void>;
}

/** stdout was closed by its reader (a pipe to `head`, say). */
export class StdoutClosedError extends Error {
  /** The message says what happened. */
  constructor() {
    super("stdout is closed");
    this.name = "StdoutClosedError";
  }
}

/** The process's own stdin, stdout, stderr and signals. */
export function processIo(): Io {
  let stdoutBroken = false;
  process.stdout.on("error", () => {
    // A closed pipe (`sprig … | head -1`): stop writing, do not crash.
    stdoutBroken = true;
  });
  const write = (stream: NodeJS.WriteStream, text: string) =>
    new Promise<void>((resolve, reject) => {
      if (stream === process.stdout && stdoutBroken) return reject(new StdoutClosedError());
      stream.write(text, (error) => {
        if (error && stream === process.stdout) reject(new StdoutClosedError());
        else resolve();
      });
    });
  return {
    stdin: process.stdin,
    out: (text) => write(process.stdout, text),
    err: (line) => void process.stderr.write(`${line}\n`),
    onSignal(handler) {
      const onInt = () => handler("SIGINT");
      const onTerm = () => handler("SIGTERM");
      process.on("SIGINT", onInt);
      process.on("SIGTERM", onTerm);
      return () => {
        process.off("SIGINT", onInt);
        process.off("SIGTERM", onTerm);
      };
    },
    async flush() {
      await Promise.all([write(process.stdout, "").catch(() => {}), write(process.stderr, "")]);
    },
  };
}
