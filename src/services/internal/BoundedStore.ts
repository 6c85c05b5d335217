/**
 * The store as the manager calls it: every call bounded and measured. A store that offers `SessionStoreSync` is
 * called through it (its calls run to completion on the calling thread, so no deadline can apply: it bounds its own
 * waits), in one step per call; any other store through `SessionStore`, each call under `storeTimeout`. Either way
 * the one retry policy applies to transient failures (`StoreUnavailable`), each call's latency is sampled, and a span
 * is made where it is worth its cost. Chosen once, when the manager is built.
 *
 * Beside the store it gives `direct`: the calls of the manager's hot paths, made at once. On a synchronous store such
 * a call has run when it returns, and its outcome (an `Either`) is what it returns; on any other it returns the
 * bounded call, not yet run. Either way the result is an effect to run once, inside the effect that made the call.
 */
import { type Clock, Effect, Either, type MetricLabel, Option, Schedule } from "effect"
import type { SessionsConfig } from "../../domain/Config.js"
import { formatDuration } from "../../domain/Config.js"
import { StoreUnavailable } from "../../domain/Errors.js"
import {
  operations,
  type SessionStoreShape,
  type SessionStoreSyncShape,
  storeThrough,
  valued
} from "../SessionStore.js"
import { type ManagerMetrics, metrics } from "./Metrics.js"

/**
 * The retry policy for transient store failures: exponential from `retryBase` by `retryFactor`, each delay jittered
 * (between 80% and 120%), at most `retryMaxAttempts` attempts in all.
 */
export const retryPolicy = (config: SessionsConfig): Schedule.Schedule<unknown, unknown> =>
  Schedule.exponential(config.retryBase, config.retryFactor).pipe(
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(config.retryMaxAttempts - 1))
  )

const isTransient = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && error._tag === "StoreUnavailable"

/** The calls the manager makes on every `create`, `get`, `touch` and write: see `GuardedStore.direct`. */
export type DirectCalls = Pick<SessionStoreShape, "insert" | "get" | "update" | "touch">

/** The store as the manager calls it. */
export interface GuardedStore {
  /** Every operation, each an effect that makes the call when it runs (and again each time it runs). */
  readonly store: SessionStoreShape
  /**
   * The hot-path operations, each making the call at once: a synchronous store's outcome as it came (already run),
   * any other store's bounded call (run when the effect runs). Only for use inside the effect that runs the result,
   * never to build an effect that is kept and run later or again.
   */
  readonly direct: DirectCalls
}

/**
 * One call in `sampleEvery` of each operation of a synchronous store has its latency recorded. Such a call takes
 * well under a microsecond on the memory store, less than reading the clock twice and updating a histogram; a
 * uniform sample keeps the distribution, and every call of a store that waits on I/O is recorded.
 */
const sampleEvery = 8

/**
 * The store the manager calls: `sync` if the store offers it, else `store` with a deadline on each call; retries,
 * latency samples and spans on both (spans always on stores that wait on I/O, with `tracing` on the others).
 */
export const boundedStore = (
  store: SessionStoreShape,
  sync: Option.Option<SessionStoreSyncShape>,
  options: {
    readonly config: SessionsConfig
    readonly meter: ManagerMetrics
    readonly clock: Clock.Clock
    readonly tracing: boolean
  }
): GuardedStore => {
  const { clock, config, meter } = options
  const schedule = retryPolicy(config)
  // One labels array per operation: a metric finds its series by the array's identity, so reusing it keeps each
  // latency sample a lookup instead of hashing a new set of labels on every call.
  const labelsByOperation = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
  const labelsOf = (operation: string) => {
    let labels = labelsByOperation.get(operation)
    if (labels === undefined) {
      labels = meter.labels({ op: operation })
      labelsByOperation.set(operation, labels)
    }
    return labels
  }
  const sample = (labels: ReadonlyArray<MetricLabel.MetricLabel>, startNanos: bigint) =>
    meter.observe(metrics.storeLatency, Number(clock.unsafeCurrentTimeNanos() - startNanos) / 1e6, labels)
  /**
   * `attempt` again under the retry policy after its first transient failure `first`, which the policy sees as its
   * first input, exactly as `Effect.retry(attempt, ...)` would; only a transient failure starts it.
   */
  const retried = <A, E>(attempt: Effect.Effect<A, E>, first: E): Effect.Effect<A, E> => {
    let replayed = false
    let attempts = 1
    const again = Effect.suspend(() => {
      if (!replayed) {
        replayed = true
        return Effect.fail(first)
      }
      attempts++
      return attempt
    })
    return Effect.retry(again, { schedule, while: isTransient }).pipe(
      Effect.ensuring(Effect.sync(() => meter.count(metrics.retries, attempts - 1)))
    )
  }
  return Option.match<SessionStoreSyncShape, GuardedStore>(sync, {
    onSome: (calls) => {
      // One step per call, built without `storeThrough`'s argument arrays and thunks: on a store that answers in
      // process, those allocations were a measurable share of each call. The synchronous outcome (an `Either`, itself
      // an effect) is returned as it is.
      const direct: Record<string, (a: unknown, b: unknown, c: unknown) => Effect.Effect<unknown, unknown>> = {}
      type Call = (a: unknown, b: unknown, c: unknown) => Effect.Effect<unknown, unknown>
      /** A call of an operation the store groups with others' (see `SessionStoreSyncShape.grouped`): when it runs. */
      const groupedCall = (
        operation: keyof SessionStoreShape,
        labels: ReadonlyArray<MetricLabel.MetricLabel>
      ): Call => {
        const member = (store as unknown as Record<string, Call>)[operation]
        return (a, b, c) =>
          Effect.suspend(() => {
            const start = clock.unsafeCurrentTimeNanos()
            const attempt = member(a, b, c)
            return Effect.catchIf(attempt, isTransient, (first) => retried(attempt, first)).pipe(
              Effect.ensuring(Effect.sync(() => sample(labels, start)))
            )
          })
      }
      const measured = (operation: keyof SessionStoreShape) => {
        const labels = labelsOf(operation)
        // Every synchronous operation is a function of at most three arguments.
        const member = (calls as unknown as Record<string, (a: unknown, b: unknown, c: unknown) => unknown>)[operation]
        let made = 0
        const run: Call = calls.grouped?.has(operation) === true ? groupedCall(operation, labels) : (a, b, c) => {
          let outcome: Effect.Effect<unknown, unknown>
          if (++made % sampleEvery === 0) {
            const start = clock.unsafeCurrentTimeNanos()
            outcome = member(a, b, c) as Effect.Effect<unknown, unknown>
            sample(labels, start)
          } else outcome = member(a, b, c) as Effect.Effect<unknown, unknown>
          return Either.isEither(outcome) && Either.isLeft(outcome) && isTransient(outcome.left)
            ? retried(Effect.suspend(() => member(a, b, c) as Effect.Effect<unknown, unknown>), outcome.left)
            : outcome
        }
        const spanned = (effect: Effect.Effect<unknown, unknown>) =>
          options.tracing ? Effect.withSpan(effect, `SessionStore.${operation}`) : effect
        // The operations that are effects in `SessionStore` (`counts`, `leases`, `flush`) take no arguments.
        if (valued.has(operation)) return spanned(Effect.suspend(() => run(undefined, undefined, undefined)))
        const lazy = (a: unknown, b: unknown, c: unknown) => spanned(Effect.suspend(() => run(a, b, c)))
        // With tracing, the direct call is the spanned one, run when its effect runs.
        direct[operation] = options.tracing ? lazy : run
        return lazy
      }
      const guarded = Object.fromEntries(
        operations.map((name) => [name, measured(name)])
      ) as unknown as SessionStoreShape
      return { store: guarded, direct: direct as unknown as DirectCalls }
    },
    onNone: () => {
      const bounded = storeThrough(store, <A, E>(operation: string, make: () => Effect.Effect<A, E>) => {
        const labels = labelsOf(operation)
        const deadline = config.storeTimeout
        const attempt = Effect.timeoutFail(Effect.suspend(make), {
          duration: deadline,
          onTimeout: () => new StoreUnavailable({ operation, reason: `no answer within ${formatDuration(deadline)}` })
        }) as Effect.Effect<A, E>
        const call = Effect.flatMap(
          Effect.sync(() => clock.unsafeCurrentTimeNanos()),
          (start) =>
            Effect.catchIf(attempt, isTransient, (first) => retried(attempt, first)).pipe(
              Effect.ensuring(Effect.sync(() => sample(labels, start)))
            )
        )
        return Effect.withSpan(call, `SessionStore.${operation}`)
      })
      return { store: bounded, direct: bounded }
    }
  })
}
