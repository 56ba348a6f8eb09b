/**
 * One byte-stream interface over every runtime's sockets.
 *
 * @module
 */

import { concatBytes } from "../protocol/bytes.ts";

/**
 * Where a transport in push mode delivers what happens on the socket (see
 * {@link Transport.attach}). Every call is made from the runtime's own
 * socket callback, in the same turn of the event loop.
 */
export interface TransportSink {
  /** Bytes arrived; the chunk is the sink's to keep. */
  data(chunk: Uint8Array): void;
  /** The peer ended the stream (`error` undefined) or the socket failed. Called once, last. */
  end(error?: Error): void;
  /** After {@link Transport.writeNow} returned false: the runtime took what was queued. */
  drain(): void;
  /**
   * Optional: where the next read may land. A transport that reads into
   * buffers it is given (Deno's) asks before each read; when this returns
   * a view (the rest of a large frame's payload), it reads at most that
   * many bytes into it and passes the filled start of the same view to
   * {@link data}, which then copies nothing. Undefined: read as usual.
   */
  readBuffer?(): Uint8Array | undefined;
}

/**
 * A connected, reliable, ordered byte stream (TCP, TLS, a Unix socket, an
 * edge runtime's socket).
 *
 * Two ways to read: {@link Transport.read} pulls one chunk at a time (the
 * HTTP phase uses it), and {@link Transport.attach} switches to push mode,
 * where every chunk goes to a sink in the socket's own callback — the live
 * connection uses it, so that a read is parsed and answered in one turn
 * without a promise per message. While nobody reads (pull) or while paused
 * (push), the adapter stops reading the socket once a small buffer is full,
 * so a slow consumer slows the peer down.
 */
export interface Transport {
  /** The next chunk of bytes, or `null` once the peer ended the stream. Rejects on a socket error. */
  read(): Promise<Uint8Array | null>;
  /**
   * Writes the chunks in order. Resolves once the runtime accepted them
   * (handed to the kernel or to a bounded runtime buffer), so awaiting it is
   * backpressure. Rejects if the socket failed.
   */
  write(chunks: readonly Uint8Array[]): Promise<void>;
  /**
   * Push mode: from this call on, chunks already read and every later one go
   * to `sink.data` in order, and the end to `sink.end`; {@link read} is not
   * called again. Optional: sprig drives a transport without it by calling
   * {@link read} in a loop.
   */
  attach?(sink: TransportSink): void;
  /** Push mode: stops reading the socket (inbound backpressure) until {@link resume}. */
  pause?(): void;
  /** Push mode: reads the socket again. */
  resume?(): void;
  /**
   * Writes the chunks in order without a promise: true when the runtime took
   * them within its buffer, false when it holds more than it wants (the bytes
   * are kept and go out in order; `sink.drain` says when to go on). A failure
   * ends the transport through `sink.end`. Optional, and only called once
   * attached; sprig uses {@link write} otherwise.
   */
  writeNow?(chunks: readonly Uint8Array[]): boolean;
  /** Closes the socket (both directions) and releases it. Idempotent. */
  close(): void;
  /**
   * True for a transport whose writes must be made within the read's own
   * callback to leave promptly: the live connection then writes what a read
   * produced at once, not with the shared end-of-turn write. Bun's
   * `node:http2` queues a stream's writes made from a later task behind
   * another stream stalled by flow control. Default false.
   */
  readonly writeInReadTurn?: boolean;
  /** Resolves when the socket is fully closed, whatever the reason. */
  readonly closed: Promise<void>;
  /** The peer's address, when the runtime knows it. */
  readonly remoteAddress?: TransportAddress;
  /** Bytes written but not yet accepted by the operating system, when known. */
  readonly bufferedAmount?: number;
}

/** A socket address. */
export interface TransportAddress {
  /** The IP address (IPv6 without brackets); for a Unix socket, its path (possibly `""`). */
  hostname: string;
  /** The port; 0 for a Unix socket or when the runtime does not say. */
  port: number;
  /** `"tcp"` or `"unix"`. */
  transport?: "tcp" | "unix";
}

/** Where and how to connect. */
export interface ConnectTarget {
  /** Host name or IP literal (IPv6 without brackets). */
  hostname: string;
  /** The TCP port, 1–65535. */
  port: number;
  /** Connect with TLS. */
  tls?: boolean;
  /** A Unix domain socket path; `hostname` and `port` are then only used for TLS names and the Host header. */
  unixPath?: string;
  /** Extra trusted CA certificates, PEM. Default: the runtime's trust store. */
  caCerts?: string[];
  /** The TLS server name to verify and send (SNI). Default: `hostname`. */
  serverName?: string;
  /** A client certificate chain to present (mutual TLS), PEM. Default none. */
  cert?: string;
  /** The private key of `cert`, PEM. */
  key?: string;
  /** The passphrase of an encrypted `key`. */
  passphrase?: string;
  /**
   * Skip verifying the server's certificate. Default false. Only for tests
   * against self-signed servers: it allows anyone on the path to read and
   * change the traffic.
   */
  insecure?: boolean;
  /** ALPN protocols to offer, for example `["h2"]`. */
  alpnProtocols?: string[];
}

/** Opens a {@link Transport} to a target; cancelled by `signal`. */
export type Connector = (target: ConnectTarget, signal?: AbortSignal) => Promise<Transport>;

/** Chunks that a transport keeps while nobody reads, before it stops reading the socket. */
export const READ_HIGH_WATER_BYTES = 256 * 1024;

/** How long close() lets queued bytes drain to a peer that does not read, before dropping the socket. */
export const CLOSE_GRACE_MS = 5000;

/** A chunk this large is written as it is: copying it costs more than a write of its own. */
const JOIN_CHUNK_MAX = 16 * 1024;

/**
 * For runtimes without a gathered write: joins runs of small chunks (under
 * 16 KiB) into one buffer each, so that small frames do not each take a
 * system call and a segment; larger chunks stay as they are (a copy of
 * them would cost more than their own write). One chunk when everything
 * was small.
 */
export function joinSmall(chunks: readonly Uint8Array[]): Uint8Array | readonly Uint8Array[] {
  let small = true;
  for (let i = 0; i < chunks.length; i++) {
    if (chunks[i].length >= JOIN_CHUNK_MAX) {
      small = false;
      break;
    }
  }
  if (small) return concatBytes(chunks, totalBytes(chunks, 0, chunks.length));
  const out: Uint8Array[] = [];
  let from = 0;
  for (let i = 0; i <= chunks.length; i++) {
    if (i < chunks.length && chunks[i].length < JOIN_CHUNK_MAX) continue;
    // chunks[from, i) are small: one buffer (or the chunk itself)
    if (i - from === 1) out.push(chunks[from]);
    else if (i > from) out.push(concatBytes(chunks.slice(from, i), totalBytes(chunks, from, i)));
    if (i < chunks.length) out.push(chunks[i]);
    from = i + 1;
  }
  return out.length === 1 ? out[0] : out;
}

function totalBytes(chunks: readonly Uint8Array[], from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) n += chunks[i].length;
  return n;
}
