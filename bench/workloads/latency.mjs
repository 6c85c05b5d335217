/**
 * Latency of `get` while a sweep runs, one subject per process: `node latency.mjs <subject> '{"n": 100000}'`.
 * 2n sessions, n of them due to expire. First `get` of random live sessions alone, then the same while a sweep of
 * the n expired ones runs in another fiber. Each get's latency counts from just before it yields to the scheduler
 * (so time spent waiting for a sweep batch to give the thread back is in it) to its answer: what a request arriving
 * at that moment would wait. Reports p50 and p99 of both, in milliseconds, and how many gets ran during the sweep.
 * The SQLite database is made once per process through the manager and copied for each run.
 */
import { Effect, Fiber } from "effect"
import * as Path from "node:path"
import { SessionManager } from "../../dist/index.js"
import { SqliteStore } from "../../dist/sqlite.js"
import {
  args,
  inTempDir,
  manualClock,
  populate,
  quantile,
  report,
  round3,
  sqliteFixture,
  withManager
} from "../lib/common.mjs"

const epoch = Date.now()

const measure = (clock, n, gets, liveIds) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager.SessionManager
    const live = liveIds ?? (yield* populate(manager, 2 * n))
    const timedGet = Effect.gen(function*() {
      const started = performance.now()
      yield* Effect.yieldNow()
      yield* manager.get(live[Math.floor(Math.random() * live.length)])
      return performance.now() - started
    })
    const alone = []
    for (let i = 0; i < gets; i++) alone.push(yield* timedGet)
    clock.advance(120_000)
    let sweeping = true
    const during = []
    const sweep = yield* Effect.fork(Effect.ensuring(manager.sweep, Effect.sync(() => (sweeping = false))))
    while (sweeping) during.push(yield* timedGet)
    const swept = yield* Fiber.join(sweep)
    if (swept.expired !== n) throw new Error(`swept ${swept.expired}, expected ${n}`)
    return {
      "get p50 ms (no sweep)": round3(quantile(alone, 0.5)),
      "get p99 ms (no sweep)": round3(quantile(alone, 0.99)),
      "get p50 ms (during sweep)": round3(quantile(during, 0.5)),
      "get p99 ms (during sweep)": round3(quantile(during, 0.99)),
      "gets during sweep": during.length
    }
  })

let fixture

const run = async (subject, { gets = 20_000, n }) => {
  const clock = manualClock(epoch)
  if (subject === "effect-sessions") return withManager(measure(clock, n, gets), { clock })
  fixture ??= await sqliteFixture(n, epoch, SqliteStore)
  return inTempDir((dir) => {
    const filename = Path.join(dir, "sessions.db")
    fixture.copy(filename)
    return withManager(measure(clock, n, gets, fixture.live), { clock, store: SqliteStore.layer({ filename }) })
  })
}

const { params, subject } = args()
if (subject !== "effect-sessions" && subject !== "effect-sessions SQLite") throw new Error(`unknown subject ${subject}`)
await report(params.runs ?? 3, () => run(subject, params))
fixture?.remove()
process.exit(0)
