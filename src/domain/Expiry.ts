/**
 * When a session expires: the one function that computes `expiresAt`, and the reason an expiry gives.
 */
import { Duration } from "effect"
import { type EpochMillis, maxEpochMillis, type Millis } from "./Session.js"

/** The two limits on a session's life: how long it may be idle, and how long it may live at all. */
export interface ExpiryPolicy {
  readonly idleTimeout: Duration.Duration
  readonly maxLifetime: Duration.Duration
}

/** The limits as a session record stores them (milliseconds), with the instant it was created. */
export interface ExpiryLimits {
  readonly createdAt: EpochMillis
  readonly idleTimeout: Millis
  readonly maxLifetime: Millis
}

/** A policy's limits in the milliseconds a session record stores. */
export const limitsOf = (policy: ExpiryPolicy): { readonly idleTimeout: Millis; readonly maxLifetime: Millis } => ({
  idleTimeout: Duration.toMillis(policy.idleTimeout) as Millis,
  maxLifetime: Duration.toMillis(policy.maxLifetime) as Millis
})

/**
 * `min(lastActiveAt + idleTimeout, createdAt + maxLifetime)`: the instant a session expires unless it is active again
 * first. Activity moves it later, never past the absolute lifetime (nor past the last instant a date can hold). This
 * is the only place it is computed.
 */
export const expiresAt = (session: ExpiryLimits, lastActiveAt: EpochMillis): EpochMillis =>
  Math.min(lastActiveAt + session.idleTimeout, session.createdAt + session.maxLifetime, maxEpochMillis) as EpochMillis

/** Whether a session expiring at `expiresAt` has expired at `now` (it expires exactly at `expiresAt`). */
export const isDue = (expiresAt: EpochMillis, now: number): boolean => expiresAt <= now

/** Why a session expires at its `expiresAt`: it reaches its absolute lifetime first, or it is idle too long. */
export const expiryReason = (
  session: ExpiryLimits & { readonly lastActiveAt: EpochMillis }
): "idle timeout" | "max lifetime" =>
  session.createdAt + session.maxLifetime <= session.lastActiveAt + session.idleTimeout
    ? "max lifetime"
    : "idle timeout"
