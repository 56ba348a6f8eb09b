// One code per socket failure, whatever the runtime's wording (issue 20):
// the shapes each runtime gives (seen on Node 20, Deno 2.9 and Bun 1.4), and
// the real thing for a refused connection and a port in use.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { connectFailure, listenFailure } from "../../lib/transport/failure.ts";
import { ConnectionError, serve } from "../../mod.ts";

const err = (props: Record<string, string>) => Object.assign(new Error(props.message ?? ""), props);

describe("socket failures get one code on every runtime", () => {
  it("connect: refused, not found, TLS, other", () => {
    // Node, Deno, Bun
    for (
      const e of [
        err({ code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" }),
        err({ name: "ConnectionRefused", message: "Connection refused (os error 111)" }),
        err({ code: "ECONNREFUSED", message: "Failed to connect" }),
      ]
    ) assert.equal(connectFailure(e, false), "CONNECT_REFUSED");
    for (
      const e of [
        err({ code: "ENOTFOUND", message: "getaddrinfo ENOTFOUND x.invalid" }),
        err({ message: "failed to lookup address information: Name or service not known" }),
      ]
    ) assert.equal(connectFailure(e, false), "HOST_NOT_FOUND");
    for (
      const e of [
        err({
          code: "ERR_SSL_WRONG_VERSION_NUMBER",
          message: "ssl3_get_record:wrong version number",
        }),
        err({
          name: "InvalidData",
          message: "received corrupt message of type InvalidContentType",
        }),
        err({ code: "EPROTO", message: "SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER" }),
        err({
          code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
          message: "unable to verify the first certificate",
        }),
      ]
    ) assert.equal(connectFailure(e, true), "TLS_FAILED");
    assert.equal(connectFailure(err({ code: "EPROTO", message: "x" }), false), "CONNECT_FAILED");
    assert.equal(connectFailure(new Error("something else"), true), "CONNECT_FAILED");
  });

  it("listen: in use, not available, other", () => {
    for (
      const e of [
        err({ code: "EADDRINUSE", message: "listen EADDRINUSE: address already in use" }),
        err({ name: "AddrInUse", message: "Address already in use (os error 98)" }),
        err({ code: "EADDRINUSE", message: "Failed to listen at 127.0.0.1" }),
      ]
    ) assert.equal(listenFailure(e), "ADDRESS_IN_USE");
    assert.equal(
      listenFailure(err({ code: "EADDRNOTAVAIL", message: "x" })),
      "ADDRESS_NOT_AVAILABLE",
    );
    assert.equal(listenFailure(new Error("odd")), "LISTEN_FAILED");
  });

  it("serve() on a port in use fails with ConnectionError ADDRESS_IN_USE and the runtime's cause", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const port = (busy.address() as net.AddressInfo).port;
    try {
      await assert.rejects(
        serve({ hostname: "127.0.0.1", port }, { in: () => {} }),
        (e: unknown) =>
          e instanceof ConnectionError && e.code === "ADDRESS_IN_USE" && e.cause !== undefined,
      );
    } finally {
      busy.close();
    }
  });
});
