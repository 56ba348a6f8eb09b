/**
 * Raw WebSocket peers for tests that need exact bytes on the wire, as a
 * thin layer over the test kit's scripted peer (lib/testing/peer.ts): a
 * server that completes the opening handshake and then hands the test the
 * connection, and a client that upgrades to a server and does the same.
 * Frames are written with {@link rawFrame}, which accepts anything,
 * including what the RFC forbids.
 */
import type { Frame } from "../../lib/protocol/frame.ts";
import {
  closePayload,
  connectPeer,
  encodeRawFrame,
  listenPeer,
  type ScriptedPeer,
} from "../../lib/testing/mod.ts";

export { closePayload };

const MASK = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);

/**
 * One frame, byte 0 as given (FIN, RSV bits and opcode, even reserved
 * ones), the payload masked when `masked` (a client's frames).
 */
export function rawFrame(b0: number, payload: Uint8Array | string, masked: boolean): Uint8Array {
  return encodeRawFrame({
    fin: (b0 & 0x80) !== 0,
    rsv: (b0 >> 4) & 7,
    opcode: b0 & 15,
    payload,
    mask: masked ? MASK : false,
  }, false);
}

/** A socket after the handshake, with what arrived decoded as frames. */
export interface RawSocket {
  /** The scripted peer underneath. */
  peer: ScriptedPeer;
  /** The socket operations tests use: stop or resume reading, end, drop. */
  socket: { pause(): void; resume(): void; destroy(): void; end(callback?: () => void): void };
  /** Writes bytes as one TCP write. */
  write(bytes: Uint8Array): void;
  /** Frames received so far (payloads unmasked). */
  frames: Frame[];
  /** Resolves when at least `n` frames arrived, or rejects after `timeoutMs`. */
  waitFrames(n: number, timeoutMs?: number): Promise<Frame[]>;
  /** Resolves when the peer closed the TCP connection. */
  ended: Promise<void>;
}

function wrap(peer: ScriptedPeer): RawSocket {
  return {
    peer,
    socket: {
      pause: () => peer.pause(),
      resume: () => peer.resume(),
      destroy: () => peer.destroy(),
      end: (callback) => void peer.end().then(callback),
    },
    write: (bytes) => void peer.send(bytes).catch(() => {}),
    frames: peer.frames,
    waitFrames: (n, timeoutMs) => peer.waitFrames(n, timeoutMs),
    ended: peer.ended,
  };
}

/** A raw server: each accepted connection is upgraded and handed to `onSocket`. */
export async function rawServer(
  onSocket: (s: RawSocket) => void,
): Promise<{ port: number; url: string; close(): void }> {
  const server = await listenPeer({ onPeer: (peer) => onSocket(wrap(peer)) });
  return { port: server.port, url: server.url, close: () => void server.close() };
}

/** A raw client: upgrades to `port` (path `path`) and returns the socket. */
export async function rawClient(port: number, path = "/"): Promise<RawSocket> {
  return wrap(await connectPeer(`ws://127.0.0.1:${port}${path}`));
}
