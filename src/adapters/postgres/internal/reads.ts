/** Reading the Postgres store without writing: sessions and listings as every observer sees them now, and counts. */
import { Effect, Either, Option } from "effect"
import type { CorruptRecord, InvalidInput, StoreFailure } from "../../../domain/Errors.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import type { Session, SessionStatus, StatusCounts } from "../../../domain/Session.js"
import { decode, rowLease, rowSeq } from "../../../domain/SqlRows.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import type { Db } from "./db.js"
import { type ListShape, listSql } from "./queries.js"
import { seen } from "./upkeep.js"

const zero = (): Record<SessionStatus, number> => ({ active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 })

/** `SessionStore.get` on the Postgres store (see the port for its contract). */
export const get = (db: Db, id: SessionId): Effect.Effect<Option.Option<Session>, CorruptRecord | StoreFailure> =>
  db.single(
    "get",
    Effect.gen(function*() {
      const rows = yield* db.values("byIdWithLease", [id])
      const row = rows[0]
      if (row === undefined) return Option.none()
      const session = yield* decode(row)
      return Option.some(Rules.seenAt({ session, lease: rowLease(row) }, yield* db.now))
    })
  )

const lists = new Map<string, string>()

/** `SessionStore.list` on the Postgres store (see the port for its contract). */
export const list = (db: Db, query: Store.ListQuery): Effect.Effect<Store.Page, InvalidInput | StoreFailure> =>
  db.single(
    "list",
    Effect.gen(function*() {
      const after = query.after === undefined ? 0 : yield* Rules.positionOf(query.after)
      const limit = Math.max(1, Math.floor(query.limit))
      const shape: ListShape = {
        owner: query.owner !== undefined,
        status: query.status !== undefined,
        kind: query.kind !== undefined,
        expired: query.status === "expired"
      }
      const key = `${shape.owner}${shape.status}${shape.kind}${shape.expired}`
      const text = lists.get(key) ?? listSql(shape)
      lists.set(key, text)
      const rows = yield* db.values(text, [
        ...(shape.owner ? [query.owner] : []),
        ...(shape.status ? [query.status] : []),
        ...(shape.kind ? [query.kind] : []),
        after,
        limit + 1
      ])
      const more = rows.length > limit
      const page = more ? rows.slice(0, limit) : rows
      const sessions: Array<Session> = []
      const corrupt: Array<CorruptRecord> = []
      for (const row of page) {
        const decoded = decode(row)
        if (Either.isLeft(decoded)) corrupt.push(decoded.left)
        else {
          // Filtered again as seen now: a live row that has expired lists as expired (the cursor still follows rows).
          const session = yield* seen(db, decoded.right)
          if (Rules.matchesQuery(query, session)) sessions.push(session)
        }
      }
      return { sessions, next: more ? Rules.cursorOf(rowSeq(page[page.length - 1]!)) : null, corrupt }
    })
  )

const tally = (rows: ReadonlyArray<{ status: string; n: number }>): StatusCounts => {
  const counts = zero()
  for (const row of rows) if (row.status in counts) counts[row.status as SessionStatus] = row.n
  return counts
}

/** `SessionStore.counts` on the Postgres store: the sum of the appended changes (see `flush`). */
export const counts = (db: Db): Effect.Effect<StatusCounts, StoreFailure> =>
  db.single("counts", Effect.map(db.rows<{ status: string; n: number }>("counts"), tally))

/** `SessionStore.ownerCounts` on the Postgres store (see the port for its contract). */
export const ownerCounts = (db: Db, owner: OwnerId): Effect.Effect<StatusCounts, StoreFailure> =>
  db.single("ownerCounts", Effect.map(db.rows<{ status: string; n: number }>("ownerCounts", [owner]), tally))
