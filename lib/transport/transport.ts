/**
 * One byte-stream interface over every runtime's sockets.
 *
 * @module
 */

/**
 * A connected, reliable, ordered byte stream (TCP, TLS, a Unix socket, an
 * edge runtime's socket). Reading is pull-based: while nobody calls
 * {@link Transport.read}, the adapter stops reading from the socket once a
 * small buffer is full, so a slow consumer slows the peer down.
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
  /** Closes the socket (both directions) and releases it. Idempotent. */
  close(): void;
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
