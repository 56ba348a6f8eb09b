// Tiny proxies for tests, on 127.0.0.1 (node:net): an HTTP CONNECT proxy
// and a SOCKS5 proxy (RFC 1928, username/password RFC 1929), each with
// optional credentials, recording the targets they were asked for.
import * as net from "node:net";
import { Buffer } from "node:buffer";

export interface TestProxy {
  readonly port: number;
  /** `host:port` of each tunnel asked for, in order. */
  readonly targets: string[];
  /** Open tunnels and client sockets. */
  readonly sockets: Set<net.Socket>;
  close(): Promise<void>;
}

export interface ProxyAuth {
  username: string;
  password: string;
}

function listen(
  server: net.Server,
  sockets: Set<net.Socket>,
  targets: string[],
): Promise<TestProxy> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      resolve({
        port,
        targets,
        sockets,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

function track(sockets: Set<net.Socket>, socket: net.Socket): void {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => socket.destroy());
}

/** Joins a client socket and an upstream socket both ways; either end closing closes both. */
function splice(a: net.Socket, b: net.Socket, rest: Uint8Array): void {
  if (rest.length > 0) b.write(rest);
  a.pipe(b);
  b.pipe(a);
  a.on("close", () => b.destroy());
  b.on("close", () => a.destroy());
}

/** An HTTP CONNECT proxy; with `auth`, a request without the right Basic credentials gets 407. */
export function startHttpProxy(auth?: ProxyAuth): Promise<TestProxy> {
  const sockets = new Set<net.Socket>();
  const targets: string[] = [];
  const server = net.createServer((client) => {
    track(sockets, client);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end === -1) return;
      client.off("data", onData);
      client.pause();
      const text = head.subarray(0, end).toString("latin1");
      const rest = head.subarray(end + 4);
      const [requestLine, ...fields] = text.split("\r\n");
      const m = /^CONNECT (\S+) HTTP\/1\.1$/.exec(requestLine);
      if (!m) {
        client.end("HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n");
        return;
      }
      if (auth) {
        const expected = "Basic " +
          Buffer.from(`${auth.username}:${auth.password}`).toString("base64");
        const given = fields.find((f) => /^proxy-authorization:/i.test(f))?.replace(
          /^[^:]*:\s*/,
          "",
        );
        if (given !== expected) {
          client.end(
            "HTTP/1.1 407 Proxy Authentication Required\r\n" +
              'Proxy-Authenticate: Basic realm="test"\r\ncontent-length: 0\r\n\r\n',
          );
          return;
        }
      }
      targets.push(m[1]);
      const at = m[1].lastIndexOf(":");
      const host = m[1].slice(0, at).replace(/^\[|\]$/g, "");
      const port = Number(m[1].slice(at + 1));
      const upstream = net.connect({ host, port });
      track(sockets, upstream);
      upstream.once("error", () => {
        if (!client.destroyed) client.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
      });
      upstream.once("connect", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        splice(client, upstream, rest);
        client.resume();
      });
    };
    client.on("data", onData);
  });
  return listen(server, sockets, targets);
}

/** A SOCKS5 proxy (CONNECT only); with `auth`, method 2 (username/password) is required. */
export function startSocks5Proxy(auth?: ProxyAuth): Promise<TestProxy> {
  const sockets = new Set<net.Socket>();
  const targets: string[] = [];
  const server = net.createServer((client) => {
    track(sockets, client);
    let buffer = Buffer.alloc(0);
    let stage: "greeting" | "auth" | "request" = "greeting";
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (true) {
        if (stage === "greeting") {
          if (buffer.length < 2 || buffer.length < 2 + buffer[1]) return;
          const methods = [...buffer.subarray(2, 2 + buffer[1])];
          buffer = buffer.subarray(2 + buffer[1]);
          const wanted = auth ? 2 : 0;
          if (!methods.includes(wanted)) {
            client.end(Buffer.from([5, 0xff]));
            return;
          }
          client.write(Buffer.from([5, wanted]));
          stage = auth ? "auth" : "request";
        } else if (stage === "auth") {
          if (buffer.length < 2) return;
          const ulen = buffer[1];
          if (buffer.length < 3 + ulen) return;
          const plen = buffer[2 + ulen];
          if (buffer.length < 3 + ulen + plen) return;
          const user = buffer.subarray(2, 2 + ulen).toString();
          const pass = buffer.subarray(3 + ulen, 3 + ulen + plen).toString();
          buffer = buffer.subarray(3 + ulen + plen);
          if (user !== auth!.username || pass !== auth!.password) {
            client.end(Buffer.from([1, 1]));
            return;
          }
          client.write(Buffer.from([1, 0]));
          stage = "request";
        } else {
          if (buffer.length < 5) return;
          const type = buffer[3];
          const length = type === 1 ? 4 : type === 4 ? 16 : 1 + buffer[4];
          if (buffer.length < 4 + length + 2) return;
          let host: string;
          if (type === 1) host = [...buffer.subarray(4, 8)].join(".");
          else if (type === 3) host = buffer.subarray(5, 5 + buffer[4]).toString();
          else {
            const b = buffer.subarray(4, 20);
            const groups: string[] = [];
            for (let i = 0; i < 16; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
            host = groups.join(":");
          }
          const port = buffer.readUInt16BE(4 + length);
          const rest = buffer.subarray(4 + length + 2);
          client.off("data", onData);
          client.pause();
          targets.push(`${host}:${port}`);
          const upstream = net.connect({ host, port });
          track(sockets, upstream);
          upstream.once("error", () => {
            // RFC 1928 §6: 5, connection refused.
            if (!client.destroyed) client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
          });
          upstream.once("connect", () => {
            client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
            splice(client, upstream, rest);
            client.resume();
          });
          return;
        }
      }
    };
    client.on("data", onData);
  });
  return listen(server, sockets, targets);
}
