/**
 * The in-memory store's state and its synchronous operations. Every index is kept incrementally by the operation
 * that changes it; nothing is rebuilt by a scan on a query.
 */
import { Duration, Either, Option } from "effect"
import { pushResponseTime } from "../../../domain/Activity.js"
import {
  CapacityExceeded,
  InvalidInput,
  type InvalidTransition,
  LeaseHeld,
  SessionEnded,
  SessionNameTaken,
  SessionNotFound,
  StaleFencingToken,
  StoreError,
  VersionConflict
} from "../../../domain/Errors.js"
import { activeAt, asSeenAt, expiryInstant, expiryReason, hasExpired } from "../../../domain/Expiry.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import { transition } from "../../../domain/Lifecycle.js"
import {
  type EndedStatus,
  type EndReason,
  type EpochMillis,
  isEnded,
  type Session,
  type SessionStatus,
  type StatusCounts
} from "../../../domain/Session.js"
import { Recency, type RecencyNode } from "../../../internal/Recency.js"
import {
  type ActivityRecord,
  type Cursor,
  type Ended,
  endedOf,
  type Inserted,
  type InsertOptions,
  type Lease,
  type ListQuery,
  type Page,
  type SessionWrite,
  type Transitioned
} from "../../../services/SessionStore.js"
import { MinHeap } from "./MinHeap.js"

/** One stored session with its index links. */
class Entry implements RecencyNode {
  older: RecencyNode | null = null
  newer: RecencyNode | null = null
  linked = false
  lease: Lease | null = null
  removed = false
  /** The key of this entry's current node in the expiry heap; never above `session.expiresAt` while live. */
  heapKey: number
  /** The tag of this entry's current node in the expiry heap: nodes with another tag are stale. */
  heapTag = 0
  constructor(public session: Session, readonly seq: number) {
    this.heapKey = session.expiresAt
  }
}

/** One owner's sessions (tombstones included) and its live sessions by name. */
interface OwnerIndex {
  readonly entries: Set<Entry>
  readonly names: Map<string, Entry>
  live: number
}

const cursorOf = (seq: number): Cursor => `p${seq.toString(36)}` as Cursor

const seqOf = (cursor: Cursor): Either.Either<number, InvalidInput> =>
  /^p[0-9a-z]{1,10}$/.test(cursor)
    ? Either.right(parseInt(cursor.slice(1), 36))
    : Either.left(
      new InvalidInput({ field: "cursor", reason: "is not a cursor from this store", expected: "a page's next" })
    )

const matches = (query: ListQuery, session: Session): boolean =>
  (query.status === undefined || session.status === query.status) &&
  (query.kind === undefined || session.kind === query.kind) &&
  (query.owner === undefined || session.owner === query.owner)

/** The whole state of one in-memory store. Not safe across threads; every method runs to completion. */
export class MemoryState {
  private readonly byId = new Map<string, Entry>()
  private readonly owners = new Map<OwnerId, OwnerIndex>()
  /** Entries in insertion order (by `seq`), with removed ones compacted away once they are half the array. */
  private order: Array<Entry> = []
  private orderGarbage = 0
  private nextSeq = 1
  private readonly expiry = new MinHeap<Entry>()
  private readonly tombstones = new MinHeap<Entry>()
  private readonly recency = new Recency<Entry>()
  private readonly active = new Map<OwnerId, Entry>()
  private readonly leased = new Map<string, Entry>()
  private lastToken = 0
  private live = 0
  private readonly statusCounts: Record<SessionStatus, number> = {
    active: 0,
    waiting: 0,
    closed: 0,
    expired: 0,
    evicted: 0
  }

  constructor(private readonly now: () => EpochMillis) {}

  insert(
    session: Session,
    options: InsertOptions
  ): Either.Either<Inserted, SessionNameTaken | CapacityExceeded | StoreError> {
    const existing = this.byId.get(session.id)
    if (existing !== undefined) {
      return existing.session.owner === session.owner && existing.session.createdAt === session.createdAt
        ? Either.right({ session: existing.session, ended: [] })
        : Either.left(new StoreError({ operation: "insert", reason: `session id ${session.id} is already stored` }))
    }
    const now = this.now()
    const owner = this.owners.get(session.owner)
    // Sessions that have expired never stand in the way: the plan expires the ones in the way, and only then evicts.
    const expiring = new Set<Entry>()
    if (session.name !== null) {
      const holder = owner?.names.get(session.name)
      if (holder !== undefined) {
        if (!this.expired(holder, now)) {
          return Either.left(new SessionNameTaken({ owner: session.owner, name: session.name }))
        }
        expiring.add(holder)
      }
    }
    const evict = options.capacityPolicy === "evict-lru"
    let ownerExcess = (owner?.live ?? 0) - expiring.size + 1 - options.maxSessionsPerOwner
    if (ownerExcess > 0 && owner !== undefined) {
      for (const entry of owner.entries) {
        if (ownerExcess === 0) break
        if (!expiring.has(entry) && !isEnded(entry.session.status) && this.expired(entry, now)) {
          expiring.add(entry)
          ownerExcess--
        }
      }
    }
    const ownerVictims = ownerExcess > 0 && evict && owner !== undefined
      ? this.ownerVictims(owner, ownerExcess, expiring)
      : []
    if (ownerExcess > ownerVictims.length) {
      return Either.left(new CapacityExceeded({ scope: "owner", limit: options.maxSessionsPerOwner }))
    }
    let globalExcess = this.live - expiring.size - ownerVictims.length + 1 - options.maxSessions
    const skipped: Array<Entry> = []
    const popped = globalExcess > 0
      ? this.popDue(globalExcess, (entry) => {
        if (!expiring.has(entry) && !this.leaseLive(entry, now)) return true
        skipped.push(entry)
        return false
      })
      : []
    for (const entry of skipped) this.schedule(entry, entry.heapKey)
    for (const entry of popped) expiring.add(entry)
    globalExcess -= popped.length
    const globalVictims = globalExcess > 0 && evict ? this.globalVictims(globalExcess, ownerVictims, expiring) : []
    if (globalExcess > globalVictims.length) {
      // Nothing changes on a refusal: the due entries taken from the heap go back.
      for (const entry of popped) this.schedule(entry, entry.heapKey)
      return Either.left(new CapacityExceeded({ scope: "global", limit: options.maxSessions }))
    }
    const ended: Array<Ended> = []
    for (const entry of expiring) ended.push(endedOf(this.expireEntry(entry)))
    for (const victim of ownerVictims) {
      ended.push(endedOf(this.end(victim, "evicted", "evicted: owner capacity" as EndReason, now)))
    }
    for (const victim of globalVictims) {
      ended.push(endedOf(this.end(victim, "evicted", "evicted: capacity" as EndReason, now)))
    }
    this.add(session)
    return Either.right({ session, ended })
  }

  get(id: SessionId): Option.Option<Session> {
    const entry = this.byId.get(id)
    return entry === undefined ? Option.none() : Option.some(this.seen(entry, this.now()))
  }

  update(
    id: SessionId,
    write: SessionWrite
  ): Either.Either<
    Transitioned,
    SessionNotFound | SessionEnded | VersionConflict | StaleFencingToken | InvalidTransition
  > {
    const now = this.now()
    const entry = this.writable(id, now)
    if (!(entry instanceof Entry)) return entry
    const current = entry.session
    if (write.fence !== undefined && !this.holds(entry, write.fence, now)) {
      return Either.left(new StaleFencingToken({ id, token: write.fence }))
    }
    if (write.expectedVersion !== undefined && write.expectedVersion !== current.version) {
      return Either.left(new VersionConflict({ id, expected: write.expectedVersion, actual: current.version }))
    }
    let status: SessionStatus = current.status
    if (write.event !== undefined) {
      const next = transition(current, write.event)
      if (Either.isLeft(next)) return Either.left(next.left)
      status = next.right
    }
    const data = write.data === undefined ? current.data : write.data
    if (isEnded(status)) {
      if (data !== current.data) entry.session = { ...current, data }
      return Either.right(this.end(entry, status, write.reason ?? ("closed" as EndReason), now))
    }
    if (status !== current.status) {
      this.statusCounts[current.status]--
      this.statusCounts[status]++
    }
    // A write is activity: its expiry moves out like a touch's (the heap re-keys it lazily, later only).
    entry.session = { ...current, ...activeAt(current, now), status, data, version: current.version + 1 }
    this.recency.use(entry)
    return Either.right({ session: entry.session, from: current.status })
  }

  touch(id: SessionId, activity?: ActivityRecord): Either.Either<Transitioned, SessionNotFound | SessionEnded> {
    const now = this.now()
    const entry = this.writable(id, now)
    if (!(entry instanceof Entry)) return entry
    const current = entry.session
    const next: Session = activity === undefined
      ? { ...current, ...activeAt(current, now) }
      : {
        ...current,
        ...activeAt(current, now),
        messageCount: current.messageCount + activity.messages,
        responseTimes: activity.responseTime === null
          ? current.responseTimes
          : pushResponseTime(current.responseTimes, activity.responseTime, activity.window)
      }
    entry.session = next
    // The heap node keeps its (earlier) key and is re-keyed when it surfaces; only an earlier expiry needs a push.
    if (next.expiresAt < entry.heapKey) this.schedule(entry, next.expiresAt)
    this.recency.use(entry)
    return Either.right({ session: next, from: current.status })
  }

  list(query: ListQuery): Either.Either<Page, InvalidInput> {
    let after = 0
    if (query.after !== undefined) {
      const seq = seqOf(query.after)
      if (Either.isLeft(seq)) return Either.left(seq.left)
      after = seq.right
    }
    const limit = Math.max(1, Math.floor(query.limit))
    const now = this.now()
    const sessions: Array<Session> = []
    let last = 0
    let more = false
    const visit = (entry: Entry): boolean => {
      if (entry.removed || entry.seq <= after) return true
      const session = this.seen(entry, now)
      if (!matches(query, session)) return true
      if (sessions.length === limit) {
        more = true
        return false
      }
      sessions.push(session)
      last = entry.seq
      return true
    }
    if (query.owner !== undefined) {
      for (const entry of this.owners.get(query.owner)?.entries ?? []) if (!visit(entry)) break
    } else {
      for (let i = this.firstAfter(after); i < this.order.length; i++) if (!visit(this.order[i]!)) break
    }
    return Either.right({ sessions, next: more ? cursorOf(last) : null, corrupt: [] })
  }

  counts(): StatusCounts {
    return { ...this.statusCounts }
  }

  ownerCounts(owner: OwnerId): StatusCounts {
    const counts = { active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 }
    for (const entry of this.owners.get(owner)?.entries ?? []) counts[entry.session.status]++
    return counts
  }

  dueForExpiry(limit: number): ReadonlyArray<Session> {
    const due = this.popDue(limit, () => true)
    for (const entry of due) this.schedule(entry, entry.heapKey)
    return due.map((entry) => entry.session)
  }

  expire(limit: number): ReadonlyArray<Ended> {
    const now = this.now()
    const kept: Array<Entry> = []
    const due = this.popDue(limit, (entry) => {
      if (!this.leaseLive(entry, now)) return true
      kept.push(entry)
      return false
    })
    for (const entry of kept) this.schedule(entry, entry.heapKey)
    return due.map((entry) => endedOf(this.expireEntry(entry)))
  }

  leastRecentlyActive(limit: number, owner?: OwnerId): ReadonlyArray<Session> {
    if (owner !== undefined) {
      const index = this.owners.get(owner)
      if (index === undefined) return []
      return [...index.entries]
        .filter((entry) => !isEnded(entry.session.status))
        .sort((a, b) => a.session.lastActiveAt - b.session.lastActiveAt)
        .slice(0, limit)
        .map((entry) => entry.session)
    }
    const sessions: Array<Session> = []
    for (
      let entry = this.recency.oldest;
      entry !== null && sessions.length < limit;
      entry = this.recency.newerThan(entry)
    ) {
      sessions.push(entry.session)
    }
    return sessions
  }

  purge(retention: Duration.Duration, limit: number): number {
    const cutoff = this.now() - Duration.toMillis(retention)
    let purged = 0
    while (purged < limit && this.tombstones.peekKey() <= cutoff) {
      const entry = this.tombstones.pop()
      if (entry.removed) continue
      this.drop(entry)
      purged++
    }
    return purged
  }

  remove(id: SessionId, reason: string): boolean {
    const entry = this.byId.get(id)
    if (entry === undefined) return false
    if (!isEnded(entry.session.status)) this.end(entry, "closed", reason.slice(0, 256) as EndReason, this.now())
    this.drop(entry)
    return true
  }

  setActive(owner: OwnerId, id: SessionId): Either.Either<Option.Option<SessionId>, SessionNotFound | SessionEnded> {
    const entry = this.byId.get(id)
    if (entry === undefined || entry.session.owner !== owner) return Either.left(new SessionNotFound({ id }))
    const status = this.seen(entry, this.now()).status
    if (isEnded(status)) return Either.left(new SessionEnded({ id, status }))
    const previous = this.active.get(owner)
    this.active.set(owner, entry)
    return Either.right(previous === undefined ? Option.none() : Option.some(previous.session.id))
  }

  getActive(owner: OwnerId): Option.Option<Session> {
    const entry = this.active.get(owner)
    if (entry === undefined) return Option.none()
    const session = this.seen(entry, this.now())
    return isEnded(session.status) ? Option.none() : Option.some(session)
  }

  acquireLease(
    id: SessionId,
    holder: string,
    ttl: Duration.Duration
  ): Either.Either<Lease, SessionNotFound | SessionEnded | LeaseHeld> {
    const entry = this.byId.get(id)
    if (entry === undefined) return Either.left(new SessionNotFound({ id }))
    const now = this.now()
    const status = this.seen(entry, now).status
    if (isEnded(status)) return Either.left(new SessionEnded({ id, status }))
    const current = entry.lease
    if (current !== null && current.expiresAt > now && current.holder !== holder) {
      return Either.left(new LeaseHeld({ id, holder: current.holder, expiresAt: current.expiresAt }))
    }
    const lease: Lease = {
      sessionId: id,
      holder,
      token: ++this.lastToken,
      expiresAt: (now + Duration.toMillis(ttl)) as EpochMillis
    }
    entry.lease = lease
    this.leased.set(id, entry)
    return Either.right(lease)
  }

  renewLease(lease: Lease, ttl: Duration.Duration): Either.Either<Lease, StaleFencingToken> {
    const entry = this.byId.get(lease.sessionId)
    const now = this.now()
    if (entry === undefined || !this.holds(entry, lease.token, now)) {
      return Either.left(new StaleFencingToken({ id: lease.sessionId, token: lease.token }))
    }
    const renewed: Lease = { ...lease, expiresAt: (now + Duration.toMillis(ttl)) as EpochMillis }
    entry.lease = renewed
    return Either.right(renewed)
  }

  releaseLease(lease: Lease): void {
    const entry = this.byId.get(lease.sessionId)
    if (entry !== undefined && entry.lease !== null && entry.lease.token === lease.token) this.dropLease(entry)
  }

  leases(): ReadonlyArray<Lease> {
    return [...this.leased.values()].map((entry) => entry.lease!)
  }

  private holds(entry: Entry, token: number, now: number): boolean {
    return entry.lease !== null && entry.lease.token === token && entry.lease.expiresAt > now
  }

  private leaseLive(entry: Entry, now: number): boolean {
    return entry.lease !== null && entry.lease.expiresAt > now
  }

  /** The end of the entry's lease, or `null` without one. */
  private leaseEnd(entry: Entry): number | null {
    return entry.lease === null ? null : entry.lease.expiresAt
  }

  /** The entry's session as every observer sees it at `now` (expired once it has, recorded or not). */
  private seen(entry: Entry, now: number): Session {
    return asSeenAt(entry.session, this.leaseEnd(entry), now)
  }

  /** Whether a live entry has expired at `now`: due, and no unexpired lease holds it. */
  private expired(entry: Entry, now: number): boolean {
    return hasExpired(entry.session, this.leaseEnd(entry), now)
  }

  /**
   * The entry a write to `id` goes to, or the write's outcome without it: `SessionNotFound`, `SessionEnded`, or the
   * session expired here because it was due (lazy expiry).
   */
  private writable(
    id: SessionId,
    now: EpochMillis
  ): Entry | Either.Either<Transitioned, SessionNotFound | SessionEnded> {
    const entry = this.byId.get(id)
    if (entry === undefined) return Either.left(new SessionNotFound({ id }))
    const status = entry.session.status
    if (isEnded(status)) return Either.left(new SessionEnded({ id, status }))
    if (this.expired(entry, now)) return Either.right(this.expireEntry(entry))
    return entry
  }

  /** Records the expiry of a live entry, as `Expiry.expiredSession` describes it. */
  private expireEntry(entry: Entry): Transitioned {
    const session = entry.session
    const at = expiryInstant(session.expiresAt, this.leaseEnd(entry))
    return this.end(entry, "expired", expiryReason(session) as EndReason, at)
  }

  private dropLease(entry: Entry): void {
    entry.lease = null
    this.leased.delete(entry.session.id)
  }

  private add(session: Session): void {
    const entry = new Entry(session, this.nextSeq++)
    this.byId.set(session.id, entry)
    let owner = this.owners.get(session.owner)
    if (owner === undefined) {
      owner = { entries: new Set(), names: new Map(), live: 0 }
      this.owners.set(session.owner, owner)
    }
    owner.entries.add(entry)
    this.order.push(entry)
    this.statusCounts[session.status]++
    if (isEnded(session.status)) {
      this.tombstones.push(session.endedAt ?? 0, entry)
      return
    }
    owner.live++
    this.live++
    if (session.name !== null) owner.names.set(session.name, entry)
    this.schedule(entry, session.expiresAt)
    this.recency.use(entry)
  }

  /** Gives the entry a new canonical node in the expiry heap; its older nodes become stale. */
  private schedule(entry: Entry, key: number): void {
    entry.heapKey = key
    this.expiry.push(key, entry, ++entry.heapTag)
  }

  /** Ends a live entry at instant `at`: status, tombstone queue, and every live-only index. */
  private end(entry: Entry, status: EndedStatus, reason: EndReason, at: EpochMillis): Transitioned {
    const current = entry.session
    const owner = this.owners.get(current.owner)!
    if (current.name !== null && owner.names.get(current.name) === entry) owner.names.delete(current.name)
    owner.live--
    this.live--
    this.statusCounts[current.status]--
    this.statusCounts[status]++
    this.recency.remove(entry)
    if (this.active.get(current.owner) === entry) this.active.delete(current.owner)
    if (entry.lease !== null) this.dropLease(entry)
    entry.session = { ...current, status, endedAt: at, endReason: reason, version: current.version + 1 }
    this.tombstones.push(at, entry)
    return { session: entry.session, from: current.status }
  }

  /** Deletes a tombstone from every index. */
  private drop(entry: Entry): void {
    const session = entry.session
    entry.removed = true
    this.byId.delete(session.id)
    this.statusCounts[session.status]--
    const owner = this.owners.get(session.owner)!
    owner.entries.delete(entry)
    if (owner.entries.size === 0) this.owners.delete(session.owner)
    if (++this.orderGarbage * 2 > this.order.length) {
      // Amortised O(1) per removal: the array is rebuilt once half of it is garbage.
      this.order = this.order.filter((e) => !e.removed)
      this.orderGarbage = 0
    }
  }

  /**
   * Pops up to `limit` live entries due at now that `accept` takes, earliest expiry first, re-keying entries whose
   * expiry moved and dropping nodes of ended or stale entries. The caller pushes back what it does not end.
   */
  private popDue(limit: number, accept: (entry: Entry) => boolean): Array<Entry> {
    const now = this.now()
    const due: Array<Entry> = []
    const heap = this.expiry
    while (due.length < limit && heap.peekKey() <= now) {
      const key = heap.peekKey()
      const entry = heap.pop()
      if (entry.removed || isEnded(entry.session.status) || heap.poppedTag !== entry.heapTag) continue
      if (key < entry.session.expiresAt) {
        this.schedule(entry, entry.session.expiresAt)
        continue
      }
      if (accept(entry)) due.push(entry)
    }
    return due
  }

  private ownerVictims(owner: OwnerIndex, count: number, exclude: ReadonlySet<Entry>): Array<Entry> {
    const now = this.now()
    return [...owner.entries]
      .filter((entry) => !isEnded(entry.session.status) && !this.leaseLive(entry, now) && !exclude.has(entry))
      .sort((a, b) => a.session.lastActiveAt - b.session.lastActiveAt)
      .slice(0, count)
  }

  private globalVictims(count: number, exclude: ReadonlyArray<Entry>, expiring: ReadonlySet<Entry>): Array<Entry> {
    const now = this.now()
    const victims: Array<Entry> = []
    for (
      let entry = this.recency.oldest;
      entry !== null && victims.length < count;
      entry = this.recency.newerThan(entry)
    ) {
      if (!this.leaseLive(entry, now) && !expiring.has(entry) && !exclude.includes(entry)) victims.push(entry)
    }
    return victims
  }

  /** The index in `order` of the first entry with a seq above `seq` (binary search). */
  private firstAfter(seq: number): number {
    let low = 0
    let high = this.order.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.order[mid]!.seq <= seq) low = mid + 1
      else high = mid
    }
    return low
  }
}
