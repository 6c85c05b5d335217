/**
 * Concurrency at scale: random concurrent manager operations (10,000 per store and capacity policy in `npm test`,
 * 100,000 in `npm run soak`) over 1,000 sessions and 100 owners, in seeded waves of forked fibers under `TestClock`,
 * on the memory store and on a SQLite file, under both capacity policies. Afterwards every store and manager invariant
 * holds, every fiber has completed, no lock entry, operation or lease is left, and nothing acknowledged is lost.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, type Layer } from "effect"
import { MemoryStore, SessionManager, type SessionStore } from "../../src/index.js"
import { managerOver } from "../support/manager.js"
import { sqliteLayer } from "../support/sqlite.js"
import { provideClosing, runWaves } from "./support/clock.js"
import { report } from "./support/figures.js"
import { checkAfterWorkload } from "./support/invariants.js"
import { concurrencyOperations } from "./support/profile.js"
import { seeded } from "./support/random.js"
import { drawSteps, failureTags, makeWorkload, runStep, seed } from "./support/workload.js"

const owners = Array.from({ length: 100 }, (_, i) => `owner-${i}`)
const limits = { maxSessions: 1000, maxSessionsPerOwner: 12 }
const operations = concurrencyOperations()

/** What an operation may end with besides a value; anything else (a defect, a store failure) fails the run. */
const expected = [
  "SessionEnded",
  "InvalidTransition",
  "CapacityExceeded",
  "SessionNameTaken",
  "SessionBusy",
  "OperationTimeout",
  "SessionNotFound"
]

const stores: ReadonlyArray<readonly [string, () => Layer.Layer<SessionStore, unknown>]> = [
  ["memory store", () => MemoryStore.layer],
  ["SQLite store (file)", () => sqliteLayer()]
]

describe.each(stores)(
  `${operations} concurrent operations over 1,000 sessions and 100 owners on the %s`,
  (name, store) => {
    for (const capacityPolicy of ["reject", "evict-lru"] as const) {
      const layer = () =>
        managerOver(store(), {
          ...limits,
          capacityPolicy,
          idleTimeout: "45s",
          retention: "1h",
          sweepInterval: "3s",
          sessionRateLimit: "1000000/1s",
          ownerRateLimit: "1000000/1s"
        })
      it.effect(`${capacityPolicy}: every operation completes and every invariant holds`, () =>
        provideClosing(
          layer(),
          Effect.gen(function*() {
            const random = seeded(`concurrency/${name}/${capacityPolicy}`)
            const m = yield* SessionManager.SessionManager
            const w = makeWorkload(owners, 1000)
            yield* seed(m, w, 1000)
            const steps = drawSteps(random, operations, 3000)
            const started = Date.now()
            const exits = yield* runWaves(steps, {
              size: 500,
              step: "250 millis",
              limit: "2 minutes",
              context: () => `operations still running: ${JSON.stringify(w.running)}`,
              run: (step) => runStep(m, w, step)
            })
            // Every fiber completed, with a value or an expected typed failure: never a defect or an interruption.
            expect(exits.length).toBe(steps.length)
            const untyped = exits.filter((exit) => Exit.isFailure(exit) && exit.cause._tag !== "Fail")
            expect(untyped.map((exit) => Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "")).toEqual([])
            for (const tag of failureTags(w)) {
              expect(expected, [...w.examples].filter(([outcome]) => outcome.endsWith(tag)).join("\n")).toContain(tag)
            }
            expect(w.running.total).toBe(0)
            const { all, stats } = yield* checkAfterWorkload(w, limits)
            // The mix reached the limits and the ends it is meant to test, so the checks above are not about idle data.
            expect(w.outcomes.sum((outcome) => outcome.endsWith(": ok"))).toBeGreaterThan(steps.length / 4)
            expect(stats.counts.closed + stats.counts.expired + stats.counts.evicted).toBeGreaterThan(0)
            report(`concurrency/${name}/${capacityPolicy}`, {
              seed: random.seed,
              operations: exits.length,
              sessionsCreated: w.ids.length,
              sessionsStored: all.length,
              counts: stats.counts,
              inFlight: stats.inFlight,
              locksHeld: stats.locksHeld,
              seconds: Math.round((Date.now() - started) / 100) / 10,
              outcomes: w.outcomes.toJSON(),
              lost: 0
            })
          })
        ), 600_000)
    }
  }
)
