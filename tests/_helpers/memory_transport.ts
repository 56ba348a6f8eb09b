/** An in-memory Transport pair, for session tests without sockets. */

import type { Transport } from "../../lib/transport/transport.ts";

/** One end of the pair, with counters for assertions. */
export interface MemoryEnd extends Transport {
  /** How many times read() was called. */
  reads: number;
  /** True once close() was called on this end. */
  isClosed: boolean;
  /**
   * Chunks delivered but not read. Seen above 0 at a macrotask boundary, the
   * reader has stopped (a reading loop would have taken them in microtasks).
   */
  readonly queued: number;
}

/** Two connected transports: what one writes, the other reads. */
export function memoryPair(): [MemoryEnd, MemoryEnd] {
  const a = new End();
  const b = new End();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class End implements MemoryEnd {
  peer!: End;
  reads = 0;
  isClosed = false;
  #inbox: Uint8Array[] = [];
  #eof = false;

  get queued(): number {
    return this.#inbox.length;
  }
  #waiter: ((v: Uint8Array | null) => void) | undefined;
  #resolveClosed!: () => void;
  readonly closed: Promise<void> = new Promise((r) => (this.#resolveClosed = r));

  deliver(chunk: Uint8Array | null): void {
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w(chunk);
      return;
    }
    if (chunk === null) this.#eof = true;
    else this.#inbox.push(chunk);
  }

  read(): Promise<Uint8Array | null> {
    this.reads++;
    if (this.#inbox.length > 0) return Promise.resolve(this.#inbox.shift()!);
    if (this.#eof || this.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  write(chunks: readonly Uint8Array[]): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error("closed"));
    for (const c of chunks) this.peer.deliver(c.slice());
    return Promise.resolve();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.peer.deliver(null);
    this.deliver(null);
    this.#resolveClosed();
  }
}
