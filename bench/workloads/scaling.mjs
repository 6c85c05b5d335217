/**
 * How effect-sessions' costs grow with the number of sessions: `node scaling.mjs effect-sessions '{"n": 100000}'`.
 * With n sessions stored (memory store), half of them due to expire: microseconds per get and per touch (over up to
 * 100,000 calls on random live sessions), the time to sweep the n/2 expired ones, and the time to sweep 1,000
 * expired ones among n live ones (which should not grow with n).
 */
import { Effect } from "effect"
import { SessionManager } from "../../dist/index.js"
import { args, manualClock, payload, populate, report, round3, withManager } from "../lib/common.mjs"

const perCall = function*(count, call) {
  const started = performance.now()
  for (let i = 0; i < count; i++) yield* call(i)
  return round3(((performance.now() - started) * 1000) / count)
}

const run = ({ n }) => {
  const clock = manualClock()
  return withManager(
    Effect.gen(function*() {
      const manager = yield* SessionManager.SessionManager
      const live = yield* populate(manager, n)
      const calls = Math.min(100_000, n)
      const pick = () => live[Math.floor(Math.random() * live.length)]
      const get = yield* perCall(calls, () => manager.get(pick()))
      const touch = yield* perCall(calls, () => manager.touch(pick()))
      clock.advance(120_000)
      let started = performance.now()
      const half = yield* manager.sweep
      const sweepHalf = performance.now() - started
      if (half.expired !== n / 2) throw new Error(`swept ${half.expired}, expected ${n / 2}`)
      // Refill to n live, then 1,000 more that expire: a small sweep in a large table.
      for (let i = 0; i < n / 2; i++) yield* manager.create({ owner: `o${i % 1000}`, data: payload })
      for (let i = 0; i < 1000; i++) {
        yield* manager.create({ owner: `o${i % 1000}`, data: payload, idleTimeout: 60_000 })
      }
      clock.advance(120_000)
      started = performance.now()
      const small = yield* manager.sweep
      const sweepSmall = performance.now() - started
      if (small.expired !== 1000) throw new Error(`swept ${small.expired}, expected 1000`)
      return {
        "get µs": get,
        "touch µs": touch,
        "sweep n/2 expired ms": round3(sweepHalf),
        "sweep 1,000 expired among n ms": round3(sweepSmall)
      }
    }),
    { clock }
  )
}

const { params, subject } = args()
if (subject !== "effect-sessions") throw new Error(`unknown subject ${subject}`)
await report(params.runs ?? 3, () => run(params))
process.exit(0)
