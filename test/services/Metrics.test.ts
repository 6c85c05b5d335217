import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Metric, MetricLabel } from "effect"
import * as fc from "fast-check"
import { SessionManager, SessionStore, statuses } from "../../src/index.js"
import { metrics } from "../../src/services/internal/Metrics.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

const gauge = (instance: string, status: string) =>
  Effect.map(
    Metric.value(metrics.sessions.pipe(
      Metric.taggedWithLabels([MetricLabel.make("instance", instance), MetricLabel.make("status", status)])
    )),
    (state) => state.value
  )

const counter = (metric: Metric.Metric.Counter<number>, instance: string) =>
  Effect.map(
    Metric.value(metric.pipe(Metric.taggedWithLabels([MetricLabel.make("instance", instance)]))),
    (state) => state.count
  )

let run = 0

forEachStore((store) => {
  describe("metrics", () => {
    it.effect("every counter is exported at 0 from the start, before it first moves", () =>
      Effect.gen(function*() {
        yield* Manager
        const snapshot = yield* Metric.snapshot
        const names = [
          "sessions_created_total",
          "sessions_closed_total",
          "sessions_expired_total",
          "sessions_evicted_total",
          "sessions_purged_total",
          "session_version_conflicts_total",
          "store_retries_total",
          "rate_limited_total",
          "events_dropped_total",
          "sweep_failures_total"
        ]
        for (const name of names) {
          const series = snapshot.filter((pair) =>
            pair.metricKey.name === name &&
            pair.metricKey.tags.some((tag) => tag.key === "instance" && tag.value === "fresh-counters")
          )
          expect(series.map((pair) => (pair.metricState as { count?: unknown }).count), name).toEqual([0])
        }
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }, { instance: "fresh-counters" }))))

    it.effect.prop(
      "after a random concurrent workload the sessions gauge equals the store's counts, without a resync",
      [
        fc.array(
          fc.record({
            op: fc.constantFrom(
              "create" as const,
              "touch" as const,
              "wait" as const,
              "resume" as const,
              "close" as const,
              "update" as const,
              "advance" as const
            ),
            pick: fc.nat(),
            owner: fc.nat(3)
          }),
          { minLength: 50, maxLength: 300 }
        )
      ],
      ([plan]) => {
        const instance = `metrics-${++run}`
        return Effect.gen(function*() {
          const m = yield* Manager
          const store = yield* SessionStore
          const ids: Array<string> = []
          let created = 0
          // Time moves while no operation runs (the clock never jumps past a store call in flight on any store).
          const ops = yield* Effect.makeSemaphore(8)
          yield* Effect.forEach(plan, (step): Effect.Effect<void> => {
            const id = ids.length === 0 ? "" : ids[step.pick % ids.length]!
            switch (step.op) {
              case "create":
                return Effect.map(ops.withPermits(1)(Effect.either(m.create({ owner: `o${step.owner}` }))), (r) => {
                  if (Either.isRight(r)) {
                    ids.push(r.right.id)
                    created++
                  }
                })
              case "advance":
                return ops.withPermits(8)(adjust(Duration.minutes(step.pick % 7)))
              case "touch":
                return ops.withPermits(1)(Effect.ignore(m.touch(id)))
              case "wait":
                return ops.withPermits(1)(Effect.ignore(m.wait(id)))
              case "resume":
                return ops.withPermits(1)(Effect.ignore(m.resume(id)))
              case "close":
                return ops.withPermits(1)(Effect.ignore(m.close(id)))
              case "update":
                return ops.withPermits(1)(Effect.ignore(m.update(id, { n: step.pick })))
            }
          }, { concurrency: 8, discard: true })
          const counts = yield* store.counts
          for (const status of statuses) {
            expect([status, yield* gauge(instance, status)]).toEqual([status, counts[status]])
          }
          expect(yield* counter(metrics.created, instance)).toBe(created)
          expect(yield* counter(metrics.closed, instance)).toBe(counts.closed)
          expect(yield* counter(metrics.expired, instance)).toBe(counts.expired)
          expect(yield* counter(metrics.evicted, instance)).toBe(counts.evicted)
        }).pipe(
          Effect.provide(store.managerLayer(
            { maxSessions: 12, maxSessionsPerOwner: 5, capacityPolicy: "evict-lru", sessionRateLimit: "1000000/1s" },
            { instance, sweeper: false }
          ))
        )
      },
      { fastCheck: { numRuns: 30 } }
    )

    it.effect("counts conflicts, rate-limited calls, retries and sweeps", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        yield* m.update(s.id, 1, { expectedVersion: 1 })
        yield* Effect.flip(m.update(s.id, 2, { expectedVersion: 1 }))
        expect(yield* counter(metrics.conflicts, `counted on ${store.name}`)).toBe(1)
        yield* m.get(s.id) // the third call in the minute: the last token
        expect(yield* Effect.flip(m.get(s.id))).toMatchObject({ _tag: "RateLimited" })
        expect(yield* counter(metrics.rateLimited, `counted on ${store.name}`)).toBe(1)
        const sweeps = metrics.sweepDuration.pipe(
          Metric.taggedWithLabels([MetricLabel.make("instance", `counted on ${store.name}`)])
        )
        const before = (yield* Metric.value(sweeps)).count
        yield* m.sweep
        expect((yield* Metric.value(sweeps)).count).toBe(before + 1)
      }).pipe(
        // No background sweeper: its first sweep, run at start, could land during `m.sweep` and be counted too.
        Effect.provide(
          store.managerLayer({ sessionRateLimit: "3/1m" }, { instance: `counted on ${store.name}`, sweeper: false })
        )
      ))
  })
})
