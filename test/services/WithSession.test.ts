import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Ref } from "effect"
import { SessionManager, SessionStore } from "../../src/index.js"
import { Faults } from "../support/FaultyStore.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("withSession: leases and deadlines", () => {
    it.effect("holds a store lease, renewed while the work runs, so other holders are kept out", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const store = yield* SessionStore
        const s = yield* m.create({ owner: "a" })
        const work = yield* Effect.fork(
          m.withSession(s.id, ({ lease }) => Effect.as(Effect.sleep("100 seconds"), lease))
        )
        // leaseTtl is 30s: without renewal another holder could take over after 30s.
        for (let t = 0; t < 9; t++) {
          yield* adjust("10 seconds")
          expect(yield* Effect.flip(store.acquireLease(s.id as never, "intruder", Duration.seconds(30)))).toMatchObject(
            {
              _tag: "LeaseHeld"
            }
          )
        }
        yield* adjust("10 seconds")
        const lease = yield* Fiber.join(work)
        expect(lease.holder).toMatch(/^node-\w+\/#\d+$/)
        expect(yield* store.leases).toEqual([])
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("at the deadline the work is interrupted, its finalizers run, and the caller gets OperationTimeout", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        const finalized = yield* Ref.make(false)
        const call = yield* Effect.fork(m.withSession(
          s.id,
          () => Effect.sleep("10 minutes").pipe(Effect.ensuring(Ref.set(finalized, true))),
          { timeout: "3 seconds" }
        ))
        yield* adjust("2999 millis")
        expect(yield* Ref.get(finalized)).toBe(false)
        yield* adjust("1 milli")
        const error = yield* Effect.flip(Fiber.join(call))
        expect(error).toMatchObject({ _tag: "OperationTimeout", operation: "withSession" })
        expect(Duration.toMillis((error as { after: Duration.Duration }).after)).toBe(3000)
        expect(yield* Ref.get(finalized)).toBe(true)
        // The session is free again.
        expect((yield* m.close(s.id)).status).toBe("closed")
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("interrupting the caller interrupts the work and releases everything", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const store = yield* SessionStore
        const s = yield* m.create({ owner: "a" })
        const finalized = yield* Ref.make(false)
        const call = yield* Effect.fork(
          m.withSession(s.id, () => Effect.never.pipe(Effect.ensuring(Ref.set(finalized, true))))
        )
        yield* adjust("1 second")
        yield* Fiber.interrupt(call)
        expect(yield* Ref.get(finalized)).toBe(true)
        expect(yield* store.leases).toEqual([])
        expect((yield* m.stats).inFlight).toBe(0)
        expect((yield* m.stats).locksHeld).toBe(0)
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("the work's failure and value pass through unchanged; the session is touched when it ends", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        const failed = yield* Effect.exit(m.withSession(s.id, () => Effect.fail("the model refused" as const)))
        expect(failed).toEqual(Exit.fail("the model refused"))
        const value = yield* m.withSession(s.id, () => Effect.as(Effect.sleep("20 minutes"), 42), { timeout: "1 hour" })
          .pipe(Effect.fork, Effect.tap(() => adjust("20 minutes")), Effect.flatMap(Fiber.join))
        expect(value).toBe(42)
        // The idle timeout is 15 minutes, but the session was in use for 20: it is not expired, and was touched at the end.
        const after = yield* m.get(s.id)
        expect(after).toMatchObject({ status: "active", lastActiveAt: 20 * 60_000, expiresAt: 35 * 60_000 })
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("a session busy in withSession is not expired by the sweeper under it", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        const other = yield* m.create({ owner: "b" })
        const work = yield* Effect.fork(m.withSession(s.id, () => Effect.sleep("20 minutes"), { timeout: "1 hour" }))
        yield* adjust("16 minutes")
        const report = yield* m.sweep
        expect(report.expired).toBe(1)
        expect((yield* m.get(other.id)).status).toBe("expired")
        expect((yield* m.get(s.id)).status).toBe("active")
        yield* adjust("4 minutes")
        yield* Fiber.join(work)
        expect((yield* m.get(s.id)).status).toBe("active")
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }))))

    it.effect("a lease lost while the work runs interrupts the work and fails StaleFencingToken", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        const s = yield* m.create({ owner: "a" })
        const interrupted = yield* Ref.make(false)
        faults.inject("renewLease", "stale")
        const call = yield* Effect.fork(
          m.withSession(s.id, () => Effect.never.pipe(Effect.onInterrupt(() => Ref.set(interrupted, true))))
        )
        yield* adjust("10 seconds")
        const error = yield* Effect.flip(Fiber.join(call))
        expect(error).toMatchObject({ _tag: "StaleFencingToken", id: s.id })
        expect(yield* Ref.get(interrupted)).toBe(true)
      }).pipe(Effect.provide(store.faultyManagerLayer())))

    it.effect("writes inside carry the fencing token: once another holder has the session, they are refused", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const store = yield* SessionStore
        const s = yield* m.create({ owner: "a", data: "before" })
        const refused = yield* m.withSession(s.id, ({ lease }) =>
          Effect.gen(function*() {
            yield* m.update(s.id, "mine")
            // As if this holder paused past its lease and another took the session over.
            yield* store.releaseLease(lease)
            yield* store.acquireLease(s.id, "node-other/#1", Duration.minutes(1))
            return yield* Effect.flip(m.update(s.id, "late write"))
          }))
        expect(refused).toMatchObject({ _tag: "StaleFencingToken", id: s.id })
        expect((yield* m.get(s.id)).data).toBe("mine")
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("another holder's lease makes withSession wait, then fail SessionBusy naming that holder", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const store = yield* SessionStore
        const s = yield* m.create({ owner: "a" })
        yield* store.acquireLease(s.id, "node-elsewhere/#7", Duration.minutes(1))
        const call = yield* Effect.fork(m.withSession(s.id, () => Effect.void))
        yield* adjust("5 seconds")
        expect(yield* Effect.flip(Fiber.join(call))).toMatchObject({ _tag: "SessionBusy", holder: "node-elsewhere/#7" })
        // Once that lease expires (a crashed holder), the session is usable again.
        yield* adjust("1 minute")
        expect(yield* m.withSession(s.id, () => Effect.succeed("ok"))).toBe("ok")
      }).pipe(Effect.provide(store.managerLayer())))
  })
})
