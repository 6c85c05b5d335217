/**
 * Continuing from a store call whose outcome may already be there: a synchronous store answers a direct call with
 * an `Either` (see `BoundedStore.direct`), which these continue from at once, in the same step, where
 * `Effect.flatMap` would take two more steps of the fiber; any other effect is continued as `Effect.flatMap` and
 * `Effect.matchEffect` would.
 */
import { Effect, Either } from "effect"

/** `Effect.flatMap(effect, f)`, with `f` applied at once when `effect` is an outcome already there. */
export const andThen = <A, E, B, E2, R>(
  effect: Effect.Effect<A, E>,
  f: (a: A) => Effect.Effect<B, E2, R>
): Effect.Effect<B, E | E2, R> => {
  if (!Either.isEither(effect)) return Effect.flatMap(effect, f)
  const done = effect as unknown as Either.Either<A, E>
  // A `Left` is itself the effect that fails with its error.
  return done._tag === "Right" ? f(done.right) : (done as unknown as Effect.Effect<never, E>)
}

/**
 * `Effect.matchEffect(effect, { onFailure, onSuccess })` (failures only: defects and interruption pass through),
 * with the handler applied at once when `effect` is an outcome already there.
 */
export const settle = <A, E, B, E1, E2, R>(
  effect: Effect.Effect<A, E>,
  onFailure: (error: E) => Effect.Effect<B, E1, R>,
  onSuccess: (a: A) => Effect.Effect<B, E2, R>
): Effect.Effect<B, E1 | E2, R> => {
  if (!Either.isEither(effect)) return Effect.matchEffect(effect, { onFailure, onSuccess })
  const done = effect as unknown as Either.Either<A, E>
  return done._tag === "Right" ? onSuccess(done.right) : onFailure(done.left)
}
