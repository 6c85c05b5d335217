/**
 * When a session expires: the one function that computes `expiresAt`, and the reason an expiry gives.
 */
import { Duration } from "effect"
import type { EpochMillis } from "./Session.js"

/** The two limits on a session's life: how long it may be idle, and how long it may live at all. */
export interface ExpiryPolicy {
  readonly idleTimeout: Duration.Duration
  readonly maxLifetime: Duration.Duration
}

/**
 * `min(lastActiveAt + idleTimeout, createdAt + maxLifetime)`: the instant a session expires unless it is active again
 * first. Activity moves it later, never past the absolute lifetime. This is the only place it is computed.
 */
export const expiresAt = (policy: ExpiryPolicy, createdAt: EpochMillis, lastActiveAt: EpochMillis): EpochMillis =>
  Math.min(
    lastActiveAt + Duration.toMillis(policy.idleTimeout),
    createdAt + Duration.toMillis(policy.maxLifetime)
  ) as EpochMillis

/** Whether a session expiring at `expiresAt` has expired at `now` (it expires exactly at `expiresAt`). */
export const isDue = (expiresAt: EpochMillis, now: EpochMillis): boolean => expiresAt <= now

/** Why a session expires at its `expiresAt`: it reaches its absolute lifetime first, or it is idle too long. */
export const expiryReason = (
  policy: ExpiryPolicy,
  session: { readonly createdAt: EpochMillis; readonly lastActiveAt: EpochMillis }
): "idle timeout" | "max lifetime" =>
  session.createdAt + Duration.toMillis(policy.maxLifetime) <=
      session.lastActiveAt + Duration.toMillis(policy.idleTimeout)
    ? "max lifetime"
    : "idle timeout"
