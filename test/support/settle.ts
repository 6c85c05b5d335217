/**
 * Driving `TestClock` over a store that answers asynchronously (Postgres). Over a synchronous store, a fiber woken
 * by the clock runs to its next sleep before `TestClock.adjust` returns; over the network it may still be waiting on
 * the database, and advancing the clock then would pass its sleep by. `adjust` waits until no store call is in
 * flight (and none started over two turns of the event loop), advances the clock, and waits again, so a test reads
 * the same sequence of events on every store. Store calls are counted by `tracked`, which wraps the stores under test.
 */
import { Chunk, Clock, Context, Duration as DurationModule, Effect, Layer, TestClock } from "effect"
import type { Duration } from "effect"
import { SessionStore, storeThrough } from "../../src/services/SessionStore.js"

let inFlight = 0

/** `layer`'s store with its calls counted while they run. */
export const tracked = <E>(layer: Layer.Layer<SessionStore, E>): Layer.Layer<SessionStore, E> =>
  Layer.map(layer, (context) => {
    const store = Context.get(context, SessionStore)
    return Context.add(
      context,
      SessionStore,
      storeThrough(store, (_, make) =>
        Effect.suspend(() => {
          inFlight++
          return Effect.ensuring(make(), Effect.sync(() => inFlight--))
        }))
    )
  })

const turn = Effect.async<void>((resume) => {
  const timer = setTimeout(() => resume(Effect.void), 0)
  return Effect.sync(() => clearTimeout(timer))
})

/** Waits until no store call has been in flight for two turns of the event loop. */
export const settle: Effect.Effect<void> = Effect.suspend(() => {
  let quiet = 0
  return Effect.whileLoop({
    while: () => quiet < 2,
    body: () => Effect.zipRight(turn, Effect.sync(() => (quiet = inFlight === 0 ? quiet + 1 : 0))),
    step: () => {}
  })
})

/**
 * `TestClock.adjust`, a wake-up at a time: the clock moves to the next pending sleep, the store settles (the woken
 * fibers finish their calls and sleep again), and so on up to the target. Over a synchronous store this is what
 * `TestClock.adjust` does by itself.
 */
export const adjust = (duration: Duration.DurationInput): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* settle
    const target = (yield* Clock.currentTimeMillis) + DurationModule.toMillis(DurationModule.decode(duration))
    for (;;) {
      const now = yield* Clock.currentTimeMillis
      const pending = Chunk.toReadonlyArray(yield* TestClock.sleeps()).filter((at) => at > now && at <= target)
      const next = pending.length === 0 ? target : Math.min(...pending)
      yield* TestClock.setTime(next)
      yield* settle
      if (next >= target) return
    }
  })
