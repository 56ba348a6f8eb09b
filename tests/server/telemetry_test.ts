// The server's connections publish the same lifecycle events as the
// client's (connected, frames, disconnected, terminated), with role
// "server" and id s<ConnectionRef.id>.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connect, serve, type Telemetry, TelemetryChannels } from "../../mod.ts";

describe("server telemetry", () => {
  it("publishes a connection's whole life cycle on the named channels", async () => {
    const events: Array<{ name: string; event: Record<string, unknown> }> = [];
    const telemetry: Telemetry = {
      channel: (name) => ({
        hasSubscribers: true,
        publish: (event) => events.push({ name, event: event as Record<string, unknown> }),
      }),
    };
    let refId = -1;
    let terminated!: () => void;
    const done = new Promise<void>((resolve) => (terminated = resolve));
    const server = await serve({ hostname: "127.0.0.1", port: 0, telemetry, compression: false }, {
      init: (context) => void (refId = context.ref.id),
      in: (message) => ({ push: message }),
      terminate: () => terminated(),
    });
    try {
      const ws = await connect(server.url, { compression: false });
      await ws.send("ping?");
      assert.equal(await ws.receive({ timeoutMs: 5000 }), "ping?");
      await ws.close(4001, "done");
      await done;
      // `terminated` is published once terminate() returned.
      for (
        let i = 0;
        i < 100 && !events.some((e) => e.name === TelemetryChannels.terminated);
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
    }
    const id = `s${refId}`;
    for (const { event } of events) {
      assert.equal(event.role, "server");
      assert.equal(event.id, id);
      assert.equal(typeof event.timestamp, "number");
    }
    assert.deepEqual(
      events.map((e) => `${e.name}${e.event.opcode === undefined ? "" : ` ${e.event.opcode}`}`),
      [
        TelemetryChannels.connected,
        `${TelemetryChannels.frameReceived} 1`,
        `${TelemetryChannels.frameSent} 1`,
        `${TelemetryChannels.frameReceived} 8`,
        `${TelemetryChannels.frameSent} 8`,
        TelemetryChannels.disconnected,
        TelemetryChannels.terminated,
      ],
    );
    const disconnected = events.find((e) => e.name === TelemetryChannels.disconnected)!.event;
    assert.equal(disconnected.code, 4001);
    assert.equal(disconnected.wasClean, true);
    assert.equal(events.at(-1)!.event.reason, "remote");
  });

  it("rejects a telemetry option without channel()", async () => {
    await assert.rejects(
      serve({ port: 0, telemetry: {} as unknown as Telemetry }, { in: () => {} }),
      (e: unknown) => e instanceof TypeError && /options\.telemetry/.test((e as Error).message),
    );
  });
});
