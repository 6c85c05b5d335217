/**
 * The `SessionStore` port: where sessions live. Every backend (memory, SQLite, Postgres) implements this contract
 * and passes the one contract suite in `test/contract/`. The rules each method applies are written once in the
 * domain (`StoreRules`, `InsertPlan`); a store reads what a rule needs in one atomic step, applies it, and persists
 * the outcome. The port says what a store does, never how fast: a store that can also answer synchronously offers
 * `SessionStoreSync` beside it, a separate capability.
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
import { Context, type Duration, Effect, type Either, type Option } from "effect"
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
  StoreFailure,
  VersionConflict
} from "../domain/Errors.js"
import type { OwnerId, SessionId } from "../domain/Ids.js"
import type { Session, StatusCounts } from "../domain/Session.js"
import type {
  ActivityRecord,
  Ended,
  Inserted,
  InsertOptions,
  Lease,
  ListQuery,
  Page,
  RegenerateGuard,
  SessionWrite,
  Transitioned
} from "../domain/StoreRecords.js"

export type * from "../domain/StoreRecords.js"

/** The operations of a session store. */
export interface SessionStoreShape {
  /**
   * Stores a new live session (status `active` or `waiting`, version 1). Atomically checks that the owner has no
   * other live session with the same name (`SessionNameTaken`), and that the store then holds at most `maxSessions`
   * live sessions and the owner at most `maxSessionsPerOwner` (`CapacityExceeded{scope, limit}`). Under `evict-lru`
   * it first ends (status `evicted`) the least recently active live sessions that hold no unexpired lease (the
   * owner's own when the owner limit binds), as few as make room; if none can go it fails `CapacityExceeded`.
   * Sessions that have expired never stand in the way: one holding the name, or holding a slot the insert needs
   * (the owner's for the owner limit, the earliest due for the global one), is recorded as expired in the same
   * atomic step, before anything is evicted; all of them are returned in `ended` (see `InsertPlan.planInsert`). On
   * any failure nothing changes. Inserting again a session already stored under its id with the same owner and
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
   * Applies one write, as `StoreRules.applyWrite` decides it: with `owner`, the session must be that owner's
   * (`SessionNotFound` otherwise, as if missing); an ended session takes no writes (`SessionEnded`); a session that
   * has expired gets its expiry recorded instead (see the module notes); `fence` must be the current unexpired lease
   * (`StaleFencingToken`), `expectedVersion` must match (`VersionConflict{expected, actual}`), the event must be
   * allowed (`InvalidTransition`). Bumps `version` by one; a write that leaves the session live is activity. Ending a
   * session (`close`) sets `endedAt` and `endReason`, frees its name, clears its active pointer and its lease.
   * Returns the stored result with the status it had before.
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
   * Records activity, as `StoreRules.applyTouch` decides it: `lastActiveAt` becomes now and `expiresAt` follows;
   * `activity` adds messages and a response time. Never changes `data`, `status` or `version`, so a read-heavy client
   * never becomes a writer that conflicts. Moves the session to most recently active. With `owner`, the session must
   * be that owner's (`SessionNotFound` otherwise). Fails `SessionEnded` on a tombstone; a session that has expired
   * gets its expiry recorded instead (see the module notes).
   */
  readonly touch: (
    id: SessionId,
    activity?: ActivityRecord | undefined,
    owner?: OwnerId | undefined
  ) => Effect.Effect<Transitioned, SessionNotFound | SessionEnded | CorruptRecord | StoreFailure>

  /**
   * Moves the session stored under `id` to the new id `newId`, as `StoreRules.applyRegenerate` decides it (the
   * session-fixation defence: a client holding the old id no longer reaches the session). In one atomic step the
   * session is stored under `newId` exactly as it was (data, owner, name, kind, status, `createdAt`, activity,
   * `expiresAt` and `version` unchanged), the record under `id` is deleted (no tombstone: `get(id)` is then `None`,
   * and every later call on `id` fails `SessionNotFound`), the owner's active pointer moves to `newId` if it was on
   * `id`, and any lease on the session is gone (the new id has none). The session keeps its name, and its place in
   * the counts and capacity; in listings it comes after the sessions stored before the call. With `guard.owner`, the
   * session must be that owner's (`SessionNotFound` otherwise, as if missing); a missing session fails
   * `SessionNotFound`, an ended one `SessionEnded`; a session that has expired gets its expiry recorded instead (see
   * the module notes) and is returned so, still under `id`; `guard.fence` must be the current unexpired lease
   * (`StaleFencingToken`); a `newId` already stored fails `StoreError`. Calling again after a regenerate to `newId`
   * had landed (`id` gone, `newId` stored, of `guard.owner` when given) succeeds without change, so a retried call
   * never makes a second id. Returns the session under `newId` (or the recorded expiry) with the status it had.
   */
  readonly regenerate: (
    id: SessionId,
    newId: SessionId,
    guard?: RegenerateGuard | undefined
  ) => Effect.Effect<Transitioned, SessionNotFound | SessionEnded | StaleFencingToken | CorruptRecord | StoreFailure>

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
   * Ends (status `expired`, reason from `Expiry.expiryReason`) up to `limit` due sessions, earliest first, skipping
   * those that hold an unexpired lease (work in flight). Returns what it ended.
   */
  readonly expire: (limit: number) => Effect.Effect<ReadonlyArray<Ended>, StoreFailure>

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

/**
 * A capability some stores add to `SessionStore`: every operation answered synchronously, in the caller's own step,
 * with the same contract (same rules, same state), its outcome as an `Either`. A store offers it when its calls run
 * to completion on the calling thread (the memory store; SQLite, whose driver is synchronous and bounds its own waits
 * with its busy timeout): such a call cannot be interrupted midway, so no deadline can apply to it, and it costs no
 * fiber to make. The manager, when it finds this beside the store as it is built, calls the store through it (still
 * retrying transient failures); without it, through `SessionStore` with a deadline on every call. A decorator of a
 * store's `SessionStore` (metrics, faults) must not pass this on undecorated, or the manager would call around it.
 */
export type SessionStoreSyncShape =
  & {
    readonly [K in keyof SessionStoreShape]: SessionStoreShape[K] extends
      (...args: infer P) => Effect.Effect<infer A, infer E, never> ? (...args: P) => Either.Either<A, E>
      : SessionStoreShape[K] extends Effect.Effect<infer A, infer E, never> ? () => Either.Either<A, E>
      : never
  }
  & {
    /**
     * The operations whose `SessionStore` form shares one transaction among the calls of concurrent fibers (group
     * commit: each call answered once the transaction holding it has committed), where the synchronous form commits
     * each call alone. The manager makes these calls through `SessionStore`, still with no deadline (the store
     * bounds its own waits), and the rest through this capability.
     */
    readonly grouped?: ReadonlySet<keyof SessionStoreShape> | undefined
  }

/** The synchronous capability of a store (see `SessionStoreSyncShape`); absent for stores that wait on I/O. */
export class SessionStoreSync
  extends Context.Tag("effect-sessions/SessionStoreSync")<SessionStoreSync, SessionStoreSyncShape>()
{}

/** The operations of a store whose `SessionStore` member is an effect rather than a function. */
export const valued: ReadonlySet<keyof SessionStoreShape> = new Set(["counts", "leases", "flush"])

/** Every operation of a store, by name. */
export const operations: ReadonlyArray<keyof SessionStoreShape> = [
  "insert",
  "get",
  "update",
  "touch",
  "regenerate",
  "list",
  "counts",
  "ownerCounts",
  "expire",
  "purge",
  "setActive",
  "getActive",
  "acquireLease",
  "renewLease",
  "releaseLease",
  "leases",
  "remove",
  "flush"
]

/**
 * A `SessionStore` whose every call goes through `call`, given the operation's name and a thunk that makes the call
 * on `target` (a store, or a store's synchronous operations, whose `Either` outcome is itself an effect). The one
 * place a store is wrapped operation by operation: decorators (bounds, metrics, faults) are built with it.
 */
export const storeThrough = (
  target: SessionStoreShape | SessionStoreSyncShape,
  call: <A, E>(
    operation: keyof SessionStoreShape,
    make: () => Effect.Effect<A, E>,
    args: ReadonlyArray<unknown>
  ) => Effect.Effect<A, unknown>
): SessionStoreShape => {
  const members = target as unknown as Record<string, unknown>
  const entries = operations.map((name) => {
    const member = members[name]
    const make = (args: ReadonlyArray<unknown>) => () =>
      (typeof member === "function" ? member(...args) : member) as Effect.Effect<unknown, unknown>
    return [
      name,
      valued.has(name) ? call(name, make([]), []) : (...args: Array<unknown>) => call(name, make(args), args)
    ]
  })
  return Object.fromEntries(entries) as unknown as SessionStoreShape
}

/** A store's `SessionStore` from its synchronous operations: each call made when the effect runs. */
export const fromSync = (sync: SessionStoreSyncShape): SessionStoreShape =>
  storeThrough(sync, (_, make) => Effect.suspend(make))
