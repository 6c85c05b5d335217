/**
 * Activity on a session: the rolling window of response times, kept no longer than its limit.
 */
import type { Millis } from "./Session.js"

/**
 * `window` with `responseTime` appended as the newest entry, dropping the oldest entries so the result holds at most
 * `limit` (with `limit <= 0`, nothing is kept). Never mutates `window`.
 */
export const pushResponseTime = (
  window: ReadonlyArray<Millis>,
  responseTime: Millis,
  limit: number
): ReadonlyArray<Millis> => {
  if (limit <= 0) return []
  const keep = Math.min(window.length, limit - 1)
  const next = window.slice(window.length - keep)
  next.push(responseTime)
  return next
}
