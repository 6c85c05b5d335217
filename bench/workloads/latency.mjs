/**
 * Latency of `get` while a sweep runs, one subject per process: `node latency.mjs <subject> '{"n": 100000}'`.
 * 2n sessions, n of them due to expire. First `get` of random live sessions alone, then the same while a sweep of
 * the n expired ones runs in another fiber. Each get's latency counts from just before it yields to the scheduler
 * (so time spent waiting for a sweep batch to give the thread back is in it) to its answer: what a request arriving
 * at that moment would wait. Reports p50 and p99 of both, in milliseconds, and how many gets ran during the sweep.
 */
import { Effect, Fiber } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { SessionManager } from "../../dist/index.js"
import { SqliteStore } from "../../dist/sqlite.js"
import { args, idleMs, manualClock, payload, quantile, report, round3, withManager } from "../lib/common.mjs"

const measure = (n, baselineGets) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager.SessionManager
    const live = []
    for (let i = 0; i < 2 * n; i++) {
      const session = yield* manager.create({
        owner: `o${i % 1000}`,
        data: payload,
        idleTimeout: i % 2 === 0 ? 60_000 : idleMs
      })
      if (i % 2 === 1) live.push(session.id)
    }
    const pick = () => live[Math.floor(Math.random() * live.length)]
    const timedGet = Effect.gen(function*() {
      const started = performance.now()
      yield* Effect.yieldNow()
      yield* manager.get(pick())
      return performance.now() - started
    })
    const alone = []
    for (let i = 0; i < baselineGets; i++) alone.push(yield* timedGet)
    return { alone, manager, timedGet }
  })

const run = (subject, { n, gets = 20_000 }) => {
  const clock = manualClock()
  const program = Effect.gen(function*() {
    const { alone, manager, timedGet } = yield* measure(n, gets)
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
  if (subject === "effect-sessions") return withManager(program, { clock })
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-sessions-bench-"))
  return withManager(program, { clock, store: SqliteStore.layer({ filename: Path.join(dir, "sessions.db") }) }).finally(
    () => Fs.rmSync(dir, { recursive: true, force: true })
  )
}

const { params, subject } = args()
if (subject !== "effect-sessions" && subject !== "effect-sessions SQLite") throw new Error(`unknown subject ${subject}`)
await report(params.runs ?? 3, () => run(subject, params))
process.exit(0)
