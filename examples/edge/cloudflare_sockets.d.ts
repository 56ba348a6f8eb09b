// Types of the `cloudflare:sockets` module that workerd (Cloudflare Workers)
// provides, as far as examples/edge/worker.ts uses it; from Cloudflare's
// documentation of TCP sockets. tsc reads this; Deno leaves `cloudflare:`
// imports unresolved and untyped.
declare module "cloudflare:sockets" {
  /** Where to connect: `"host:port"` or an object. */
  export type SocketAddress = string | { hostname: string; port: number };

  /** Options of `connect()`. */
  export interface SocketOptions {
    /** `"off"` (default): plain TCP; `"on"`: TLS; `"starttls"`: TLS later, with `startTls()`. */
    secureTransport?: "off" | "on" | "starttls";
    /** Keep the writable open after the readable ended. Default false. */
    allowHalfOpen?: boolean;
  }

  /** An outbound TCP socket. */
  export interface Socket {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly opened: Promise<{ remoteAddress?: string; localAddress?: string }>;
    readonly closed: Promise<void>;
    close(): Promise<void>;
    startTls(): Socket;
  }

  /** Opens a TCP connection; the worker's `globalOutbound` decides which addresses it may reach. */
  export function connect(address: SocketAddress, options?: SocketOptions): Socket;
}
