/**
 * The Postgres store's writes. Each runs in one transaction: it locks and reads what the store rules need, applies
 * them (`StoreRules`, `InsertPlan`), and persists the outcome; a refusal fails the transaction, which changes nothing.
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Effect, Either } from "effect"
import {
  type CapacityExceeded,
  type CorruptRecord,
  type InvalidTransition,
  type SessionEnded,
  SessionNameTaken,
  SessionNotFound,
  type StaleFencingToken,
  type StoreError,
  type StoreFailure,
  type VersionConflict
} from "../../../domain/Errors.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import { capacityNeeds, endingsOf, planInsert, repeatedInsert } from "../../../domain/InsertPlan.js"
import { type EpochMillis, isEnded, type Session } from "../../../domain/Session.js"
import { candidateOf, decode, encode, encodeWrite, type LightRow, rowLease } from "../../../domain/SqlRows.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import type { Db } from "./db.js"
import { sqlState } from "./errors.js"

/** The changes of the counts a set of status changes makes, as the arrays `adjustCounts` takes. */
const countChanges = (changes: ReadonlyArray<readonly [from: string | null, to: string]>) => {
  const by = new Map<string, number>()
  for (const [from, to] of changes) {
    if (from === to) continue
    if (from !== null) by.set(from, (by.get(from) ?? 0) - 1)
    by.set(to, (by.get(to) ?? 0) + 1)
  }
  return [[...by.keys()], [...by.values()]] as const
}

/** The session with its lease, locked for this transaction; fails `SessionNotFound` or `CorruptRecord`. */
export const held = (
  db: Db,
  id: SessionId
): Effect.Effect<Rules.Held, SessionNotFound | CorruptRecord | SqlError> =>
  Effect.flatMap(
    db.values("lockedWithLease", [id]),
    (rows): Effect.Effect<Rules.Held, SessionNotFound | CorruptRecord> => {
      const row = rows[0]
      if (row === undefined) return Effect.fail(new SessionNotFound({ id }))
      return Either.match(decode(row), {
        onLeft: (corrupt) => Effect.fail(corrupt),
        onRight: (session) => Effect.succeed({ session, lease: rowLease(row) })
      })
    }
  )

/** Writes a session as a rule left it, with what an ending or a status change touches. */
export const persist = (db: Db, t: Store.Transitioned) => {
  const s = t.session
  return Effect.gen(function*() {
    yield* db.run("write", encodeWrite(s))
    if (s.status === t.from) return
    yield* db.run("adjustCounts", countChanges([[t.from, s.status]]))
    if (isEnded(s.status)) {
      yield* db.run("dropLease", [s.id])
      yield* db.run("dropPointer", [s.id])
    }
  })
}

/** Ends a batch of locked live sessions (expiries and evictions) in one statement, and counts them. */
export const endAll = (db: Db, endings: ReadonlyArray<Store.Ended>) =>
  endings.length === 0 ? Effect.succeed(endings) : Effect.gen(function*() {
    yield* db.run("endBatch", [
      endings.map((e) => e.id),
      endings.map((e) => e.status),
      endings.map((e) => e.endedAt),
      endings.map((e) => e.endReason)
    ])
    yield* db.run("adjustCounts", countChanges(endings.map((e) => [e.from, e.status])))
    return endings
  })

const light = (db: Db, statement: string, params: ReadonlyArray<unknown>) =>
  Effect.map(db.rows<LightRow>(statement, params), (rows) => rows.map(candidateOf))

/** `SessionStore.insert` on the Postgres store (see the port for its contract). */
export const insert = (
  db: Db,
  session: Session,
  options: Store.InsertOptions
): Effect.Effect<Store.Inserted, SessionNameTaken | CapacityExceeded | StoreFailure> =>
  db.transaction(
    "insert",
    Effect.gen(function*() {
      yield* db.run("lockInserts")
      const stored = yield* db.values("byId", [session.id])
      if (stored.length > 0) {
        const decoded = decode(stored[0]!)
        return yield* repeatedInsert(Either.isRight(decoded) ? decoded.right : session, session)
      }
      const now = yield* db.now
      const [live] = yield* db.rows<{ owner_live: number; global_live: number }>("liveCounts", [session.owner])
      const needs = capacityNeeds(live!.owner_live, live!.global_live, options)
      const holder = session.name === null ? [] : yield* light(db, "liveByName", [session.owner, session.name])
      let ended: ReadonlyArray<Store.Ended> = []
      if (holder.length > 0 || needs.owner > 0 || needs.global > 0) {
        const evict = options.capacityPolicy === "evict-lru"
        const ownerExpired = needs.owner > 0 ? yield* light(db, "ownerExpired", [session.owner, now, needs.owner]) : []
        const globalExpired = needs.global > 0 ? yield* light(db, "dueUnleased", [now, needs.global]) : []
        const plan = yield* planInsert({
          session,
          options,
          now,
          nameHolder: holder[0],
          ownerLive: live!.owner_live,
          globalLive: live!.global_live,
          ownerExpired,
          ownerRecency: needs.owner > 0 && evict
            ? yield* light(db, "ownerVictims", [session.owner, now, needs.owner + ownerExpired.length + 1])
            : [],
          globalExpired,
          globalRecency: needs.global > 0 && evict
            ? yield* light(db, "globalVictims", [now, needs.global + 2 * needs.owner + globalExpired.length + 1])
            : []
        })
        ended = yield* endAll(db, endingsOf(plan, now))
      }
      yield* Effect.catchIf(
        db.run("insert", encode(session)),
        (error) => sqlState(error) === "23505" && session.name !== null,
        () => Effect.fail(new SessionNameTaken({ owner: session.owner, name: session.name! }))
      )
      yield* db.run("adjustCounts", countChanges([[null, session.status]]))
      return { session, ended }
    }) as Effect.Effect<Store.Inserted, SessionNameTaken | CapacityExceeded | StoreError>
  )

/** `SessionStore.update` on the Postgres store (see the port for its contract). */
export const update = (db: Db, id: SessionId, write: Store.SessionWrite): Effect.Effect<
  Store.Transitioned,
  | SessionNotFound
  | SessionEnded
  | VersionConflict
  | StaleFencingToken
  | InvalidTransition
  | CorruptRecord
  | StoreFailure
> =>
  db.transaction(
    "update",
    Effect.gen(function*() {
      const t = yield* Rules.applyWrite(yield* held(db, id), write, yield* db.now)
      yield* persist(db, t)
      return t
    })
  )

/** `SessionStore.touch` on the Postgres store (see the port for its contract). */
export const touch = (
  db: Db,
  id: SessionId,
  activity: Store.ActivityRecord | undefined,
  owner: OwnerId | undefined
): Effect.Effect<Store.Transitioned, SessionNotFound | SessionEnded | CorruptRecord | StoreFailure> =>
  db.transaction(
    "touch",
    Effect.gen(function*() {
      const t = yield* Rules.applyTouch(yield* held(db, id), activity, yield* db.now, owner)
      const s = t.session
      if (isEnded(s.status)) yield* persist(db, t)
      else {
        yield* db.run("activity", [s.lastActiveAt, s.expiresAt, s.messageCount, JSON.stringify(s.responseTimes), s.id])
      }
      return t
    })
  )

/** `SessionStore.expire` on the Postgres store: due sessions claimed with `SKIP LOCKED`, each ended by one node. */
export const expire = (db: Db, limit: number): Effect.Effect<ReadonlyArray<Store.Ended>, StoreFailure> =>
  db.transaction(
    "expire",
    Effect.gen(function*() {
      const now = yield* db.now
      const due = yield* light(db, "dueUnleased", [now, limit])
      return yield* endAll(db, endingsOf({ expire: due, evict: [] }, now as EpochMillis))
    })
  )
