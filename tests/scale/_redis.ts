/**
 * Debian's redis-server for the broker tests: on 127.0.0.1, a free port,
 * nothing saved to disk, ready once it answers PING; killed and restarted on
 * the same port on demand.
 */

import { type ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";

export const REDIS_SERVER = "/usr/bin/redis-server";

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** One PING over RESP; true on `+PONG`. */
function ping(port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (d) => {
      reply += d.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
    socket.on("error", () => done(false));
  });
}

/** One command over RESP on a connection of its own; resolves with the reply's first line. */
export function redisCommand(port: number, args: string[], timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${args[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on("connect", () => {
      socket.write(
        `*${args.length}\r\n` +
          args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(""),
      );
    });
    socket.on("data", (d) => {
      reply += d.toString("latin1");
      const end = reply.indexOf("\r\n");
      if (end < 0) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply.slice(0, end));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** A running redis-server. */
export class RedisServer {
  #child: ChildProcess | undefined;
  private constructor(readonly port: number) {}

  /** Starts one on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port; resolves once it answers PING (bounded: 200 tries, 20 s). */
  async restart(): Promise<void> {
    const child = spawn(REDIS_SERVER, [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ], { stdio: "ignore" });
    this.#child = child;
    let exited = false;
    child.once("exit", () => (exited = true));
    const started = Date.now();
    for (let i = 0; i < 200 && Date.now() - started < 20_000; i++) {
      if (exited) throw new Error(`redis-server exited at start (port ${this.port})`);
      if (await ping(this.port, 250)) return;
      await new Promise((resolve) => setTimeout(resolve, 25 + i * 5));
    }
    child.kill("SIGKILL");
    throw new Error(`redis-server did not answer PING on port ${this.port}`);
  }

  /** SIGKILL, as a crash; resolves once the process is gone. */
  kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  /** Stops it for good. */
  stop(): Promise<void> {
    return this.kill();
  }
}

/** `INFO <section>` on a connection of its own: the whole text of the reply. */
export function redisInfo(port: number, section: string, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let reply = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to INFO within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on(
      "connect",
      () => socket.write(`*2\r\n$4\r\nINFO\r\n$${section.length}\r\n${section}\r\n`),
    );
    socket.on("data", (d) => {
      reply += d.toString("latin1");
      const end = reply.indexOf("\r\n");
      if (end < 0) return;
      const length = Number(reply.slice(1, end)); // a bulk string: $<length>
      if (reply.length < end + 2 + length) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply.slice(end + 2, end + 2 + length));
    });
    socket.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** How many times Redis ran `command` (`INFO commandstats`), 0 when never. */
export async function commandCalls(port: number, command: string): Promise<number> {
  const info = await redisInfo(port, "commandstats");
  const m = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, "m").exec(info);
  return m ? Number(m[1]) : 0;
}
