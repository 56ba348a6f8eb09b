/**
 * The protocol core without sockets: how fast frames are parsed, masked and
 * encoded, and how many small messages a server Connection takes per second.
 * Each figure is the best of five timed runs after a warm-up.
 *
 *   npx tsx bench/protocol_bench.ts | deno run -A bench/protocol_bench.ts | bun bench/protocol_bench.ts
 */
import {
  applyMask,
  Connection,
  encodeFrame,
  FrameParser,
  Opcode,
  Utf8Validator,
} from "../lib/protocol/mod.ts";
import { detectRuntime } from "../lib/transport/connect.ts";

function best(fn: () => number, runs = 5): number {
  fn(); // warm-up
  let top = 0;
  for (let i = 0; i < runs; i++) top = Math.max(top, fn());
  return top;
}

/** Units per second of `work(n)` over `n` units. */
function rate(n: number, work: () => void): number {
  const t0 = performance.now();
  work();
  return n / ((performance.now() - t0) / 1000);
}

const mask = new Uint8Array([1, 2, 3, 4]);
const out: string[] = [`runtime: ${detectRuntime()}`];
const fmt = (label: string, value: number, unit: string) =>
  out.push(`${label.padEnd(44)} ${value.toFixed(value < 100 ? 1 : 0).padStart(12)} ${unit}`);

// Masking throughput.
const big = new Uint8Array(16 * 1024 * 1024);
fmt("applyMask 16 MiB", best(() => rate(16, () => applyMask(big, mask))), "MiB/s");

// Parsing masked frames of a few sizes, fed as 64 KiB chunks.
for (const size of [64, 16 * 1024, 1024 * 1024]) {
  const frame = encodeFrame({
    fin: true,
    rsv: 0,
    opcode: Opcode.Binary,
    payload: new Uint8Array(size),
  }, { mask });
  const count = Math.max(4, Math.floor((32 * 1024 * 1024) / frame.length));
  const wire = new Uint8Array(frame.length * count);
  for (let i = 0; i < count; i++) wire.set(frame, i * frame.length);
  const perSecond = best(() => {
    const copy = wire.slice(); // the parser unmasks in place
    const parser = new FrameParser({ mask: "required" });
    let frames = 0;
    return rate(count, () => {
      for (let at = 0; at < copy.length; at += 65536) {
        parser.push(copy.subarray(at, at + 65536), () => frames++);
      }
    });
  });
  fmt(
    `FrameParser, masked ${size} B frames`,
    perSecond,
    `frames/s (${((perSecond * size) / 1048576).toFixed(0)} MiB/s)`,
  );
}

// Encoding masked frames.
for (const size of [64, 16 * 1024]) {
  const payload = new Uint8Array(size);
  const n = size === 64 ? 500_000 : 20_000;
  fmt(
    `encodeFrame, masked ${size} B`,
    best(() =>
      rate(n, () => {
        for (let i = 0; i < n; i++) {
          encodeFrame({ fin: true, rsv: 0, opcode: Opcode.Binary, payload }, { mask });
        }
      })
    ),
    "frames/s",
  );
}

// A server Connection taking small text messages.
{
  const client = new Connection({ role: "client" });
  for (let i = 0; i < 100_000; i++) client.send(`{"n":${i},"text":"hello world"}`);
  const chunks = client.takeOutput();
  const wire = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    wire.set(c, at);
    at += c.length;
  }
  fmt(
    "Connection.receive, 30 B text messages",
    best(() => {
      const server = new Connection({ role: "server" });
      const copy = wire.slice();
      return rate(100_000, () => {
        for (let p = 0; p < copy.length; p += 65536) server.receive(copy.subarray(p, p + 65536));
      });
    }),
    "messages/s",
  );
}

// UTF-8 validation of fragmented text (the incremental validator).
{
  const text = new TextEncoder().encode("sprig κόσμε 𝄞 ".repeat(600_000));
  fmt(
    "Utf8Validator, mixed text",
    best(() => rate(text.length / 1048576, () => new Utf8Validator().push(text))),
    "MiB/s",
  );
}

console.log(out.join("\n"));
