/**
 * The SQLite store's operations, synchronous on one better-sqlite3 connection. Writes that check before they write
 * (capacity, names, versions, leases) run in immediate transactions, so they hold the write lock from their first
 * read and stay atomic across processes sharing the file.
 */
import type Database from "better-sqlite3"
import { Duration, Either, Option } from "effect"
import { pushResponseTime } from "../../../domain/Activity.js"
import {
  CapacityExceeded,
  CorruptRecord,
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
import { expiresAt, expiryReason } from "../../../domain/Expiry.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import { transition } from "../../../domain/Lifecycle.js"
import {
  type EndReason,
  type EpochMillis,
  isEnded,
  type Session,
  type SessionStatus,
  type StatusCounts
} from "../../../domain/Session.js"
import type {
  ActivityRecord,
  Cursor,
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

interface RowWithLease extends SessionRow {
  readonly lease_holder: string | null
  readonly lease_expires_at: number | null
  readonly lease_token: number | null
}

const cursorOf = (seq: number): Cursor => `s${seq.toString(36)}` as Cursor

const seqOf = (cursor: Cursor): Either.Either<number, InvalidInput> =>
  /^s[0-9a-z]{1,11}$/.test(cursor)
    ? Either.right(parseInt(cursor.slice(1), 36))
    : Either.left(
      new InvalidInput({ field: "cursor", reason: "is not a cursor from this store", expected: "a page's next" })
    )

const zero = (): Record<SessionStatus, number> => ({ active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 })

/** The SQLite store's state: the connection, its statements, the clock and the buffered activity. */
export class SqliteState {
  private readonly st: Statements
  readonly pending: PendingActivity

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
  }

  /** Writes every buffered activity in one transaction; on failure the activity stays buffered. */
  flush(): void {
    if (this.pending.size === 0) return
    const batch = this.pending.drain()
    try {
      this.db.transaction(() => {
        for (const [id, p] of batch) {
          this.st.activity.run(
            p.lastActiveAt,
            p.expiresAt,
            p.messages,
            p.responseTimes === null ? null : JSON.stringify(p.responseTimes),
            id
          )
        }
      })()
    } catch (error) {
      this.pending.restore(batch)
      throw error
    }
  }

  insert(
    session: Session,
    options: InsertOptions
  ): Either.Either<Inserted, SessionNameTaken | CapacityExceeded | StoreError> {
    return this.db.transaction(
      (): Either.Either<Inserted, SessionNameTaken | CapacityExceeded | StoreError> => {
        const existing = this.st.byId.get(session.id) as RowWithLease | undefined
        if (existing !== undefined) {
          const stored = decode(existing)
          if (Either.isLeft(stored)) {
            return Either.left(
              new StoreError({ operation: "insert", reason: `session id ${session.id} is already stored (corrupt)` })
            )
          }
          return stored.right.owner === session.owner && stored.right.createdAt === session.createdAt
            ? Either.right({ session: this.view(stored.right), evicted: [] })
            : Either.left(new StoreError({ operation: "insert", reason: `session id ${session.id} is already stored` }))
        }
        if (session.name !== null && this.st.nameTaken.get(session.owner, session.name) !== undefined) {
          return Either.left(new SessionNameTaken({ owner: session.owner, name: session.name }))
        }
        const now = this.now()
        const evict = options.capacityPolicy === "evict-lru"
        if (evict) this.flush()
        const ownerLive = (this.st.ownerLive.get(session.owner) as { n: number }).n
        const ownerExcess = ownerLive + 1 - options.maxSessionsPerOwner
        const ownerVictims = ownerExcess > 0 && evict
          ? this.st.ownerVictims.all(session.owner, now, ownerExcess) as Array<SessionRow>
          : []
        if (ownerExcess > ownerVictims.length) {
          return Either.left(new CapacityExceeded({ scope: "owner", limit: options.maxSessionsPerOwner }))
        }
        const counts = this.countsNow()
        const globalExcess = counts.active + counts.waiting - ownerVictims.length + 1 - options.maxSessions
        const chosen = new Set(ownerVictims.map((row) => row.seq))
        const globalVictims = globalExcess > 0 && evict
          ? (this.st.globalVictims.all(now, globalExcess + chosen.size) as Array<SessionRow>)
            .filter((row) => !chosen.has(row.seq))
            .slice(0, globalExcess)
          : []
        if (globalExcess > globalVictims.length) {
          return Either.left(new CapacityExceeded({ scope: "global", limit: options.maxSessions }))
        }
        const evicted = [
          ...this.endRows(ownerVictims, "evicted", () => "evicted: owner capacity" as EndReason, now),
          ...this.endRows(globalVictims, "evicted", () => "evicted: capacity" as EndReason, now)
        ]
        this.st.insert.run(...encode(session))
        return Either.right({ session, evicted })
      }
    ).immediate()
  }

  get(id: SessionId): Either.Either<Option.Option<Session>, CorruptRecord> {
    const row = this.st.byId.get(id) as RowWithLease | undefined
    if (row === undefined) return Either.right(Option.none())
    return Either.map(decode(row), (session) => Option.some(this.view(session)))
  }

  update(id: SessionId, write: SessionWrite): Either.Either<
    Transitioned,
    SessionNotFound | SessionEnded | VersionConflict | StaleFencingToken | InvalidTransition | CorruptRecord
  > {
    return this.db.transaction((): Either.Either<
      Transitioned,
      SessionNotFound | SessionEnded | VersionConflict | StaleFencingToken | InvalidTransition | CorruptRecord
    > => {
      const now = this.now()
      const target = this.writable(id, now)
      if (Either.isLeft(target)) return Either.left(target.left)
      if (!("row" in target.right)) return Either.right(target.right)
      const { row, session: current } = target.right
      if (write.fence !== undefined && !(row.lease_token === write.fence && (row.lease_expires_at ?? 0) > now)) {
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
        return Either.right(this.end({ ...current, data }, status, write.reason ?? ("closed" as EndReason), now))
      }
      const next: Session = { ...current, status, data, version: current.version + 1 }
      this.store(next)
      return Either.right({ session: next, from: current.status })
    }).immediate()
  }

  touch(
    id: SessionId,
    activity?: ActivityRecord
  ): Either.Either<Transitioned, SessionNotFound | SessionEnded | CorruptRecord> {
    const now = this.now()
    const run = () => {
      const target = this.writable(id, now)
      if (Either.isLeft(target)) return Either.left(target.left)
      if (!("row" in target.right)) return Either.right(target.right)
      const current = target.right.session
      const lastActiveAt = now > current.lastActiveAt ? now : current.lastActiveAt
      const next: Session = {
        ...current,
        lastActiveAt,
        expiresAt: expiresAt(current, lastActiveAt),
        messageCount: current.messageCount + (activity?.messages ?? 0),
        responseTimes: activity === undefined || activity.responseTime === null
          ? current.responseTimes
          : pushResponseTime(current.responseTimes, activity.responseTime, activity.window)
      }
      this.pending.record(id, next, activity)
      // Write-through when not coalescing, and whenever the buffer is full.
      if (!this.coalesce || this.pending.full) this.flush()
      return Either.right({ session: next, from: current.status })
    }
    // A due session is expired by this touch: that write must be a transaction of its own.
    return this.db.inTransaction ? run() : this.db.transaction(run).immediate()
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
      kind: query.kind !== undefined
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
    const sessions: Array<Session> = []
    const corrupt: Array<CorruptRecord> = []
    for (const row of page) {
      const decoded = decode(row)
      if (Either.isLeft(decoded)) corrupt.push(decoded.left)
      else sessions.push(this.view(decoded.right))
    }
    return Either.right({ sessions, next: more ? cursorOf(page[page.length - 1]!.seq) : null, corrupt })
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

  expire(limit: number): ReadonlyArray<Transitioned> {
    this.flush()
    return this.db.transaction((): ReadonlyArray<Transitioned> => {
      const now = this.now()
      const due = this.st.dueUnleased.all(now, now, limit) as Array<SessionRow>
      return this.endRows(due, "expired", (session) => expiryReason(session) as EndReason, now)
    }).immediate()
  }

  leastRecentlyActive(limit: number, owner?: OwnerId): ReadonlyArray<Session> {
    this.flush()
    const rows = owner === undefined ? this.st.recency.all(limit) : this.st.ownerRecency.all(owner, limit)
    return this.decodeAll(rows as Array<SessionRow>)
  }

  purge(retention: Duration.Duration, limit: number): number {
    return this.st.purge.run(this.now() - Duration.toMillis(retention), limit).changes
  }

  setActive(owner: OwnerId, id: SessionId): Either.Either<Option.Option<SessionId>, SessionNotFound | SessionEnded> {
    return this.db.transaction((): Either.Either<Option.Option<SessionId>, SessionNotFound | SessionEnded> => {
      const row = this.st.byId.get(id) as RowWithLease | undefined
      if (row === undefined || row.owner !== owner) return Either.left(new SessionNotFound({ id }))
      if (row.status !== "active" && row.status !== "waiting") {
        return Either.left(new SessionEnded({ id, status: row.status as "closed" }))
      }
      const previous = this.st.activeOf.get(owner) as { session_id: SessionId } | undefined
      this.st.setActive.run(owner, id)
      return Either.right(previous === undefined ? Option.none() : Option.some(previous.session_id))
    }).immediate()
  }

  getActive(owner: OwnerId): Either.Either<Option.Option<Session>, CorruptRecord> {
    const row = this.st.activeSession.get(owner) as SessionRow | undefined
    if (row === undefined) return Either.right(Option.none())
    return Either.map(decode(row), (session) => Option.some(this.view(session)))
  }

  acquireLease(
    id: SessionId,
    holder: string,
    ttl: Duration.Duration
  ): Either.Either<Lease, SessionNotFound | SessionEnded | LeaseHeld> {
    return this.db.transaction((): Either.Either<Lease, SessionNotFound | SessionEnded | LeaseHeld> => {
      const row = this.st.byId.get(id) as RowWithLease | undefined
      if (row === undefined) return Either.left(new SessionNotFound({ id }))
      if (row.status !== "active" && row.status !== "waiting") {
        return Either.left(new SessionEnded({ id, status: row.status as "closed" }))
      }
      const now = this.now()
      if (row.lease_holder !== null && (row.lease_expires_at ?? 0) > now && row.lease_holder !== holder) {
        return Either.left(new LeaseHeld({ id, holder: row.lease_holder, expiresAt: row.lease_expires_at! }))
      }
      const token = (this.st.nextToken.get() as { value: number }).value
      const lease: Lease = { sessionId: id, holder, token, expiresAt: (now + Duration.toMillis(ttl)) as EpochMillis }
      this.st.putLease.run(id, holder, token, lease.expiresAt)
      return Either.right(lease)
    }).immediate()
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
   * The live row a write to `id` goes to, or the write's outcome without it: `SessionNotFound`, `SessionEnded`, a
   * corrupt row, or the session expired here because it was due and unleased (lazy expiry).
   */
  private writable(id: SessionId, now: EpochMillis): Either.Either<
    { readonly row: RowWithLease; readonly session: Session } | Transitioned,
    SessionNotFound | SessionEnded | CorruptRecord
  > {
    const row = this.st.byId.get(id) as RowWithLease | undefined
    if (row === undefined) return Either.left(new SessionNotFound({ id }))
    const decoded = decode(row)
    if (Either.isLeft(decoded)) return Either.left(decoded.left)
    const session = this.view(decoded.right)
    if (isEnded(session.status)) return Either.left(new SessionEnded({ id, status: session.status }))
    const leased = row.lease_expires_at !== null && row.lease_expires_at > now
    if (session.expiresAt <= now && !leased) {
      return Either.right(this.end(session, "expired", expiryReason(session) as EndReason, now))
    }
    return Either.right({ row, session })
  }

  /** Ends a live session (its buffered activity included) and stores it; the triggers drop its lease and pointer. */
  private end(
    session: Session,
    status: "closed" | "expired" | "evicted",
    reason: EndReason,
    now: EpochMillis
  ): Transitioned {
    const ended: Session = { ...session, status, endedAt: now, endReason: reason, version: session.version + 1 }
    this.store(ended)
    return { session: ended, from: session.status }
  }

  /** Writes every mutable column of `session`, which supersedes its buffered activity. */
  private store(session: Session): void {
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

  /**
   * Ends live rows in a batch (expiry, eviction). A row that does not decode is ended too, by its status columns
   * alone, so it cannot hold up every later batch; it is left out of the result, and `verify` reports it.
   */
  private endRows(
    rows: ReadonlyArray<SessionRow>,
    status: "expired" | "evicted",
    reason: (session: Session) => EndReason,
    now: EpochMillis
  ): Array<Transitioned> {
    const ended: Array<Transitioned> = []
    for (const row of rows) {
      const decoded = decode(row)
      if (Either.isRight(decoded)) {
        const session = this.view(decoded.right)
        ended.push(this.end(session, status, reason(session), now))
      } else {
        this.st.endCorrupt.run(status, now, `${status}; the row does not decode`, row.seq)
      }
    }
    return ended
  }
}
