// A WebSocket handshake sent by hand, to see the response head that client
// libraries hide (the 101's headers, a refusal's status).
import * as net from "node:net";

/**
 * Sends a WebSocket handshake by hand and returns the response head (status
 * and headers), to see what a client library would hide (the 101's headers).
 */
export function rawHandshake(
  port: number,
  path: string,
  headers: Record<string, string>,
  method = "GET",
): Promise<{ status: number; headers: Headers }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response head within 10 s: ${JSON.stringify(received)}`));
    }, 10_000);
    socket.setEncoding("latin1");
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("data", (text: string) => {
      received += text;
      const end = received.indexOf("\r\n\r\n");
      if (end === -1) return;
      clearTimeout(timer);
      socket.destroy();
      const [statusLine, ...lines] = received.slice(0, end).split("\r\n");
      const result = new Headers();
      for (const line of lines) {
        const colon = line.indexOf(":");
        result.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers: result });
    });
    socket.once("connect", () => {
      const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join(
        "",
      );
      socket.write(
        `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`,
      );
    });
  });
}
