/**
 * The manager's spans and metrics reach an OpenTelemetry SDK through `@effect/opentelemetry`, as
 * `examples/opentelemetry.ts` wires it, and the manager needs none of it to work.
 */
import { describe, expect, it } from "@effect/vitest"
import { SpanStatusCode } from "@opentelemetry/api"
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  type MetricData,
  PeriodicExportingMetricReader
} from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Metric, MetricLabel } from "effect"
import { main, program, Sessions } from "../../examples/opentelemetry.js"
import { metrics as managerMetrics } from "../../src/services/internal/Metrics.js"

/** `InMemorySpanExporter` forgets its spans when shut down; this one keeps them, to be read after the app ends. */
class KeptSpans extends InMemorySpanExporter {
  override shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** Runs the example app with in-memory exporters; both are flushed by the telemetry layer's shutdown. */
const exportedRun = Effect.gen(function*() {
  const spanExporter = new KeptSpans()
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // An interval longer than the test: the only export is the one the reader makes when it is shut down.
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
  const session = yield* main(new SimpleSpanProcessor(spanExporter), reader)
  const exports = metricExporter.getMetrics()
  return {
    session,
    spans: spanExporter.getFinishedSpans(),
    exports,
    metrics: exports[exports.length - 1]?.scopeMetrics.flatMap((scope) => scope.metrics) ?? []
  }
})

const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((span) => span.name === name)

const metric = (metrics: ReadonlyArray<MetricData>, name: string): MetricData => {
  const found = metrics.find((data) => data.descriptor.name === name)
  if (found === undefined) throw new Error(`metric ${name} was not exported`)
  return found
}

type Point = { readonly attributes: Record<string, unknown>; readonly value: unknown }

/** The data points of `data` with every attribute in `attributes`. */
const points = (data: MetricData, attributes: Record<string, string>) =>
  (data.dataPoints as ReadonlyArray<Point>).filter((point) =>
    Object.entries(attributes).every(([key, value]) => point.attributes[key] === value)
  )

describe("OpenTelemetry export", () => {
  // Live: the SDK's processors and readers run on Node timers, and spans carry real timestamps.
  it.live("exports the withSession span, tagged with its session, and the call and store spans under it", () =>
    Effect.gen(function*() {
      const { session, spans } = yield* exportedRun
      const [held, ...others] = named(spans, "SessionManager.withSession")
      expect(others).toHaveLength(0)
      expect(held?.attributes["session.id"]).toBe(session.id)
      expect(held?.resource.attributes["service.name"]).toBe("chat-service")
      expect(held?.instrumentationScope.name).toBe("chat-service")
      const under = spans.filter((span) => span.parentSpanContext?.spanId === held?.spanContext().spanId)
      // Under withSession: its opening touch, the lease it takes, and the work's update.
      expect(under.map((span) => span.name)).toEqual(expect.arrayContaining([
        "SessionStore.touch",
        "SessionStore.acquireLease",
        "SessionManager.update"
      ]))
      // `tracing: true`: a span per public call and per store call.
      expect(named(spans, "SessionManager.create")).toHaveLength(1)
      expect(named(spans, "SessionManager.touch")).toHaveLength(8)
      expect(named(spans, "SessionManager.get")).toHaveLength(1)
      expect(named(spans, "SessionStore.insert")).toHaveLength(1)
      expect(spans.filter((span) => span.status.code === SpanStatusCode.ERROR)).toEqual([])
    }))

  it.live("exports the store latency histogram and the session counters, labelled with the manager's instance", () =>
    Effect.gen(function*() {
      const { exports, metrics } = yield* exportedRun
      expect(exports).toHaveLength(1)
      expect(exports[0]?.resource.attributes["service.name"]).toBe("chat-service")

      const latency = metric(metrics, "store_op_latency_ms")
      expect(latency.dataPointType).toBe(DataPointType.HISTOGRAM)
      // The memory store times one call in 8 of each operation: here one of the 10 touches (the program's 8 and
      // withSession's 2). Effect's metrics are process-wide, so each run adds to them: the export is what it counted.
      const counted = yield* Metric.value(managerMetrics.storeLatency.pipe(Metric.taggedWithLabels([
        MetricLabel.make("instance", "chat-service"),
        MetricLabel.make("op", "touch")
      ])))
      expect(counted.count).toBeGreaterThanOrEqual(1)
      expect(points(latency, { instance: "chat-service", op: "touch" })).toMatchObject([
        { value: { count: counted.count } }
      ])

      const created = metric(metrics, "sessions_created_total")
      expect(created.dataPointType).toBe(DataPointType.SUM)
      expect(created.dataPointType === DataPointType.SUM && created.isMonotonic).toBe(true)
      const createdHere = points(created, { instance: "chat-service" })
      expect(createdHere).toHaveLength(1)
      expect(createdHere[0]?.value).toBeGreaterThanOrEqual(1)
      // Counters that have not moved are exported at 0, so dashboards see them from the start.
      const closed = points(metric(metrics, "sessions_closed_total"), { instance: "chat-service" })
      expect(closed).toMatchObject([{ value: 0 }])
      // The sessions gauge: this manager's one session is active.
      const active = points(metric(metrics, "sessions"), { instance: "chat-service", status: "active" })
      expect(active).toMatchObject([{ value: 1 }])
    }))

  it.effect("without the telemetry layer the manager works the same: on Effect's own tracer, or with tracing off", () =>
    Effect.gen(function*() {
      const expected = { status: "active", name: "support-chat", data: { turns: 1 }, version: 2 }
      expect(yield* program.pipe(Effect.provide(Sessions))).toMatchObject(expected)
      expect(yield* program.pipe(Effect.provide(Sessions), Effect.withTracerEnabled(false))).toMatchObject(expected)
    }))
})
