/**
 * The SQLite store's operations, synchronous on one better-sqlite3 connection. Writes that check before they write
 * (capacity, names, versions, leases) run in immediate transactions, created once, so they hold the write lock from
 * their first read and stay atomic across processes sharing the file. Status counters, leases and active pointers are
 * kept in the same transactions, one statement per batch rather than a trigger per row.
 */
import type Database from "better-sqlite3"
import { Duration, Either, Option } from "effect"
import { pushResponseTime } from "../../../domain/Activity.js"
import {
  CapacityExceeded,
  type CorruptRecord,
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
import { activeAt, asSeenAt, expiredSession, expiryInstant, expiryReason, hasExpired } from "../../../domain/Expiry.js"
import { isOwnerId, isSessionId, type OwnerId, type SessionId } from "../../../domain/Ids.js"
import { transition } from "../../../domain/Lifecycle.js"
import {
  type EndReason,
  type EpochMillis,
  isEnded,
  type LiveStatus,
  type Millis,
  type Session,
  type SessionStatus,
  type StatusCounts,
  statuses
} from "../../../domain/Session.js"
import type {
  ActivityRecord,
  Cursor,
  Ended,
  Inserted,
  InsertOptions,
  Lease,
  ListQuery,
  Page,
  SessionWrite,
  Transitioned
} from "../../../services/SessionStore.js"
import { PendingActivity } from "./PendingActivity.js"
import { decode, encode, type SessionRow } from "./rows.js"
import { prepare, type Statements } from "./statements.js"

/** A full row followed by its lease's holder, expiry and token (all null without a lease). */
type RowWithLease = SessionRow

const leaseHolder = (row: RowWithLease) => row[17] as string | null
const leaseExpiresAt = (row: RowWithLease) => row[18] as number | null
const leaseToken = (row: RowWithLease) => row[19] as number | null
const leaseLive = (row: RowWithLease, now: number) => {
  const expires = leaseExpiresAt(row)
  return expires !== null && expires > now
}

/** The columns a batch reads to end a session, with the end of its lease (`null` without one). */
interface LightRow {
  readonly seq: number
  readonly id: SessionId
  readonly owner: OwnerId
  readonly status: LiveStatus
  readonly created_at: number
  readonly last_active_at: number
  readonly expires_at: number
  readonly idle_timeout: number
  readonly max_lifetime: number
  readonly lease_expires_at: number | null
}

/** Aborts a transaction with a typed result, which the transaction's caller returns. */
class Abort<E> {
  constructor(readonly error: E) {}
}

const cursorOf = (seq: number): Cursor => `s${seq.toString(36)}` as Cursor

const seqOf = (cursor: Cursor): Either.Either<number, InvalidInput> =>
  /^s[0-9a-z]{1,11}$/.test(cursor)
    ? Either.right(parseInt(cursor.slice(1), 36))
    : Either.left(
      new InvalidInput({ field: "cursor", reason: "is not a cursor from this store", expected: "a page's next" })
    )

/** Free pages given back to the file system in one step of `reclaim` (8 MiB of 4 KiB pages). */
const reclaimPages = 2048

const zero = (): Record<SessionStatus, number> => ({ active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 })

const constraint = (error: unknown, index: string): boolean =>
  error instanceof Error && "code" in error && error.code === "SQLITE_CONSTRAINT_UNIQUE" &&
  error.message.includes(index)

/** The SQLite store's state: the connection, its statements and transactions, the clock and buffered activity. */
export class SqliteState {
  private readonly st: Statements
  readonly pending: PendingActivity
  private readonly insertTx: Database.Transaction<(session: Session, options: InsertOptions) => Inserted>
  private readonly updateTx: Database.Transaction<(id: SessionId, write: SessionWrite) => Transitioned>
  private readonly lapseTx: Database.Transaction<(id: SessionId) => Transitioned | undefined>
  private readonly expireTx: Database.Transaction<(limit: number) => ReadonlyArray<Ended>>
  private readonly setActiveTx: Database.Transaction<(owner: OwnerId, id: SessionId) => Option.Option<SessionId>>
  private readonly leaseTx: Database.Transaction<(id: SessionId, holder: string, ttl: Duration.Duration) => Lease>
  private readonly writeTx: Database.Transaction<(f: () => unknown) => unknown>

  constructor(
    readonly db: Database.Database,
    private readonly now: () => EpochMillis,
    /** Buffered activity is written once this many sessions have some (also on every flush). */
    maxPending: number,
    /** Whether touches are buffered at all (`touchCoalesce` above zero). */
    private readonly coalesce: boolean,
    /** Called when buffered activity appears after none: the caller schedules a flush. */
    onPending: () => void
  ) {
    this.st = prepare(db)
    this.pending = new PendingActivity(maxPending, onPending)
    this.insertTx = db.transaction((session: Session, options: InsertOptions) => this.insertNow(session, options))
    this.updateTx = db.transaction((id: SessionId, write: SessionWrite) => this.updateNow(id, write))
    this.lapseTx = db.transaction((id: SessionId) => this.lapseNow(id))
    this.expireTx = db.transaction((limit: number) => this.expireNow(limit))
    this.setActiveTx = db.transaction((owner: OwnerId, id: SessionId) => this.setActiveNow(owner, id))
    this.leaseTx = db.transaction((id: SessionId, holder: string, ttl: Duration.Duration) =>
      this.leaseNow(id, holder, ttl)
    )
    this.writeTx = db.transaction((f: () => unknown) => f())
  }

  /** Runs `f` (an immediate transaction), returning a typed failure it aborted with as a `Left`. */
  private guarded<A, E>(f: () => A): Either.Either<A, E> {
    try {
      return Either.right(f())
    } catch (error) {
      if (error instanceof Abort) return Either.left(error.error as E)
      throw error
    }
  }

  /** Writes every buffered activity in one transaction; on failure the activity stays buffered. */
  flush(): void {
    if (this.pending.size === 0) return
    const batch = this.pending.drain()
    try {
      this.writeTx(() => {
        for (const [id, p] of batch) {
          this.st.activity.run(
            p.lastActiveAt,
            p.expiresAt,
            p.messages,
            p.responseTimes === null ? null : JSON.stringify(p.responseTimes),
            id
          )
        }
      })
    } catch (error) {
      this.pending.restore(batch)
      throw error
    }
  }

  insert(
    session: Session,
    options: InsertOptions
  ): Either.Either<Inserted, SessionNameTaken | CapacityExceeded | StoreError> {
    return this.guarded(() => this.insertTx.immediate(session, options))
  }

  /**
   * Inserts first (the unique indexes check the id and the live name), then counts: over a limit, records the expiry
   * of sessions that have expired and stand in the way, then evicts the least recently active unleased sessions other
   * than the new one, or aborts the transaction (the insert and those expiries are undone).
   */
  private insertNow(session: Session, options: InsertOptions): Inserted {
    const now = this.now()
    const ended: Array<Ended> = []
    const seq = this.insertRow(session, now, ended)
    if (typeof seq !== "number") return seq
    this.st.adjustCount.run(1, session.status)
    this.st.adjustOwner.run(session.owner, 1)
    const evict = options.capacityPolicy === "evict-lru"
    let ownerExcess = (this.st.ownerLive.get(session.owner) as { n: number }).n - options.maxSessionsPerOwner
    if (ownerExcess > 0) {
      this.flush()
      const due = this.st.ownerExpired.all(session.owner, now, seq, now, ownerExcess) as Array<LightRow>
      ended.push(...this.endExpired(due))
      ownerExcess -= due.length
    }
    if (ownerExcess > 0) {
      const victims = evict ? this.st.ownerVictims.all(session.owner, seq, now, ownerExcess) as Array<LightRow> : []
      if (victims.length < ownerExcess) {
        throw new Abort(new CapacityExceeded({ scope: "owner", limit: options.maxSessionsPerOwner }))
      }
      ended.push(...this.endBatch(victims, "evicted", () => "evicted: owner capacity" as EndReason, () => now))
    }
    const counts = this.countsNow()
    let globalExcess = counts.active + counts.waiting - options.maxSessions
    if (globalExcess > 0) {
      this.flush()
      const due = this.st.dueUnleased.all(now, now, globalExcess) as Array<LightRow>
      ended.push(...this.endExpired(due))
      globalExcess -= due.length
    }
    if (globalExcess > 0) {
      const victims = evict ? this.st.globalVictims.all(seq, now, globalExcess) as Array<LightRow> : []
      if (victims.length < globalExcess) {
        throw new Abort(new CapacityExceeded({ scope: "global", limit: options.maxSessions }))
      }
      ended.push(...this.endBatch(victims, "evicted", () => "evicted: capacity" as EndReason, () => now))
    }
    return { session, ended }
  }

  /**
   * Writes the new row and returns its seq; a live session holding the name that has expired is recorded as
   * expired first (into `ended`). A retried insert that had landed returns its earlier result instead.
   */
  private insertRow(session: Session, now: EpochMillis, ended: Array<Ended>): number | Inserted {
    for (let attempt = 0;; attempt++) {
      try {
        return Number(this.st.insert.run(...encode(session)).lastInsertRowid)
      } catch (error) {
        // Either unique index may fire first for a retried insert that had landed: check the id before the name.
        const idTaken = constraint(error, "sessions.id")
        const nameTaken = constraint(error, "sessions.owner, sessions.name")
        if (idTaken || (nameTaken && this.st.byId.get(session.id) !== undefined)) return this.existing(session)
        if (!nameTaken) throw error
        if (attempt === 0) {
          this.flush()
          const holder = this.st.liveByName.get(session.owner, session.name) as LightRow | undefined
          if (holder !== undefined && hasExpired(limits(holder), holder.lease_expires_at, now)) {
            ended.push(...this.endExpired([holder]))
            continue
          }
        }
        throw new Abort(new SessionNameTaken({ owner: session.owner, name: session.name! }))
      }
    }
  }

  /** Inserting an id that is stored: a retried insert that had landed (its result), or a conflict (aborts). */
  private existing(session: Session): Inserted {
    const row = this.st.byId.get(session.id) as SessionRow | undefined
    const stored = row === undefined ? undefined : decode(row)
    if (
      stored !== undefined && Either.isRight(stored) && stored.right.owner === session.owner &&
      stored.right.createdAt === session.createdAt
    ) return { session: this.view(stored.right), ended: [] }
    throw new Abort(new StoreError({ operation: "insert", reason: `session id ${session.id} is already stored` }))
  }

  get(id: SessionId): Either.Either<Option.Option<Session>, CorruptRecord> {
    const row = this.st.byId.get(id) as SessionRow | undefined
    if (row === undefined) return Either.right(Option.none())
    return Either.map(decode(row), (session) => Option.some(this.seen(session, this.now())))
  }

  update(id: SessionId, write: SessionWrite): Either.Either<
    Transitioned,
    SessionNotFound | SessionEnded | VersionConflict | StaleFencingToken | InvalidTransition | CorruptRecord
  > {
    return this.guarded(() => this.updateTx.immediate(id, write))
  }

  private updateNow(id: SessionId, write: SessionWrite): Transitioned {
    const now = this.now()
    const row = this.st.byIdWithLease.get(id) as RowWithLease | undefined
    const current = this.liveSession(id, row)
    const leased = leaseLive(row!, now)
    if (hasExpired(current, leaseExpiresAt(row!), now)) return this.expireOne(current, leaseExpiresAt(row!))
    if (write.fence !== undefined && !(leaseToken(row!) === write.fence && leased)) {
      throw new Abort(new StaleFencingToken({ id, token: write.fence }))
    }
    if (write.expectedVersion !== undefined && write.expectedVersion !== current.version) {
      throw new Abort(new VersionConflict({ id, expected: write.expectedVersion, actual: current.version }))
    }
    let status: SessionStatus = current.status
    if (write.event !== undefined) {
      const next = transition(current, write.event)
      if (Either.isLeft(next)) throw new Abort(next.left)
      status = next.right
    }
    const data = write.data === undefined ? current.data : write.data
    const next: Session = isEnded(status)
      ? {
        ...current,
        status,
        data,
        endedAt: now,
        endReason: write.reason ?? ("closed" as EndReason),
        version: current.version + 1
      }
      // A write is activity: its expiry moves out like a touch's.
      : { ...current, ...activeAt(current, now), status, data, version: current.version + 1 }
    this.store(next, current.status)
    return { session: next, from: current.status }
  }

  touch(
    id: SessionId,
    activity?: ActivityRecord
  ): Either.Either<Transitioned, SessionNotFound | SessionEnded | CorruptRecord> {
    const now = this.now()
    let current: Session
    try {
      current = this.liveSession(id, this.st.byId.get(id) as SessionRow | undefined)
    } catch (error) {
      if (error instanceof Abort) return Either.left(error.error)
      throw error
    }
    if (current.expiresAt <= now) {
      const lease = this.st.leaseOf.get(id) as { expires_at: number } | undefined
      if (lease === undefined || lease.expires_at <= now) {
        // Due and unleased: this touch expires it, in a transaction that checks again under the write lock.
        const lapsed = this.guarded<Transitioned | undefined, SessionNotFound | SessionEnded | CorruptRecord>(
          () => this.lapseTx.immediate(id)
        )
        if (Either.isLeft(lapsed) || lapsed.right !== undefined) return lapsed as Either.Either<Transitioned, never>
        // Another process touched it meanwhile: it is not due after all.
        return this.touch(id, activity)
      }
    }
    const next: Session = {
      ...current,
      ...activeAt(current, now),
      messageCount: current.messageCount + (activity?.messages ?? 0),
      responseTimes: activity === undefined || activity.responseTime === null
        ? current.responseTimes
        : pushResponseTime(current.responseTimes, activity.responseTime, activity.window)
    }
    this.pending.record(id, next, activity)
    // Written at once when touches are not coalesced, and whenever the buffer is full.
    if (!this.coalesce || this.pending.full) this.flush()
    return Either.right({ session: next, from: current.status })
  }

  /** Expires the session if it still has expired under the write lock; `undefined` if it no longer has. */
  private lapseNow(id: SessionId): Transitioned | undefined {
    const now = this.now()
    const row = this.st.byIdWithLease.get(id) as RowWithLease | undefined
    const current = this.liveSession(id, row)
    const leaseEnd = leaseExpiresAt(row!)
    return hasExpired(current, leaseEnd, now) ? this.expireOne(current, leaseEnd) : undefined
  }

  list(query: ListQuery): Either.Either<Page, InvalidInput> {
    let after = 0
    if (query.after !== undefined) {
      const seq = seqOf(query.after)
      if (Either.isLeft(seq)) return Either.left(seq.left)
      after = seq.right
    }
    const limit = Math.max(1, Math.floor(query.limit))
    const shape = {
      owner: query.owner !== undefined,
      status: query.status !== undefined,
      kind: query.kind !== undefined,
      expired: query.status === "expired"
    }
    const params: Array<unknown> = [
      ...(shape.owner ? [query.owner] : []),
      ...(shape.status ? [query.status] : []),
      ...(shape.kind ? [query.kind] : []),
      after,
      limit + 1
    ]
    const rows = this.st.list(shape).all(...params) as Array<SessionRow>
    const more = rows.length > limit
    const page = more ? rows.slice(0, limit) : rows
    const now = this.now()
    const sessions: Array<Session> = []
    const corrupt: Array<CorruptRecord> = []
    for (const row of page) {
      const decoded = decode(row)
      if (Either.isLeft(decoded)) corrupt.push(decoded.left)
      else {
        // Filtered again as seen now: a live row that has expired lists as expired (the cursor still follows rows).
        const session = this.seen(decoded.right, now)
        if (query.status === undefined || session.status === query.status) sessions.push(session)
      }
    }
    return Either.right({ sessions, next: more ? cursorOf(page[page.length - 1]![0]) : null, corrupt })
  }

  counts(): StatusCounts {
    return this.countsNow()
  }

  ownerCounts(owner: OwnerId): StatusCounts {
    const counts = zero()
    for (const row of this.st.ownerCounts.all(owner) as Array<{ status: SessionStatus; n: number }>) {
      if (row.status in counts) counts[row.status] = row.n
    }
    return counts
  }

  dueForExpiry(limit: number): ReadonlyArray<Session> {
    this.flush()
    return this.decodeAll(this.st.due.all(this.now(), limit) as Array<SessionRow>)
  }

  expire(limit: number): ReadonlyArray<Ended> {
    this.flush()
    return this.expireTx.immediate(limit)
  }

  private expireNow(limit: number): ReadonlyArray<Ended> {
    const now = this.now()
    return this.endExpired(this.st.dueUnleased.all(now, now, limit) as Array<LightRow>)
  }

  leastRecentlyActive(limit: number, owner?: OwnerId): ReadonlyArray<Session> {
    this.flush()
    const rows = owner === undefined ? this.st.recency.all(limit) : this.st.ownerRecency.all(owner, limit)
    return this.decodeAll(rows as Array<SessionRow>)
  }

  purge(retention: Duration.Duration, limit: number): number {
    const purged = this.writeTx(() => {
      const deleted = this.st.purge.all(this.now() - Duration.toMillis(retention), limit) as Array<{ status: string }>
      const byStatus = new Map<string, number>()
      for (const row of deleted) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1)
      for (const [status, n] of byStatus) this.st.adjustCount.run(-n, status)
      return deleted.length
    }) as number
    if (purged > 0) this.reclaim()
    return purged
  }

  /**
   * Gives free pages back to the file system once they are a large share of the file (after large purges), a bounded
   * number per call so no call holds the write lock long, then cuts the WAL file back. Pages freed by purges are
   * reused by later inserts anyway; this is what makes the file shrink when the store holds less for good.
   */
  private reclaim(): void {
    const free = this.db.pragma("freelist_count", { simple: true }) as number
    const pages = this.db.pragma("page_count", { simple: true }) as number
    if (free < reclaimPages && free * 4 < pages) return
    this.db.pragma(`incremental_vacuum(${reclaimPages})`)
    this.db.pragma("wal_checkpoint(TRUNCATE)")
  }

  /**
   * Moves the row stored under `id` to the quarantine table, whatever it holds, with its lease and active pointer
   * (deleted with it), keeping the counters right for a row whose status and owner still read.
   */
  remove(id: SessionId, reason: string): boolean {
    return this.writeTx.immediate(() => {
      const row = this.st.wholeRow.get(id) as Record<string, unknown> | undefined
      if (row === undefined) return false
      this.pending.forget(id)
      this.st.quarantine.run(id, JSON.stringify(row), reason, this.now())
      const ids = JSON.stringify([id])
      this.st.dropLeases.run(ids)
      this.st.dropPointers.run(ids)
      this.st.deleteRow.run(row["seq"])
      const status = row["status"]
      if (typeof status === "string" && (statuses as ReadonlyArray<string>).includes(status)) {
        this.st.adjustCount.run(-1, status)
        if (!isEnded(status as SessionStatus) && typeof row["owner"] === "string") this.ownerEnded(row["owner"], 1)
      }
      return true
    }) as boolean
  }

  setActive(owner: OwnerId, id: SessionId): Either.Either<Option.Option<SessionId>, SessionNotFound | SessionEnded> {
    return this.guarded(() => this.setActiveTx.immediate(owner, id))
  }

  private setActiveNow(owner: OwnerId, id: SessionId): Option.Option<SessionId> {
    const row = this.st.byId.get(id) as SessionRow | undefined
    if (row === undefined || row[2] !== owner) throw new Abort(new SessionNotFound({ id }))
    this.liveNow(id, row)
    const previous = this.st.activeOf.get(owner) as { session_id: SessionId } | undefined
    this.st.setActive.run(owner, id)
    return previous === undefined ? Option.none() : Option.some(previous.session_id)
  }

  getActive(owner: OwnerId): Either.Either<Option.Option<Session>, CorruptRecord> {
    const row = this.st.activeSession.get(owner) as SessionRow | undefined
    if (row === undefined) return Either.right(Option.none())
    return Either.map(decode(row), (stored) => {
      const session = this.seen(stored, this.now())
      return isEnded(session.status) ? Option.none() : Option.some(session)
    })
  }

  acquireLease(
    id: SessionId,
    holder: string,
    ttl: Duration.Duration
  ): Either.Either<Lease, SessionNotFound | SessionEnded | LeaseHeld> {
    return this.guarded(() => this.leaseTx.immediate(id, holder, ttl))
  }

  private leaseNow(id: SessionId, holder: string, ttl: Duration.Duration): Lease {
    const row = this.st.byIdWithLease.get(id) as RowWithLease | undefined
    if (row === undefined) throw new Abort(new SessionNotFound({ id }))
    this.liveNow(id, row)
    const now = this.now()
    const current = leaseHolder(row)
    if (current !== null && leaseLive(row, now) && current !== holder) {
      throw new Abort(new LeaseHeld({ id, holder: current, expiresAt: leaseExpiresAt(row)! }))
    }
    const token = (this.st.nextToken.get() as { value: number }).value
    const lease: Lease = { sessionId: id, holder, token, expiresAt: (now + Duration.toMillis(ttl)) as EpochMillis }
    this.st.putLease.run(id, holder, token, lease.expiresAt)
    return lease
  }

  renewLease(lease: Lease, ttl: Duration.Duration): Either.Either<Lease, StaleFencingToken> {
    const now = this.now()
    const expires = (now + Duration.toMillis(ttl)) as EpochMillis
    const changed = this.st.renewLease.run(expires, lease.sessionId, lease.token, now).changes
    return changed === 0
      ? Either.left(new StaleFencingToken({ id: lease.sessionId, token: lease.token }))
      : Either.right({ ...lease, expiresAt: expires })
  }

  releaseLease(lease: Lease): void {
    this.st.releaseLease.run(lease.sessionId, lease.token)
  }

  leases(): ReadonlyArray<Lease> {
    return (this.st.leases.all() as Array<
      { session_id: SessionId; holder: string; token: number; expires_at: EpochMillis }
    >)
      .map((row) => ({ sessionId: row.session_id, holder: row.holder, token: row.token, expiresAt: row.expires_at }))
  }

  private countsNow(): Record<SessionStatus, number> {
    const counts = zero()
    for (const row of this.st.counts.all() as Array<{ status: SessionStatus; n: number }>) counts[row.status] = row.n
    return counts
  }

  /** The stored session as this process sees it: with its buffered activity. */
  private view(session: Session): Session {
    return this.pending.apply(session)
  }

  /**
   * The stored session as every observer sees it at `now`: with its buffered activity, and expired once it has
   * (the lease is read only for a session that is due, the rare case).
   */
  private seen(stored: Session, now: number): Session {
    const session = this.view(stored)
    if (isEnded(session.status) || session.expiresAt > now) return session
    const lease = this.st.leaseOf.get(session.id) as { expires_at: number } | undefined
    return asSeenAt(session, lease === undefined ? null : lease.expires_at, now)
  }

  /**
   * Aborts unless the row is a live session as seen now: `SessionEnded` for a tombstone or a session that has
   * expired (not recorded here: the operations that call this do not record expiries), `CorruptRecord` for a row
   * that does not decode.
   */
  private liveNow(id: SessionId, row: SessionRow): void {
    const decoded = decode(row)
    if (Either.isLeft(decoded)) throw new Abort(decoded.left)
    const status = this.seen(decoded.right, this.now()).status
    if (isEnded(status)) throw new Abort(new SessionEnded({ id, status }))
  }

  /** The decoded live session of a row, or an `Abort` with why not (missing, corrupt, ended). */
  private liveSession(id: SessionId, row: SessionRow | undefined): Session {
    if (row === undefined) throw new Abort(new SessionNotFound({ id }))
    const decoded = decode(row)
    if (Either.isLeft(decoded)) throw new Abort(decoded.left)
    const session = this.view(decoded.right)
    if (isEnded(session.status)) throw new Abort(new SessionEnded({ id, status: session.status }))
    return session
  }

  /** Records the expiry of a session that has expired (a write found it so), as `expire` would. */
  private expireOne(session: Session, leaseEnd: number | null): Transitioned {
    const ended = expiredSession(session, leaseEnd)
    this.store(ended, session.status)
    return { session: ended, from: session.status }
  }

  /** Writes every mutable column of `session`, which supersedes its buffered activity, and keeps the counts. */
  private store(session: Session, from: SessionStatus): void {
    this.pending.forget(session.id)
    this.st.write.run(
      session.status,
      session.lastActiveAt,
      session.expiresAt,
      session.endedAt,
      session.endReason,
      session.messageCount,
      JSON.stringify(session.responseTimes),
      JSON.stringify(session.data),
      session.version,
      session.id
    )
    if (session.status !== from) {
      this.st.adjustCount.run(-1, from)
      this.st.adjustCount.run(1, session.status)
      if (isEnded(session.status)) {
        if (!isEnded(from)) this.ownerEnded(session.owner, 1)
        const ids = JSON.stringify([session.id])
        this.st.dropLeases.run(ids)
        this.st.dropPointers.run(ids)
      }
    }
  }

  /** Records the expiry of live rows that have expired, each ended at its expiry instant with its reason. */
  private endExpired(rows: ReadonlyArray<LightRow>): Array<Ended> {
    return this.endBatch(
      rows,
      "expired",
      (row) => expiryReason(limits(row)) as EndReason,
      (row) => expiryInstant(row.expires_at as EpochMillis, row.lease_expires_at)
    )
  }

  /**
   * Ends a batch of live rows (expiry, eviction) with a few set statements, whatever the batch's size: the status
   * columns in one statement over the batch as JSON, then leases, active pointers and counts. Reads no data column.
   */
  private endBatch(
    rows: ReadonlyArray<LightRow>,
    status: "expired" | "evicted",
    reason: (row: LightRow) => EndReason,
    at: (row: LightRow) => EpochMillis
  ): Array<Ended> {
    if (rows.length === 0) return []
    const changes: Array<readonly [number, number, string]> = []
    const left = new Map<string, number>()
    const ended: Array<Ended> = []
    for (const row of rows) {
      const why = reason(row)
      const endedAt = at(row)
      changes.push([row.seq, endedAt, why])
      left.set(row.status, (left.get(row.status) ?? 0) + 1)
      this.pending.forget(row.id)
      // A row damaged beyond its id or owner is ended too, so it cannot hold up later batches, but not reported.
      if (isSessionId(row.id) && isOwnerId(row.owner)) {
        ended.push({ id: row.id, owner: row.owner, from: row.status, status, endReason: why, endedAt })
      }
    }
    this.st.endBatch.run(status, JSON.stringify(changes))
    const ids = JSON.stringify(rows.map((row) => row.id))
    this.st.dropLeases.run(ids)
    this.st.dropPointers.run(ids)
    for (const [from, n] of left) this.st.adjustCount.run(-n, from)
    this.st.adjustCount.run(rows.length, status)
    const byOwner = new Map<string, number>()
    for (const row of rows) byOwner.set(row.owner, (byOwner.get(row.owner) ?? 0) + 1)
    for (const [owner, n] of byOwner) this.ownerEnded(owner, n)
    return ended
  }

  /** `n` of `owner`'s live sessions ended: its live count goes down, and its row goes once it has none. */
  private ownerEnded(owner: string, n: number): void {
    this.st.adjustOwner.run(owner, -n)
    this.st.dropEmptyOwner.run(owner)
  }

  /** The rows that decode, as this process sees them; rows that do not are skipped (`verify` reports them). */
  private decodeAll(rows: ReadonlyArray<SessionRow>): ReadonlyArray<Session> {
    const sessions: Array<Session> = []
    for (const row of rows) {
      const decoded = decode(row)
      if (Either.isRight(decoded)) sessions.push(this.view(decoded.right))
    }
    return sessions
  }
}

/** The expiry limits of a light row (numbers as stored; a damaged row gives a nonsense reason, never a crash). */
const limits = (row: LightRow) => ({
  createdAt: row.created_at as EpochMillis,
  lastActiveAt: row.last_active_at as EpochMillis,
  expiresAt: row.expires_at as EpochMillis,
  idleTimeout: row.idle_timeout as Millis,
  maxLifetime: row.max_lifetime as Millis
})
