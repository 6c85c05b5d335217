/**
 * A sweep in slices: each batch asks the store for fewer sessions after one that held the thread too long, and for
 * more again (up to `sweepBatch`) after quick ones, timed by the manager's `Clock`. Here a store whose `expire`
 * moves a hand-driven clock by a fixed time per session stands for a slow one.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Effect, Either, Layer } from "effect"
import { makeConfig, MemoryStore, SessionManager, SessionStore } from "../../src/index.js"
import { storeThrough } from "../../src/services/SessionStore.js"

/** A clock that stands still until moved. */
const handClock = () => {
  let now = 1_000_000
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    currentTimeMillis: Effect.sync(() => now),
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: () => Effect.never
  }
  return { clock, advance: (ms: number) => (now += ms) }
}

describe("sweep slices", () => {
  it.effect("a batch that took longer than its slice is followed by a smaller one, quick ones by larger ones", () => {
    const { advance, clock } = handClock()
    const limits: Array<number> = []
    // Expiring one session costs 0.01 ms here: a batch of 1000 takes 10 ms.
    const slow = Layer.map(MemoryStore.layer, (context) =>
      Context.make(
        SessionStore,
        storeThrough(Context.get(context, SessionStore), (operation, make, args) =>
          operation !== "expire" ? make() : Effect.map(make(), (ended) => {
            limits.push(args[0] as number)
            advance((args[0] as number) / 100)
            return ended
          }))
      ))
    const config = Either.getOrThrow(makeConfig({ sweepBatch: 1000, maxSessions: 10_000, maxSessionsPerOwner: 10_000 }))
    return Effect.gen(function*() {
      const m = yield* SessionManager.SessionManager
      for (let i = 0; i < 5000; i++) yield* m.create({ owner: `o${i % 10}`, idleTimeout: "1s" })
      advance(2000)
      const report = yield* m.sweep
      expect(report.expired).toBe(5000)
      expect(limits[0]).toBe(1000)
      // 1000 took 10 ms, five times the 2 ms slice: the next asks for a fifth, then doubles while within the slice.
      expect(limits.slice(0, 4)).toEqual([1000, 200, 400, 200])
      for (const limit of limits) expect(limit).toBeLessThanOrEqual(1000)
      expect(limits.length).toBeGreaterThan(5000 / 1000)
    }).pipe(
      Effect.provide(SessionManager.layer(config, { sweeper: false }).pipe(Layer.provide(slow))),
      Effect.withClock(clock)
    )
  })
})
