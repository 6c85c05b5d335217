/**
 * The sweeper: one sweep (flush, expire due sessions in batches, purge old tombstones, forget idle rate-limit keys,
 * resync the gauges), and the background loop that runs it every `sweepInterval` and survives any failing tick.
 */
import { Cause, Effect, Schedule } from "effect"
import type { SweepReport } from "../SessionManager.js"
import type { ManagerCore } from "./ManagerCore.js"
import { metrics } from "./Metrics.js"

/** Runs `batch` until it returns fewer than `size`, yielding to other fibers between batches; the sum of results. */
const drain = <E>(size: number, batch: Effect.Effect<number, E>) => {
  const loop = (total: number): Effect.Effect<number, E> =>
    Effect.flatMap(
      batch,
      (n) => (n < size ? Effect.succeed(total + n) : Effect.zipRight(Effect.yieldNow(), loop(total + n)))
    )
  return loop(0)
}

/** One sweep now. Sessions holding a lease (work in flight) are never expired by it. */
export const sweepOnce = (core: ManagerCore) =>
  Effect.gen(function*() {
    const { config, store } = core
    const start = core.now()
    yield* store.flush
    const expired = yield* drain(
      config.sweepBatch,
      Effect.map(store.expire(config.sweepBatch), (batch) => {
        for (const t of batch) core.announceEnding(t)
        return batch.length
      })
    )
    const purged = yield* drain(config.sweepBatch, store.purge(config.retention, config.sweepBatch))
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
 * The sweeper: a sweep now and then one every `sweepInterval` (start to start; a sweep that runs longer than that
 * is followed by the next at once, never by several). A tick that fails or dies is logged and counted, and the next
 * tick runs as planned. Runs until interrupted.
 */
export const sweepLoop = (core: ManagerCore): Effect.Effect<never> =>
  sweepOnce(core).pipe(
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.interrupt : Effect.sync(() => {
        core.sweepEnded(true)
        core.meter.count(metrics.sweepFailures)
      }).pipe(Effect.zipRight(Effect.logError("effect-sessions: sweep failed; the next one runs as planned", cause)))
    ),
    // From start to start, not from the end of one to the start of the next: a sweep's own time does not delay the
    // next, so an expiry is recorded at most one interval (and the sweep's time to reach it) after it happens.
    Effect.repeat(Schedule.fixed(core.config.sweepInterval)),
    Effect.zipRight(Effect.never)
  )
