// Helpers of the HTTP/2 tests: a request's header list, the error codes of
// the GOAWAY and RST_STREAM frames a server sent, and a GET over node:http2.
import { FrameType, type RawFrame } from "../../lib/protocol/http2/frame.ts";
import type { HeaderField } from "../../lib/protocol/http2/hpack.ts";
import type * as http2 from "node:http2";

/** A plain GET of /a on x.test. */
export const GET: HeaderField[] = [
  [":method", "GET"],
  [":scheme", "http"],
  [":path", "/a"],
  [":authority", "x.test"],
];

/** The error code of the first GOAWAY among `frames` (RFC 9113 §6.8), if any. */
export function goawayCode(frames: RawFrame[]): number | undefined {
  const g = frames.find((f) => f.type === FrameType.GOAWAY);
  return g && new DataView(g.payload.buffer, g.payload.byteOffset).getUint32(4);
}

/** The error code of the first RST_STREAM of stream `id` (RFC 9113 §6.4), if any. */
export function rstCode(frames: RawFrame[], id: number): number | undefined {
  const r = frames.find((f) => f.type === FrameType.RST_STREAM && f.streamId === id);
  return r && new DataView(r.payload.buffer, r.payload.byteOffset).getUint32(0);
}

/** A plain GET on a node:http2 client session; resolves with the body as text. */
export function http2Get(session: http2.ClientHttp2Session, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":path": path });
    let body = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => (body += chunk));
    stream.on("end", () => resolve(body));
    stream.on("error", reject);
  });
}
