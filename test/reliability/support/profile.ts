/**
 * How big the reliability scenarios run: the short form by default (part of `npm test`), the long form when
 * `npm run soak` sets these variables. Every scenario checks every requirement at either size.
 */

const positive = (name: string, fallback: number): number => {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number, got ${raw}`)
  return value
}

/** Concurrent manager operations per store and capacity policy in the concurrency scenario (`RELIABILITY_OPERATIONS`). */
export const concurrencyOperations = (): number => Math.floor(positive("RELIABILITY_OPERATIONS", 10_000))

/** How long the soak churns, in seconds (`RELIABILITY_SOAK_SECONDS`; 60 in `npm test`, 600 in `npm run soak`). */
export const soakSeconds = (): number => positive("RELIABILITY_SOAK_SECONDS", 60)

/** Sessions the soak must churn at least (`RELIABILITY_SOAK_SESSIONS`; scaled to its length by default). */
export const soakSessions = (): number =>
  Math.floor(positive("RELIABILITY_SOAK_SESSIONS", Math.round(1_000_000 * soakSeconds() / 600)))

/** A size of the short form, multiplied by `RELIABILITY_SCALE` (1 in `npm test`; larger in `npm run soak`). */
export const scaled = (size: number): number => Math.max(1, Math.round(size * positive("RELIABILITY_SCALE", 1)))
