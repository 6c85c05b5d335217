/**
 * The `SessionStore` port: where sessions live. Every backend (memory, SQLite, Postgres) implements this contract
 * and passes the one contract suite in `test/contract/`.
 *
 * Common rules for every method:
 * - Each call is atomic: it sees the store in one state and leaves it in one state, whatever runs concurrently
 *   (in this process or, for shared stores, in others).
 * - "Now" is read from the store's `Clock`, so `TestClock` drives every time rule.
 * - Failures are typed: `StoreUnavailable` for transient conditions (callers may retry), `StoreError` for permanent
 *   ones, plus the domain errors each method lists. Driver errors never leak.
 * - A session is *live* while its status is `active` or `waiting`; it has *ended* when `closed`, `expired` or
 *   `evicted`, and is then kept as a tombstone until purged.
 * - A live session *has expired* once now reaches its `expiresAt` while no unexpired lease holds it (see
 *   `Expiry.hasExpired`); it ended at `Expiry.expiryInstant`. From that instant it is expired for every observer,
 *   recorded or not: reads (`get`, `list`, `getActive`) present it as `Expiry.expiredSession` describes it; a write
 *   to it (`update`, `touch`) is not applied: the store records the expiry instead and returns it so; `setActive`
 *   and `acquireLease` refuse it as ended; and it never holds a name or a capacity slot against an insert (see
 *   `insert`). Only the counts (`counts`, `ownerCounts`) may still count it live until a sweep records it.
 */
import { Context, type Duration, type Effect, type Either, type Option } from "effect"
import type { CapacityPolicy } from "../domain/Config.js"
import type {
  CapacityExceeded,
  CorruptRecord,
  InvalidInput,
  InvalidTransition,
  LeaseHeld,
  SessionEnded,
  SessionNameTaken,
  SessionNotFound,
  StaleFencingToken,
  StoreError,
  StoreFailure,
  VersionConflict
} from "../domain/Errors.js"
import type { OwnerId, SessionId, SessionKind } from "../domain/Ids.js"
import type {
  EndReason,
  EpochMillis,
  JsonValue,
  LiveStatus,
  Millis,
  Session,
  SessionStatus,
  StatusCounts
} from "../domain/Session.js"

/** The limits an insert must respect, and what to do when it would pass one. */
export interface InsertOptions {
  readonly maxSessions: number
  readonly maxSessionsPerOwner: number
  /** `reject`: fail `CapacityExceeded`. `evict-lru`: end the least recently active unleased sessions to make room. */
  readonly capacityPolicy: CapacityPolicy
}

/** A session as a write left it, and the status it had before (equal to its status if that did not change). */
export interface Transitioned {
  readonly session: Session
  readonly from: SessionStatus
}

/**
 * A session that a batch operation (expiry, eviction) ended: who it was, the status it left, why and when. Lighter
 * than the whole record, so a store can end a batch without reading every session back.
 */
export interface Ended {
  readonly id: SessionId
  readonly owner: OwnerId
  readonly from: LiveStatus
  readonly status: "expired" | "evicted"
  readonly endReason: EndReason
  readonly endedAt: EpochMillis
}

/** The `Ended` record of a write that ended a session by expiry or eviction. */
export const endedOf = (t: Transitioned): Ended => ({
  id: t.session.id,
  owner: t.session.owner,
  from: t.from as LiveStatus,
  status: t.session.status as "expired" | "evicted",
  endReason: t.session.endReason!,
  endedAt: t.session.endedAt!
})

/**
 * What an insert did: the session stored, and the sessions it ended to make room: expired ones that stood in the way
 * (recorded as expired), then, under `evict-lru`, evicted ones.
 */
export interface Inserted {
  readonly session: Session
  readonly ended: ReadonlyArray<Ended>
}

/** ActivityRecord to record with a touch: messages to add and a response time for the rolling window. */
export interface ActivityRecord {
  readonly messages: number
  readonly responseTime: Millis | null
  /** The window's length (`responseTimeWindow`); the store keeps at most this many response times. */
  readonly window: number
}

/**
 * One write to a session: new data, a lifecycle event, or both. The store applies the event with
 * `Lifecycle.transition` inside the same atomic step, so status changes never need a retry loop.
 */
export interface SessionWrite {
  readonly data?: JsonValue | undefined
  readonly event?: "wait" | "resume" | "close" | undefined
  /** Why the session ended, for `close` (default "closed"). */
  readonly reason?: EndReason | undefined
  /** Compare-and-set: the write happens only if the stored version is this one. */
  readonly expectedVersion?: number | undefined
  /** A fencing token: the write happens only if it is the session's current, unexpired lease. */
  readonly fence?: number | undefined
}

/** An opaque position in a listing, returned as `next` and given back as `after`. */
export type Cursor = string & { readonly Cursor: unique symbol }

/** Which sessions to list, and from where. */
export interface ListQuery {
  readonly owner?: OwnerId | undefined
  readonly status?: SessionStatus | undefined
  readonly kind?: SessionKind | undefined
  /** Continue after this cursor (from a previous page's `next`). */
  readonly after?: Cursor | undefined
  /** Most sessions in the page (at least 1). */
  readonly limit: number
}

/** One page of a listing. */
export interface Page {
  readonly sessions: ReadonlyArray<Session>
  /** Where the next page starts, or `null` when this page is the last. */
  readonly next: Cursor | null
  /** Stored records in this range that could not be decoded: reported here and skipped, never failing the page. */
  readonly corrupt: ReadonlyArray<CorruptRecord>
}

/** A lease on a session: exclusive work by `holder` until `expiresAt`, guarded by the fencing `token`. */
export interface Lease {
  readonly sessionId: SessionId
  readonly holder: string
  /** Strictly greater than every token issued before it by this store, for any session. */
  readonly token: number
  readonly expiresAt: EpochMillis
}

/**
 * Synchronous access to the hot operations of a store that does no I/O (the memory store). Each method is the
 * operation of the same name in `SessionStoreShape`, with the same contract, run at once with its outcome as an
 * `Either`. The manager uses it to serve a call in a single step, with no timeout or retry: such calls can neither
 * hang nor fail transiently.
 */
export interface SessionStoreDirect {
  readonly insert: (
    session: Session,
    options: InsertOptions
  ) => Either.Either<Inserted, SessionNameTaken | CapacityExceeded | StoreError>
  readonly get: (id: SessionId) => Option.Option<Session>
  readonly update: (
    id: SessionId,
    write: SessionWrite
  ) => Either.Either<
    Transitioned,
    SessionNotFound | SessionEnded | InvalidTransition | VersionConflict | StaleFencingToken
  >
  readonly touch: (
    id: SessionId,
    activity?: ActivityRecord
  ) => Either.Either<Transitioned, SessionNotFound | SessionEnded>
}

/** The operations of a session store. */
export interface SessionStoreShape {
  /** Present when every call completes in this process without I/O: see `SessionStoreDirect`. */
  readonly direct: SessionStoreDirect | undefined

  /**
   * Whether the store bounds the time of each call itself (SQLite: a call waits at most its busy timeout, then fails
   * `StoreUnavailable`). The manager then sets no deadline of its own around calls (a timer cannot stop a
   * synchronous call anyway) but still retries transient failures.
   */
  readonly selfBounded: boolean

  /**
   * Stores a new live session (status `active` or `waiting`, version 1). Atomically checks that the owner has no
   * other live session with the same name (`SessionNameTaken`), and that the store then holds at most `maxSessions`
   * live sessions and the owner at most `maxSessionsPerOwner` (`CapacityExceeded{scope, limit}`). Under `evict-lru`
   * it first ends (status `evicted`) the least recently active live sessions that hold no unexpired lease (the
   * owner's own when the owner limit binds), as few as make room; if none can go it fails `CapacityExceeded`.
   * Sessions that have expired never stand in the way: one holding the name, or holding a slot the insert needs
   * (the owner's for the owner limit, the earliest due for the global one), is recorded as expired in the same
   * atomic step, before anything is evicted; all of them are returned in `ended`. On any failure nothing changes.
   * Inserting again a session already stored under its id with the same owner and
   * `createdAt` succeeds without change (a retried insert that had landed); any other reuse of an id fails
   * `StoreError`.
   */
  readonly insert: (
    session: Session,
    options: InsertOptions
  ) => Effect.Effect<Inserted, SessionNameTaken | CapacityExceeded | StoreFailure>

  /** The session with this id, tombstones included; `None` if there is none. */
  readonly get: (id: SessionId) => Effect.Effect<Option.Option<Session>, CorruptRecord | StoreFailure>

  /**
   * Applies one write: `expectedVersion` must match (`VersionConflict{expected, actual}`), `fence` must be the
   * current unexpired lease (`StaleFencingToken`), the event must be allowed (`InvalidTransition`), and an ended
   * session takes no writes (`SessionEnded`). Bumps `version` by one. Ending a session (`close`) sets `endedAt` and
   * `endReason`, frees its name, clears its active pointer and its lease. A due session is expired instead (see the
   * module notes). Returns the stored result with the status it had before.
   */
  readonly update: (
    id: SessionId,
    write: SessionWrite
  ) => Effect.Effect<
    Transitioned,
    | SessionNotFound
    | SessionEnded
    | InvalidTransition
    | VersionConflict
    | StaleFencingToken
    | CorruptRecord
    | StoreFailure
  >

  /**
   * Records activity: `lastActiveAt` becomes now and `expiresAt` is recomputed with `Expiry.expiresAt`; `activity`
   * adds messages and a response time. Never changes `data`, `status` or `version`, so a read-heavy client never
   * becomes a writer that conflicts. Moves the session to most recently active. Fails `SessionEnded` on a tombstone;
   * a due session is expired instead (see the module notes).
   */
  readonly touch: (
    id: SessionId,
    activity?: ActivityRecord
  ) => Effect.Effect<Transitioned, SessionNotFound | SessionEnded | CorruptRecord | StoreFailure>

  /**
   * Lists sessions matching every given filter, in a stable order (insertion order), `limit` at a time. Following
   * `next` from the first page visits every session that existed for the whole walk exactly once, while sessions are
   * inserted or end; sessions inserted during the walk appear at most once. A malformed cursor fails `InvalidInput`.
   */
  readonly list: (query: ListQuery) => Effect.Effect<Page, InvalidInput | StoreFailure>

  /** Counts of sessions by status, tombstones included, answered without scanning sessions. */
  readonly counts: Effect.Effect<StatusCounts, StoreFailure>

  /** Counts of one owner's sessions by status, tombstones included; O(sessions of the owner) at most. */
  readonly ownerCounts: (owner: OwnerId) => Effect.Effect<StatusCounts, StoreFailure>

  /**
   * Up to `limit` live sessions whose `expiresAt` is at or before now, earliest `expiresAt` first. A query: it
   * changes nothing. Costs O(k log n) for k results among n sessions, never a scan.
   */
  readonly dueForExpiry: (limit: number) => Effect.Effect<ReadonlyArray<Session>, StoreFailure>

  /**
   * Ends (status `expired`, reason from `Expiry.expiryReason`) up to `limit` due sessions, earliest first, skipping
   * those that hold an unexpired lease (work in flight). Returns what it ended.
   */
  readonly expire: (limit: number) => Effect.Effect<ReadonlyArray<Ended>, StoreFailure>

  /** Up to `limit` live sessions (of `owner`, if given), least recently active first. A query. */
  readonly leastRecentlyActive: (
    limit: number,
    owner?: OwnerId
  ) => Effect.Effect<ReadonlyArray<Session>, StoreFailure>

  /**
   * Deletes up to `limit` tombstones that ended at least `retention` ago, oldest first, and returns how many it
   * deleted. Live sessions are never purged.
   */
  readonly purge: (retention: Duration.Duration, limit: number) => Effect.Effect<number, StoreFailure>

  /**
   * Makes `id` the owner's active session (its "current" one) in one atomic switch, returning the previous one.
   * There is at most one per owner at any time. The session must be the owner's (`SessionNotFound` otherwise) and
   * live (`SessionEnded`). When the active session ends, the owner has none.
   */
  readonly setActive: (
    owner: OwnerId,
    id: SessionId
  ) => Effect.Effect<Option.Option<SessionId>, SessionNotFound | SessionEnded | StoreFailure>

  /** The owner's active session, if it has one (always a live session). */
  readonly getActive: (owner: OwnerId) => Effect.Effect<Option.Option<Session>, CorruptRecord | StoreFailure>

  /**
   * Takes a lease on a live session for `ttl`, with a fencing token greater than any issued before. Fails
   * `LeaseHeld` while another holder's lease is unexpired; an expired lease is taken over (stale-lock recovery).
   * The same holder acquiring again gets a new token, which makes its old one stale.
   */
  readonly acquireLease: (
    id: SessionId,
    holder: string,
    ttl: Duration.Duration
  ) => Effect.Effect<Lease, SessionNotFound | SessionEnded | LeaseHeld | StoreFailure>

  /**
   * Extends a lease to now + `ttl`. Fails `StaleFencingToken` if it has expired, was taken over, was released, or
   * the session ended.
   */
  readonly renewLease: (lease: Lease, ttl: Duration.Duration) => Effect.Effect<Lease, StaleFencingToken | StoreFailure>

  /** Gives up a lease. A no-op if its token is no longer current. */
  readonly releaseLease: (lease: Lease) => Effect.Effect<void, StoreFailure>

  /** Every lease on record, expired ones included until taken over or released, by session id. */
  readonly leases: Effect.Effect<ReadonlyArray<Lease>, StoreFailure>

  /**
   * Removes the record stored under `id`, whatever its state, a record that cannot be decoded included, with its
   * lease and active pointer, and keeps it aside where the store can (SQLite: its quarantine table, with `reason`).
   * Counts follow. Returns whether there was a record. For operators: it is how a single damaged record goes without
   * a repair run; it is never part of a session's lifecycle (no tombstone is left).
   */
  readonly remove: (id: SessionId, reason: string) => Effect.Effect<boolean, StoreFailure>

  /**
   * Writes any activity the store holds in memory (stores that coalesce touches); a no-op for the others. Called by
   * the sweeper and on shutdown.
   */
  readonly flush: Effect.Effect<void, StoreFailure>
}

/** The session store used by `SessionManager`. */
export class SessionStore extends Context.Tag("effect-sessions/SessionStore")<SessionStore, SessionStoreShape>() {}
