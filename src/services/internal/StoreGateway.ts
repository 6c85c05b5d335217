/**
 * Every call the manager makes to a store that does I/O goes through here: a deadline (`storeTimeout`) unless the
 * store bounds its calls itself, the one retry policy for transient failures (`StoreUnavailable`), a latency sample,
 * and a span where it is worth its cost. Stores with direct access are used as they are: their calls cannot hang or
 * fail transiently, and wrapping them would only cost time.
 */
import { Clock, Effect, type MetricLabel, Schedule } from "effect"
import type { SessionsConfig } from "../../domain/Config.js"
import { formatDuration } from "../../domain/Config.js"
import { StoreUnavailable } from "../../domain/Errors.js"
import type { SessionStoreShape } from "../SessionStore.js"
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

/**
 * Wraps `store` so each call has a deadline (unless self-bounded), retries, a latency sample, and a span (always for
 * stores without a bound of their own, otherwise with `tracing`). Stores with direct access are returned as they are.
 */
export const guardStore = (
  store: SessionStoreShape,
  config: SessionsConfig,
  meter: ManagerMetrics,
  tracing: boolean
): SessionStoreShape => {
  if (store.direct !== undefined) return store
  const schedule = retryPolicy(config)
  const deadline = config.storeTimeout
  const spans = tracing || !store.selfBounded
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
  const guard = <A, E, R>(
    operation: string,
    effect: Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | StoreUnavailable, R> => {
    const labels = labelsOf(operation)
    const attempt: Effect.Effect<A, E | StoreUnavailable, R> = store.selfBounded
      ? effect
      : Effect.timeoutFail(effect, {
        duration: deadline,
        onTimeout: () => new StoreUnavailable({ operation, reason: `no answer within ${formatDuration(deadline)}` })
      })
    // The first attempt runs bare; only a transient failure starts the retry policy, which then sees that failure as
    // its first input, exactly as `Effect.retry(attempt, ...)` would.
    const retried = Effect.catchIf(attempt, isTransient, (first) => {
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
    })
    const timed = Effect.flatMap(Clock.currentTimeMillis, (start) =>
      Effect.ensuring(
        retried,
        Effect.flatMap(Clock.currentTimeMillis, (end) =>
          Effect.sync(() => meter.observe(metrics.storeLatency, end - start, labels)))
      ))
    return spans ? Effect.withSpan(timed, `SessionStore.${operation}`) : timed
  }
  return {
    direct: undefined,
    selfBounded: store.selfBounded,
    insert: (session, options) => guard("insert", store.insert(session, options)),
    get: (id) => guard("get", store.get(id)),
    update: (id, write) => guard("update", store.update(id, write)),
    touch: (id, activity) => guard("touch", store.touch(id, activity)),
    list: (query) => guard("list", store.list(query)),
    counts: guard("counts", store.counts),
    ownerCounts: (owner) => guard("ownerCounts", store.ownerCounts(owner)),
    dueForExpiry: (limit) => guard("dueForExpiry", store.dueForExpiry(limit)),
    expire: (limit) => guard("expire", store.expire(limit)),
    leastRecentlyActive: (limit, owner) => guard("leastRecentlyActive", store.leastRecentlyActive(limit, owner)),
    purge: (retention, limit) => guard("purge", store.purge(retention, limit)),
    setActive: (owner, id) => guard("setActive", store.setActive(owner, id)),
    getActive: (owner) => guard("getActive", store.getActive(owner)),
    acquireLease: (id, holder, ttl) => guard("acquireLease", store.acquireLease(id, holder, ttl)),
    renewLease: (lease, ttl) => guard("renewLease", store.renewLease(lease, ttl)),
    releaseLease: (lease) => guard("releaseLease", store.releaseLease(lease)),
    leases: guard("leases", store.leases),
    remove: (id, reason) => guard("remove", store.remove(id, reason)),
    flush: guard("flush", store.flush)
  }
}
