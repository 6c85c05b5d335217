import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { SessionManager } from "../../src/index.js"
import { Faults } from "../support/FaultyStore.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("store calls: deadlines and retries", () => {
    it.effect("a transient failure is retried with exponential, jittered delays, at most retryMaxAttempts times", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        const s = yield* m.create({ owner: "a" })
        faults.inject("get", "unavailable", 4)
        const call = yield* Effect.fork(m.get(s.id))
        yield* adjust("5 seconds")
        expect((yield* Fiber.join(call)).id).toBe(s.id)
        const at = faults.calls("get")
        expect(at.length).toBe(5)
        // Delays: 50ms, 100ms, 200ms, 400ms, each jittered between 80% and 120%.
        for (let i = 1; i < at.length; i++) {
          const delay = at[i]! - at[i - 1]!
          const base = 50 * 2 ** (i - 1)
          expect(delay).toBeGreaterThanOrEqual(base * 0.8)
          expect(delay).toBeLessThanOrEqual(base * 1.2)
        }
      }).pipe(Effect.provide(store.faultyManagerLayer({ sweepInterval: "1h" }))))

    it.effect("after the last attempt the caller gets StoreUnavailable", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        const s = yield* m.create({ owner: "a" })
        faults.inject("touch", "unavailable", 100)
        const call = yield* Effect.fork(m.touch(s.id))
        yield* adjust("10 seconds")
        expect(yield* Effect.flip(Fiber.join(call))).toMatchObject({ _tag: "StoreUnavailable", operation: "touch" })
        expect(faults.calls("touch").length).toBe(3)
      }).pipe(Effect.provide(store.faultyManagerLayer({ retryMaxAttempts: 3, sweepInterval: "1h" }))))

    it.effect("a permanent failure is tried exactly once", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        faults.inject("insert", "error")
        expect(yield* Effect.flip(m.create({ owner: "a" }))).toMatchObject({ _tag: "StoreError", operation: "insert" })
        expect(faults.calls("insert").length).toBe(1)
      }).pipe(Effect.provide(store.faultyManagerLayer({ sweepInterval: "1h" }))))

    it.effect("a call that never answers ends in StoreUnavailable after storeTimeout, while other sessions are served", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        const stuck = yield* m.create({ owner: "a" })
        const fine = yield* m.create({ owner: "b" })
        faults.inject("touch", "hang", 1, (args) => args[0] === stuck.id)
        const call = yield* Effect.fork(m.touch(stuck.id))
        yield* adjust("1 second")
        // Meanwhile the store keeps serving everyone else.
        expect((yield* m.touch(fine.id)).lastActiveAt).toBe(1000)
        yield* adjust("3999 millis")
        expect(yield* Fiber.poll(call)).toMatchObject({ _tag: "None" })
        yield* adjust("1 milli")
        const error = yield* Effect.flip(Fiber.join(call))
        expect(error).toMatchObject({ _tag: "StoreUnavailable", operation: "touch", reason: "no answer within 5s" })
        expect(faults.calls("touch").filter((at) => at < 5000).length).toBe(2)
      }).pipe(Effect.provide(store.faultyManagerLayer({ retryMaxAttempts: 1, sweepInterval: "1h" }))))

    it.effect("a hung attempt is retried like any transient failure", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        const s = yield* m.create({ owner: "a" })
        faults.inject("get", "hang", 1)
        const call = yield* Effect.fork(m.get(s.id))
        yield* adjust(Duration.seconds(6))
        expect((yield* Fiber.join(call)).id).toBe(s.id)
        expect(faults.calls("get").length).toBe(2)
      }).pipe(Effect.provide(store.faultyManagerLayer({ storeTimeout: "5s", sweepInterval: "1h" }))))
  })
})
