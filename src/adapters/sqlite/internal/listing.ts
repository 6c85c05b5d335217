/** Reading the SQLite store without writing: listings as every observer sees them now, and the counts. */
import { Either } from "effect"
import type { CorruptRecord, InvalidInput } from "../../../domain/Errors.js"
import type { OwnerId } from "../../../domain/Ids.js"
import { type Session, type SessionStatus, type StatusCounts } from "../../../domain/Session.js"
import { decode, rowSeq, type SessionRow } from "../../../domain/SqlRows.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import { type SqliteState, zero } from "./SqliteState.js"

/** `SessionStore.list` on the SQLite store (see the port for its contract). */
export const list = (state: SqliteState, query: Store.ListQuery): Either.Either<Store.Page, InvalidInput> => {
  const after = query.after === undefined ? Either.right(0) : Rules.positionOf(query.after)
  if (Either.isLeft(after)) return Either.left(after.left)
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
    after.right,
    limit + 1
  ]
  const rows = state.st.list(shape).all(...params) as Array<SessionRow>
  const more = rows.length > limit
  const page = more ? rows.slice(0, limit) : rows
  const now = state.now()
  const sessions: Array<Session> = []
  const corrupt: Array<CorruptRecord> = []
  for (const row of page) {
    const decoded = decode(row)
    if (Either.isLeft(decoded)) corrupt.push(decoded.left)
    else {
      // Filtered again as seen now: a live row that has expired lists as expired (the cursor still follows rows).
      const session = state.seen(decoded.right, now)
      if (Rules.matchesQuery(query, session)) sessions.push(session)
    }
  }
  return Either.right({ sessions, next: more ? Rules.cursorOf(rowSeq(page[page.length - 1]!)) : null, corrupt })
}

/** `SessionStore.counts` on the SQLite store (see the port for its contract). */
export const counts = (state: SqliteState): StatusCounts => {
  return state.countsNow()
}

/** `SessionStore.ownerCounts` on the SQLite store (see the port for its contract). */
export const ownerCounts = (state: SqliteState, owner: OwnerId): StatusCounts => {
  const counts = zero()
  for (const row of state.st.ownerCounts.all(owner) as Array<{ status: SessionStatus; n: number }>) {
    if (row.status in counts) counts[row.status] = row.n
  }
  return counts
}
