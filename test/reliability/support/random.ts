/**
 * Seeded random numbers for the reliability scenarios: each scenario prints its seed, and `RELIABILITY_SEED` replays
 * a run exactly (the same faults, the same operations, the same kill points).
 */
import * as Crypto from "node:crypto"

/** A seeded generator and the draws the scenarios need. */
export interface Random {
  readonly seed: number
  /** A number in [0, 1). */
  readonly next: () => number
  /** An integer in [0, max). */
  readonly int: (max: number) => number
  /** An integer in [min, max]. */
  readonly between: (min: number, max: number) => number
  /** True with probability `p`. */
  readonly chance: (p: number) => boolean
  readonly pick: <A>(items: ReadonlyArray<A>) => A
}

/** The generator of `seed` (mulberry32: 32 bits of state, fast, good enough to pick faults and operations). */
export const fromSeed = (seed: number): Random => {
  let state = seed >>> 0
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const int = (max: number) => Math.floor(next() * max)
  return {
    seed,
    next,
    int,
    between: (min, max) => min + int(max - min + 1),
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)]!
  }
}

/** The seed to use: `RELIABILITY_SEED` when set, otherwise a fresh random one. */
export const chooseSeed = (): number => {
  const given = process.env["RELIABILITY_SEED"]
  if (given !== undefined && given.trim() !== "") {
    const seed = Number(given)
    if (!Number.isInteger(seed)) throw new Error(`RELIABILITY_SEED must be an integer, got ${given}`)
    return seed >>> 0
  }
  return Crypto.randomBytes(4).readUInt32BE(0)
}

/** A generator for `scenario`, its seed printed so that a failure can be replayed with `RELIABILITY_SEED`. */
export const seeded = (scenario: string): Random => {
  const seed = chooseSeed()
  console.log(`[reliability] ${scenario}: seed ${seed} (replay: RELIABILITY_SEED=${seed})`)
  return fromSeed(seed)
}

/** An independent generator drawn from `random` (for a part of a scenario that must not shift the others' draws). */
export const fork = (random: Random): Random => fromSeed(random.int(4294967296))
