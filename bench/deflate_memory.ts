/**
 * permessage-deflate: memory held by idle connections, the cost of a
 * compression bomb, and per-message time. Runs on all three runtimes:
 *
 *   node --expose-gc --import tsx bench/deflate_memory.ts
 *   deno run -A --v8-flags=--expose-gc bench/deflate_memory.ts
 *   bun bench/deflate_memory.ts
 *
 * Figures are rough (GC timing, allocator slack); they are for comparing
 * configurations and runtimes, not for asserting.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import process from "node:process";
import { createDeflateRaw, createInflateRaw, deflateRawSync } from "node:zlib";
import { MessageTooBigError } from "../lib/errors.ts";
import { Opcode, RSV1 } from "../lib/protocol/frame.ts";
import {
  type DeflateParameters,
  PerMessageDeflate,
  zlibSupport,
} from "../lib/extensions/permessage_deflate.ts";

const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
const g = globalThis as { gc?: () => void; Bun?: { gc(force: boolean): void } };

function collect(): void {
  for (let i = 0; i < 3; i++) {
    if (g.Bun) g.Bun.gc(true);
    else g.gc?.();
  }
}

function memory(): { rss: number; js: number } {
  collect();
  const m = process.memoryUsage();
  // Typed-array stores count as external/arrayBuffers, not heapUsed.
  return { rss: m.rss, js: m.heapUsed + m.external };
}

/** Peak RSS of the process so far (Linux `VmHWM`), or the current RSS elsewhere. */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.memoryUsage().rss;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const fmt = (n: number) => `${(n / KiB).toFixed(1)} KiB`;

function text(n: number, seed: number): Uint8Array {
  const words = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "sprig",
    "frame",
    "window",
    '{"id":',
    "message",
  ];
  let s = "";
  let x = seed;
  while (s.length < n) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += words[x % words.length] + (x % 7 === 0 ? String(x) : " ");
  }
  return new TextEncoder().encode(s.slice(0, n));
}

const base: DeflateParameters = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

/** Memory per idle connection (one server-side codec) after some traffic both ways. */
function idle(label: string, agreed: DeflateParameters, connections = 2000): void {
  const messages = [text(200, 1), text(5000, 2), text(40000, 3), text(300, 4)];
  const before = memory();
  const held: PerMessageDeflate[] = [];
  for (let i = 0; i < connections; i++) {
    const ext = new PerMessageDeflate("server", agreed, { threshold: 0 });
    // The peer's codec is dropped after the exchange; only ours stays.
    const peer = new PerMessageDeflate("client", agreed, { threshold: 0 });
    for (const m of messages) {
      const out = ext.encode(m, Opcode.Text);
      peer.decode(out.payload, out.rsv, 64 * MiB);
      const back = peer.encode(m, Opcode.Text);
      ext.decode(back.payload, back.rsv, 64 * MiB);
    }
    held.push(ext);
  }
  const after = memory();
  const retained = held.reduce((n, e) => n + e.retainedBytes, 0) / connections;
  console.log(
    `${runtime} idle ${label}: windows ${fmt(retained)}/conn; measured JS+external ${
      fmt((after.js - before.js) / connections)
    }/conn, RSS ${fmt((after.rss - before.rss) / connections)}/conn (${connections} conns)`,
  );
  held.length = 0;
}

/** For comparison: what a streaming design holds per connection (one deflater and one inflater). */
async function streamingBaseline(connections = 500): Promise<void> {
  const before = memory();
  const held: unknown[] = [];
  const m = text(40000, 5);
  for (let i = 0; i < connections; i++) {
    const d = createDeflateRaw({ windowBits: 15, memLevel: 8 });
    const inf = createInflateRaw({ windowBits: 15 });
    const z = await new Promise<Uint8Array>((resolve) => {
      const parts: Uint8Array[] = [];
      d.on("data", (c: Uint8Array) => parts.push(c));
      d.write(m);
      d.flush(() => resolve(concatAll(parts)));
    });
    await new Promise<void>((resolve) => {
      inf.on("data", () => {});
      inf.write(z);
      inf.flush(() => resolve());
    });
    held.push(d, inf);
  }
  const after = memory();
  console.log(
    `${runtime} idle streaming zlib (deflate+inflate, 15 bits, memLevel 8) for comparison: RSS ${
      fmt((after.rss - before.rss) / connections)
    }/conn (${connections} conns)`,
  );
  for (const h of held) (h as { close(): void }).close();
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

/** A 1 GiB-of-zeros bomb (≈ 1 MB on the wire) against a limit. */
function bomb(limit: number): void {
  const unit = deflateRawSync(new Uint8Array(MiB), { level: 9, finishFlush: 2 });
  const payload = concatAll(new Array<Uint8Array>(1024).fill(unit));
  const ext = new PerMessageDeflate("client", base);
  collect();
  const before = peakRss();
  const t0 = performance.now();
  let outcome = "no error (!)";
  try {
    ext.decode(payload, RSV1, limit);
  } catch (e) {
    outcome = e instanceof MessageTooBigError ? `${e.code} (${e.closeCode})` : String(e);
  }
  const ms = performance.now() - t0;
  const grew = peakRss() - before;
  console.log(
    `${runtime} bomb: ${(payload.length / MiB).toFixed(2)} MiB → 1 GiB, limit ${
      limit / MiB
    } MiB: ${outcome} in ${ms.toFixed(1)} ms, peak RSS grew ${(grew / MiB).toFixed(1)} MiB`,
  );
}

/** Time per message, encode and decode, for a few sizes. */
function perMessage(): void {
  for (const takeover of [false, true]) {
    for (const size of [100, 1024, 16 * KiB, MiB]) {
      const a = { ...base, serverNoContextTakeover: !takeover };
      const tx = new PerMessageDeflate("server", a, { threshold: 0 });
      const rx = new PerMessageDeflate("client", a);
      const msgs = Array.from({ length: 8 }, (_, i) => text(size, i + 10));
      const rounds = size >= MiB ? 8 : size >= 16 * KiB ? 200 : 2000;
      let enc = 0, dec = 0, wire = 0;
      for (let i = 0; i < rounds; i++) {
        const m = msgs[i % msgs.length];
        const t0 = performance.now();
        const out = tx.encode(m, Opcode.Text);
        const t1 = performance.now();
        rx.decode(out.payload, out.rsv, 64 * MiB);
        dec += performance.now() - t1;
        enc += t1 - t0;
        wire += out.payload.length;
      }
      console.log(
        `${runtime} ${takeover ? "takeover   " : "no takeover"} ${
          String(size).padStart(7)
        } B: encode ${(enc / rounds * 1000).toFixed(1)} µs, decode ${
          (dec / rounds * 1000).toFixed(1)
        } µs, ratio ${(wire / (rounds * size)).toFixed(3)}`,
      );
    }
  }
}

console.log(`${runtime} zlib support:`, JSON.stringify(zlibSupport()));
if (!g.gc && !g.Bun) console.log(`${runtime}: no gc() exposed; memory figures are noisier`);
// Bombs first: the peak-RSS reading is only meaningful while the peak is theirs.
bomb(MiB);
bomb(64 * MiB);
idle("no takeover", { ...base, serverNoContextTakeover: true, clientNoContextTakeover: true });
idle("takeover 15 bits", base);
idle("takeover 10 bits", { ...base, serverMaxWindowBits: 10, clientMaxWindowBits: 10 });
await streamingBaseline();
perMessage();
