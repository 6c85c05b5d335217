/**
 * Slow and silent store calls, through the fault-injecting wrapper, on the memory store and on a SQLite file, under
 * `TestClock`: latency spikes past `storeTimeout` (before the call reaches the store, or after it landed) and calls
 * that never answer. Each attempt ends at the deadline and is retried; nothing hangs; nothing acknowledged is lost.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { SessionManager, type SessionsConfigInput } from "../../src/index.js"
import { type Fault, Faults } from "../support/FaultyStore.js"
import { provideClosing } from "./support/clock.js"
import { churn, errorsTagged, expectTyped, limits, owners, stores, withFaults } from "./support/faults.js"
import { report } from "./support/figures.js"
import { checkAfterWorkload } from "./support/invariants.js"
import { retriesOf } from "./support/managers.js"
import { scaled } from "./support/profile.js"
import { fork, seeded } from "./support/random.js"
import { makeWorkload, seed } from "./support/workload.js"

const Manager = SessionManager.SessionManager

describe.each(stores)("slow and silent store calls on the %s", (name, inner) => {
  const faulty = (scenario: string, input: SessionsConfigInput, options: SessionManager.ManagerOptions = {}) =>
    withFaults(inner, scenario, input, options)

  const spikes = faulty("latency", {})
  it.effect(
    "latency spikes past storeTimeout fail the attempt at the deadline and are retried; nothing hangs",
    () =>
      Effect.gen(function*() {
        const random = seeded(`faults/latency/${name}`)
        const m = yield* Manager
        const faults = yield* Faults
        const w = makeWorkload(owners, 200)
        yield* seed(m, w, 100)
        const before = yield* retriesOf(spikes.instance)
        // Twice storeTimeout: before the call reaches the store (nothing lands), or after it (it landed, unacknowledged).
        const past = Duration.seconds(2)
        const kinds: ReadonlyArray<Fault> = [{ _tag: "slow", delay: past }, { _tag: "late", delay: past }]
        faults.random({ fault: kinds, probability: 0.05, next: fork(random).next })
        const exits = yield* churn(m, faults, w, random, scaled(500))
        faults.clear()
        yield* TestClock.adjust("1 minute")
        const injected = faults.injected()
        const spiked = (injected["slow"] ?? 0) + (injected["late"] ?? 0)
        const retried = (yield* retriesOf(spikes.instance)) - before
        expectTyped(exits, w)
        expect(spiked).toBeGreaterThan(20)
        expect(retried).toBeGreaterThan(0)
        expect(retried).toBeLessThanOrEqual(spiked)
        // A spike is only ever seen as the deadline passing.
        for (const error of errorsTagged(exits, "StoreUnavailable")) expect(error.reason).toBe("no answer within 1s")
        yield* checkAfterWorkload(w, limits, faults.unwrapped)
        report(`faults/latency/${name}`, {
          seed: random.seed,
          operations: exits.length,
          injected,
          retried,
          acknowledged: w.ledger.acknowledged,
          outcomes: w.outcomes.toJSON(),
          lost: 0
        })
      }).pipe((body) => provideClosing(spikes.layer, body)),
    120_000
  )

  const silent = faulty("no-answer", {})
  it.effect(
    "calls that never answer end at storeTimeout and are retried, in every operation; nothing hangs",
    () =>
      Effect.gen(function*() {
        const random = seeded(`faults/no-answer/${name}`)
        const m = yield* Manager
        const faults = yield* Faults
        const w = makeWorkload(owners, 200)
        yield* seed(m, w, 100)
        const before = yield* retriesOf(silent.instance)
        faults.random({ fault: "hang", probability: 0.1, next: fork(random).next })
        const exits = yield* churn(m, faults, w, random, scaled(300))
        faults.clear()
        yield* TestClock.adjust("1 minute")
        const hung = faults.injected()["hang"] ?? 0
        const retried = (yield* retriesOf(silent.instance)) - before
        expectTyped(exits, w)
        expect(hung).toBeGreaterThan(10)
        expect(retried).toBeGreaterThan(0)
        expect(retried).toBeLessThanOrEqual(hung)
        for (const error of errorsTagged(exits, "StoreUnavailable")) expect(error.reason).toBe("no answer within 1s")
        yield* checkAfterWorkload(w, limits, faults.unwrapped)
        report(`faults/no-answer/${name}`, { seed: random.seed, operations: exits.length, hung, retried, lost: 0 })
      }).pipe((body) => provideClosing(silent.layer, body)),
    120_000
  )
})
