/**
 * The soak's configuration and the analysis of its samples: the bounded configuration the child runs, and the
 * "baseline band" test that says whether a quantity grew over the run.
 */

/** The bounded configuration the soak runs (SQLite file, real clock, real sweeper). */
export const soakConfig = {
  maxSessions: 10_000,
  maxSessionsPerOwner: 10_000,
  capacityPolicy: "evict-lru",
  idleTimeout: "3 seconds",
  retention: "2 seconds",
  sweepInterval: "1 second",
  sweepBatch: 5_000,
  rateLimitKeys: 20_000,
  eventBuffer: 65_536,
  sessionRateLimit: "1000000/1s",
  ownerRateLimit: "1000000/1s"
} as const

/** One sample line of the child. */
export interface Sample {
  readonly t: number
  readonly heapUsed: number
  readonly rss: number
  readonly locksHeld: number
  readonly rateLimitKeys: number
  readonly inFlight: number
  readonly live: number
  readonly sweeps: { readonly runs: number; readonly failures: number }
  readonly created: number
  readonly expired: number
  readonly evicted: number
  readonly missed: number
  readonly lagCount: number
  readonly lagP99: number | null
  readonly lagMax: number | null
  /** The longest sweep so far, in milliseconds. */
  readonly sweepMsMax: number
  /** The longest the event loop ran late so far (timers included), in milliseconds. */
  readonly loopDelayMsMax: number
  readonly dbBytes: number
  readonly walBytes: number
}

export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length === 0 ? NaN : sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The first and last thirds' medians of `values`, and whether the last stays within `tolerance` of the first. */
export interface Band {
  readonly first: number
  readonly last: number
  readonly limit: number
  readonly within: boolean
}

/**
 * No growth trend: the median of the last third of `values` is at most the first third's times `1 + relative`, or
 * the first third's plus `absolute`, whichever is larger (small baselines are noise, large ones grow in proportion).
 */
export const band = (values: ReadonlyArray<number>, relative: number, absolute: number): Band => {
  const third = Math.max(1, Math.floor(values.length / 3))
  const first = median(values.slice(0, third))
  const last = median(values.slice(values.length - third))
  const limit = Math.max(first * (1 + relative), first + absolute)
  return { first, last, limit, within: last <= limit }
}
