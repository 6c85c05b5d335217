import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, FiberRef, Ref, TestClock } from "effect"
import * as Deadlines from "../../src/adapters/http/internal/deadlines.js"

class Late {
  readonly _tag = "Late"
}

const make = Effect.flatMap(Effect.clock, (clock) => Deadlines.make(clock, Duration.seconds(10)))

describe("request deadlines", () => {
  it.scoped("cut off work past its allowance, after its finalizers, and fail with the timeout's error", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const released = yield* Ref.make(false)
      const hangs = Effect.never.pipe(Effect.ensuring(Ref.set(released, true)))
      const fiber = yield* Effect.fork(deadlines.within(hangs, () => new Late()))
      yield* TestClock.adjust("9 seconds")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(Exit.fail(new Late()))
      expect(yield* Ref.get(released)).toBe(true)
    }))

  it.scoped("let work that finishes in time through, with the fiber refs it set, and never fire later", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const label = FiberRef.unsafeMake("none")
      const work = Effect.zipRight(Effect.sleep("3 seconds"), Effect.as(FiberRef.set(label, "set by the work"), 42))
      const fiber = yield* Effect.fork(Effect.zip(deadlines.within(work, () => new Late()), FiberRef.get(label)))
      yield* TestClock.adjust("3 seconds")
      expect(yield* Fiber.join(fiber)).toEqual([42, "set by the work"])
      // A later request, and the first one's deadline passing: only the later one is judged by its own.
      const second = yield* Effect.fork(deadlines.within(Effect.never, () => new Late()))
      yield* TestClock.adjust("8 seconds")
      expect(second.unsafePoll()).toBeNull()
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.await(second)).toEqual(Exit.fail(new Late()))
    }))

  it.scoped("time each request from its own start, one watcher for all", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const first = yield* Effect.fork(deadlines.within(Effect.never, () => new Late()))
      yield* TestClock.adjust("4 seconds")
      const second = yield* Effect.fork(deadlines.within(Effect.never, () => new Late()))
      yield* TestClock.adjust("6 seconds")
      expect(yield* Fiber.await(first)).toEqual(Exit.fail(new Late()))
      expect(second.unsafePoll()).toBeNull()
      yield* TestClock.adjust("4 seconds")
      expect(yield* Fiber.await(second)).toEqual(Exit.fail(new Late()))
    }))

  it.scoped("interrupting the caller interrupts the work and waits for it", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const started = yield* Deferred.make<void>()
      const released = yield* Ref.make(false)
      const work = Effect.zipRight(Deferred.succeed(started, undefined), Effect.never).pipe(
        Effect.ensuring(Ref.set(released, true))
      )
      const fiber = yield* Effect.fork(deadlines.within(work, () => new Late()))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(released)).toBe(true)
      // Its deadline, passing later, changes nothing.
      yield* TestClock.adjust("1 minute")
      expect(Exit.isInterrupted(yield* Fiber.await(fiber))).toBe(true)
    }))

  it.scoped("pass failures of the work through as they are", () =>
    Effect.gen(function*() {
      const deadlines = yield* make
      const exit = yield* Effect.exit(deadlines.within(Effect.fail("refused"), () => new Late()))
      expect(exit).toEqual(Exit.fail("refused"))
    }))
})
