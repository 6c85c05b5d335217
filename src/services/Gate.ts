/**
 * A gate for work that must drain on shutdown: whether it is closing, how much work is in flight, and a signal when
 * the last of it has left after closing began. The manager keeps one for its `withSession` work, the HTTP service one
 * for its requests; each owns its gate and changes it only through these functions. The state is two fields changed
 * only inside `Effect.sync` blocks, each of which runs to completion, so closing and counting never interleave badly;
 * the drain signal is a `Deferred`.
 */
import { Deferred, Effect } from "effect"

/** A gate (see the module notes). */
export interface Gate {
  /** Whether closing has begun. */
  readonly closing: Effect.Effect<boolean>
  /**
   * Whether closing has begun, read at once: for a caller already running inside an effect (the manager's admission
   * of each call), where one more step per call would cost more than the call itself.
   */
  readonly isClosing: () => boolean
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
export const make: Effect.Effect<Gate> = Effect.map(Deferred.make<void>(), (empty) => {
  const state = { closing: false, inFlight: 0 }
  // Completing an already completed `Deferred` changes nothing, so opening twice is harmless.
  const open = () => Deferred.unsafeDone(empty, Effect.void)
  return {
    closing: Effect.sync(() => state.closing),
    isClosing: () => state.closing,
    inFlight: Effect.sync(() => state.inFlight),
    enter: Effect.sync(() => {
      state.inFlight++
    }),
    leave: Effect.sync(() => {
      state.inFlight--
      if (state.closing && state.inFlight === 0) open()
    }),
    close: Effect.sync(() => {
      state.closing = true
      if (state.inFlight === 0) open()
    }),
    drained: Deferred.await(empty)
  }
})
