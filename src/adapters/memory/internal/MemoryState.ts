/**
 * The in-memory store's state and its synchronous operations. Each operation reads what it needs from the indexes,
 * applies the store rules (`StoreRules`, `InsertPlan`) and records the outcome; every index is kept incrementally by
 * the operation that changes it, nothing is rebuilt by a scan.
 */
import { type Duration, Either, Option } from "effect"
import { type CapacityExceeded, SessionNotFound, type StoreError } from "../../../domain/Errors.js"
import type { SessionEnded, SessionNameTaken, StaleFencingToken } from "../../../domain/Errors.js"
import type { InvalidInput, InvalidTransition, LeaseHeld, VersionConflict } from "../../../domain/Errors.js"
import { hasExpired } from "../../../domain/Expiry.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import { capacityNeeds, endingsOf, type InsertPlan, planInsert, repeatedInsert } from "../../../domain/InsertPlan.js"
import {
  type EndedStatus,
  type EndReason,
  type EpochMillis,
  isEnded,
  type Session,
  type StatusCounts
} from "../../../domain/Session.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import { Recency } from "../../../internal/Recency.js"
import type { Entry, OwnerIndex } from "./Entry.js"
import { SessionIndexes } from "./SessionIndexes.js"

/** The whole state of one in-memory store. Not safe across threads; every method runs to completion. */
export class MemoryState {
  private readonly ix = new SessionIndexes()
  private readonly recency = new Recency<Entry>()
  private lastToken = 0

  constructor(private readonly now: () => EpochMillis) {}

  insert(
    session: Session,
    options: Store.InsertOptions
  ): Either.Either<Store.Inserted, SessionNameTaken | CapacityExceeded | StoreError> {
    const existing = this.ix.byId.get(session.id)
    if (existing !== undefined) return repeatedInsert(existing.session, session)
    const now = this.now()
    const owner = this.ix.owners.get(session.owner)
    const nameHolder = session.name === null ? undefined : owner?.names.get(session.name)
    const needs = capacityNeeds(owner?.live ?? 0, this.ix.live, options)
    let ended: ReadonlyArray<Store.Ended> = []
    if (nameHolder !== undefined || needs.owner > 0 || needs.global > 0) {
      const planned = this.plan(session, options, now, owner, nameHolder, needs)
      if (Either.isLeft(planned)) return Either.left(planned.left)
      ended = endingsOf(planned.right, now)
      for (const entry of planned.right.expire) this.record(entry, Rules.expire(entry))
      for (const { candidate, reason } of planned.right.evict) this.end(candidate, "evicted", reason, now)
    }
    this.add(session)
    return Either.right({ session, ended })
  }

  /** Reads what an insert at a limit or with a taken name needs, and plans it (nothing changes on a refusal). */
  private plan(
    session: Session,
    options: Store.InsertOptions,
    now: EpochMillis,
    owner: OwnerIndex | undefined,
    nameHolder: Entry | undefined,
    needs: { readonly owner: number; readonly global: number }
  ): Either.Either<InsertPlan<Entry>, SessionNameTaken | CapacityExceeded> {
    const evict = options.capacityPolicy === "evict-lru"
    const unleased = (entry: Entry) => !Rules.leaseLive(entry.lease, now)
    const mine = needs.owner > 0 && owner !== undefined
      ? owner.entries().filter((entry) => !isEnded(entry.status))
      : []
    const ownerExpired = mine.filter((entry) => this.hasExpired(entry, now))
      .sort((a, b) => a.expiresAt - b.expiresAt)
      .slice(0, needs.owner)
    const ownerRecency = evict
      ? mine.filter(unleased).sort((a, b) => a.lastActiveAt - b.lastActiveAt)
      : []
    const skipped: Array<Entry> = []
    const globalExpired = needs.global > 0
      ? this.ix.popDue(needs.global, now, (entry) => unleased(entry) || (skipped.push(entry), false))
      : []
    // A due entry popped from the heap had a node keyed at its `expiresAt`: it goes back as it was.
    for (const entry of skipped) this.ix.schedule(entry, entry.expiresAt)
    const globalRecency = needs.global > 0 && evict
      ? this.leastRecent(needs.global + 2 * needs.owner + globalExpired.length + 1, now)
      : []
    const planned = planInsert({
      session,
      options,
      now,
      nameHolder,
      ownerLive: owner?.live ?? 0,
      globalLive: this.ix.live,
      ownerExpired,
      ownerRecency,
      globalExpired,
      globalRecency
    })
    // The due entries taken from the heap go back unless the plan records their expiry (which drops them).
    const expiring = Either.isRight(planned) ? new Set(planned.right.expire) : new Set<Entry>()
    for (const entry of globalExpired) if (!expiring.has(entry)) this.ix.schedule(entry, entry.expiresAt)
    return planned
  }

  get(id: SessionId): Option.Option<Session> {
    const entry = this.ix.byId.get(id)
    return entry === undefined ? Option.none() : Option.some(Rules.seenAt(entry, this.now()))
  }

  update(
    id: SessionId,
    write: Store.SessionWrite
  ): Either.Either<
    Store.Transitioned,
    SessionNotFound | SessionEnded | VersionConflict | StaleFencingToken | InvalidTransition
  > {
    const entry = this.ix.byId.get(id)
    if (entry === undefined) return Either.left(new SessionNotFound({ id }))
    const outcome = Rules.applyWrite(entry, write, this.now())
    if (Either.isRight(outcome)) this.record(entry, outcome.right)
    return outcome
  }

  touch(
    id: SessionId,
    activity?: Store.ActivityRecord | undefined,
    owner?: OwnerId | undefined
  ): Either.Either<Store.Transitioned, SessionNotFound | SessionEnded> {
    const entry = this.ix.byId.get(id)
    if (entry === undefined) return Either.left(new SessionNotFound({ id }))
    const outcome = Rules.applyTouch(entry, activity, this.now(), owner)
    if (Either.isRight(outcome)) this.record(entry, outcome.right)
    return outcome
  }

  regenerate(
    id: SessionId,
    newId: SessionId,
    guard: Store.RegenerateGuard = {}
  ): Either.Either<Store.Transitioned, SessionNotFound | SessionEnded | StaleFencingToken | StoreError> {
    const entry = this.ix.byId.get(id)
    const landed = this.ix.byId.get(newId)
    const now = this.now()
    const outcome = Rules.applyRegenerate(entry, landed && Rules.seenAt(landed, now), id, newId, guard, now)
    if (Either.isLeft(outcome)) return Either.left(outcome.left)
    const r = outcome.right
    if (r._tag === "expired") this.record(entry!, r.expired)
    // The new entry takes the old one's place in recency: its last activity is the old one's.
    if (r._tag === "moved") this.recency.replace(entry!, this.ix.moveTo(entry!, r.session))
    return Either.right(Rules.regenerated(r))
  }

  list(query: Store.ListQuery): Either.Either<Store.Page, InvalidInput> {
    const after = query.after === undefined ? Either.right(0) : Rules.positionOf(query.after)
    return Either.map(after, (after) => this.ix.page(query, after, this.now()))
  }

  counts(): StatusCounts {
    return { ...this.ix.statusCounts }
  }

  ownerCounts(owner: OwnerId): StatusCounts {
    const counts = { active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 }
    const index = this.ix.owners.get(owner)
    for (let entry = index?.first ?? null; entry !== null; entry = entry.ownerNext) counts[entry.status]++
    return counts
  }

  expire(limit: number): ReadonlyArray<Store.Ended> {
    const now = this.now()
    const kept: Array<Entry> = []
    const due = this.ix.popDue(limit, now, (entry) => !Rules.leaseLive(entry.lease, now) || (kept.push(entry), false))
    for (const entry of kept) this.ix.schedule(entry, entry.expiresAt)
    return due.map((entry) => {
      // Recorded in place: a sweep of many sessions makes no new long-lived object per session.
      const ending = Rules.expiryEnding(entry, entry.lease)
      this.recency.remove(entry)
      this.ix.expired(entry, ending)
      return ending
    })
  }

  purge(retention: Duration.Duration, limit: number): number {
    return this.ix.purge(Rules.purgeCutoff(this.now(), retention), limit)
  }

  remove(id: SessionId, reason: string): boolean {
    const entry = this.ix.byId.get(id)
    if (entry === undefined) return false
    if (!isEnded(entry.status)) this.end(entry, "closed", reason.slice(0, 256) as EndReason, this.now())
    this.ix.drop(entry)
    return true
  }

  setActive(owner: OwnerId, id: SessionId): Either.Either<Option.Option<SessionId>, SessionNotFound | SessionEnded> {
    const entry = this.ix.byId.get(id)
    const refusal = Rules.activationRefusal(entry, id, owner, this.now())
    if (refusal !== undefined) return Either.left(refusal)
    const previous = this.ix.active.get(owner)
    this.ix.active.set(owner, entry!)
    return Either.right(previous === undefined ? Option.none() : Option.some(previous.id))
  }

  getActive(owner: OwnerId): Option.Option<Session> {
    const entry = this.ix.active.get(owner)
    if (entry === undefined) return Option.none()
    const session = Rules.seenAt(entry, this.now())
    return isEnded(session.status) ? Option.none() : Option.some(session)
  }

  acquireLease(
    id: SessionId,
    holder: string,
    ttl: Duration.Duration
  ): Either.Either<Store.Lease, SessionNotFound | SessionEnded | LeaseHeld> {
    const entry = this.ix.byId.get(id)
    if (entry === undefined) return Either.left(new SessionNotFound({ id }))
    const now = this.now()
    const refusal = Rules.leaseRefusal(entry, holder, now)
    if (refusal !== undefined) return Either.left(refusal)
    const lease = Rules.newLease(id, holder, ++this.lastToken, ttl, now)
    this.ix.setLease(entry, lease)
    return Either.right(lease)
  }

  renewLease(lease: Store.Lease, ttl: Duration.Duration): Either.Either<Store.Lease, StaleFencingToken> {
    const entry = this.ix.byId.get(lease.sessionId)
    const renewed = Rules.renewLease(lease, entry?.lease ?? null, ttl, this.now())
    if (Either.isRight(renewed)) entry!.lease = renewed.right
    return renewed
  }

  releaseLease(lease: Store.Lease): void {
    const entry = this.ix.byId.get(lease.sessionId)
    if (entry !== undefined && entry.lease !== null && entry.lease.token === lease.token) this.ix.setLease(entry, null)
  }

  leases(): ReadonlyArray<Store.Lease> {
    return [...this.ix.leased.values()].map((entry) => entry.lease!)
  }

  private hasExpired(entry: Entry, now: number): boolean {
    return hasExpired(entry, entry.lease === null ? null : entry.lease.expiresAt, now)
  }

  /**
   * Records what the rules decided for a stored entry: the session it left, and every index it changes (the live
   * indexes when it ends, the counts when its status moves, recency and the expiry heap when it was active).
   */
  private record(entry: Entry, t: Store.Transitioned): Store.Transitioned {
    const next = t.session
    if (isEnded(next.status)) {
      if (!isEnded(t.from)) this.ended(entry, next)
      else entry.store(next)
      return t
    }
    this.ix.moved(entry.status, next.status)
    const before = entry.expiresAt
    entry.store(next)
    // The heap node keeps its (earlier) key and is re-keyed when it surfaces; only an earlier expiry needs a push.
    if (next.expiresAt < before) this.ix.schedule(entry, next.expiresAt)
    this.recency.use(entry)
    return t
  }

  /** Ends a live entry as `status` at instant `at` (eviction, an operator's removal). */
  private end(entry: Entry, status: EndedStatus, reason: EndReason, at: EpochMillis): void {
    this.ended(entry, { ...entry.session, status, endedAt: at, endReason: reason, version: entry.version + 1 })
  }

  /** A live entry ended as `next`: out of every live index, into the tombstone queue. */
  private ended(entry: Entry, next: Session): void {
    this.recency.remove(entry)
    this.ix.ended(entry, next)
  }

  /** Up to `count` live entries no unexpired lease holds, least recently active first. */
  private leastRecent(count: number, now: number): Array<Entry> {
    const found: Array<Entry> = []
    for (
      let entry = this.recency.oldest;
      entry !== null && found.length < count;
      entry = this.recency.newerThan(entry)
    ) {
      if (!Rules.leaseLive(entry.lease, now)) found.push(entry)
    }
    return found
  }

  private add(session: Session): void {
    const entry = this.ix.add(session)
    if (!isEnded(session.status)) this.recency.use(entry)
  }
}
