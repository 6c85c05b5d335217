/**
 * A gate for work that must drain on shutdown: whether it is closing, how much work is in flight, and a signal when
 * the last of it has left after closing began. The manager keeps one for its `withSession` work, the HTTP service one
 * for its requests; each owns its gate and changes it only through these functions. State in one `Ref`, so closing
 * and counting never interleave badly; the drain signal is a `Deferred`.
 */
import { Deferred, Effect, Ref } from "effect"

interface State {
  readonly closing: boolean
  readonly inFlight: number
}

/** A gate (see the module notes). */
export interface Gate {
  /** Whether closing has begun. */
  readonly closing: Effect.Effect<boolean>
  /** How much work is in flight now. */
  readonly inFlight: Effect.Effect<number>
  /** Counts one piece of work in. */
  readonly enter: Effect.Effect<void>
  /** Counts one piece of work out; the last one out after closing began opens `drained`. */
  readonly leave: Effect.Effect<void>
  /** Begins closing (once; later calls change nothing). */
  readonly close: Effect.Effect<void>
  /** Completes once closing has begun and no work is in flight. */
  readonly drained: Effect.Effect<void>
}

/** A new, open gate with nothing in flight. */
export const make: Effect.Effect<Gate> = Effect.gen(function*() {
  const state = yield* Ref.make<State>({ closing: false, inFlight: 0 })
  const empty = yield* Deferred.make<void>()
  const openIf = (drained: boolean) => drained ? Deferred.succeed(empty, undefined) : Effect.succeed(false)
  return {
    closing: Effect.map(Ref.get(state), (s) => s.closing),
    inFlight: Effect.map(Ref.get(state), (s) => s.inFlight),
    enter: Ref.update(state, (s) => ({ ...s, inFlight: s.inFlight + 1 })),
    leave: Effect.asVoid(Effect.flatMap(
      Ref.modify(state, (s) => [s.closing && s.inFlight === 1, { ...s, inFlight: s.inFlight - 1 }]),
      openIf
    )),
    close: Effect.asVoid(Effect.flatMap(
      Ref.modify(state, (s) => [s.inFlight === 0, { ...s, closing: true }]),
      openIf
    )),
    drained: Deferred.await(empty)
  }
})
