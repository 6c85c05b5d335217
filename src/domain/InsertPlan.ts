/**
 * What an insert must do, decided once for every store: whether the name is free, whether the global and per-owner
 * limits hold, and if not, which sessions go first (those that have expired, recorded as expired) and which are then
 * evicted under `evict-lru` (least recently active first, never one a lease holds). Pure: the store reads the
 * candidates in its atomic step, calls `planInsert`, and applies the plan or its refusal.
 */
import { Either } from "effect"
import { CapacityExceeded, SessionNameTaken, StoreError } from "./Errors.js"
import { expiryInstant, expiryReason, hasExpired } from "./Expiry.js"
import type { EndReason, EpochMillis, LiveStatus, Session } from "./Session.js"
import type { Ended, Inserted, InsertOptions } from "./StoreRecords.js"

/**
 * A live session as an insert weighs it: its limits and activity, and its lease (no data needed). A store passes
 * its own records when they have this shape (the memory store's entries), or light rows shaped so (SQLite).
 */
export interface Candidate {
  readonly session: Pick<
    Session,
    "id" | "owner" | "status" | "createdAt" | "lastActiveAt" | "expiresAt" | "idleTimeout" | "maxLifetime"
  >
  /** Its lease (`null` without one): a session a live lease holds past `expiresAt` has not expired. */
  readonly lease: { readonly expiresAt: number } | null
}

/** The end of a candidate's lease, or `null`. */
const leaseEnd = (candidate: Candidate): number | null => candidate.lease === null ? null : candidate.lease.expiresAt

/** Why an eviction ended a session, by the limit that made room necessary. */
export const evictionReasons = {
  owner: "evicted: owner capacity" as EndReason,
  global: "evicted: capacity" as EndReason
} as const

/**
 * How many sessions an insert may have to free, per limit, given the live sessions recorded before it: the store
 * reads at most this many candidates that have expired for each limit (and, under `evict-lru`, this many more than it
 * read of those, of the least recently active).
 */
export const capacityNeeds = (
  ownerLive: number,
  globalLive: number,
  options: InsertOptions
): { readonly owner: number; readonly global: number } => ({
  owner: Math.max(0, ownerLive + 1 - options.maxSessionsPerOwner),
  global: Math.max(0, globalLive + 1 - options.maxSessions)
})

/** What a store read, in one atomic step, to decide an insert. Lists hold live sessions other than the new one. */
export interface InsertSituation<C extends Candidate> {
  /** The session to insert. */
  readonly session: Session
  readonly options: InsertOptions
  readonly now: EpochMillis
  /** The owner's live session holding the new one's name, if it has a name and one holds it. */
  readonly nameHolder: C | undefined
  /** The owner's live sessions recorded before this insert. */
  readonly ownerLive: number
  /** All live sessions recorded before this insert. */
  readonly globalLive: number
  /** The owner's sessions that have expired at `now`, earliest expiry first (up to `capacityNeeds(...).owner`). */
  readonly ownerExpired: ReadonlyArray<C>
  /** The owner's sessions no unexpired lease holds, least recently active first (enough to evict from). */
  readonly ownerRecency: ReadonlyArray<C>
  /** Sessions that have expired at `now`, earliest expiry first (up to `capacityNeeds(...).global`). */
  readonly globalExpired: ReadonlyArray<C>
  /** Sessions no unexpired lease holds, least recently active first (enough to evict from). */
  readonly globalRecency: ReadonlyArray<C>
}

/** The sessions an insert ends before it stores the new one: expiries to record, then evictions with their reason. */
export interface InsertPlan<C extends Candidate> {
  readonly expire: ReadonlyArray<C>
  readonly evict: ReadonlyArray<{ readonly candidate: C; readonly reason: EndReason }>
}

/**
 * The plan of an insert, or why it is refused. A session that has expired never stands in the way: the name's holder
 * and, for each limit in turn (the owner's, then the global one), as many sessions that have expired as the limit
 * needs are expired first; under `evict-lru` the least recently active of the rest (none a lease holds) are evicted
 * for what is still missing. `SessionNameTaken` when a live session that has not expired holds the name;
 * `CapacityExceeded{scope, limit}` when a limit cannot be met. Each session appears in the plan at most once.
 */
export const planInsert = <C extends Candidate>(
  situation: InsertSituation<C>
): Either.Either<InsertPlan<C>, SessionNameTaken | CapacityExceeded> => {
  const { now, options } = situation
  const expire: Array<C> = []
  const evict: Array<{ readonly candidate: C; readonly reason: EndReason }> = []
  const planned = new Set<string>()
  const take = (candidate: C, into: "expire" | EndReason) => {
    planned.add(candidate.session.id)
    if (into === "expire") expire.push(candidate)
    else evict.push({ candidate, reason: into })
  }
  const holder = situation.nameHolder
  if (holder !== undefined) {
    if (!hasExpired(holder.session, leaseEnd(holder), now)) {
      return Either.left(new SessionNameTaken({ owner: situation.session.owner, name: situation.session.name ?? "" }))
    }
    take(holder, "expire")
  }
  const free = (excess: number, expired: ReadonlyArray<C>, recency: ReadonlyArray<C>, reason: EndReason): number => {
    for (const candidate of expired) {
      if (excess <= 0) break
      if (!planned.has(candidate.session.id)) {
        take(candidate, "expire")
        excess--
      }
    }
    if (options.capacityPolicy === "evict-lru") {
      for (const candidate of recency) {
        if (excess <= 0) break
        if (!planned.has(candidate.session.id)) {
          take(candidate, reason)
          excess--
        }
      }
    }
    return excess
  }
  const ownerExcess = situation.ownerLive - planned.size + 1 - options.maxSessionsPerOwner
  if (free(ownerExcess, situation.ownerExpired, situation.ownerRecency, evictionReasons.owner) > 0) {
    return Either.left(new CapacityExceeded({ scope: "owner", limit: options.maxSessionsPerOwner }))
  }
  const globalExcess = situation.globalLive - planned.size + 1 - options.maxSessions
  if (free(globalExcess, situation.globalExpired, situation.globalRecency, evictionReasons.global) > 0) {
    return Either.left(new CapacityExceeded({ scope: "global", limit: options.maxSessions }))
  }
  return Either.right({ expire, evict })
}

/** The plan's endings as the insert reports them (expiries at their instant, evictions at `now`). */
export const endingsOf = <C extends Candidate>(plan: InsertPlan<C>, now: EpochMillis): ReadonlyArray<Ended> => [
  ...plan.expire.map(({ session: s, ...c }): Ended => ({
    id: s.id,
    owner: s.owner,
    from: s.status as LiveStatus,
    status: "expired",
    endReason: expiryReason(s) as EndReason,
    endedAt: expiryInstant(s.expiresAt, c.lease === null ? null : c.lease.expiresAt)
  })),
  ...plan.evict.map(({ candidate: { session: s }, reason }): Ended => ({
    id: s.id,
    owner: s.owner,
    from: s.status as LiveStatus,
    status: "evicted",
    endReason: reason,
    endedAt: now
  }))
]

/**
 * Inserting a session whose id is already stored: a retried insert that had landed (same owner and creation instant)
 * succeeds with the stored session and changes nothing; any other reuse of an id is a `StoreError`.
 */
export const repeatedInsert = (stored: Session, session: Session): Either.Either<Inserted, StoreError> =>
  stored.owner === session.owner && stored.createdAt === session.createdAt
    ? Either.right({ session: stored, ended: [] })
    : Either.left(new StoreError({ operation: "insert", reason: `session id ${session.id} is already stored` }))
