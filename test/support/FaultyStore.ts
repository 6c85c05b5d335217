/**
 * A store wrapper that injects faults into any `SessionStore`, for tests of retries, timeouts and failing sweeps.
 * It provides only the decorated `SessionStore` (never the inner store's synchronous capability), so the manager puts
 * its calls under deadlines and retries, and it records
 * when each operation was attempted (by the test clock). Faults are planned call by call (`inject`) or drawn at
 * random from a seeded generator (`random`), and the unwrapped store stays reachable to check what really landed.
 */
import { Clock, Context, Duration, Effect, Layer } from "effect"
import { StaleFencingToken, StoreError, StoreUnavailable } from "../../src/domain/Errors.js"
import { SessionStore, type SessionStoreShape, storeThrough } from "../../src/services/SessionStore.js"

/**
 * A late or slow answer: `slow` waits `delay` before the call reaches the store (nothing happens if the caller gives
 * up first); `late` makes the call at once and answers `delay` later (the call may have landed when the caller gives
 * up, as when a database commits and the reply is lost).
 */
export interface Latency {
  readonly _tag: "slow" | "late"
  readonly delay: Duration.DurationInput
}

/** What an injected fault does to one call (`stale`: the lease was lost, as after a pause longer than its ttl). */
export type Fault = "unavailable" | "error" | "hang" | "die" | "stale" | Latency

/** An operation name of the store (`insert`, `get`, `touch`, ...). */
export type Operation = keyof SessionStoreShape

/**
 * Faults drawn at random: each call of one of `operations` (default all) gets a fault with `probability`: `fault`,
 * or one of several picked uniformly.
 */
export interface RandomFaults {
  readonly fault: Fault | ReadonlyArray<Fault>
  readonly probability: number
  /** A seeded generator of numbers in [0, 1), so a failing run can be replayed. */
  readonly next: () => number
  readonly operations?: ReadonlyArray<Operation> | undefined
}

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
  /** From now on, calls get faults at random as `spec` says (replacing any earlier random plan). */
  readonly random: (spec: RandomFaults) => void
  /** Drops every planned fault, random ones included. */
  readonly clear: () => void
  /** Clock times at which each operation was called, faults included. */
  readonly calls: (op: Operation) => ReadonlyArray<number>
  /** How many faults were injected so far, by kind (`unavailable`, `slow`, ...). */
  readonly injected: () => Readonly<Record<string, number>>
  /** Calls that got `hang` and are still waiting (their caller has not given up on them), by operation. */
  readonly hanging: () => Readonly<Record<string, number>>
  /** The wrapped store itself: reads through it see what really landed, with no fault and no retry. */
  readonly unwrapped: SessionStoreShape
}>() {}

const kindOf = (fault: Fault): string => typeof fault === "string" ? fault : fault._tag

const faultEffect = <A, X>(
  op: Operation,
  fault: Fault,
  args: ReadonlyArray<unknown>,
  effect: Effect.Effect<A, X>
): Effect.Effect<A, X | StoreUnavailable | StoreError | StaleFencingToken> => {
  if (typeof fault !== "string") {
    return fault._tag === "slow"
      ? Effect.zipRight(Effect.sleep(fault.delay), effect)
      : Effect.zipLeft(effect, Effect.sleep(fault.delay))
  }
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
      let chance: RandomFaults | undefined
      const counts: Record<string, number> = {}
      const stuck: Record<string, number> = {}
      const log = new Map<Operation, Array<number>>()
      const planned = (op: Operation, args: ReadonlyArray<unknown>): Fault | undefined => {
        const rule = rules.find((r) => r.op === op && r.remaining > 0 && r.when(args))
        if (rule !== undefined) {
          rule.remaining--
          return rule.fault
        }
        if (chance === undefined || (chance.operations !== undefined && !chance.operations.includes(op))) {
          return undefined
        }
        if (chance.next() >= chance.probability) return undefined
        const choices: ReadonlyArray<Fault> = Array.isArray(chance.fault) ? chance.fault : [chance.fault as Fault]
        return choices[Math.floor(chance.next() * choices.length)]
      }
      const call = <A, X>(op: Operation, args: ReadonlyArray<unknown>, effect: Effect.Effect<A, X>) =>
        Effect.suspend(() => {
          const at = clock.unsafeCurrentTimeMillis()
          const times = log.get(op)
          if (times === undefined) log.set(op, [at])
          else times.push(at)
          const fault = planned(op, args)
          if (fault === undefined) return effect
          counts[kindOf(fault)] = (counts[kindOf(fault)] ?? 0) + 1
          const faulty = faultEffect(op, fault, args, effect) as Effect.Effect<A, X | StoreUnavailable | StoreError>
          if (fault !== "hang") return faulty
          stuck[op] = (stuck[op] ?? 0) + 1
          return Effect.ensuring(faulty, Effect.sync(() => stuck[op]!--))
        })
      const wrapped = storeThrough(
        store,
        <A, X>(op: Operation, make: () => Effect.Effect<A, X>, args: ReadonlyArray<unknown>) =>
          call(op, args, Effect.suspend(make))
      )
      return Context.make(SessionStore, wrapped).pipe(
        Context.add(Faults, {
          inject: (op, fault, times = 1, when = () => true) => {
            rules.push({ op, fault, remaining: times, when })
          },
          random: (spec) => {
            chance = spec
          },
          clear: () => {
            rules.length = 0
            chance = undefined
          },
          calls: (op) => [...(log.get(op) ?? [])],
          injected: () => ({ ...counts }),
          hanging: () => Object.fromEntries(Object.entries(stuck).filter(([, n]) => n > 0)),
          unwrapped: store
        })
      )
    })
  ).pipe(Layer.provide(inner))

/** The current test-clock time, for comparing with `Faults.calls`. */
export const now = Clock.currentTimeMillis
