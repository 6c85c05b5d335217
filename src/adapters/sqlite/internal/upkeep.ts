/**
 * The SQLite store's upkeep: expiring due sessions in batches, purging tombstones (giving space back), removing one
 * record.
 */
import { type Duration } from "effect"
import type { SessionId } from "../../../domain/Ids.js"
import { isEnded, type SessionStatus, statuses } from "../../../domain/Session.js"
import { candidateOf, type LightRow } from "../../../domain/SqlRows.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import { expiring, type SqliteState } from "./SqliteState.js"

/** `SessionStore.expire` on the SQLite store (see the port for its contract). */
export const expire = (state: SqliteState, limit: number): ReadonlyArray<Store.Ended> => {
  state.flush()
  return state.atomically(() => {
    const now = state.now()
    const due = (state.st.dueUnleased.all(now, now, limit) as Array<LightRow>).map(candidateOf)
    return state.writer.endAll(due.map(expiring))
  })
}

/** `SessionStore.purge` on the SQLite store (see the port for its contract). */
export const purge = (state: SqliteState, retention: Duration.Duration, limit: number): number => {
  const purged = state.atomically(() => {
    const deleted = state.st.purge.all(Rules.purgeCutoff(state.now(), retention), limit) as Array<{ status: string }>
    const byStatus = new Map<string, number>()
    for (const row of deleted) byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1)
    for (const [status, n] of byStatus) state.st.adjustCount.run(-n, status)
    return deleted.length
  })
  if (purged > 0) reclaim(state)
  return purged
}

/** Free pages given back to the file system in one step of `reclaim` (8 MiB of 4 KiB pages). */
const reclaimPages = 2048

/**
 * Gives free pages back to the file system once they are a large share of the file (after large purges), a bounded
 * number per call so no call holds the write lock long, then cuts the WAL file back. Pages freed by purges are
 * reused by later inserts anyway; this is what makes the file shrink when the store holds less for good.
 */
const reclaim = (state: SqliteState): void => {
  const free = state.db.pragma("freelist_count", { simple: true }) as number
  const pages = state.db.pragma("page_count", { simple: true }) as number
  if (free < reclaimPages && free * 4 < pages) return
  state.db.pragma(`incremental_vacuum(${reclaimPages})`)
  state.db.pragma("wal_checkpoint(TRUNCATE)")
}

/**
 * Moves the row stored under `id` to the quarantine table, whatever it holds, with its lease and active pointer,
 * keeping the counters right for a row whose status and owner still read.
 */
/** `SessionStore.remove` on the SQLite store (see the port for its contract). */
export const remove = (state: SqliteState, id: SessionId, reason: string): boolean => {
  return state.atomically(() => {
    const row = state.st.wholeRow.get(id) as Record<string, unknown> | undefined
    if (row === undefined) return false
    state.pending.forget(id)
    state.st.quarantine.run(id, JSON.stringify(row), reason, state.now())
    const ids = JSON.stringify([id])
    state.st.dropLeases.run(ids)
    state.st.dropPointers.run(ids)
    state.st.deleteRow.run(row["seq"])
    const status = row["status"]
    if (typeof status === "string" && (statuses as ReadonlyArray<string>).includes(status)) {
      state.st.adjustCount.run(-1, status)
      if (!isEnded(status as SessionStatus) && typeof row["owner"] === "string") {
        state.writer.ownerEnded(row["owner"], 1)
      }
    }
    return true
  })
}
