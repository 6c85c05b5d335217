/**
 * Keyed token buckets with a bounded key table: the least recently used key is forgotten when the table is full, and
 * keys whose bucket has refilled are forgotten by `forgetIdle` (a full bucket is the same as no entry).
 */
import { Duration } from "effect"
import type { Rate } from "../../domain/Config.js"

interface Bucket {
  tokens: number
  at: number
}

/** Token buckets of one rate, one per key, at most `maxKeys` remembered. */
export class TokenBuckets {
  // Map order is recency order: a used key is deleted and set again, so the first key is the least recently used.
  private readonly buckets = new Map<string, Bucket>()
  private readonly capacity: number
  private readonly perMilli: number

  constructor(rate: Rate, private readonly maxKeys: number, private readonly now: () => number) {
    this.capacity = rate.limit
    this.perMilli = rate.limit / Duration.toMillis(rate.window)
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.buckets.size
  }

  /**
   * Takes one token for `key`: returns 0 when the call may go ahead, otherwise the milliseconds until a token will
   * be there (and takes nothing).
   */
  take(key: string): number {
    const now = this.now()
    const bucket = this.buckets.get(key)
    let tokens = this.capacity
    if (bucket !== undefined) {
      tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * this.perMilli)
      this.buckets.delete(key)
    } else if (this.buckets.size >= this.maxKeys) {
      this.buckets.delete(this.buckets.keys().next().value!)
    }
    if (tokens < 1) {
      this.buckets.set(key, { tokens, at: now })
      return Math.ceil((1 - tokens) / this.perMilli)
    }
    this.buckets.set(key, { tokens: tokens - 1, at: now })
    return 0
  }

  /**
   * Forgets up to `budget` keys whose bucket has refilled, looking at the least recently used first; returns how
   * many it forgot.
   */
  forgetIdle(budget: number): number {
    const now = this.now()
    let forgotten = 0
    let looked = 0
    for (const [key, bucket] of this.buckets) {
      if (looked++ >= budget) break
      if (bucket.tokens + (now - bucket.at) * this.perMilli >= this.capacity) {
        this.buckets.delete(key)
        forgotten++
      }
    }
    return forgotten
  }
}
