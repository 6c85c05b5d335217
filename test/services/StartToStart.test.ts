/**
 * The sweeper's timing: start to start, on any clock reading, fractional milliseconds included (`TestClock` reads
 * them once a jittered retry delay has advanced it).
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber, TestClock } from "effect"
import { startToStart } from "../../src/services/internal/sweeper.js"

/** Ticks of `startToStart` at the clock readings each tick begins at; tick `n` takes `length(n, now)` of clock time. */
const ticking = (length: (n: number, now: number) => number) =>
  Effect.gen(function*() {
    const starts: Array<number> = []
    const tick = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      starts.push(now)
      // A bound, so that a loop that stops waiting ends the test instead of spinning at one instant.
      if (starts.length > 100) return Effect.dieMessage("ticked more than 100 times")
      const took = length(starts.length, now)
      return took > 0 ? Effect.sleep(Duration.millis(took)) : Effect.void
    })
    const fiber = yield* Effect.fork(startToStart(Duration.seconds(5), tick))
    return { starts, fiber }
  })

describe("startToStart (the sweeper's timing)", () => {
  it.effect("ticks at once, then every interval from start to start; a long tick is followed by one at once", () =>
    Effect.gen(function*() {
      const { fiber, starts } = yield* ticking((n) => (n === 2 ? 7_000 : n === 4 ? 1_000 : 0))
      yield* TestClock.adjust("25 seconds")
      // 0; 5000 (takes 7 s, so the next starts when it ends); 12000 (instant); 17000 (takes 1 s: no delay to 22000).
      expect(starts).toEqual([0, 5_000, 12_000, 17_000, 22_000])
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("on a clock reading fractional milliseconds, a tick that ends just short of the grid never repeats at one instant", () =>
    Effect.gen(function*() {
      // Readings where a grid aligned in floating point has no time left to wait: (end - first) % 5000 is within
      // rounding of 5000, so first + k * 5000 rounds to `end` itself.
      const first = 15_953.144942788571
      const end = 40_953.14494278857
      yield* TestClock.setTime(first)
      const { fiber, starts } = yield* ticking((n, now) => (n === 2 ? end - now : 0))
      yield* TestClock.adjust("40 seconds")
      // After the long tick, one at once (it ran past its interval), then every interval again: never two at one
      // instant, where a grid aligned to the first tick would tick here forever.
      expect(starts.slice(0, 2)).toEqual([first, first + 5_000])
      expect(starts.slice(2).map((start) => Math.round(start - end))).toEqual([0, 5_000, 10_000, 15_000])
      yield* Fiber.interrupt(fiber)
    }))
})
