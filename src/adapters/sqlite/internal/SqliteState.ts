/**
 * The SQLite store's operations, synchronous on one better-sqlite3 connection. Each reads what the store rules need
 * (in an immediate transaction when it writes, or a savepoint of the batch's when it shares one, so it holds the write
 * lock from its first read and stays atomic across processes sharing the file), applies the rules (`StoreRules`,
 * `InsertPlan`), and persists the outcome.
 */
import type Database from "better-sqlite3"
import { Either, Option } from "effect"
import {
  type CapacityExceeded,
  type CorruptRecord,
  type InvalidTransition,
  SessionEnded,
  SessionNameTaken,
  SessionNotFound,
  type StaleFencingToken,
  type StoreError,
  type VersionConflict
} from "../../../domain/Errors.js"
import { expiryInstant, expiryReason } from "../../../domain/Expiry.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import { capacityNeeds, planInsert, repeatedInsert } from "../../../domain/InsertPlan.js"
import { type EndReason, type EpochMillis, isEnded, type Session, type SessionStatus } from "../../../domain/Session.js"
import {
  candidateOf,
  type CandidateRow,
  decode,
  encode,
  type LightRow,
  type SessionRow
} from "../../../domain/SqlRows.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import { PendingActivity } from "./PendingActivity.js"
import { type Ending, SessionWriter } from "./SessionWriter.js"
import { prepare, type Statements } from "./statements.js"
import { type StoredRow, storedSession, storedWidth } from "./storedRows.js"

/** Aborts a transaction with a typed result, which the transaction's caller returns. */
export class Abort<E> {
  constructor(readonly error: E) {}
}

/** The value of an outcome of the rules, or an abort of the transaction with its refusal. */
export const orAbort = <A, E>(outcome: Either.Either<A, E>): A => {
  if (Either.isLeft(outcome)) throw new Abort(outcome.left)
  return outcome.right
}

export const zero = (): Record<SessionStatus, number> => ({ active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 })

/** An expiry a batch records: ended at its instant, with its reason (as `StoreRules.expire` records one). */
export const expiring = (row: CandidateRow): Ending => ({
  row,
  status: "expired",
  reason: expiryReason(row.session) as EndReason,
  at: expiryInstant(row.session.expiresAt, row.lease === null ? null : row.lease.expiresAt)
})

/** The SQLite store's state: the connection, its statements and transactions, the clock and buffered activity. */
export class SqliteState {
  readonly st: Statements
  readonly pending: PendingActivity
  readonly writer: SessionWriter
  readonly immediate: Database.Transaction<(f: () => unknown) => unknown>

  constructor(
    readonly db: Database.Database,
    readonly now: () => EpochMillis,
    /** Buffered activity is written once this many sessions have some (also on every flush). */
    maxPending: number,
    /** Whether touches are buffered at all (`touchCoalesce` above zero). */
    private readonly coalesce: boolean,
    /** Called when buffered activity appears after none: the caller schedules a flush. */
    onPending: () => void
  ) {
    this.st = prepare(db)
    this.pending = new PendingActivity(maxPending, onPending)
    this.writer = new SessionWriter(this.st, this.pending)
    this.immediate = db.transaction((f: () => unknown) => f())
  }

  /**
   * Runs `f` atomically: in an immediate transaction, or in a savepoint of the transaction already open (a batch of
   * writes). On a throw the database and the buffered activity are both rolled back to where `f` started.
   */
  atomically<A>(f: () => A): A {
    const outermost = !this.db.inTransaction
    const mark = this.pending.mark()
    try {
      const result = this.immediate.immediate(f) as A
      if (outermost) this.pending.settle()
      return result
    } catch (error) {
      this.pending.undo(mark)
      if (outermost) this.pending.settle()
      throw error
    }
  }

  /** Runs `f` atomically (see `atomically`), returning a typed refusal it aborted with as a `Left`. */
  transaction<A, E>(f: () => A): Either.Either<A, E> {
    try {
      return Either.right(this.atomically(f))
    } catch (error) {
      if (error instanceof Abort) return Either.left(error.error as E)
      throw error
    }
  }

  /** Writes every buffered activity in one transaction; on failure the activity stays buffered. */
  flush(): void {
    if (this.pending.size === 0) return
    this.atomically(() => {
      for (const [id, p] of this.pending.drain()) {
        this.st.activity.run(
          p.lastActiveAt,
          p.expiresAt,
          p.messages,
          p.responseTimes === null ? null : JSON.stringify(p.responseTimes),
          id
        )
      }
    })
  }

  /** The stored session as this process sees it: with its buffered activity. */
  view(session: Session): Session {
    return this.pending.apply(session)
  }

  /**
   * The stored session as every observer sees it at `now`: with its buffered activity, and expired once it has (the
   * lease is read only for a session that is due, the rare case).
   */
  seen(stored: Session, now: number): Session {
    const session = this.view(stored)
    if (isEnded(session.status) || session.expiresAt > now) return session
    return Rules.seenAt({ session, lease: this.leaseOf(session.id) }, now)
  }

  leaseOf(id: SessionId): Rules.LeaseState | null {
    const lease = this.st.leaseOf.get(id) as { holder: string; token: number; expires_at: number } | undefined
    return lease === undefined ? null : { holder: lease.holder, token: lease.token, expiresAt: lease.expires_at }
  }

  /**
   * The stored session under `id` (without its buffered activity), read by the hot-path decode; a row it refuses is
   * read again whole and decoded strictly, to the `CorruptRecord` naming its bad column. `undefined` if there is none.
   */
  stored(id: SessionId, row: StoredRow | undefined): Either.Either<Session | undefined, CorruptRecord> {
    if (row === undefined) return Either.right(undefined)
    const session = storedSession(id, row)
    if (session !== undefined) return Either.right(session)
    const whole = this.st.byId.get(id) as SessionRow | undefined
    return whole === undefined ? Either.right(undefined) : decode(whole)
  }

  /** The session with its lease, as the rules read it; aborts `SessionNotFound` or `CorruptRecord`. */
  held(id: SessionId): Rules.Held {
    const row = this.st.sessionWithLease.get(id) as StoredRow | undefined
    const session = orAbort(this.stored(id, row))
    if (session === undefined) throw new Abort(new SessionNotFound({ id }))
    const expiresAt = row![storedWidth + 1]
    return {
      session: this.view(session),
      lease: typeof expiresAt === "number"
        ? { holder: row![storedWidth] as string, token: row![storedWidth + 2] as number, expiresAt }
        : null
    }
  }

  insert(
    session: Session,
    options: Store.InsertOptions
  ): Either.Either<Store.Inserted, SessionNameTaken | CapacityExceeded | StoreError> {
    return this.transaction(() => this.insertNow(session, options))
  }

  private insertNow(session: Session, options: Store.InsertOptions): Store.Inserted {
    const stored = this.st.byId.get(session.id) as SessionRow | undefined
    if (stored !== undefined) {
      // A retried insert that had landed reads back as it is now; any other reuse of the id is refused.
      const decoded = decode(stored)
      return orAbort(repeatedInsert(Either.isRight(decoded) ? this.view(decoded.right) : session, session))
    }
    const now = this.now()
    const ownerLive = (this.st.ownerLive.get(session.owner) as { n: number } | undefined)?.n ?? 0
    const counts = this.countsNow()
    const needs = capacityNeeds(ownerLive, counts.active + counts.waiting, options)
    let ended: ReadonlyArray<Store.Ended> = []
    const named = session.name !== null && this.st.liveByName.get(session.owner, session.name) !== undefined
    if (named || needs.owner > 0 || needs.global > 0) {
      // Expiry and eviction decide on the true activity: what this process buffered is written first.
      this.flush()
      const light = (rows: unknown) => (rows as Array<LightRow>).map(candidateOf)
      const evict = options.capacityPolicy === "evict-lru"
      const holder = session.name === null ? undefined : this.st.liveByName.get(session.owner, session.name)
      const ownerExpired = needs.owner > 0
        ? light(this.st.ownerExpired.all(session.owner, now, 0, now, needs.owner))
        : []
      const globalExpired = needs.global > 0 ? light(this.st.dueUnleased.all(now, now, needs.global)) : []
      const plan = orAbort(planInsert({
        session,
        options,
        now,
        nameHolder: holder === undefined ? undefined : candidateOf(holder as LightRow),
        ownerLive,
        globalLive: counts.active + counts.waiting,
        ownerExpired,
        ownerRecency: needs.owner > 0 && evict
          ? light(this.st.ownerVictims.all(session.owner, 0, now, needs.owner + ownerExpired.length + 1))
          : [],
        globalExpired,
        globalRecency: needs.global > 0 && evict
          ? light(this.st.globalVictims.all(0, now, needs.global + 2 * needs.owner + globalExpired.length + 1))
          : []
      }))
      ended = this.writer.endAll([
        ...plan.expire.map(expiring),
        ...plan.evict.map(({ candidate, reason }): Ending => ({ row: candidate, status: "evicted", reason, at: now }))
      ])
    }
    try {
      this.st.insert.run(...encode(session))
    } catch (error) {
      if (error instanceof Error && error.message.includes("sessions.owner, sessions.name")) {
        throw new Abort(new SessionNameTaken({ owner: session.owner, name: session.name! }))
      }
      throw error
    }
    this.writer.inserted(session.status, session.owner)
    return { session, ended }
  }

  get(id: SessionId): Either.Either<Option.Option<Session>, CorruptRecord> {
    const row = this.st.session.get(id) as StoredRow | undefined
    if (row === undefined) return Either.right(Option.none())
    const session = storedSession(id, row)
    if (session !== undefined) return Either.right(Option.some(this.seen(session, this.now())))
    const stored = this.stored(id, row)
    if (Either.isLeft(stored)) return Either.left(stored.left)
    return Either.right(stored.right === undefined ? Option.none() : Option.some(this.seen(stored.right, this.now())))
  }

  update(id: SessionId, write: Store.SessionWrite): Either.Either<
    Store.Transitioned,
    SessionNotFound | SessionEnded | VersionConflict | StaleFencingToken | InvalidTransition | CorruptRecord
  > {
    return this.transaction(() => {
      const t = orAbort(Rules.applyWrite(this.held(id), write, this.now()))
      this.writer.persist(t)
      return t
    })
  }

  touch(
    id: SessionId,
    activity: Store.ActivityRecord | undefined,
    owner: OwnerId | undefined
  ): Either.Either<Store.Transitioned, SessionNotFound | SessionEnded | CorruptRecord> {
    const now = this.now()
    const stored = this.stored(id, this.st.session.get(id) as StoredRow | undefined)
    if (Either.isLeft(stored)) return Either.left(stored.left)
    if (stored.right === undefined) return Either.left(new SessionNotFound({ id }))
    const session = this.view(stored.right)
    // Without a write lock: a touch that is plain activity is buffered. One that records an expiry is decided again
    // under the write lock, on the session as it is then (another process may have touched it meanwhile).
    const lease = !isEnded(session.status) && session.expiresAt <= now ? this.leaseOf(id) : null
    const outcome = Rules.applyTouch({ session, lease }, activity, now, owner)
    if (Either.isLeft(outcome) || !isEnded(outcome.right.session.status)) {
      if (Either.isRight(outcome)) {
        this.pending.record(id, outcome.right.session, activity)
        // Written at once when touches are not coalesced, and whenever the buffer is full.
        if (!this.coalesce || this.pending.full) this.flush()
      }
      return outcome
    }
    return this.transaction(() => {
      const t = orAbort(Rules.applyTouch(this.held(id), activity, this.now(), owner))
      if (isEnded(t.session.status)) this.writer.persist(t)
      else this.pending.record(id, t.session, activity)
      return t
    })
  }

  /** The counts by status, from the counter table kept with every change. */
  countsNow(): Record<SessionStatus, number> {
    const counts = zero()
    for (const row of this.st.counts.all() as Array<{ status: SessionStatus; n: number }>) counts[row.status] = row.n
    return counts
  }
}
