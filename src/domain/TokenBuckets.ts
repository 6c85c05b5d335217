/**
 * Keyed token buckets with a bounded key table: one insertion-ordered `Map` of at most `maxKeys` keys. A new key
 * goes in at the newest end; when the table is full, the key at the oldest end is forgotten first. A key used again
 * after half a table of other keys came in is moved to the newest end, so a key used within the last `maxKeys / 2`
 * new or moved keys is never forgotten before one that was not: idle keys go first. Every call is O(1) amortised,
 * and a bucket is updated in place. A forgotten key starts again with a full bucket, which is what an idle key would
 * have anyway once its window has passed.
 */
import { Duration } from "effect"
import type { Rate } from "./Config.js"

interface Bucket {
  tokens: number
  at: number
  /** When the key last came in or moved to the newest end, in keys counted so far. */
  stamp: number
}

/** Token buckets of one rate, one per key, at most `maxKeys` remembered. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()
  private stamps = 0
  private cursor: Iterator<string> | undefined = undefined
  private readonly maxKeys: number
  private readonly moveAfter: number
  private readonly capacity: number
  private readonly perMilli: number

  constructor(rate: Rate, maxKeys: number, private readonly now: () => number) {
    this.capacity = rate.limit
    this.perMilli = rate.limit / Duration.toMillis(rate.window)
    this.maxKeys = Math.max(1, maxKeys)
    this.moveAfter = Math.max(1, Math.floor(maxKeys / 2))
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
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.forgetOldest()
      bucket = { tokens: this.capacity, at: now, stamp: ++this.stamps }
      this.buckets.set(key, bucket)
    } else if (this.stamps - bucket.stamp >= this.moveAfter) {
      this.buckets.delete(key)
      bucket.stamp = ++this.stamps
      this.buckets.set(key, bucket)
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
   * Forgets keys whose bucket has refilled, looking at up to `budget` of them, the oldest first; returns how many it
   * forgot.
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

  /**
   * Forgets the key at the oldest end. One iterator is kept from call to call: every key it has passed was forgotten
   * (or moved to the newest end, ahead of it), so it always stands at the oldest key, where a new iterator would first
   * walk past every slot deleted since the table last compacted.
   */
  private forgetOldest(): void {
    for (let attempt = 0; attempt < 2; attempt++) {
      this.cursor ??= this.buckets.keys()
      const oldest = this.cursor.next()
      if (oldest.done !== true) {
        this.buckets.delete(oldest.value)
        return
      }
      // An iterator that reached the end stays there: the next one starts from the oldest key again.
      this.cursor = undefined
    }
  }
}
