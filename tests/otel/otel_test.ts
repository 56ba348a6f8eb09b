// OpenTelemetry over the telemetry hook, checked with the SDK's in-memory
// exporters: metrics (connections, handshakes, messages and bytes, closes,
// reconnects) and spans (handshake, connection, sampled messages).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from "@opentelemetry/sdk-metrics";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { connect, HandshakeError, reconnecting, serve } from "../../mod.ts";
import * as api from "@opentelemetry/api";
import { OTEL_SCOPE, otelInstrumentation } from "../../lib/otel/mod.ts";
import { hostsOfRuntime, labelOf, startHost } from "../server/_hosts.ts";

function setup(messageSpanEvery = 0) {
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({
    exporter: metricExporter,
    exportIntervalMillis: 3_600_000,
  });
  const meterProvider = new MeterProvider({ readers: [reader] });
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(spans)],
  });
  const otel = otelInstrumentation({
    meter: meterProvider.getMeter("test"),
    tracer: tracerProvider.getTracer("test"),
  }, { messageSpanEvery });
  /** Every data point of the metric `name`, as [attributes, value]. */
  async function points(name: string): Promise<Array<[Record<string, unknown>, number]>> {
    const { resourceMetrics } = await reader.collect();
    const out: Array<[Record<string, unknown>, number]> = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const p of metric.dataPoints) {
          const v = p.value as number | { count: number };
          out.push([p.attributes as Record<string, unknown>, typeof v === "number" ? v : v.count]);
        }
      }
    }
    return out;
  }
  const sum = async (name: string, match: Record<string, unknown> = {}) =>
    (await points(name))
      .filter(([a]) => Object.entries(match).every(([k, v]) => a[k] === v))
      .reduce((n, [, v]) => n + v, 0);
  return {
    otel,
    points,
    sum,
    spans,
    async shutdown() {
      otel.close();
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/** Waits (bounded) until `condition()` holds. */
async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`not within 2 s: ${what}`);
}

describe("otel", () => {
  it("records connections, handshakes, messages and bytes each way, closes, and spans", async () => {
    const t = setup(2);
    let terminated = 0;
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      compression: false,
      telemetry: t.otel.telemetry,
    }, {
      in: (message) => ({ push: message }),
      terminate: () => void terminated++,
    });
    try {
      const ws = await t.otel.handshake(
        server.url,
        () => connect(server.url, { compression: false, telemetry: t.otel.telemetry }),
      );
      assert.equal(await t.sum("websocket.connection.active", { "websocket.role": "client" }), 1);
      for (const text of ["one", "two", "three", "four"]) {
        await ws.send(text);
        assert.equal(await ws.receive({ timeoutMs: 5000 }), text);
      }
      await ws.send(new Uint8Array(10));
      await ws.receive({ timeoutMs: 5000 });
      await ws.close(4001, "bye");
      await until(() => terminated === 1, "the server connection ended");

      const text = { "websocket.message.type": "text" };
      assert.equal(
        await t.sum("websocket.messages", {
          ...text,
          "websocket.role": "client",
          "network.io.direction": "transmit",
        }),
        4,
      );
      assert.equal(
        await t.sum("websocket.messages", {
          ...text,
          "websocket.role": "server",
          "network.io.direction": "receive",
        }),
        4,
      );
      assert.equal(
        await t.sum("websocket.messages", {
          "websocket.message.type": "binary",
          "websocket.role": "client",
          "network.io.direction": "receive",
        }),
        1,
      );
      const sent = "one".length + "two".length + "three".length + "four".length + 10;
      // The client's close frame: a code (2 bytes) and "bye".
      assert.equal(
        await t.sum("websocket.network.io", {
          "websocket.role": "client",
          "network.io.direction": "transmit",
        }),
        sent + 2 + "bye".length,
      );
      assert.equal(await t.sum("websocket.handshakes", { "websocket.role": "client" }), 1);
      assert.equal(await t.sum("websocket.handshakes", { "websocket.role": "server" }), 1);
      assert.equal(await t.sum("websocket.connection.active"), 0);
      assert.equal(await t.sum("websocket.closes", { "websocket.close.code": 4001 }), 2);
      assert.equal(await t.sum("websocket.connection.duration"), 2);
      for (const [attributes] of await t.points("websocket.messages")) {
        assert.equal(attributes["network.protocol.name"], "websocket");
      }

      const spans = t.spans.getFinishedSpans();
      const handshake = spans.find((s) => s.name === "websocket handshake");
      assert.ok(handshake);
      assert.equal(handshake.attributes["url.full"], new URL(server.url).href);
      assert.equal(handshake.attributes["server.address"], "127.0.0.1");
      assert.equal(handshake.attributes["server.port"], server.port);
      assert.equal(handshake.attributes["http.response.status_code"], 101);
      const connections = spans.filter((s) => s.name === "websocket connection");
      assert.deepEqual(connections.map((s) => s.attributes["websocket.role"]).sort(), [
        "client",
        "server",
      ]);
      for (const c of connections) assert.equal(c.attributes["websocket.close.code"], 4001);
      // Both ends name the WebSocket's ws: URL (the server sees the request's http: one).
      for (const c of connections) assert.match(String(c.attributes["url.full"]), /^ws:\/\//);
      // One message in 2 each way: 5 sent by each side make 10 sent, and 10 received.
      const sends = spans.filter((s) => s.name === "websocket send");
      const receives = spans.filter((s) => s.name === "websocket receive");
      assert.equal(sends.length, 5);
      assert.equal(receives.length, 5);
      const clientConnection = connections.find((c) =>
        c.attributes["websocket.role"] === "client"
      )!;
      for (const s of [...sends, ...receives]) {
        assert.ok(typeof s.attributes["websocket.message.size"] === "number");
        assert.ok(
          s.attributes["websocket.connection.id"] ===
              clientConnection.attributes["websocket.connection.id"] ||
            s.attributes["websocket.role"] === "server",
        );
      }
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
      await t.shutdown();
    }
  });

  it("counts a refused handshake by status on both sides, with an error span", async () => {
    const t = setup();
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      telemetry: t.otel.telemetry,
      upgrade: () => new Response("no", { status: 403 }),
    }, { in: () => {} });
    try {
      await assert.rejects(
        t.otel.handshake(server.url, () => connect(server.url, { telemetry: t.otel.telemetry })),
        HandshakeError,
      );
      assert.equal(
        await t.sum("websocket.handshakes", {
          "error.type": "HANDSHAKE_REFUSED",
          "http.response.status_code": 403,
        }),
        1,
      );
      assert.equal(
        await t.sum("websocket.handshakes", {
          "websocket.role": "server",
          "error.type": "403",
          "http.response.status_code": 403,
        }),
        1,
      );
      const span = t.spans.getFinishedSpans().find((s) => s.name === "websocket handshake");
      assert.ok(span);
      assert.equal(span.status.code, 2);
      assert.equal(span.attributes["http.response.status_code"], 403);
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
      await t.shutdown();
    }
  });

  it("counts a reconnecting client's attempts and its failed handshakes", async () => {
    const t = setup();
    let refuse = 2;
    const server = await serve({
      hostname: "127.0.0.1",
      port: 0,
      upgrade: () => refuse-- > 0 ? new Response("later", { status: 503 }) : undefined,
    }, { in: () => {} });
    try {
      const client = reconnecting(server.url, {
        telemetry: t.otel.telemetry,
        backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      });
      await until(async () => await t.sum("websocket.connection.active") === 1, "connected");
      await client.close();
      assert.equal(await t.sum("websocket.client.reconnects"), 2);
      assert.equal(await t.sum("websocket.handshakes", { "http.response.status_code": 503 }), 2);
      assert.equal(await t.sum("websocket.handshakes", { "websocket.role": "client" }), 3);
    } finally {
      await server.shutdown({ deadlineMs: 1000 });
      await t.shutdown();
    }
  });

  it("refuses an argument without a meter or a tracer", () => {
    assert.throws(() => otelInstrumentation({}), TypeError);
    assert.throws(
      () =>
        otelInstrumentation({ tracer: { startSpan: () => ({}) as never } }, {
          messageSpanEvery: -1,
        }),
      TypeError,
    );
  });
});

describe("otel with the @opentelemetry/api module", () => {
  it("uses the global providers, and parents message spans on their connection's span", async () => {
    const spans = new InMemorySpanExporter();
    const tracerProvider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(spans)],
    });
    const reader = new PeriodicExportingMetricReader({
      exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
      exportIntervalMillis: 3_600_000,
    });
    const meterProvider = new MeterProvider({ readers: [reader] });
    api.trace.setGlobalTracerProvider(tracerProvider);
    api.metrics.setGlobalMeterProvider(meterProvider);
    const otel = otelInstrumentation(api, { messageSpanEvery: 1 });
    const server = await serve({ hostname: "127.0.0.1", port: 0, telemetry: otel.telemetry }, {
      in: (message) => ({ push: message }),
    });
    try {
      const ws = await connect(server.url, { compression: false });
      await ws.send("hello");
      await ws.receive({ timeoutMs: 5000 });
      await ws.close();
      const server1 = spans.getFinishedSpans().find((s) => s.name === "websocket receive");
      assert.ok(server1);
      const { resourceMetrics } = await reader.collect();
      const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === OTEL_SCOPE);
      assert.ok(scope, "the meter is named after sprig");
      await server.shutdown({ deadlineMs: 1000 });
      const connection = spans.getFinishedSpans().find((s) =>
        s.name === "websocket connection" && s.attributes["websocket.role"] === "server"
      );
      assert.ok(connection);
      assert.equal(server1.parentSpanContext?.spanId, connection.spanContext().spanId);
      assert.equal(server1.spanContext().traceId, connection.spanContext().traceId);
    } finally {
      otel.close();
      api.trace.disable();
      api.metrics.disable();
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    }
  });
});

describe("otel on every host of this runtime", () => {
  for (const kind of hostsOfRuntime()) {
    // Deno.serve and Bun.serve parse frames themselves: no frame events there.
    const frames = kind !== "Deno.serve" && kind !== "Bun.serve";
    it(`${labelOf(kind)}: connections, refusals and closes${frames ? ", messages" : ""}`, async () => {
      const t = setup();
      let terminated = 0;
      const host = await startHost(kind, {
        in: (message) => ({ push: message }),
        terminate: () => void terminated++,
      }, {
        telemetry: t.otel.telemetry,
        upgrade: (request) =>
          new URL(request.url).pathname === "/refuse"
            ? new Response("no", { status: 401 })
            : undefined,
      });
      try {
        await assert.rejects(connect(host.url("/refuse")), HandshakeError);
        const ws = await connect(host.url("/"));
        for (const text of ["a", "b", "c"]) {
          await ws.send(text);
          assert.equal(await ws.receive({ timeoutMs: 5000 }), text);
        }
        await ws.close(4005, "done");
        await until(() => terminated === 1, "terminate ran");
        const server = { "websocket.role": "server" };
        assert.equal(await t.sum("websocket.handshakes", { ...server, "error.type": "401" }), 1);
        assert.equal(await t.sum("websocket.connection.active", server), 0);
        assert.equal(
          await t.sum("websocket.closes", { ...server, "websocket.close.code": 4005 }),
          1,
        );
        const received = await t.sum("websocket.messages", {
          ...server,
          "network.io.direction": "receive",
          "websocket.message.type": "text",
        });
        assert.equal(received, frames ? 3 : 0);
      } finally {
        await host.stop();
        await t.shutdown();
      }
    });
  }
});
