/**
 * How the SQLite store persists what the store rules decided: one session's new state (with the counters, leases and
 * active pointer an ending touches), and batches of endings (expiry, eviction) in a few set statements whatever the
 * batch's size. Runs inside the caller's transaction; reads no data column.
 */
import { isOwnerId, isSessionId } from "../../../domain/Ids.js"
import { type EndReason, type EpochMillis, isEnded, type LiveStatus } from "../../../domain/Session.js"
import { type CandidateRow, encodeWrite } from "../../../domain/SqlRows.js"
import type { Ended, Transitioned } from "../../../domain/StoreRecords.js"
import type { PendingActivity } from "./PendingActivity.js"
import type { Statements } from "./statements.js"

/** One session of a batch ending, and how it ends. */
export interface Ending {
  readonly row: CandidateRow
  readonly status: "expired" | "evicted"
  readonly reason: EndReason
  readonly at: EpochMillis
}

/** Persists the rules' outcomes on one connection. */
export class SessionWriter {
  constructor(private readonly st: Statements, private readonly pending: PendingActivity) {}

  /** Writes every mutable column of a session as `t` left it (superseding its buffered activity), and the counts. */
  persist(t: Transitioned): void {
    const session = t.session
    this.pending.forget(session.id)
    this.st.write.run(...encodeWrite(session))
    if (session.status === t.from) return
    this.st.adjustCount.run(-1, t.from)
    this.st.adjustCount.run(1, session.status)
    if (isEnded(session.status)) {
      if (!isEnded(t.from)) this.ownerEnded(session.owner, 1)
      const ids = JSON.stringify([session.id])
      this.st.dropLeases.run(ids)
      this.st.dropPointers.run(ids)
    }
  }

  /**
   * Ends a batch of live rows in one statement over the batch as JSON, then their leases, active pointers and
   * counts. Returns what it ended; a row damaged beyond its id or owner is ended too, so it cannot hold up later
   * batches, but not reported.
   */
  endAll(endings: ReadonlyArray<Ending>): Array<Ended> {
    if (endings.length === 0) return []
    const changes: Array<readonly [number, string, number, string]> = []
    const left = new Map<string, number>()
    const joined = new Map<string, number>()
    const byOwner = new Map<string, number>()
    const ended: Array<Ended> = []
    for (const { at, reason, row, status } of endings) {
      const s = row.session
      changes.push([row.seq, status, at, reason])
      left.set(s.status, (left.get(s.status) ?? 0) + 1)
      joined.set(status, (joined.get(status) ?? 0) + 1)
      byOwner.set(s.owner, (byOwner.get(s.owner) ?? 0) + 1)
      this.pending.forget(s.id)
      if (isSessionId(s.id) && isOwnerId(s.owner)) {
        ended.push({ id: s.id, owner: s.owner, from: s.status as LiveStatus, status, endReason: reason, endedAt: at })
      }
    }
    this.st.endBatch.run(JSON.stringify(changes))
    const ids = JSON.stringify(endings.map((ending) => ending.row.session.id))
    this.st.dropLeases.run(ids)
    this.st.dropPointers.run(ids)
    for (const [from, n] of left) this.st.adjustCount.run(-n, from)
    for (const [to, n] of joined) this.st.adjustCount.run(n, to)
    for (const [owner, n] of byOwner) this.ownerEnded(owner, n)
    return ended
  }

  /** A new live session: its status and its owner's live count. */
  inserted(status: string, owner: string): void {
    this.st.adjustCount.run(1, status)
    this.st.adjustOwner.run(owner, 1)
  }

  /** `n` of `owner`'s live sessions ended: its live count goes down, and its row goes once it has none. */
  ownerEnded(owner: string, n: number): void {
    this.st.adjustOwner.run(owner, -n)
    this.st.dropEmptyOwner.run(owner)
  }
}
