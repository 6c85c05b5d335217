import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricBoundaries, MetricLabel } from "effect"
import parse from "parse-prometheus-text-format"
import { scrape } from "../../src/adapters/http/internal/prometheus.js"

describe("Prometheus text format", () => {
  it.effect("renders counters, gauges and histograms that a Prometheus parser reads back", () =>
    Effect.gen(function*() {
      const label = [MetricLabel.make("instance", "prom\"test\\n")]
      const counter = Metric.counter("test_requests_total", { description: "Requests\nserved", incremental: true })
      const gauge = Metric.gauge("test_open", { description: "Open things" })
      const histogram = Metric.histogram(
        "test_latency_ms",
        MetricBoundaries.linear({ start: 0, width: 10, count: 3 }),
        "Latency"
      )
      counter.unsafeUpdate(3, label)
      gauge.unsafeUpdate(-2.5, label)
      for (const value of [1, 5, 15, 100]) histogram.unsafeUpdate(value, label)
      const text = yield* scrape
      const families = parse(text)
      const byName = new Map(families.map((family) => [family.name, family]))
      expect(byName.get("test_requests_total")).toMatchObject({
        type: "COUNTER",
        help: "Requests\nserved",
        metrics: [{ value: "3", labels: { instance: "prom\"test\\n" } }]
      })
      expect(byName.get("test_open")).toMatchObject({ type: "GAUGE", metrics: [{ value: "-2.5" }] })
      const latency = byName.get("test_latency_ms")!
      expect(latency.type).toBe("HISTOGRAM")
      expect(latency.metrics[0]).toMatchObject({ buckets: { "0": "0", "10": "2", "+Inf": "4" } })
      expect(text).toContain("test_latency_ms_sum{instance=\"prom\\\"test\\\\n\"} 121")
      expect(text).toContain("test_latency_ms_count{instance=\"prom\\\"test\\\\n\"} 4")
      // One HELP and one TYPE line per name.
      expect(text.match(/^# TYPE test_requests_total /gm)?.length).toBe(1)
    }))
})
