/**
 * OpenTelemetry: a sprig server and client recorded with the OpenTelemetry
 * SDK (metrics and spans), as an application sets it up. The exporters here
 * keep what they get in memory and the example prints it; an application
 * puts its OTLP or console exporters in their place.
 *
 *   deno run -A examples/otel.ts
 *   bun examples/otel.ts
 *   npx tsx examples/otel.ts
 *
 * Prints one line per metric point (`metric NAME {attributes} VALUE`) and
 * per span (`span NAME kind=K {attributes}`), then `done`.
 */
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
import { connect, serve } from "../mod.ts";
import { otelInstrumentation } from "../lib/otel/mod.ts"; // "@sprig/websocket/otel" in an application

// The SDK, set up by the application (sprig does not depend on it).
const reader = new PeriodicExportingMetricReader({
  exporter: new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE),
  exportIntervalMillis: 60_000,
});
const meterProvider = new MeterProvider({ readers: [reader] });
const spanExporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spanExporter)],
});

// One instrumentation for the whole process: every server and client given
// its `telemetry` is recorded. With the global providers registered, pass
// the `@opentelemetry/api` module itself instead: otelInstrumentation(api).
const otel = otelInstrumentation({
  meter: meterProvider.getMeter("example"),
  tracer: tracerProvider.getTracer("example"),
}, { messageSpanEvery: 10 });

let ended!: () => void;
const serverDone = new Promise<void>((resolve) => (ended = resolve));
const server = await serve({ hostname: "127.0.0.1", port: 0, telemetry: otel.telemetry }, {
  in: (message) => ({ push: `echo: ${message}` }),
  terminate: () => ended(),
});

// connect() inside a handshake span, recorded like the server.
const ws = await otel.handshake(
  server.url,
  () => connect(server.url, { telemetry: otel.telemetry }),
);
for (let i = 1; i <= 20; i++) {
  await ws.send(`message ${i}`);
  await ws.receive({ timeoutMs: 5000 });
}
await ws.close(1000, "done");
await serverDone;
await server.shutdown();

const { resourceMetrics } = await reader.collect();
for (const scope of resourceMetrics.scopeMetrics) {
  for (const metric of scope.metrics) {
    for (const point of metric.dataPoints) {
      const value = typeof point.value === "number"
        ? point.value
        : `count=${(point.value as { count: number }).count}`;
      console.log(`metric ${metric.descriptor.name} ${JSON.stringify(point.attributes)} ${value}`);
    }
  }
}
for (const span of spanExporter.getFinishedSpans()) {
  console.log(`span ${span.name} kind=${span.kind} ${JSON.stringify(span.attributes)}`);
}
otel.close();
await meterProvider.shutdown();
await tracerProvider.shutdown();
console.log("done");
