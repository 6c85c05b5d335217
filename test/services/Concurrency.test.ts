import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Either, Exit, Fiber, Layer, Option, TestClock } from "effect"
import * as fc from "fast-check"
import { isEnded, MemoryStore, type Session, SessionManager, SessionStore } from "../../src/index.js"
import { storeInvariants } from "../contract/invariants.js"
import { managerLayer, managerOver } from "../support/manager.js"
import { sqliteLayer } from "../support/sqlite.js"

const Manager = SessionManager.SessionManager

/** Advances the test clock in steps until `fiber` is done. */
const runToEnd = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.DurationInput = "100 millis") =>
  Effect.gen(function*() {
    while (Option.isNone(yield* Fiber.poll(fiber))) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

describe("per-session locking", () => {
  it.effect("withSession is exclusive: a second caller waits, then gets the permit", () =>
    Effect.gen(function*() {
      const m = yield* Manager
      const s = yield* m.create({ owner: "a" })
      const order: Array<string> = []
      const first = yield* Effect.fork(m.withSession(s.id, () =>
        Effect.sync(() => order.push("first starts")).pipe(
          Effect.zipRight(Effect.sleep("2 seconds")),
          Effect.zipRight(Effect.sync(() => order.push("first ends")))
        )))
      yield* TestClock.adjust("1 second")
      const second = yield* Effect.fork(m.withSession(s.id, () => Effect.sync(() => order.push("second runs"))))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      expect(order).toEqual(["first starts", "first ends", "second runs"])
    }).pipe(Effect.provide(managerLayer())))

  it.effect("a waiter gives up after lockTimeout with SessionBusy naming the holder and the wait", () =>
    Effect.gen(function*() {
      const m = yield* Manager
      const s = yield* m.create({ owner: "a" })
      const long = yield* Effect.fork(m.withSession(s.id, () => Effect.sleep("1 minute")))
      yield* TestClock.adjust("1 second")
      const closing = yield* Effect.fork(m.close(s.id))
      yield* TestClock.adjust("5 seconds")
      const busy = yield* Effect.flip(Fiber.join(closing))
      expect(busy).toMatchObject({ _tag: "SessionBusy", id: s.id })
      expect((busy as { holder: string }).holder).toMatch(/^node-\w+\/#\d+$/)
      expect(Duration.toMillis((busy as { waited: Duration.Duration }).waited)).toBe(5000)
      // Reads and activity never wait for the permit.
      expect((yield* m.touch(s.id)).status).toBe("active")
      yield* TestClock.adjust("1 minute")
      yield* Fiber.join(long)
      expect((yield* m.close(s.id)).status).toBe("closed")
    }).pipe(Effect.provide(managerLayer())))

  it.effect("calls on the session inside withSession reuse its permit and write with its fencing token", () =>
    Effect.gen(function*() {
      const m = yield* Manager
      const store = yield* SessionStore
      const s = yield* m.create({ owner: "a" })
      const result = yield* m.withSession(s.id, ({ lease, session }) =>
        Effect.gen(function*() {
          expect(session.id).toBe(s.id)
          yield* m.update(s.id, { step: 1 })
          yield* m.wait(s.id)
          // A nested withSession on the same session joins the outer one instead of deadlocking.
          const inner = yield* m.withSession(s.id, (ctx) => Effect.succeed(ctx.lease.token))
          expect(inner).toBe(lease.token)
          const leases = yield* store.leases
          expect(leases.map((l) => l.token)).toEqual([lease.token])
          return yield* m.resume(s.id)
        }))
      expect(result).toMatchObject({ status: "active", data: { step: 1 }, version: 4 })
      expect(yield* store.leases).toEqual([])
      expect((yield* m.stats).locksHeld).toBe(0)
    }).pipe(Effect.provide(managerLayer())))

  it.effect("lock entries are freed when idle: many distinct sessions leave none behind", () =>
    Effect.gen(function*() {
      const m = yield* Manager
      const ids: Array<string> = []
      for (let i = 0; i < 2000; i++) ids.push((yield* m.create({ owner: `o${i % 50}` })).id)
      yield* Effect.forEach(ids, (id) => m.update(id, { touched: true }), { concurrency: 64, discard: true })
      yield* Effect.forEach(ids, (id) => m.withSession(id, () => Effect.void), { concurrency: 64, discard: true })
      expect((yield* m.stats).locksHeld).toBe(0)
    }).pipe(Effect.provide(managerLayer({ maxSessions: 10_000 }))))
})

type Op =
  | "create"
  | "touch"
  | "activity"
  | "wait"
  | "resume"
  | "update"
  | "close"
  | "activate"
  | "withSession"
  | "sweep"
  | "get"

const ops: ReadonlyArray<Op> = [
  "create",
  "touch",
  "activity",
  "wait",
  "resume",
  "update",
  "close",
  "activate",
  "withSession",
  "sweep",
  "get"
]
const owners = ["ann", "ben", "cat", "dan", "eve"]
const limits = { maxSessions: 100, maxSessionsPerOwner: 30 }

const schedule = fc.array(
  fc.record({
    op: fc.constantFrom(...ops),
    target: fc.nat(199),
    delay: fc.nat(1000),
    hold: fc.nat(3_000)
  }),
  { minLength: 10_000, maxLength: 10_000 }
)

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<SessionStore, unknown>, number]> = [
  ["memory store", () => MemoryStore.layer, 3],
  ["SQLite store (file)", () => sqliteLayer(), 1]
]

describe.each(stores)("10,000 concurrent mixed operations on the %s", (_, store, runs) => {
  it.effect.prop(
    "all complete under TestClock and leave every invariant intact",
    [schedule, fc.constantFrom("reject" as const, "evict-lru" as const)],
    ([plan, capacityPolicy]) =>
      Effect.gen(function*() {
        const m = yield* Manager
        const store = yield* SessionStore
        const ids: Array<string> = []
        for (let i = 0; i < 100; i++) ids.push((yield* m.create({ owner: owners[i % owners.length]! })).id)
        /** Successful calls per session: the instant and the session they returned. */
        const successes: Array<{ readonly at: number; readonly op: Op; readonly session: Session }> = []
        const record = (op: Op) => (session: Session) =>
          Effect.flatMap(Clock.currentTimeMillis, (at) => Effect.sync(() => successes.push({ at, op, session })))
        const run = (step: (typeof plan)[number]) => {
          // Calls target the 100 most recently created sessions, so the mix stays on live ones as others end.
          const id = ids[ids.length - 1 - (step.target % Math.min(ids.length, 100))]!
          const owner = owners[step.target % owners.length]!
          const call: Effect.Effect<unknown, unknown> = (() => {
            switch (step.op) {
              case "create":
                return Effect.tap(m.create({ owner, name: step.hold % 3 === 0 ? `n${step.target % 7}` : null }), (s) =>
                  Effect.sync(() => ids.push(s.id)))
              case "touch":
                return Effect.flatMap(m.touch(id), record("touch"))
              case "activity":
                return Effect.flatMap(
                  m.recordActivity(id, { messages: 1, responseTime: step.hold }),
                  record("activity")
                )
              case "wait":
                return Effect.flatMap(m.wait(id), record("wait"))
              case "resume":
                return Effect.flatMap(m.resume(id), record("resume"))
              case "update":
                return Effect.flatMap(m.update(id, { by: step.target }), record("update"))
              case "close":
                return m.close(id)
              case "activate":
                return Effect.flatMap(
                  Effect.flatMap(m.get(id), (s) =>
                    m.activate(s.owner, id)),
                  record("activate")
                )
              case "withSession":
                return m.withSession(id, () =>
                  Effect.zipRight(
                    Effect.sleep(Duration.millis(step.hold)),
                    Effect.flatMap(m.update(id, { work: step.hold }), record("update"))
                  ), { timeout: "2 seconds" })
              case "sweep":
                return m.sweep
              case "get":
                return m.get(id)
            }
          })()
          // A random number of yields before the call gives every wave a different interleaving.
          return Effect.zipRight(Effect.repeatN(Effect.yieldNow(), step.delay % 24), Effect.exit(call))
        }
        // 20 waves of 500 concurrent calls; time advances while each runs (work held, locks, deadlines).
        const exits: Array<Exit.Exit<unknown, unknown>> = []
        for (let wave = 0; wave < plan.length; wave += 500) {
          const fiber = yield* Effect.fork(
            Effect.forEach(plan.slice(wave, wave + 500), run, { concurrency: "unbounded" })
          )
          exits.push(...(yield* runToEnd(fiber, "250 millis")))
        }
        // Every operation completed: with a value or a typed failure, never a defect.
        for (const exit of exits) {
          if (Exit.isFailure(exit)) {
            expect(exit.cause._tag).toBe("Fail")
          }
        }
        const failures = new Set(
          exits.flatMap((exit) =>
            Exit.isFailure(exit) && exit.cause._tag === "Fail" ? [(exit.cause.error as { _tag: string })._tag] : []
          )
        )
        for (const tag of failures) {
          expect([
            "SessionEnded",
            "InvalidTransition",
            "CapacityExceeded",
            "SessionNameTaken",
            "SessionBusy",
            "OperationTimeout",
            "SessionNotFound"
          ]).toContain(tag)
        }

        const all_ = yield* storeInvariants(owners, limits)
        const stats = yield* m.stats
        expect(stats.counts).toEqual(yield* store.counts)
        expect(stats.inFlight).toBe(0)
        expect(stats.locksHeld).toBe(0)
        expect(yield* store.leases).toEqual([])
        // Nothing succeeded on a session after it ended.
        const endedAt = new Map(all_.filter((s) => s.endedAt !== null).map((s) => [s.id, s.endedAt!]))
        for (const success of successes) {
          expect(isEnded(success.session.status)).toBe(false)
          const end = endedAt.get(success.session.id)
          if (end !== undefined) expect(success.at).toBeLessThanOrEqual(end)
        }
        expect(successes.length).toBeGreaterThan(plan.length / 20)
      }).pipe(
        Effect.provide(managerOver(store(), {
          ...limits,
          capacityPolicy,
          idleTimeout: "8s",
          sessionRateLimit: "1000000/1s",
          ownerRateLimit: "1000000/1s",
          sweepInterval: "3s"
        }))
      ),
    // Shrinking a 10,000-call schedule takes longer than it helps: a failure reports its seed to replay instead.
    { fastCheck: { numRuns: runs, endOnFailure: true }, timeout: 180_000 }
  )
})

describe("bounded work under contention", () => {
  it.effect("a waiter interrupted while queued leaves the queue without leaking the permit", () =>
    Effect.gen(function*() {
      const m = yield* Manager
      const s = yield* m.create({ owner: "a" })
      const holder = yield* Effect.fork(m.withSession(s.id, () => Effect.sleep("2 seconds")))
      yield* TestClock.adjust("100 millis")
      const waiter = yield* Effect.fork(m.close(s.id))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(waiter)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(holder)
      expect((yield* m.stats).locksHeld).toBe(0)
      expect(Either.isRight(yield* Effect.either(m.close(s.id)))).toBe(true)
    }).pipe(Effect.provide(managerLayer())))
})
