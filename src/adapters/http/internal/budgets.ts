/**
 * The HTTP service's budgets of callers: token buckets (the manager's `TokenBuckets`) keyed by token subject or by
 * client address, and the one place that builds a `RateLimited` and reads its wait back for `Retry-After`.
 */
import { Duration, Effect } from "effect"
import type { Rate } from "../../../domain/Config.js"
import { RateLimited } from "../../../domain/Errors.js"
import { TokenBuckets } from "../../../domain/TokenBuckets.js"

/** Most keys one budget remembers (the least recently seen forgotten first). */
const maxRateLimitKeys = 100_000

/** A refusal of `key`, to be retried after `millis`. */
export const rateLimited = (key: string, millis: number): RateLimited =>
  new RateLimited({ key, retryAfter: Duration.millis(millis) })

/**
 * The whole seconds a refused client should wait, for `Retry-After`: rounded up, at least 1. Read from the error's
 * duration field whichever name it has (a `Duration` or milliseconds), so the header does not depend on the body.
 */
export const retryAfterSeconds = (error: RateLimited): number => {
  let millis = 1000
  for (const field of ["retryAfterMs", "retryAfter"]) {
    const value: unknown = Reflect.get(error, field)
    if (Duration.isDuration(value)) millis = Duration.toMillis(value)
    else if (typeof value === "number") millis = value
    else continue
    break
  }
  return Math.max(1, Math.ceil(millis / 1000))
}

/**
 * A budget of `rate` per key: `take(key, value)` succeeds with `value` when `key` has a token left, and otherwise
 * fails `RateLimited` keyed `family:key` with the wait until its next token. O(1); at most 100,000 keys remembered.
 */
export const budget = (rate: Rate, family: string, now: () => number) => {
  const buckets = new TokenBuckets(rate, maxRateLimitKeys, now)
  return <A>(key: string, value: A): Effect.Effect<A, RateLimited> => {
    const wait = buckets.take(key)
    return wait === 0 ? Effect.succeed(value) : Effect.fail(rateLimited(`${family}:${key}`, wait))
  }
}
