/**
 * Store faults on purpose, through the fault-injecting wrapper, on the memory store and on a SQLite file, with the
 * manager in this process under `TestClock`: 30% of calls failing transiently, and permanent failures. Every
 * operation ends with a value or a typed error; the retry metric counts the retries (exactly, when no budget is
 * spent); a permanent failure is tried once; nothing acknowledged is lost in the unwrapped store.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, TestClock } from "effect"
import { SessionManager, type SessionsConfigInput } from "../../src/index.js"
import { Faults, type Operation as StoreOperation } from "../support/FaultyStore.js"
import { provideClosing } from "./support/clock.js"
import { churn, errorsTagged, expectTyped, limits, owners, stores, withFaults } from "./support/faults.js"
import { report } from "./support/figures.js"
import { checkAfterWorkload } from "./support/invariants.js"
import { retriesOf } from "./support/managers.js"
import { scaled } from "./support/profile.js"
import { fork, seeded } from "./support/random.js"
import { makeWorkload, operations, seed } from "./support/workload.js"

const Manager = SessionManager.SessionManager

describe.each(stores)("store faults on the %s", (name, inner) => {
  const faulty = (scenario: string, input: SessionsConfigInput, options: SessionManager.ManagerOptions = {}) =>
    withFaults(inner, scenario, input, options)

  const transient = faulty("transient", {})
  it.effect(
    "30% of calls fail transiently: each operation succeeds after retries or fails once its budget is spent",
    () =>
      Effect.gen(function*() {
        const random = seeded(`faults/transient/${name}`)
        const m = yield* Manager
        const faults = yield* Faults
        const w = makeWorkload(owners, 200)
        yield* seed(m, w, 100)
        const before = yield* retriesOf(transient.instance)
        faults.random({ fault: "unavailable", probability: 0.3, next: fork(random).next })
        const exits = yield* churn(m, faults, w, random, scaled(800))
        faults.clear()
        yield* TestClock.adjust("1 minute")
        const injected = faults.injected()["unavailable"] ?? 0
        const retried = (yield* retriesOf(transient.instance)) - before
        const exhausted = errorsTagged(exits, "StoreUnavailable")
        expectTyped(exits, w)
        // Every injected failure was retried, except the last of each call whose budget ran out (or whose caller
        // stopped waiting): so the retries are at most the injected failures, and at least the rest of them.
        expect(retried).toBeGreaterThan(0)
        expect(retried).toBeLessThanOrEqual(injected)
        expect(injected - retried).toBeGreaterThanOrEqual(exhausted.length)
        for (const error of exhausted) expect(error.reason).toBe("injected: database is locked")
        yield* checkAfterWorkload(w, limits, faults.unwrapped)
        report(`faults/transient/${name}`, {
          seed: random.seed,
          operations: exits.length,
          injected,
          retried,
          budgetSpent: exhausted.length,
          acknowledged: w.ledger.acknowledged,
          sessions: w.ledger.sessions,
          outcomes: w.outcomes.toJSON(),
          lost: 0
        })
      }).pipe((body) => provideClosing(transient.layer, body)),
    120_000
  )

  const generous = faulty("transient-exact", { retryMaxAttempts: 100 }, { sweeper: false })
  it.effect(
    "with a budget that is never spent, store_retries_total equals the injected transient failures",
    () =>
      Effect.gen(function*() {
        const random = seeded(`faults/transient-exact/${name}`)
        const m = yield* Manager
        const faults = yield* Faults
        const w = makeWorkload(owners, 200)
        yield* seed(m, w, 100)
        const before = yield* retriesOf(generous.instance)
        faults.random({ fault: "unavailable", probability: 0.3, next: fork(random).next })
        // withSession is left out: the end of its work interrupts the lease renewal, which may be between two attempts.
        const exits = yield* churn(m, faults, w, random, scaled(600), operations.filter((op) => op !== "withSession"))
        faults.clear()
        const injected = faults.injected()["unavailable"] ?? 0
        expect(injected).toBeGreaterThan(100)
        expect((yield* retriesOf(generous.instance)) - before).toBe(injected)
        expect(errorsTagged(exits, "StoreUnavailable")).toEqual([])
        expectTyped(exits, w)
        yield* checkAfterWorkload(w, limits, faults.unwrapped)
        report(`faults/transient-exact/${name}`, { seed: random.seed, operations: exits.length, injected, lost: 0 })
      }).pipe((body) => provideClosing(generous.layer, body)),
    120_000
  )

  const permanent = faulty("permanent", {})
  it.effect(
    "permanent failures (StoreError) at random are never retried, and lose nothing acknowledged",
    () =>
      Effect.gen(function*() {
        const random = seeded(`faults/permanent/${name}`)
        const m = yield* Manager
        const faults = yield* Faults
        const w = makeWorkload(owners, 200)
        yield* seed(m, w, 100)
        const before = yield* retriesOf(permanent.instance)
        faults.random({ fault: "error", probability: 0.1, next: fork(random).next })
        const exits = yield* churn(m, faults, w, random, scaled(600))
        faults.clear()
        yield* TestClock.adjust("1 minute")
        const injected = faults.injected()["error"] ?? 0
        const failed = errorsTagged(exits, "StoreError")
        expectTyped(exits, w)
        expect(failed.length).toBeGreaterThan(20)
        expect(failed.length).toBeLessThanOrEqual(injected)
        expect((yield* retriesOf(permanent.instance)) - before).toBe(0)
        yield* checkAfterWorkload(w, limits, faults.unwrapped)
        report(`faults/permanent/${name}`, {
          seed: random.seed,
          operations: exits.length,
          injected,
          failed: failed.length,
          lost: 0
        })
      }).pipe((body) => provideClosing(permanent.layer, body)),
    120_000
  )

  const once = faulty("permanent-once", { idleTimeout: "1h" }, { sweeper: false })
  it.effect("a permanent failure of each store operation is tried exactly once", () =>
    Effect.gen(function*() {
      const m = yield* Manager
      const faults = yield* Faults
      const s = yield* m.create({ owner: "owner-0" })
      const calls: ReadonlyArray<readonly [StoreOperation, Effect.Effect<unknown, unknown>]> = [
        ["insert", m.create({ owner: "owner-1" })],
        ["get", m.get(s.id)],
        ["update", m.update(s.id, { a: 1 })],
        ["touch", m.touch(s.id)],
        ["list", m.list({ owner: "owner-0" })],
        ["counts", m.stats],
        ["ownerCounts", m.ownerStats("owner-0")],
        ["getActive", m.active("owner-0")],
        ["setActive", m.activate("owner-0", s.id)],
        ["acquireLease", m.withSession(s.id, () => Effect.void)],
        ["flush", m.sweep],
        ["expire", m.sweep],
        ["purge", m.sweep]
      ]
      for (const [op, call] of calls) {
        const before = faults.calls(op).length
        faults.inject(op, "error")
        const exit = yield* Effect.exit(call)
        yield* TestClock.adjust("1 minute")
        expect(exit, `${op}: ${Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "succeeded"}`).toMatchObject({
          _tag: "Failure",
          cause: { _tag: "Fail", error: { _tag: "StoreError" } }
        })
        expect(faults.calls(op).length - before, op).toBe(1)
      }
      expect(yield* retriesOf(once.instance)).toBe(0)
    }).pipe((body) => provideClosing(once.layer, body)))
})
