/**
 * When a session expires: the one function that computes `expiresAt`, when a live session has expired for every
 * observer (a lease holds it past `expiresAt` while work is in flight), and what its expiry leaves.
 */
import { Duration } from "effect"
import { type EndReason, type EpochMillis, isEnded, maxEpochMillis, type Millis, type Session } from "./Session.js"

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

/**
 * A session's activity fields after activity at `now`: `lastActiveAt` moves to now (never back) and `expiresAt`
 * follows it. Touches and every write that leaves the session live record activity this way.
 */
export const activeAt = (
  session: ExpiryLimits & { readonly lastActiveAt: EpochMillis },
  now: EpochMillis
): { readonly lastActiveAt: EpochMillis; readonly expiresAt: EpochMillis } => {
  const lastActiveAt = now > session.lastActiveAt ? now : session.lastActiveAt
  return { lastActiveAt, expiresAt: expiresAt(session, lastActiveAt) }
}

/** Why a session expires at its `expiresAt`: it reaches its absolute lifetime first, or it is idle too long. */
export const expiryReason = (
  session: ExpiryLimits & { readonly lastActiveAt: EpochMillis }
): "idle timeout" | "max lifetime" =>
  session.createdAt + session.maxLifetime <= session.lastActiveAt + session.idleTimeout
    ? "max lifetime"
    : "idle timeout"

/**
 * The instant a live session ends by expiry: its `expiresAt`, or, when a lease (work in flight) holds it past then,
 * the end of that lease. `leaseExpiresAt` is the session's lease's end, or `null` without a lease.
 */
export const expiryInstant = (expiresAt: EpochMillis, leaseExpiresAt: number | null): EpochMillis =>
  (leaseExpiresAt !== null && leaseExpiresAt > expiresAt ? leaseExpiresAt : expiresAt) as EpochMillis

/**
 * Whether a live session has expired at `now`: it is due and no unexpired lease holds it. From that instant it is
 * expired for every observer, whether or not a sweep or a write has recorded it yet.
 */
export const hasExpired = (
  session: { readonly expiresAt: EpochMillis },
  leaseExpiresAt: number | null,
  now: number
): boolean => expiryInstant(session.expiresAt, leaseExpiresAt) <= now

/**
 * A live session as its expiry leaves it: `expired`, ended at its `expiryInstant` with the `expiryReason`, its
 * version one higher. Every store records exactly this, and reads present exactly this before it is recorded.
 */
export const expiredSession = (session: Session, leaseExpiresAt: number | null): Session => ({
  ...session,
  status: "expired",
  endedAt: expiryInstant(session.expiresAt, leaseExpiresAt),
  endReason: expiryReason(session) as EndReason,
  version: session.version + 1
})

/**
 * The session as every observer sees it at `now`: expired (as `expiredSession` would record it) if it is live and
 * has expired, as stored otherwise. Reads go through this, so no reader sees a session live past its expiry.
 */
export const asSeenAt = (session: Session, leaseExpiresAt: number | null, now: number): Session =>
  !isEnded(session.status) && hasExpired(session, leaseExpiresAt, now)
    ? expiredSession(session, leaseExpiresAt)
    : session
