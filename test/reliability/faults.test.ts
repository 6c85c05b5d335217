/**
 * Store faults on purpose, through the fault-injecting wrapper, on the memory store and on a SQLite file, with the
 * manager in this process under `TestClock`: 30% of calls failing transiently, latency spikes past `storeTimeout`
 * (and calls that never answer), and permanent failures. Every operation ends (nothing hangs), with a value or a
 * typed error; the retry metric counts the retries; nothing acknowledged is lost in the unwrapped store.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, type Layer, TestClock } from "effect"
import { MemoryStore, SessionManager, type SessionsConfigInput, type SessionStore } from "../../src/index.js"
import { type Fault, Faults, type Operation as StoreOperation } from "../support/FaultyStore.js"
import { sqliteLayer } from "../support/sqlite.js"
import { provideClosing, runWaves } from "./support/clock.js"
import { report } from "./support/figures.js"
import { checkAfterWorkload } from "./support/invariants.js"
import { faultyManager, freshInstance, retriesOf } from "./support/managers.js"
import { scaled } from "./support/profile.js"
import { fork, type Random, seeded } from "./support/random.js"
import {
  drawSteps,
  failureTags,
  makeWorkload,
  type Operation,
  operations,
  runStep,
  seed,
  type Workload
} from "./support/workload.js"

const Manager = SessionManager.SessionManager

const owners = Array.from({ length: 10 }, (_, i) => `owner-${i}`)
const limits = { maxSessions: 200, maxSessionsPerOwner: 30 }
const base: SessionsConfigInput = {
  ...limits,
  capacityPolicy: "evict-lru",
  idleTimeout: "20s",
  retention: "1h",
  sweepInterval: "5s",
  storeTimeout: "1s",
  sessionRateLimit: "1000000/1s",
  ownerRateLimit: "1000000/1s"
}

/** Typed failures an operation may end with here: the domain's own outcomes and the store's. */
const typed = [
  "SessionEnded",
  "InvalidTransition",
  "CapacityExceeded",
  "SessionNameTaken",
  "SessionBusy",
  "OperationTimeout",
  "SessionNotFound",
  "StaleFencingToken",
  "StoreUnavailable",
  "StoreError"
]

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<SessionStore, unknown>]> = [
  ["memory store", () => MemoryStore.layer],
  ["SQLite store (file)", () => sqliteLayer()]
]

/** The typed errors among `exits` with the given tag. */
const errorsTagged = (exits: ReadonlyArray<Exit.Exit<unknown, unknown>>, tag: string) =>
  exits.flatMap((exit) => {
    if (Exit.isSuccess(exit)) return []
    const failure = Cause.failureOption(exit.cause)
    return failure._tag === "Some" && (failure.value as { _tag?: string })._tag === tag
      ? [failure.value as { readonly operation: string; readonly reason: string }]
      : []
  })

/** Every exit is a value or one of the typed failures: never a defect, never an interruption. */
const expectTyped = (exits: ReadonlyArray<Exit.Exit<unknown, unknown>>, w: Workload) => {
  const untyped = exits.filter((exit) => Exit.isFailure(exit) && exit.cause._tag !== "Fail")
  expect(untyped.map((exit) => Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "")).toEqual([])
  for (const tag of failureTags(w)) {
    expect(typed, [...w.examples].filter(([outcome]) => outcome.endsWith(tag)).join("\n")).toContain(tag)
  }
}

/** Runs `count` random operations of `w` in waves of 100 on `m`, faults as planned, and returns their exits. */
const churn = (
  m: SessionManager.SessionManagerShape,
  faults: Faults["Type"],
  w: Workload,
  random: Random,
  count: number,
  ops: ReadonlyArray<Operation> = operations
) =>
  Effect.gen(function*() {
    const steps = drawSteps(random, count, 1500, ops)
    const exits = yield* runWaves(steps, {
      context: () =>
        `operations still running: ${JSON.stringify(w.running)}; store calls still waiting: ${
          JSON.stringify(faults.hanging())
        }`,
      size: 100,
      step: "100 millis",
      limit: "1 minute",
      run: (step) => runStep(m, w, step)
    })
    return exits
  })

describe.each(stores)("store faults on the %s", (name, inner) => {
  const withFaults = (scenario: string, input: SessionsConfigInput, options: SessionManager.ManagerOptions = {}) => {
    const instance = freshInstance(scenario)
    return { instance, layer: faultyManager(inner(), instance, { ...base, ...input }, options) }
  }

  const transient = withFaults("transient", {})
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

  const generous = withFaults("transient-exact", { retryMaxAttempts: 100 }, { sweeper: false })
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

  const spikes = withFaults("latency", {})
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

  const silent = withFaults("no-answer", {})
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

  const permanent = withFaults("permanent", {})
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

  const once = withFaults("permanent-once", { idleTimeout: "1h" }, { sweeper: false })
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
