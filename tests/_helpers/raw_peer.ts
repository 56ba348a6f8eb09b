/**
 * Raw WebSocket peers for tests that need exact bytes on the wire: a server
 * that completes the opening handshake and then hands the test the socket,
 * and a client that upgrades to a server and does the same. Frames are
 * written with {@link rawFrame}, which accepts anything, including what the
 * RFC forbids.
 */
import * as net from "node:net";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { FrameParser } from "../../lib/protocol/frame_parser.ts";
import type { Frame } from "../../lib/protocol/frame.ts";

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MASK = [0x37, 0xfa, 0x21, 0x3d];

/**
 * One frame, byte 0 as given (FIN, RSV bits and opcode, even reserved
 * ones), the payload masked when `masked` (a client's frames).
 */
export function rawFrame(b0: number, payload: Uint8Array | string, masked: boolean): Uint8Array {
  const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  if (data.length > 125) throw new RangeError("rawFrame writes short frames only");
  const out = new Uint8Array(2 + (masked ? 4 : 0) + data.length);
  out[0] = b0;
  out[1] = (masked ? 0x80 : 0) | data.length;
  let at = 2;
  if (masked) {
    out.set(MASK, 2);
    at = 6;
  }
  for (let i = 0; i < data.length; i++) out[at + i] = masked ? data[i] ^ MASK[i & 3] : data[i];
  return out;
}

/** A close frame's payload: the code, then the reason. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const r = new TextEncoder().encode(reason);
  const out = new Uint8Array(2 + r.length);
  out[0] = code >> 8;
  out[1] = code & 0xff;
  out.set(r, 2);
  return out;
}

/** A socket after the handshake, with what arrived decoded as frames. */
export interface RawSocket {
  socket: net.Socket;
  /** Writes bytes as one TCP write. */
  write(bytes: Uint8Array): void;
  /** Frames received so far (payloads unmasked). */
  frames: Frame[];
  /** Resolves when at least `n` frames arrived, or rejects after `timeoutMs`. */
  waitFrames(n: number, timeoutMs?: number): Promise<Frame[]>;
  /** Resolves when the peer closed the TCP connection. */
  ended: Promise<void>;
}

function wrap(socket: net.Socket, masked: boolean, rest: Uint8Array): RawSocket {
  const parser = new FrameParser({ mask: masked ? "required" : "forbidden" });
  const frames: Frame[] = [];
  let waiters: Array<() => void> = [];
  const feed = (chunk: Uint8Array) => {
    const r = parser.parse(chunk);
    frames.push(...r.frames.map((f) => ({ ...f, payload: f.payload.slice() })));
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  if (rest.length > 0) feed(rest);
  socket.on("data", (b: Uint8Array) => feed(new Uint8Array(b)));
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  ended.then(() => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  });
  let closed = false;
  ended.then(() => (closed = true));
  return {
    socket,
    frames,
    ended,
    write: (bytes) => void socket.write(bytes),
    async waitFrames(n, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (frames.length < n) {
        if (closed) throw new Error(`the connection closed after ${frames.length} frames`);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(`only ${frames.length} of ${n} frames within ${timeoutMs} ms`);
        }
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(t);
            resolve();
          });
        });
      }
      return frames;
    },
  };
}

/** Reads from `socket` until the end of an HTTP head; returns the head and what followed. */
async function readHead(socket: net.Socket): Promise<{ head: string; rest: Uint8Array }> {
  let buffered = Buffer.alloc(0);
  for (let i = 0; i < 1000; i++) {
    const at = buffered.indexOf("\r\n\r\n");
    if (at !== -1) {
      return {
        head: buffered.subarray(0, at).toString("latin1"),
        rest: new Uint8Array(buffered.subarray(at + 4)),
      };
    }
    const [chunk] = (await once(socket, "data")) as [Buffer];
    buffered = Buffer.concat([buffered, chunk]);
  }
  throw new Error("no HTTP head");
}

/** A raw server: each accepted connection is upgraded and handed to `onSocket`. */
export async function rawServer(
  onSocket: (s: RawSocket) => void,
): Promise<{ port: number; url: string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(async (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => sockets.delete(socket));
    try {
      const { head, rest } = await readHead(socket);
      const key = /^sec-websocket-key:\s*(\S+)/im.exec(head)?.[1] ?? "";
      const accept = createHash("sha1").update(key + GUID).digest("base64");
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      onSocket(wrap(socket, true, rest));
    } catch {
      socket.destroy();
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/`,
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A raw client: upgrades to `port` (path `path`) and returns the socket. */
export async function rawClient(port: number, path = "/"): Promise<RawSocket> {
  const socket = net.connect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  await once(socket, "connect");
  socket.setNoDelay(true);
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n",
  );
  const { head, rest } = await readHead(socket);
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`not upgraded: ${head.split("\r\n")[0]}`);
  return wrap(socket, false, rest);
}
