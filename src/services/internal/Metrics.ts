/**
 * The manager's metrics (Effect `Metric`s, exported by any Effect metrics exporter), updated synchronously so they
 * cost nothing on the hot path but a few additions. Each is labelled with the manager's `instance`.
 */
import { Metric, MetricBoundaries, MetricLabel } from "effect"
import type { SessionStatus, StatusCounts } from "../../domain/Session.js"
import { statuses } from "../../domain/Session.js"

const latencyBoundaries = MetricBoundaries.exponential({ start: 0.05, factor: 2, count: 16 })

/** Every metric of effect-sessions, by name. */
export const metrics = {
  sessions: Metric.gauge("sessions", { description: "Sessions by status (tombstones included)" }),
  created: Metric.counter("sessions_created_total", { description: "Sessions created", incremental: true }),
  closed: Metric.counter("sessions_closed_total", { description: "Sessions closed", incremental: true }),
  expired: Metric.counter("sessions_expired_total", { description: "Sessions expired", incremental: true }),
  evicted: Metric.counter("sessions_evicted_total", { description: "Sessions evicted", incremental: true }),
  purged: Metric.counter("sessions_purged_total", { description: "Tombstones purged", incremental: true }),
  conflicts: Metric.counter("session_version_conflicts_total", {
    description: "Writes refused by a version conflict",
    incremental: true
  }),
  retries: Metric.counter("store_retries_total", { description: "Store calls retried", incremental: true }),
  rateLimited: Metric.counter("rate_limited_total", {
    description: "Calls refused by a rate limit",
    incremental: true
  }),
  eventsDropped: Metric.counter("events_dropped_total", {
    description: "Events a slow subscriber missed",
    incremental: true
  }),
  sweepFailures: Metric.counter("sweep_failures_total", {
    description: "Sweeper ticks that failed or died",
    incremental: true
  }),
  sweepDuration: Metric.histogram(
    "sweep_duration_ms",
    MetricBoundaries.exponential({ start: 0.1, factor: 2, count: 18 }),
    "Time one sweep took, in milliseconds"
  ),
  storeLatency: Metric.histogram(
    "store_op_latency_ms",
    latencyBoundaries,
    "Store call latency, in milliseconds: every call to a store that waits on I/O, one in 8 to a synchronous one"
  )
}

/** Every counter of `metrics`. */
const counters: ReadonlyArray<Metric.Metric.Counter<number>> = [
  metrics.created,
  metrics.closed,
  metrics.expired,
  metrics.evicted,
  metrics.purged,
  metrics.conflicts,
  metrics.retries,
  metrics.rateLimited,
  metrics.eventsDropped,
  metrics.sweepFailures
]

/** The labels and synchronous update functions of one manager's metrics. */
export class ManagerMetrics {
  private readonly base: ReadonlyArray<MetricLabel.MetricLabel>
  private readonly byStatus: Readonly<Record<SessionStatus, ReadonlyArray<MetricLabel.MetricLabel>>>
  private readonly mirror: Record<SessionStatus, number> = { active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 }

  constructor(readonly instance: string) {
    this.base = [MetricLabel.make("instance", instance)]
    this.byStatus = Object.fromEntries(
      statuses.map((status) => [status, [...this.base, MetricLabel.make("status", status)]])
    ) as unknown as Record<SessionStatus, ReadonlyArray<MetricLabel.MetricLabel>>
    // Every counter exists from the start, at 0, as scrapers expect: a series that appears only once it first moves
    // makes rate() and alerts on it blind until then.
    for (const counter of counters) counter.unsafeUpdate(0, this.base)
  }

  count(counter: Metric.Metric.Counter<number>, by = 1): void {
    if (by !== 0) counter.unsafeUpdate(by, this.base)
  }

  /** Records `by` sessions (default one) changing status in the `sessions` gauge (`from` undefined: new ones). */
  moved(from: SessionStatus | undefined, to: SessionStatus, by = 1): void {
    if (from === to || by === 0) return
    if (from !== undefined) this.setStatus(from, this.mirror[from] - by)
    this.setStatus(to, this.mirror[to] + by)
  }

  /** Sets the `sessions` gauge to the store's counts (at start, and after each sweep). */
  resync(counts: StatusCounts): void {
    for (const status of statuses) this.setStatus(status, counts[status])
  }

  observe(histogram: Metric.Metric.Histogram<number>, value: number, labels?: ReadonlyArray<MetricLabel.MetricLabel>) {
    histogram.unsafeUpdate(value, labels ?? this.base)
  }

  labels(extra: Record<string, string>): ReadonlyArray<MetricLabel.MetricLabel> {
    return [...this.base, ...Object.entries(extra).map(([key, value]) => MetricLabel.make(key, value))]
  }

  private setStatus(status: SessionStatus, value: number): void {
    this.mirror[status] = value
    metrics.sessions.unsafeUpdate(value, this.byStatus[status])
  }
}
