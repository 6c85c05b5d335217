/**
 * The Postgres store's leases, active pointers and upkeep (purges, removals, folding the counts), each decided by the
 * store rules inside one transaction.
 */
import { type Duration, Effect, Option } from "effect"
import type {
  CorruptRecord,
  LeaseHeld,
  SessionEnded,
  SessionNotFound,
  StaleFencingToken,
  StoreFailure
} from "../../../domain/Errors.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import { type EpochMillis, isEnded, type Session, type SessionStatus, statuses } from "../../../domain/Session.js"
import { decode, rowLease } from "../../../domain/SqlRows.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import type { Db } from "./db.js"
import { held } from "./writes.js"

/** `SessionStore.setActive` on the Postgres store (see the port for its contract). */
export const setActive = (
  db: Db,
  owner: OwnerId,
  id: SessionId
): Effect.Effect<Option.Option<SessionId>, SessionNotFound | SessionEnded | StoreFailure> =>
  db.transaction(
    "setActive",
    Effect.gen(function*() {
      yield* db.run("lockOwner", [owner])
      const rows = yield* db.values("sharedWithLease", [id])
      const row = rows[0]
      const decoded = row === undefined || row[2] !== owner ? undefined : decode(row)
      // A record that does not decode is no session this owner can make active.
      const current = decoded === undefined || decoded._tag === "Left"
        ? undefined
        : { session: decoded.right, lease: rowLease(row!) }
      const refusal = Rules.activationRefusal(current, id, owner, yield* db.now)
      if (refusal !== undefined) return yield* Effect.fail(refusal)
      const previous = yield* db.rows<{ session_id: SessionId }>("activeOf", [owner])
      yield* db.run("setActive", [owner, id])
      return previous.length === 0 ? Option.none() : Option.some(previous[0]!.session_id)
    })
  )

/** `SessionStore.getActive` on the Postgres store (see the port for its contract). */
export const getActive = (
  db: Db,
  owner: OwnerId
): Effect.Effect<Option.Option<Session>, CorruptRecord | StoreFailure> =>
  db.single(
    "getActive",
    Effect.gen(function*() {
      const rows = yield* db.values("activeSession", [owner])
      if (rows.length === 0) return Option.none()
      const session = yield* seen(db, yield* decode(rows[0]!))
      return isEnded(session.status) ? Option.none() : Option.some(session)
    })
  )

/** A stored session as every observer sees it now (its lease read only when it is due, the rare case). */
export const seen = (db: Db, stored: Session) =>
  Effect.gen(function*() {
    const now = yield* db.now
    if (isEnded(stored.status) || stored.expiresAt > now) return stored
    return Rules.seenAt({ session: stored, lease: yield* db.leaseOf(stored.id) }, now)
  })

/** `SessionStore.acquireLease` on the Postgres store (see the port for its contract). */
export const acquireLease = (
  db: Db,
  id: SessionId,
  holder: string,
  ttl: Duration.Duration
): Effect.Effect<Store.Lease, SessionNotFound | SessionEnded | LeaseHeld | CorruptRecord | StoreFailure> =>
  db.transaction(
    "acquireLease",
    Effect.gen(function*() {
      const now = yield* db.now
      const refusal = Rules.leaseRefusal(yield* held(db, id), holder, now)
      if (refusal !== undefined) return yield* Effect.fail(refusal)
      const ends = Rules.newLease(id, holder, 0, ttl, now).expiresAt
      const [row] = yield* db.rows<{ token: number }>("putLease", [id, holder, ends])
      return Rules.newLease(id, holder, row!.token, ttl, now)
    })
  )

/** `SessionStore.renewLease` on the Postgres store (see the port for its contract). */
export const renewLease = (
  db: Db,
  lease: Store.Lease,
  ttl: Duration.Duration
): Effect.Effect<Store.Lease, StaleFencingToken | StoreFailure> =>
  db.transaction(
    "renewLease",
    Effect.gen(function*() {
      const current = yield* db.leaseOf(lease.sessionId, true)
      const renewed = yield* Rules.renewLease(lease, current, ttl, yield* db.now)
      yield* db.run("renewLease", [lease.sessionId, lease.token, renewed.expiresAt])
      return renewed
    })
  )

/** `SessionStore.releaseLease` on the Postgres store (see the port for its contract). */
export const releaseLease = (db: Db, lease: Store.Lease): Effect.Effect<void, StoreFailure> =>
  db.single("releaseLease", db.run("releaseLease", [lease.sessionId, lease.token]))

/** `SessionStore.leases` on the Postgres store (see the port for its contract). */
export const leases = (db: Db): Effect.Effect<ReadonlyArray<Store.Lease>, StoreFailure> =>
  db.single(
    "leases",
    Effect.map(
      db.rows<{ session_id: SessionId; holder: string; token: number; expires_at: EpochMillis }>("leases"),
      (rows) =>
        rows.map((row) => ({
          sessionId: row.session_id,
          holder: row.holder,
          token: row.token,
          expiresAt: row.expires_at
        }))
    )
  )

/** `SessionStore.purge` on the Postgres store: tombstones claimed with `SKIP LOCKED`, in one statement. */
export const purge = (db: Db, retention: Duration.Duration, limit: number): Effect.Effect<number, StoreFailure> =>
  db.single(
    "purge",
    Effect.gen(function*() {
      const [row] = yield* db.rows<{ n: number }>("purge", [Rules.purgeCutoff(yield* db.now, retention), limit])
      return row!.n
    })
  )

/** `SessionStore.remove` on the Postgres store: the row goes to `quarantine`, with its lease and active pointer. */
export const remove = (db: Db, id: SessionId, reason: string): Effect.Effect<boolean, StoreFailure> =>
  db.transaction(
    "remove",
    Effect.gen(function*() {
      const rows = yield* db.rows<{ row: string; seq: number; status: unknown; owner: unknown }>("wholeRow", [id])
      const row = rows[0]
      if (row === undefined) return false
      yield* db.run("quarantine", [id, row.row, reason, yield* db.now])
      yield* db.run("deleteRow", [row.seq])
      if (typeof row.status === "string" && (statuses as ReadonlyArray<string>).includes(row.status)) {
        yield* db.run("adjustCounts", [[row.status as SessionStatus], [-1]])
      }
      return true
    })
  )

/** `SessionStore.flush`: folds the appended count changes into one row per status. */
export const flush = (db: Db): Effect.Effect<void, StoreFailure> => db.single("flush", db.run("foldCounts"))
