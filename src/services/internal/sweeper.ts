/**
 * The sweeper: one sweep (flush, expire due sessions in batches, purge old tombstones, forget idle rate-limit keys,
 * resync the gauges), and the background loop that runs it every `sweepInterval` and survives any failing tick.
 */
import { Cause, Clock, Duration, Effect } from "effect"
import type { SweepReport } from "../SessionManager.js"
import type { ManagerCore } from "./ManagerCore.js"
import { metrics } from "./Metrics.js"

/**
 * How long one batch of a sweep may hold the thread: the next batch is made smaller when one takes longer, and grows
 * back towards `sweepBatch` while they are quick. Calls waiting behind a sweep then wait at most about this long.
 */
const sliceMillis = 2

/**
 * How long a sweep may run with only other fibers let in between its batches: past it, the sweep also lets the event
 * loop run (timers, sockets) before its next batch, so a long sweep never holds I/O back for longer.
 */
const turnMillis = 10

/** The fewest sessions a batch asks for, however slow the store: each batch must still make progress. */
const fewest = 16

/** Gives the event loop a turn (I/O callbacks included), where `Effect.yieldNow` only lets other fibers run. */
const eventLoopTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/**
 * Runs `batch(limit)` until it returns fewer than `limit`, letting other fibers run between batches (and the event
 * loop, once the sweep has run `turnMillis` since it last did); the sum of results. `limit` starts at `size` and
 * follows the time each batch took (`sliceMillis`), never above `size`. Time is read from `core.clock`'s
 * high-resolution reading: under
 * `TestClock` no batch takes any time, so every batch is `size`.
 */
const drain = <E>(core: ManagerCore, size: number, batch: (limit: number) => Effect.Effect<number, E>) => {
  const clock = core.clock
  // Elapsed time from the clock's high-resolution reading (`unsafeCurrentTimeNanos`), in milliseconds.
  const elapsedNow = () => Number(clock.unsafeCurrentTimeNanos() / 1000n) / 1000
  let turnedAt = elapsedNow()
  const loop = (total: number, limit: number): Effect.Effect<number, E> => {
    const start = elapsedNow()
    return Effect.flatMap(batch(limit), (n) => {
      if (n < limit) return Effect.succeed(total + n)
      const end = elapsedNow()
      const took = end - start
      const next = took > sliceMillis
        ? Math.max(Math.min(fewest, size), Math.floor((limit * sliceMillis) / took))
        : Math.min(size, limit * 2)
      if (end - turnedAt < turnMillis) return Effect.zipRight(Effect.yieldNow(), loop(total + n, next))
      return Effect.zipRight(
        eventLoopTurn,
        Effect.suspend(() => {
          turnedAt = elapsedNow()
          return loop(total + n, next)
        })
      )
    })
  }
  return Effect.suspend(() => loop(0, size))
}

/** One sweep now. Sessions holding a lease (work in flight) are never expired by it. */
export const sweepOnce = (core: ManagerCore) =>
  Effect.gen(function*() {
    const { config, store } = core
    const start = core.now()
    yield* store.flush
    const expired = yield* drain(core, config.sweepBatch, (limit) =>
      Effect.map(store.expire(limit), (batch) => {
        core.announceEndings(batch)
        return batch.length
      }))
    const purged = yield* drain(core, config.sweepBatch, (limit) => store.purge(config.retention, limit))
    core.meter.count(metrics.purged, purged)
    const rateLimitKeysForgotten = core.sessionLimits.forgetIdle(config.sweepBatch) +
      core.ownerLimits.forgetIdle(config.sweepBatch)
    core.meter.resync(yield* store.counts)
    core.sweepEnded(false)
    core.meter.observe(metrics.sweepDuration, core.now() - start)
    const report: SweepReport = { expired, purged, rateLimitKeysForgotten }
    return report
  })

/**
 * Runs `tick` now and then every `interval`, from start to start: a tick that runs longer than `interval` is
 * followed by the next at once, never by several. Each wait is what is left of the interval after the tick, read
 * from `Clock`, so every turn either waits or follows a tick that took the whole interval. (`Schedule.fixed` instead
 * aligns to a grid computed in floating point, and on a clock reading fractional milliseconds, as `TestClock` does
 * once a jittered retry has advanced it, it can find no time left to wait, at every turn, and tick forever at one
 * instant.)
 */
export const startToStart = <E>(
  interval: Duration.Duration,
  tick: Effect.Effect<unknown, E>
): Effect.Effect<never, E> => {
  const every = Duration.toMillis(interval)
  const turn: Effect.Effect<never, E> = Effect.flatMap(Clock.currentTimeMillis, (start) =>
    Effect.zipRight(
      tick,
      Effect.flatMap(Clock.currentTimeMillis, (end) => {
        const left = start + every - end
        return left > 0 ? Effect.zipRight(Effect.sleep(Duration.millis(left)), turn) : turn
      })
    ))
  return turn
}

/**
 * The sweeper: a sweep now and then one every `sweepInterval` (start to start; a sweep that runs longer than that
 * is followed by the next at once, never by several). From start to start, not from the end of one to the start of
 * the next: a sweep's own time does not delay the next, so an expiry is recorded at most one interval (and the
 * sweep's time to reach it) after it happens. A tick that fails or dies is logged and counted, and the next tick
 * runs as planned. Runs until interrupted.
 */
export const sweepLoop = (core: ManagerCore): Effect.Effect<never> =>
  startToStart(
    core.config.sweepInterval,
    sweepOnce(core).pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.interrupt : Effect.sync(() => {
          core.sweepEnded(true)
          core.meter.count(metrics.sweepFailures)
        }).pipe(Effect.zipRight(Effect.logError("effect-sessions: sweep failed; the next one runs as planned", cause)))
      )
    )
  )
