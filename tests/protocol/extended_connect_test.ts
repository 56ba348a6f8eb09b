// The RFC 8441 handshake in the protocol layer, without I/O.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { HandshakeError } from "../../mod.ts";
import { createClientRequest } from "../../lib/protocol/handshake.ts";
import {
  checkExtendedConnect,
  checkExtendedConnectResponse,
  extendedConnectHeaders,
} from "../../lib/protocol/extended_connect.ts";
import { permessageDeflate } from "../../lib/extensions/permessage_deflate.ts";

const valid = {
  ":method": "CONNECT",
  ":protocol": "websocket",
  ":scheme": "https",
  ":path": "/chat?room=1",
  ":authority": "example.test",
  "sec-websocket-version": "13",
};

function refusal(fn: () => unknown): HandshakeError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof HandshakeError, String(error));
    return error;
  }
  assert.fail("expected a HandshakeError");
}

describe("extended CONNECT (RFC 8441)", () => {
  it("the client's header list: pseudo-headers, no key/Upgrade/Connection/Host, fields kept", () => {
    const request = createClientRequest({
      url: "wss://user:pw@example.test:8443/chat?x=1",
      protocols: ["a", "b"],
      extensions: [permessageDeflate()],
      headers: { "X-Extra": "1" },
      origin: "https://app.test",
    });
    const h = extendedConnectHeaders(request);
    assert.equal(h[":method"], "CONNECT");
    assert.equal(h[":protocol"], "websocket");
    assert.equal(h[":scheme"], "https");
    assert.equal(h[":path"], "/chat?x=1");
    assert.equal(h[":authority"], "example.test:8443");
    assert.equal(h["sec-websocket-version"], "13");
    assert.equal(h["sec-websocket-protocol"], "a, b");
    assert.match(String(h["sec-websocket-extensions"]), /^permessage-deflate/);
    assert.equal(h["origin"], "https://app.test");
    assert.equal(h["x-extra"], "1");
    assert.match(String(h["authorization"]), /^Basic /);
    for (const gone of ["sec-websocket-key", "upgrade", "connection", "host"]) {
      assert.equal(h[gone], undefined, gone);
    }
    assert.equal(
      extendedConnectHeaders(createClientRequest({ url: "ws://h/" }))[":scheme"],
      "http",
    );
  });

  it("the server's checks, each with its status", () => {
    const checked = checkExtendedConnect(
      { ...valid, "sec-websocket-protocol": "x, y", origin: "https://o.test" },
      { protocols: ["y"] },
    );
    assert.equal(checked.protocol, "y");
    assert.deepEqual(checked.protocols, ["x", "y"]);
    assert.equal(checked.path, "/chat?room=1");
    assert.equal(checked.host, "example.test");
    assert.equal(checked.origin, "https://o.test");
    assert.equal(checked.key, "");
    assert.equal(refusal(() => checkExtendedConnect({ ...valid, ":method": "GET" })).status, 405);
    assert.equal(refusal(() => checkExtendedConnect({ ...valid, ":protocol": "h3" })).status, 501);
    assert.equal(refusal(() => checkExtendedConnect({ ...valid, ":scheme": "ftp" })).status, 400);
    assert.equal(refusal(() => checkExtendedConnect({ ...valid, ":path": "" })).status, 400);
    assert.equal(refusal(() => checkExtendedConnect({ ...valid, ":authority": "" })).status, 400);
    const version = refusal(() => checkExtendedConnect({ ...valid, "sec-websocket-version": "8" }));
    assert.equal(version.status, 426);
    assert.equal(version.headers.get("sec-websocket-version"), "13");
    assert.equal(
      refusal(() => checkExtendedConnect({ ...valid, "sec-websocket-protocol": "a b" })).status,
      400,
    );
  });

  it("the client's check of the response", () => {
    const request = createClientRequest({ url: "ws://h/", protocols: ["chat"] });
    assert.equal(
      checkExtendedConnectResponse(request, { ":status": 200, "sec-websocket-protocol": "chat" })
        .protocol,
      "chat",
    );
    const refused = refusal(() =>
      checkExtendedConnectResponse(
        request,
        { ":status": 401, "www-authenticate": "Bearer" },
        new TextEncoder().encode("who?"),
      )
    );
    assert.equal(refused.code, "HANDSHAKE_REFUSED");
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get("www-authenticate"), "Bearer");
    assert.equal(refused.bodyText, "who?");
    assert.equal(
      refusal(() =>
        checkExtendedConnectResponse(request, { ":status": 200, "sec-websocket-protocol": "x" })
      ).code,
      "PROTOCOL_NOT_OFFERED",
    );
  });
});
