/**
 * How the CLI shows things: messages on stdout, and on stderr the
 * handshake, frames, closes and errors, with the exit code each error means.
 *
 * @module
 */

import {
  type CloseInfo,
  ConnectionError,
  type Frame,
  HandshakeError,
  HttpParseError,
  type MessageData,
  SprigError,
  TimeoutError,
} from "../../mod.ts";
import { opcodeName } from "../protocol/frame.ts";
import { UsageError } from "./args.ts";

/** The exit codes, as `--help` lists them. */
export const ExitCode = {
  /** Closed cleanly with 1000, 1001 or no code; a server shut down. */
  Ok: 0,
  /** Anything unexpected. */
  Error: 1,
  /** Bad options or URL. */
  Usage: 2,
  /** The connection could not be opened (refused, unreachable, DNS, timeout), or listening failed. */
  Connect: 3,
  /** TLS failed (certificate not trusted, wrong name, not TLS). */
  Tls: 4,
  /** The server refused the upgrade or answered it wrongly. */
  Handshake: 5,
  /** The peer closed cleanly, with a code other than 1000, 1001 or none. */
  ClosedWithError: 6,
  /** The connection ended without a closing handshake. */
  Abnormal: 7,
  /** A second Ctrl-C (or SIGTERM) while closing. */
  Interrupted: 130,
} as const;

/** The marker that starts a binary message's line. */
export function binaryLine(bytes: Uint8Array): string {
  const head = `[binary ${bytes.length} byte${bytes.length === 1 ? "" : "s"}]`;
  return bytes.length === 0 ? head : `${head} ${toBase64(bytes)}`;
}

/** A received message as its stdout line (with the newline). */
export function messageLine(message: MessageData): string {
  return `${typeof message === "string" ? message : binaryLine(message)}\n`;
}

const decoder = new TextDecoder();

/** One frame as a `--verbose` line: `>>` sent, `<<` received. */
export function frameLine(direction: "in" | "out", frame: Frame): string {
  const { payload } = frame;
  const parts = [
    direction === "in" ? "<<" : ">>",
    opcodeName(frame.opcode) ?? `opcode ${frame.opcode}`,
  ];
  if (!frame.fin) parts.push("(not final)");
  if (frame.rsv !== 0) {
    parts.push(
      frame.rsv === 4 ? "rsv1 (compressed)" : `rsv ${frame.rsv.toString(2).padStart(3, "0")}`,
    );
  }
  parts.push(`${payload.length} byte${payload.length === 1 ? "" : "s"}`);
  if (frame.opcode === 8) {
    if (payload.length >= 2) {
      const code = (payload[0]! << 8) | payload[1]!;
      parts.push(`code ${code}`, JSON.stringify(decoder.decode(payload.subarray(2))));
    }
  } else if (payload.length > 0) {
    parts.push(
      (frame.opcode === 1 || frame.opcode === 0) && frame.rsv === 0
        ? preview(decoder.decode(payload.subarray(0, 240)))
        : hex(payload),
    );
  }
  return parts.join(" ");
}

function preview(text: string): string {
  return JSON.stringify(text.length > 60 ? text.slice(0, 60) : text) +
    (text.length > 60 ? "…" : "");
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes.subarray(0, 24)) s += (s ? " " : "") + b.toString(16).padStart(2, "0");
  return bytes.length > 24 ? `${s} …` : s;
}

/** How a session ended, as the exit code and what to say (nothing for a normal close). */
export function closeOutcome(info: CloseInfo): { exit: number; message?: string } {
  const said = `${info.code}${info.reason ? ` "${info.reason}"` : ""}`;
  if (info.wasClean) {
    if (info.code === 1000 || info.code === 1001 || info.code === 1005) {
      return { exit: ExitCode.Ok };
    }
    return { exit: ExitCode.ClosedWithError, message: `the connection closed with ${said}` };
  }
  const why = info.error ? `: ${info.error.message}` : " (no closing handshake)";
  return {
    exit: ExitCode.Abnormal,
    message: `the connection closed abnormally (${said})${why}`,
  };
}

/** A close as a `--verbose` line. */
export function closeLine(info: CloseInfo): string {
  return `* closed: code ${info.code}, reason ${JSON.stringify(info.reason)}, ${
    info.wasClean ? "clean" : "not clean"
  }${info.error ? ` (${info.error.message})` : ""}`;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ConnectionRefused: "connection refused",
  ECONNRESET: "connection reset",
  ConnectionReset: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host not found (DNS lookup failed)",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "timed out",
  TimedOut: "timed out",
  EADDRNOTAVAIL: "address not available",
  AddrNotAvailable: "address not available",
};

const TLS_HINT =
  /cert|tls|ssl|self[ -]?signed|issuer|verify|handshake failure|wrong version number|InvalidData|alert/i;

/** What a TLS client says when the server answers in plain text. */
const NOT_TLS = /wrong.version.number|InvalidContentType|packet length too long|http request/i;

/** The error and its causes, outermost first (at most 8). */
function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error; e !== undefined && e !== null && out.length < 8; e = (e as Error).cause) {
    out.push(e);
    if (typeof e !== "object") break;
  }
  return out;
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/** The runtime's own words for a failed connection, shortened. */
function networkReason(error: unknown): string {
  for (const e of chain(error).slice(1)) {
    const code = codeOf(e);
    const known = (code && NETWORK_CODES[code]) ?? NETWORK_CODES[(e as Error)?.name ?? ""];
    if (known) return known;
    if (/getaddrinfo|lookup address|name or service not known|dns/i.test(String(e))) {
      return "host not found";
    }
  }
  const inner = chain(error).at(-1);
  return inner instanceof Error ? inner.message : String(inner);
}

/** True when a failure of a `wss:` connection looks like TLS's. */
function looksLikeTls(error: unknown): boolean {
  return chain(error).slice(1).some((e) => {
    const code = codeOf(e) ?? "";
    return TLS_HINT.test(code) || TLS_HINT.test((e as Error)?.name ?? "") ||
      TLS_HINT.test((e as Error)?.message ?? String(e));
  });
}

/** A failed `connect()` as the exit code and the lines for stderr. */
export function connectFailure(error: unknown, url: URL): { exit: number; lines: string[] } {
  const where = `${url.hostname}:${url.port || (url.protocol === "wss:" ? 443 : 80)}`;
  if (error instanceof UsageError || error instanceof TypeError || error instanceof RangeError) {
    return { exit: ExitCode.Usage, lines: [(error as Error).message] };
  }
  if (error instanceof HandshakeError) {
    if (error.code === "HANDSHAKE_REFUSED") {
      const lines = [`handshake refused: ${error.status}${statusText(error.status)}`];
      const body = error.bodyText.trim();
      if (body) lines.push(...clip(body).split("\n").map((l) => `  ${l}`));
      return { exit: ExitCode.Handshake, lines };
    }
    return { exit: ExitCode.Handshake, lines: [`bad handshake response: ${error.message}`] };
  }
  if (error instanceof HttpParseError) {
    return {
      exit: url.protocol === "ws:" ? ExitCode.Handshake : ExitCode.Tls,
      lines: [
        `the server did not answer with HTTP (${error.message})` +
        (url.protocol === "ws:" ? "; is it a wss:// server?" : ""),
      ],
    };
  }
  if (error instanceof TimeoutError) {
    const exit = error.code === "HANDSHAKE_TIMEOUT" ? ExitCode.Handshake : ExitCode.Connect;
    const what = error.code === "HANDSHAKE_TIMEOUT"
      ? "no handshake response"
      : `cannot connect to ${where}: timed out`;
    return { exit, lines: [`${what} (after ${error.timeoutMs} ms)`] };
  }
  if (error instanceof ConnectionError) {
    if (url.protocol === "wss:" && (error.code === "TLS_FAILED" || looksLikeTls(error))) {
      const inner = chain(error).at(-1);
      const text = (inner instanceof Error ? inner.message : String(inner)).trim();
      if (NOT_TLS.test(text)) {
        return {
          exit: ExitCode.Tls,
          lines: [`TLS failed with ${where}: the server does not speak TLS; is it a ws:// server?`],
        };
      }
      return {
        exit: ExitCode.Tls,
        lines: [
          `TLS failed with ${where}: ${text}`,
          "(--ca FILE trusts another CA; --insecure skips verification, unsafely)",
        ],
      };
    }
    if (
      error.code === "CONNECT_FAILED" || error.code === "CONNECT_REFUSED" ||
      error.code === "HOST_NOT_FOUND" || error.code === "HOST_UNREACHABLE"
    ) {
      return {
        exit: ExitCode.Connect,
        lines: [`cannot connect to ${where}: ${networkReason(error)}`],
      };
    }
    const hint = url.protocol === "ws:" ? "; is it a wss:// server?" : "";
    return {
      exit: ExitCode.Handshake,
      lines: [
        error.code === "HANDSHAKE_EOF"
          ? `the server closed the connection during the handshake${hint}`
          : `${error.message}${hint}`,
      ],
    };
  }
  if (error instanceof SprigError) return { exit: ExitCode.Error, lines: [error.message] };
  return { exit: ExitCode.Error, lines: [String((error as Error)?.stack ?? error)] };
}

function clip(text: string): string {
  const lines = text.split(/\r?\n/);
  const kept = lines.slice(0, 10).map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l));
  if (lines.length > 10) kept.push(`… (${lines.length - 10} more lines)`);
  return kept.join("\n");
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  426: "Upgrade Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function statusText(status: number): string {
  const text = REASONS[status];
  return text ? ` ${text}` : "";
}

/** The response head of a successful handshake, as `--verbose` lines. */
export function responseLines(headers: Headers): string[] {
  const lines = ["< HTTP/1.1 101 Switching Protocols"];
  for (const [name, value] of headers) lines.push(`< ${name}: ${value}`);
  return lines;
}

/** A refused handshake's response head, as `--verbose` lines. */
export function refusalLines(error: HandshakeError): string[] {
  const lines = [`< HTTP/1.1 ${error.status}${statusText(error.status)}`];
  for (const [name, value] of error.headers) lines.push(`< ${name}: ${value}`);
  return lines;
}

/** Base64 of bytes, without depending on `Buffer` or `btoa` limits. */
export function toBase64(bytes: Uint8Array): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! +
      alphabet[n & 63]!;
  }
  if (i < bytes.length) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! +
      (i + 1 < bytes.length ? alphabet[(n >> 6) & 63]! : "=") + "=";
  }
  return out;
}
