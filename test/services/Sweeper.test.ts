import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Scope } from "effect"
import { SessionManager } from "../../src/index.js"
import { Faults } from "../support/FaultyStore.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("the sweeper", () => {
    it.effect("expires a session exactly at its expiresAt, not one millisecond before", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        // idleTimeout 15m is a multiple of the 30s sweep interval: a tick lands exactly on expiresAt.
        yield* adjust(Duration.millis(15 * 60_000 - 1))
        expect((yield* m.get(s.id)).status).toBe("active")
        yield* adjust(Duration.millis(1))
        expect(yield* m.get(s.id)).toMatchObject({ status: "expired", endedAt: 15 * 60_000, endReason: "idle timeout" })
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "30s" }))))

    it.effect("activity pushes expiry out", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        yield* adjust("10 minutes")
        yield* m.recordActivity(s.id, { messages: 1 })
        yield* adjust("10 minutes")
        expect((yield* m.get(s.id)).status).toBe("active")
        yield* adjust("5 minutes")
        expect((yield* m.get(s.id)).status).toBe("expired")
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "30s" }))))

    it.effect("purges tombstones after the retention and forgets idle rate-limit keys", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        yield* m.close(s.id)
        expect((yield* m.stats).rateLimitKeys).toBe(2)
        yield* adjust("59 minutes")
        expect((yield* m.get(s.id)).status).toBe("closed")
        expect((yield* m.stats).rateLimitKeys).toBe(1)
        yield* adjust("1 minute")
        const report = yield* m.sweep
        expect(report.purged).toBe(0)
        expect(yield* Effect.flip(m.get(s.id))).toMatchObject({ _tag: "SessionNotFound" })
        expect((yield* m.stats).counts).toEqual({ active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 })
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1m", retention: "1h" }))))

    it.effect("expires a backlog in batches of sweepBatch within one sweep", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        for (let i = 0; i < 250; i++) yield* m.create({ owner: `o${i}` })
        yield* adjust("16 minutes")
        const report = yield* m.sweep
        expect(report).toMatchObject({ expired: 250 })
        expect((yield* m.stats).counts.expired).toBe(250)
      }).pipe(Effect.provide(store.managerLayer({ sweepBatch: 100 }, { sweeper: false }))))

    it.effect("a failure or a defect inside one tick is logged and counted, and the next tick still runs", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        const s = yield* m.create({ owner: "a" })
        faults.inject("expire", "error")
        faults.inject("purge", "die")
        yield* adjust("1 minute") // ticks at 30s (fails: StoreError) and 60s (dies in purge)
        let stats = yield* m.stats
        expect(stats.sweeps.failures).toBe(2)
        yield* adjust("15 minutes")
        stats = yield* m.stats
        expect(stats.sweeps.failures).toBe(2)
        expect(stats.sweeps.runs).toBeGreaterThan(30)
        expect((yield* m.get(s.id)).status).toBe("expired")
      }).pipe(Effect.provide(store.faultyManagerLayer({ sweepInterval: "30s", retryMaxAttempts: 1 }))))

    it.effect("closing the scope stops the sweeper: no tick runs afterwards", () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(store.faultyManagerLayer({ sweepInterval: "30s" }), scope)
        const faults = context.unsafeMap.get(Faults.key) as Faults["Type"]
        yield* adjust("2 minutes")
        const before = faults.calls("expire").length
        expect(before).toBe(5)
        yield* Scope.close(scope, Exit.void)
        yield* adjust("10 minutes")
        expect(faults.calls("expire").length).toBe(before)
      }))
  })
})
