/**
 * Keyed token buckets with a bounded key table. The table is two generations of at most `maxKeys / 2` keys each: a
 * key used in the current generation costs one lookup; a key found only in the previous one moves to the current
 * one; when the current generation is full it becomes the previous one and the oldest generation is dropped. So
 * the table never holds more than `maxKeys` keys, a key unused for a whole generation is forgotten first, and every
 * call is O(1) with no list to relink. A forgotten key starts again with a full bucket, which is what an idle key
 * would have anyway once its window has passed.
 */
import { Duration } from "effect"
import type { Rate } from "./Config.js"

interface Bucket {
  tokens: number
  at: number
}

/** Token buckets of one rate, one per key, at most `maxKeys` remembered. */
export class TokenBuckets {
  private current = new Map<string, Bucket>()
  private previous = new Map<string, Bucket>()
  private readonly generation: number
  private readonly capacity: number
  private readonly perMilli: number

  constructor(rate: Rate, maxKeys: number, private readonly now: () => number) {
    this.capacity = rate.limit
    this.perMilli = rate.limit / Duration.toMillis(rate.window)
    this.generation = Math.max(1, Math.floor(maxKeys / 2))
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.current.size + this.previous.size
  }

  /**
   * Takes one token for `key`: returns 0 when the call may go ahead, otherwise the milliseconds until a token will
   * be there (and takes nothing).
   */
  take(key: string): number {
    const now = this.now()
    let bucket = this.current.get(key)
    if (bucket === undefined) {
      bucket = this.previous.get(key)
      if (bucket === undefined) bucket = { tokens: this.capacity, at: now }
      else this.previous.delete(key)
      if (this.current.size >= this.generation) this.rotate()
      this.current.set(key, bucket)
    }
    const tokens = Math.min(this.capacity, bucket.tokens + (now - bucket.at) * this.perMilli)
    bucket.at = now
    if (tokens < 1) {
      bucket.tokens = tokens
      return Math.ceil((1 - tokens) / this.perMilli)
    }
    bucket.tokens = tokens - 1
    return 0
  }

  /**
   * Forgets keys whose bucket has refilled, looking at up to `budget` of them, the previous generation first;
   * returns how many it forgot.
   */
  forgetIdle(budget: number): number {
    const now = this.now()
    let forgotten = 0
    let looked = 0
    for (const table of [this.previous, this.current]) {
      for (const [key, bucket] of table) {
        if (looked++ >= budget) return forgotten
        if (bucket.tokens + (now - bucket.at) * this.perMilli >= this.capacity) {
          table.delete(key)
          forgotten++
        }
      }
    }
    return forgotten
  }

  private rotate(): void {
    this.previous = this.current
    this.current = new Map()
  }
}
