// TLS beyond a certificate and key, on sprig's server (the node:tls
// listener, on every runtime) with sprig's client (the runtime's own TLS
// socket, or node:tls where the runtime's lacks an option): mutual TLS with
// the verified client certificate visible to `init`, refusals without one
// or with an untrusted one, encrypted keys (passphrase) on both sides, a
// certificate per host name (SNI) and the ALPN list. Fixtures: see
// tests/_fixtures/README.md.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as tls from "node:tls";
import { X509Certificate } from "node:crypto";
import {
  connect,
  ConnectionError,
  type ConnectOptions,
  detectRuntime,
  HandshakeError,
  InvalidArgumentError,
  serve,
  type ServeOptions,
  SprigError,
} from "../../../mod.ts";

const fixture = (name: string) =>
  readFileSync(new URL(`../../_fixtures/${name}`, import.meta.url), "utf8");
const ca = fixture("ca.pem"); // signed server.pem (localhost, 127.0.0.1, ::1)
const ca2 = fixture("ca2.pem"); // signed client.pem and other.pem (other.test)
const server = { cert: fixture("server.pem"), key: fixture("server.key") };
const client = { cert: fixture("client.pem"), key: fixture("client.key") };
const rogue = { cert: fixture("rogue-client.pem"), key: fixture("rogue-client.key") };
const other = {
  cert: fixture("other.pem"),
  key: fixture("other.enc.key"),
  passphrase: "sprig-test",
};

/** A server whose `init` sends `ctx.tls` (the raw certificate as its length and a flag). */
async function tlsServer(tlsOptions: ServeOptions["tls"], extra: ServeOptions = {}) {
  return await serve({ hostname: "127.0.0.1", port: 0, tls: tlsOptions, ...extra }, {
    init: (ctx) => {
      const t = ctx.tls;
      const cert = t?.peerCertificate;
      const expected = cert && new X509Certificate(client.cert).raw;
      return {
        push: JSON.stringify({
          httpVersion: ctx.httpVersion,
          ...t,
          peerCertificate: cert && {
            ...cert,
            raw: cert.raw.length,
            rawMatches: expected !== undefined &&
              Buffer.compare(Buffer.from(cert.raw), expected) === 0,
          },
        }),
      };
    },
    in: (message) => ({ push: message }),
  });
}

async function open(url: string | URL, options: ConnectOptions) {
  const ws = await connect(url, options);
  const info = JSON.parse(await ws.receive({ timeoutMs: 5000 }) as string);
  return { ws, info };
}

/** Resolves with how a connection attempt failed (or "opened"). */
async function failure(url: string | URL, options: ConnectOptions): Promise<unknown> {
  try {
    const ws = await connect(url, options);
    // TLS 1.3: the client may finish its handshake before the server checks its certificate;
    // the refusal then ends the connection before anything is received.
    try {
      await ws.receive({ timeoutMs: 5000 });
    } catch (error) {
      return error;
    }
    await ws.close();
    return "opened";
  } catch (error) {
    return error;
  }
}

describe(`TLS options on sprig's server (${detectRuntime()})`, () => {
  it("mutual TLS: a client certificate the CA signed is accepted and init sees it", async () => {
    await using s = await tlsServer({ ...server, ca: ca2, requestCert: true });
    const { ws, info } = await open(s.url, { tls: { caCerts: [ca], ...client } });
    assert.equal(info.authorized, true);
    assert.equal(info.authorizationError, undefined);
    assert.equal(info.peerCertificate.subject.CN, "sprig test client");
    assert.equal(info.peerCertificate.subject.O, "sprig tests");
    assert.equal(info.peerCertificate.issuer.CN, "sprig test CA 2");
    assert.equal(
      info.peerCertificate.fingerprint256,
      new X509Certificate(client.cert).fingerprint256,
    );
    assert.equal(info.peerCertificate.rawMatches, true);
    assert.ok(info.peerCertificate.raw > 0);
    await ws.send("mtls");
    assert.equal(await ws.receive({ timeoutMs: 5000 }), "mtls");
    await ws.close();
  });

  it("mutual TLS: no client certificate, or an untrusted one, is refused", async () => {
    await using s = await tlsServer({ ...server, ca: ca2, requestCert: true });
    for (const identity of [{}, rogue]) {
      // The client learns it as a ConnectionError during the handshake: CONNECTION_LOST
      // (the TLS alert "certificate required") or HANDSHAKE_EOF (the server dropped it).
      const error = await failure(s.url, { tls: { caCerts: [ca], ...identity } });
      assert.ok(error instanceof ConnectionError, String(error));
      assert.ok(["CONNECTION_LOST", "HANDSHAKE_EOF"].includes(error.code), error.code);
    }
  });

  it("rejectUnauthorized: false lets a client without a certificate in, unauthorized", async () => {
    await using s = await tlsServer({
      ...server,
      ca: ca2,
      requestCert: true,
      rejectUnauthorized: false,
    });
    const { ws, info } = await open(s.url, { tls: { caCerts: [ca] } });
    assert.equal(info.authorized, false);
    assert.equal(info.peerCertificate, undefined);
    await ws.close();
    const second = await open(s.url, { tls: { caCerts: [ca], ...rogue } });
    assert.equal(second.info.authorized, false);
    assert.equal(second.info.peerCertificate.subject.CN, "untrusted client");
    assert.equal(typeof second.info.authorizationError, "string");
    await second.ws.close();
  });

  it("the upgrade hook sees the certificate and can refuse by it", async () => {
    await using s = await tlsServer({
      ...server,
      ca: ca2,
      requestCert: true,
      rejectUnauthorized: false,
    }, {
      upgrade: (_request, info) =>
        info.tls?.authorized === true
          ? { data: info.tls.peerCertificate?.subject.CN }
          : new Response("a verified client certificate is required", { status: 403 }),
    });
    const { ws, info } = await open(s.url, { tls: { caCerts: [ca], ...client } });
    assert.equal(info.peerCertificate.subject.CN, "sprig test client");
    await ws.close();
    await assert.rejects(
      connect(s.url, { tls: { caCerts: [ca], ...rogue } }),
      (e: unknown) => e instanceof HandshakeError && e.status === 403,
    );
  });

  it("a client key with a passphrase", async () => {
    await using s = await tlsServer({ ...server, ca: ca2, requestCert: true });
    const { ws, info } = await open(s.url, {
      tls: {
        caCerts: [ca],
        cert: client.cert,
        key: fixture("client.enc.key"),
        passphrase: "sprig-test",
      },
    });
    assert.equal(info.authorized, true);
    await ws.close();
  });

  it("a client key with a wrong or no passphrase is refused at connect(), naming it", async () => {
    await using s = await tlsServer({ ...server, ca: ca2, requestCert: true });
    const encrypted = { caCerts: [ca], cert: client.cert, key: fixture("client.enc.key") };
    for (const tls of [{ ...encrypted, passphrase: "wrong" }, encrypted]) {
      await assert.rejects(
        connect(s.url, { tls }),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.argument === "options.tls.passphrase" &&
          e.message.startsWith("connect(): options.tls.passphrase "),
      );
    }
  });

  it("a server key with a passphrase; a wrong passphrase fails serve()", async () => {
    await using s = await tlsServer(other);
    const { ws, info } = await open(s.url, {
      tls: { caCerts: [ca2], serverName: "other.test" },
    });
    assert.equal(info.serverName, "other.test");
    await ws.close();
    await assert.rejects(
      tlsServer({ ...other, passphrase: "wrong" }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "options.tls.passphrase",
    );
    await assert.rejects(
      tlsServer({ cert: other.cert, key: other.key }),
      (e: unknown) =>
        e instanceof InvalidArgumentError && e.argument === "options.tls.passphrase" &&
        /options\.tls\.key is encrypted/.test(e.message),
    );
  });

  it("SNI: the name the client asks for picks the certificate", async () => {
    await using s = await tlsServer({
      ...server,
      sni: { "other.test": other, "*.wild.test": other },
    });
    // other.test: the client verifies other.pem against ca2 and the name.
    const a = await open(s.url, { tls: { caCerts: [ca2], serverName: "other.test" } });
    assert.equal(a.info.serverName, "other.test");
    await a.ws.close();
    // localhost: the default certificate, verified against ca.
    const b = await open(`wss://localhost:${s.port}/`, { tls: { caCerts: [ca] } });
    assert.equal(b.info.serverName, "localhost");
    await b.ws.close();
    // The certificate served for other.test is not the default one.
    const c = await failure(s.url, { tls: { caCerts: [ca], serverName: "other.test" } });
    assert.ok(c instanceof SprigError, String(c));
    // What was served, seen by a node:tls client, by name and by wildcard.
    for (const name of ["other.test", "x.wild.test", "localhost"]) {
      const cn = await new Promise<string>((resolve, reject) => {
        const socket = tls.connect({
          host: "127.0.0.1",
          port: s.port,
          servername: name,
          rejectUnauthorized: false,
        }, () => {
          resolve(String(socket.getPeerCertificate().subject.CN));
          socket.destroy();
        });
        socket.on("error", reject);
      });
      assert.equal(cn, name === "localhost" ? "localhost" : "other.test");
    }
  });

  it("ALPN: the server's list is honoured", async () => {
    await using s = await tlsServer({ ...server, alpnProtocols: ["http/1.1"] });
    const alpn = (offer: string[]) =>
      new Promise<string | false | Error>((resolve) => {
        const socket = tls.connect({
          host: "127.0.0.1",
          port: s.port,
          ca: [ca],
          ALPNProtocols: offer,
        }, () => {
          resolve(socket.alpnProtocol ?? false);
          socket.destroy();
        });
        socket.on("error", (error) => resolve(error));
      });
    assert.equal(await alpn(["h2", "http/1.1"]), "http/1.1");
    assert.ok(await alpn(["spdy/3"]) instanceof Error); // no_application_protocol
    // sprig's client offers no ALPN for HTTP/1.1; init sees none, or http/1.1.
    const { ws, info } = await open(s.url, { tls: { caCerts: [ca] } });
    assert.ok(info.alpnProtocol === undefined || info.alpnProtocol === "http/1.1");
    await ws.close();
  });

  it("ALPN with HTTP/2: h2 is chosen, and the WebSocket opens over it (RFC 8441)", async () => {
    await using s = await tlsServer({ ...server, alpnProtocols: ["h2", "http/1.1"] }, {
      http2: true,
    });
    const { ws, info } = await open(s.url, { http2: true, tls: { caCerts: [ca] } });
    assert.equal(info.httpVersion, "2");
    assert.equal(info.alpnProtocol, "h2");
    await ws.close();
  });

  it("mutual TLS over HTTP/2: the client certificate reaches init on an h2 stream", async () => {
    await using s = await tlsServer({ ...server, ca: ca2, requestCert: true }, { http2: true });
    const { ws, info } = await open(s.url, { http2: true, tls: { caCerts: [ca], ...client } });
    assert.equal(info.httpVersion, "2");
    assert.equal(info.authorized, true);
    assert.equal(info.peerCertificate.subject.CN, "sprig test client");
    await ws.close();
  });

  it("refuses what cannot be done, naming the option", async () => {
    const refused = (options: ServeOptions) =>
      assert.rejects(
        serve({ hostname: "127.0.0.1", port: 0, ...options }, { in: () => {} }),
        (e: unknown) => e instanceof InvalidArgumentError,
      );
    await refused({ listener: "deno", tls: { ...server, requestCert: true } });
    await refused({ listener: "bun", tls: { ...server, ca: ca2 } });
    await refused({ tls: { ...server, alpnProtocols: ["h2"] } }); // h2 without http2
    await refused({ tls: { ...server, sni: { "bad name!": other } } });
    await assert.rejects(
      connect("wss://127.0.0.1:1/", { tls: { cert: client.cert } }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "options.tls.key",
    );
  });
});
