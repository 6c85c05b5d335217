/**
 * The rules every `SessionStore` applies, written once as pure functions of what the store read in one atomic step
 * and of "now" (an argument, never a clock read): a write, a touch, leases, the active pointer, an insert's plan
 * (name, capacity, what to expire and evict), listings and their cursors. A store reads, calls these, and persists
 * the outcome; it adds only I/O and indexes.
 */
import { Duration, Either } from "effect"
import { pushResponseTime } from "./Activity.js"
import {
  InvalidInput,
  type InvalidTransition,
  LeaseHeld,
  SessionEnded,
  SessionNotFound,
  StaleFencingToken,
  StoreError,
  VersionConflict
} from "./Errors.js"
import { activeAt, asSeenAt, expiredSession, expiryInstant, expiryReason, hasExpired } from "./Expiry.js"
import type { OwnerId, SessionId } from "./Ids.js"
import { transition } from "./Lifecycle.js"
import { type EndReason, type EpochMillis, isEnded, type LiveStatus, type Session } from "./Session.js"
import type {
  ActivityRecord,
  Cursor,
  Ended,
  Lease,
  ListQuery,
  RegenerateGuard,
  SessionWrite,
  Transitioned
} from "./StoreRecords.js"

/** A session's lease as a store holds it, or `null` without one (an expired lease may still be on record). */
export interface LeaseState {
  readonly holder: string
  readonly token: number
  readonly expiresAt: number
}

/** What a store read of one session in its atomic step: the record and its lease. */
export interface Held {
  readonly session: Session
  readonly lease: LeaseState | null
}

/** The end of a held session's lease, or `null` without one. */
const leaseEnd = (held: Held): number | null => (held.lease === null ? null : held.lease.expiresAt)

/** Whether `lease` is unexpired at `now`. */
export const leaseLive = (lease: LeaseState | null, now: number): boolean => lease !== null && lease.expiresAt > now

/** The session as every observer sees it at `now` (expired once it has, recorded or not). */
export const seenAt = (held: Held, now: number): Session => asSeenAt(held.session, leaseEnd(held), now)

/** Whether a held live session has expired at `now`, so a write to it records its expiry instead. */
export const heldExpired = (held: Held, now: number): boolean =>
  !isEnded(held.session.status) && hasExpired(held.session, leaseEnd(held), now)

/** The expiry of a held live session that has expired, as every store records it. */
export const expire = (held: Held): Transitioned => ({
  session: expiredSession(held.session, leaseEnd(held)),
  from: held.session.status
})

/** Why writes to this session are refused: it has ended (`SessionEnded`), or `undefined` while it is live. */
const ended = (session: Session): SessionEnded | undefined =>
  isEnded(session.status) ? new SessionEnded({ id: session.id, status: session.status }) : undefined

/** `StaleFencingToken` when a fencing token is given and is not the held session's current unexpired lease. */
const staleFence = (held: Held, fence: number | undefined, now: number): StaleFencingToken | undefined =>
  fence !== undefined && !(held.lease?.token === fence && leaseLive(held.lease, now))
    ? new StaleFencingToken({ id: held.session.id, token: fence })
    : undefined

/**
 * One write applied to a held session at `now`: refused on another owner's session when scoped to an owner
 * (`SessionNotFound`, as if missing) and on a tombstone (`SessionEnded`); a session that has expired
 * gets its expiry recorded instead (lazy expiry); then the fencing token must hold the unexpired lease
 * (`StaleFencingToken`), the expected version must match (`VersionConflict`), and the event must be allowed
 * (`InvalidTransition`). Ending (`close`) sets `endedAt` and `endReason`; any other write is activity (`activeAt`).
 * The version grows by one.
 */
export const applyWrite = (
  held: Held,
  write: SessionWrite,
  now: EpochMillis
): Either.Either<
  Transitioned,
  SessionNotFound | SessionEnded | StaleFencingToken | VersionConflict | InvalidTransition
> => {
  const current = held.session
  if (write.owner !== undefined && current.owner !== write.owner) {
    return Either.left(new SessionNotFound({ id: current.id }))
  }
  const refused = ended(current)
  if (refused !== undefined) return Either.left(refused)
  if (heldExpired(held, now)) return Either.right(expire(held))
  const stale = staleFence(held, write.fence, now)
  if (stale !== undefined) return Either.left(stale)
  if (write.expectedVersion !== undefined && write.expectedVersion !== current.version) {
    return Either.left(
      new VersionConflict({ id: current.id, expected: write.expectedVersion, actual: current.version })
    )
  }
  let status = current.status
  if (write.event !== undefined) {
    const next = transition(current, write.event)
    if (Either.isLeft(next)) return Either.left(next.left)
    status = next.right
  }
  const data = write.data === undefined ? current.data : write.data
  const version = current.version + 1
  const session: Session = isEnded(status)
    ? { ...current, status, data, endedAt: now, endReason: write.reason ?? ("closed" as EndReason), version }
    : { ...current, ...activeAt(current, now), status, data, version }
  return Either.right({ session, from: current.status })
}

/**
 * Activity on a held session at `now`: `lastActiveAt` and `expiresAt` move (`activeAt`), `activity` adds messages
 * and a response time to the rolling window; data, status and version stay. Refused on another owner's session when
 * scoped to an owner (`SessionNotFound`) and on a tombstone; a session that has expired gets its expiry recorded
 * instead.
 */
export const applyTouch = (
  held: Held,
  activity: ActivityRecord | undefined,
  now: EpochMillis,
  owner?: OwnerId | undefined
): Either.Either<Transitioned, SessionNotFound | SessionEnded> => {
  const current = held.session
  if (owner !== undefined && current.owner !== owner) return Either.left(new SessionNotFound({ id: current.id }))
  const refused = ended(current)
  if (refused !== undefined) return Either.left(refused)
  if (heldExpired(held, now)) return Either.right(expire(held))
  const session: Session = activity === undefined
    ? { ...current, ...activeAt(current, now) }
    : {
      ...current,
      ...activeAt(current, now),
      messageCount: current.messageCount + activity.messages,
      responseTimes: activity.responseTime === null
        ? current.responseTimes
        : pushResponseTime(current.responseTimes, activity.responseTime, activity.window)
    }
  return Either.right({ session, from: current.status })
}

/**
 * What a regenerate does (`applyRegenerate`): `moved`, the session goes under its new id (the store deletes the old
 * record with its lease, stores `session`, and moves the owner's active pointer to it if it was on the old id);
 * `expired`, the session had expired, and its expiry is recorded instead, as a write records it; `landed`, this very
 * regenerate had already landed (a retried call), and nothing changes.
 */
export type Regeneration =
  | { readonly _tag: "moved"; readonly session: Session }
  | { readonly _tag: "expired"; readonly expired: Transitioned }
  | { readonly _tag: "landed"; readonly session: Session }

/**
 * A regenerate of session `id` under `newId` at `now`, from what the store read in its atomic step: `held`, the
 * session stored under `id` (`undefined` if none), and `landed`, the session stored under `newId` as seen now
 * (`undefined` if none). With the old id gone and the new one stored (of the guard's owner, when scoped), a regenerate
 * that had landed is answered as `landed`. Otherwise refused on a missing session or another owner's when scoped
 * (`SessionNotFound`) and on a tombstone (`SessionEnded`); a session that has expired gets its expiry recorded
 * instead; then the fencing token must hold the unexpired lease (`StaleFencingToken`), and `newId` must be free
 * (`StoreError`). The session moves whole: data, owner, name, kind, status, creation, activity, expiry and `version`
 * stay as they are (a new id is no write of the session, so a compare-and-set on its version still holds).
 */
export const applyRegenerate = (
  held: Held | undefined,
  landed: Session | undefined,
  id: SessionId,
  newId: SessionId,
  guard: RegenerateGuard,
  now: EpochMillis
): Either.Either<Regeneration, SessionNotFound | SessionEnded | StaleFencingToken | StoreError> => {
  if (held === undefined) {
    return landed !== undefined && (guard.owner === undefined || landed.owner === guard.owner)
      ? Either.right({ _tag: "landed", session: landed })
      : Either.left(new SessionNotFound({ id }))
  }
  const current = held.session
  if (guard.owner !== undefined && current.owner !== guard.owner) return Either.left(new SessionNotFound({ id }))
  const refused = ended(current)
  if (refused !== undefined) return Either.left(refused)
  if (heldExpired(held, now)) return Either.right({ _tag: "expired", expired: expire(held) })
  const stale = staleFence(held, guard.fence, now)
  if (stale !== undefined) return Either.left(stale)
  if (landed !== undefined || newId === id) {
    return Either.left(new StoreError({ operation: "regenerate", reason: `session id ${newId} is already stored` }))
  }
  return Either.right({ _tag: "moved", session: { ...current, id: newId } })
}

/** What a regenerate returns: the session under its new id, or the expiry it recorded instead. */
export const regenerated = (r: Regeneration): Transitioned =>
  r._tag === "expired" ? r.expired : { session: r.session, from: r.session.status }

/**
 * Why a lease on the held session cannot go to `holder` at `now`: the session has ended or expired
 * (`SessionEnded`), or another holder's lease is unexpired (`LeaseHeld`); `undefined` when it can (an expired lease,
 * or the same holder's, is taken over).
 */
export const leaseRefusal = (held: Held, holder: string, now: number): SessionEnded | LeaseHeld | undefined => {
  const refused = ended(seenAt(held, now))
  if (refused !== undefined) return refused
  const lease = held.lease
  return lease !== null && leaseLive(lease, now) && lease.holder !== holder
    ? new LeaseHeld({ id: held.session.id, holder: lease.holder, expiresAt: lease.expiresAt })
    : undefined
}

/** A new lease for `holder` with the store's next fencing token, lasting `ttl` from `now`. */
export const newLease = (
  id: SessionId,
  holder: string,
  token: number,
  ttl: Duration.Duration,
  now: number
): Lease => ({ sessionId: id, holder, token, expiresAt: (now + Duration.toMillis(ttl)) as EpochMillis })

/**
 * `lease` renewed to `now + ttl`, if it is still the session's current unexpired lease (`current` as the store holds
 * it); `StaleFencingToken` if it expired, was taken over or released, or the session ended.
 */
export const renewLease = (
  lease: Lease,
  current: LeaseState | null,
  ttl: Duration.Duration,
  now: number
): Either.Either<Lease, StaleFencingToken> =>
  current !== null && current.token === lease.token && leaseLive(current, now)
    ? Either.right({ ...lease, expiresAt: (now + Duration.toMillis(ttl)) as EpochMillis })
    : Either.left(new StaleFencingToken({ id: lease.sessionId, token: lease.token }))

/**
 * Why `id` cannot become `owner`'s active session at `now`: it is not the owner's (`SessionNotFound`, as if missing)
 * or it has ended or expired (`SessionEnded`); `undefined` when it can.
 */
export const activationRefusal = (
  held: Held | undefined,
  id: SessionId,
  owner: OwnerId,
  now: number
): SessionNotFound | SessionEnded | undefined =>
  held === undefined || held.session.owner !== owner ? new SessionNotFound({ id }) : ended(seenAt(held, now))

/** The `Ended` record of a write that ended a session by expiry or eviction. */
export const endingOf = (t: Transitioned): Ended => ({
  id: t.session.id,
  owner: t.session.owner,
  from: t.from as LiveStatus,
  status: t.session.status as "expired" | "evicted",
  endReason: t.session.endReason!,
  endedAt: t.session.endedAt!
})

/** The fields of a stored live session that its expiry reads. */
export type ExpiringRecord = Pick<
  Session,
  "id" | "owner" | "status" | "createdAt" | "lastActiveAt" | "expiresAt" | "idleTimeout" | "maxLifetime"
>

/**
 * The `Ended` record of the expiry of a live session that has expired, exactly `endingOf(expire(held))`, read from
 * the stored fields alone: for a store that records the expiry in place (status `expired`, `endedAt` and `endReason`
 * as here, the version one higher) without making a copy of the session first.
 */
export const expiryEnding = (record: ExpiringRecord, lease: LeaseState | null): Ended => ({
  id: record.id,
  owner: record.owner,
  from: record.status as LiveStatus,
  status: "expired",
  endReason: expiryReason(record) as EndReason,
  endedAt: expiryInstant(record.expiresAt, lease === null ? null : lease.expiresAt)
})

/** Whether a session, as seen now, matches every filter a listing gives. */
export const matchesQuery = (query: ListQuery, session: Session): boolean =>
  (query.status === undefined || session.status === query.status) &&
  (query.kind === undefined || session.kind === query.kind) &&
  (query.owner === undefined || session.owner === query.owner)

/** The cursor after the stored record at position `seq` (every store numbers its records in insertion order). */
export const cursorOf = (seq: number): Cursor => `c${seq.toString(36)}` as Cursor

/** The position a cursor stands for, or `InvalidInput` naming the cursor when it is not one a store made. */
export const positionOf = (cursor: Cursor): Either.Either<number, InvalidInput> =>
  /^c[0-9a-z]{1,11}$/.test(cursor)
    ? Either.right(parseInt(cursor.slice(1), 36))
    : Either.left(
      new InvalidInput({ field: "cursor", reason: "is not a cursor from this store", expected: "a page's next" })
    )

/** The instant before which (inclusive) tombstones are purged at `now`, given the `retention`. */
export const purgeCutoff = (now: number, retention: Duration.Duration): number => now - Duration.toMillis(retention)
