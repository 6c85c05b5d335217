/**
 * The request deadline without a timer per request: every request gets the same allowance, so deadlines come in the
 * order requests arrive, and one fiber watches them all, sleeping (through `Clock`) until the oldest open one.
 */
import { type Clock, Duration, Effect, Fiber, type Scope } from "effect"

/** A request's deadline: when it passes, and what to do then. */
interface Deadline {
  readonly at: number
  readonly expire: () => void
}

/** Runs work under the request deadline (see `make`). */
export interface Deadlines {
  /**
   * Runs `work` (in a fiber of its own, so that it can be cut off) until `allowance` after now by `Clock`. Past
   * that, `work` is interrupted (its finalizers run, and are awaited) and the result fails with `onTimeout()`,
   * evaluated then. Interrupting the caller interrupts `work` and awaits it. On success, the fiber refs `work` set
   * are kept, as if it had run in the caller's fiber.
   */
  readonly within: <A, E, R, E1>(work: Effect.Effect<A, E, R>, onTimeout: () => E1) => Effect.Effect<A, E | E1, R>
}

/**
 * Deadlines of `allowance` each, watched by one fiber in the current scope (it ends with the scope). The watcher
 * wakes at the deadline of the oldest request still open, or when a request arrives while none is; so a steady
 * stream of requests costs no timer each, only one sleep per `allowance`. Deadlines are kept in arrival order: if the
 * clock goes back, a later request's deadline can pass at the same moment as an earlier one's, never before it.
 */
export const make = (clock: Clock.Clock, allowance: Duration.Duration): Effect.Effect<Deadlines, never, Scope.Scope> =>
  Effect.gen(function*() {
    const millis = Duration.toMillis(allowance)
    // Map keeps insertion order: the first entry is the oldest open deadline.
    const open = new Map<number, Deadline>()
    let nextId = 0
    let wake: (() => void) | undefined

    const expireDue = (now: number) => {
      for (const [id, deadline] of open) {
        if (deadline.at > now) break
        open.delete(id)
        deadline.expire()
      }
    }
    const idle = Effect.async<void>((resume) => {
      wake = () => {
        wake = undefined
        resume(Effect.void)
      }
      return Effect.sync(() => {
        wake = undefined
      })
    })
    const watch = Effect.suspend(() => {
      const oldest = open.values().next()
      if (oldest.done === true) return idle
      const now = clock.unsafeCurrentTimeMillis()
      if (oldest.value.at > now) return clock.sleep(Duration.millis(oldest.value.at - now))
      return Effect.sync(() => expireDue(now))
    })
    yield* Effect.forkScoped(Effect.forever(watch))

    const register = (expire: () => void): number => {
      const id = nextId++
      open.set(id, { at: clock.unsafeCurrentTimeMillis() + millis, expire })
      wake?.()
      return id
    }

    return {
      within: <A, E, R, E1>(work: Effect.Effect<A, E, R>, onTimeout: () => E1) =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(Effect.fork(restore(work)), (child) =>
            restore(Effect.async<A, E | E1>((resume) => {
              let settled = false
              const id = register(() => {
                if (settled) return
                settled = true
                resume(Effect.zipRight(Fiber.interrupt(child), Effect.fail(onTimeout())))
              })
              child.addObserver((exit) => {
                if (settled) return
                settled = true
                open.delete(id)
                resume(exit._tag === "Success" ? Effect.zipRight(Fiber.inheritAll(child), exit) : exit)
              })
              return Effect.suspend(() => {
                settled = true
                open.delete(id)
                return Fiber.interrupt(child)
              })
            })))
        )
    }
  })
