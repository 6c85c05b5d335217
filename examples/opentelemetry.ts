/**
 * Exporting the manager's spans and metrics with OpenTelemetry: the manager emits Effect spans and Effect metrics,
 * and `@effect/opentelemetry`'s `NodeSdk.layer` hands both to an OpenTelemetry SDK. An app passes OTLP ones (e.g.
 * `new BatchSpanProcessor(new OTLPTraceExporter())`, `new PeriodicExportingMetricReader({ exporter })`);
 * `test/services/OpenTelemetry.test.ts` passes in-memory ones. The README quotes it.
 */
import { NodeSdk } from "@effect/opentelemetry"
import type { MetricReader } from "@opentelemetry/sdk-metrics"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer } from "effect"
import { MemoryStore, SessionManager } from "effect-sessions"

// The one layer that turns export on: spans go to `spanProcessor`, every Effect metric is read by `metricReader`.
export const Telemetry = (spanProcessor: SpanProcessor, metricReader: MetricReader) =>
  NodeSdk.layer(() => ({ resource: { serviceName: "chat-service" }, spanProcessor, metricReader }))

// `tracing: true` adds a span per call (off by default: it costs a few microseconds a call).
export const Sessions = SessionManager.layer(undefined, { instance: "chat-service", tracing: true }).pipe(
  Layer.provide(MemoryStore.layer)
)

export const program = Effect.gen(function*() {
  const sessions = yield* SessionManager.SessionManager
  const session = yield* sessions.create({ owner: "alice", name: "support-chat", data: { turns: 0 } })
  // The work runs in the `SessionManager.withSession` span: tag it with the session it holds.
  yield* sessions.withSession(session.id, ({ session: held }) =>
    Effect.zipRight(
      Effect.annotateCurrentSpan("session.id", held.id),
      sessions.update(held.id, { turns: 1 })
    ))
  for (let beat = 0; beat < 8; beat++) yield* sessions.touch(session.id) // the client's heartbeats
  return yield* sessions.get(session.id)
})

/** The app: the manager inside, telemetry outside, so every span and metric of the manager is exported. */
export const main = (spanProcessor: SpanProcessor, metricReader: MetricReader) =>
  program.pipe(Effect.provide(Sessions), Effect.provide(Telemetry(spanProcessor, metricReader)))
