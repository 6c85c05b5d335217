/** Driving forked work to its end under `TestClock`, with a bound: work still running past it is reported as hung. */
import { Duration, Effect, Exit, Fiber, Layer, Option, Scope, TestClock } from "effect"

/**
 * Advances the test clock by `step` until `fiber` is done and returns its exit. Fails (a defect naming `what`) if the
 * fiber is still running after `limit` of test time: in these scenarios that means an operation hung.
 */
export const runToEnd = <A, E>(
  fiber: Fiber.Fiber<A, E>,
  options: {
    readonly step: Duration.DurationInput
    readonly limit: Duration.DurationInput
    readonly what: string
    /** More to say when it hangs (what is stuck). */
    readonly context?: (() => string) | undefined
  }
): Effect.Effect<Exit.Exit<A, E>> =>
  Effect.gen(function*() {
    const step = Duration.toMillis(options.step)
    const limit = Duration.toMillis(options.limit)
    let waited = 0
    while (Option.isNone(yield* Fiber.poll(fiber))) {
      if (waited >= limit) {
        // Interrupted without waiting: work stuck where it cannot be interrupted would hold this up too.
        yield* Fiber.interruptFork(fiber)
        const context = options.context?.() ?? ""
        return yield* Effect.dieMessage(
          `${options.what}: still running after ${waited}ms of test time (hung)${context === "" ? "" : `; ${context}`}`
        )
      }
      yield* TestClock.adjust(step)
      waited += step
    }
    return yield* Fiber.await(fiber)
  })

/**
 * Runs `items` in waves of `size` concurrent calls of `run` (each wave forked, the clock advanced until every call
 * of the wave is done), and returns every exit in order. A wave that does not finish within `limit` is a hang.
 */
export const runWaves = <A, R, E>(
  items: ReadonlyArray<A>,
  options: {
    readonly size: number
    readonly step: Duration.DurationInput
    readonly limit: Duration.DurationInput
    readonly context?: (() => string) | undefined
    readonly run: (item: A) => Effect.Effect<Exit.Exit<unknown, unknown>, E, R>
  }
): Effect.Effect<Array<Exit.Exit<unknown, unknown>>, E, R> =>
  Effect.gen(function*() {
    const exits: Array<Exit.Exit<unknown, unknown>> = []
    for (let start = 0; start < items.length; start += options.size) {
      // A daemon: a call stuck where it cannot be interrupted would otherwise hold up the end of the test itself.
      const wave = yield* Effect.forkDaemon(
        Effect.forEach(items.slice(start, start + options.size), options.run, { concurrency: "unbounded" })
      )
      const done = yield* runToEnd(wave, { ...options, what: `wave at operation ${start}` })
      if (done._tag === "Failure") return yield* Effect.failCause(done.cause)
      exits.push(...done.value)
    }
    return exits
  })

/**
 * Runs `body` with `layer` built for it, then closes the layer under the test clock, advancing it (a manager's
 * shutdown waits `shutdownDeadline` of clock time) for at most `limit`. A close that does not finish is reported,
 * instead of holding the test until its timeout: after a hang the shutdown may wait on work that cannot be stopped.
 */
export const provideClosing = <A, E, ROut, E2>(
  layer: Layer.Layer<ROut, E2>,
  body: Effect.Effect<A, E, ROut>,
  limit: Duration.DurationInput = "1 minute"
): Effect.Effect<A, E | E2> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const built = yield* Effect.exit(Layer.buildWithScope(layer, scope))
    if (Exit.isFailure(built)) return yield* Effect.failCause(built.cause)
    const exit = yield* Effect.exit(Effect.provide(body, built.value))
    const closing = yield* Effect.forkDaemon(Scope.close(scope, exit))
    const closed = yield* Effect.exit(runToEnd(closing, { step: "100 millis", limit, what: "closing the layer" }))
    if (Exit.isFailure(exit)) return yield* Effect.failCause(exit.cause)
    if (Exit.isFailure(closed)) return yield* Effect.failCause(closed.cause)
    return exit.value
  })
