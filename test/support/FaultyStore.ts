/**
 * A store wrapper that injects faults into any `SessionStore`, for tests of retries, timeouts and failing sweeps.
 * It provides only the decorated `SessionStore` (never the inner store's synchronous capability), so the manager puts
 * its calls under deadlines and retries, and it records when each operation was attempted (by the test clock).
 */
import { Clock, Context, Effect, Layer } from "effect"
import { StaleFencingToken, StoreError, StoreUnavailable } from "../../src/domain/Errors.js"
import { SessionStore, type SessionStoreShape, storeThrough } from "../../src/services/SessionStore.js"

/** What an injected fault does to one call (`stale`: the lease was lost, as after a pause longer than its ttl). */
export type Fault = "unavailable" | "error" | "hang" | "die" | "stale"

/** An operation name of the store (`insert`, `get`, `touch`, ...). */
export type Operation = keyof SessionStoreShape

interface Rule {
  readonly op: Operation
  readonly fault: Fault
  remaining: number
  readonly when: (args: ReadonlyArray<unknown>) => boolean
}

/** Control of the faults: plan them, and read what was called when. */
export class Faults extends Context.Tag("test/Faults")<Faults, {
  /** The next `times` calls of `op` (matching `when`, if given) fail with `fault`. */
  readonly inject: (
    op: Operation,
    fault: Fault,
    times?: number,
    when?: (args: ReadonlyArray<unknown>) => boolean
  ) => void
  /** Drops every planned fault. */
  readonly clear: () => void
  /** Clock times at which each operation was called, faults included. */
  readonly calls: (op: Operation) => ReadonlyArray<number>
}>() {}

const faultEffect = (
  op: Operation,
  fault: Fault,
  args: ReadonlyArray<unknown>
): Effect.Effect<never, StoreUnavailable | StoreError | StaleFencingToken> => {
  switch (fault) {
    case "stale": {
      const lease = args[0] as { sessionId: string; token: number }
      return Effect.fail(new StaleFencingToken({ id: lease.sessionId, token: lease.token }))
    }
    case "unavailable":
      return Effect.fail(new StoreUnavailable({ operation: op, reason: "injected: database is locked" }))
    case "error":
      return Effect.fail(new StoreError({ operation: op, reason: "injected: disk I/O error" }))
    case "hang":
      return Effect.never
    case "die":
      return Effect.die(new Error(`injected defect in ${op}`))
  }
}

/** Wraps the store of `inner` with fault injection; provides both the wrapped store and its `Faults` control. */
export const layer = <E, R>(inner: Layer.Layer<SessionStore, E, R>): Layer.Layer<SessionStore | Faults, E, R> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const store = yield* SessionStore
      const clock = yield* Effect.clock
      const rules: Array<Rule> = []
      const log = new Map<Operation, Array<number>>()
      const wrapped = storeThrough(
        store,
        <A, E>(op: Operation, make: () => Effect.Effect<A, E>, args: ReadonlyArray<unknown>) =>
          Effect.suspend((): Effect.Effect<A, unknown> => {
            const at = clock.unsafeCurrentTimeMillis()
            log.set(op, [...(log.get(op) ?? []), at])
            const rule = rules.find((r) => r.op === op && r.remaining > 0 && r.when(args))
            if (rule === undefined) return make()
            rule.remaining--
            return faultEffect(op, rule.fault, args)
          })
      )
      return Context.make(SessionStore, wrapped).pipe(
        Context.add(Faults, {
          inject: (op, fault, times = 1, when = () => true) => {
            rules.push({ op, fault, remaining: times, when })
          },
          clear: () => {
            rules.length = 0
          },
          calls: (op) => log.get(op) ?? []
        })
      )
    })
  ).pipe(Layer.provide(inner))

/** The current test-clock time, for comparing with `Faults.calls`. */
export const now = Clock.currentTimeMillis
