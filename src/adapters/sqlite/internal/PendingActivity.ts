/**
 * Touches held in memory between writes (write-behind): per session, the latest activity since the last flush. Reads
 * in this process see it at once; the database gets it at the next flush, at most once per session per flush. Changes
 * made inside a transaction are journaled, so a rollback (of a write, or of a whole batch) puts the buffer back as it
 * was, just as SQLite puts the rows back.
 */
import type { SessionId } from "../../../domain/Ids.js"
import type { EpochMillis, Millis, Session } from "../../../domain/Session.js"
import type { ActivityRecord } from "../../../services/SessionStore.js"

/** One session's activity not yet written. */
export interface Pending {
  lastActiveAt: EpochMillis
  expiresAt: EpochMillis
  /** Messages added since the last write. */
  messages: number
  /** The response-time window after the last recorded response, or `null` if none was recorded. */
  responseTimes: ReadonlyArray<Millis> | null
}

/** The buffer of activity not yet written, bounded by `capacity` sessions. */
export class PendingActivity {
  private entries = new Map<SessionId, Pending>()
  /** While a transaction is open: each change's session and what it held before, oldest first. */
  private journal: Array<readonly [SessionId, Pending | undefined]> | undefined = undefined

  constructor(
    private readonly capacity: number,
    /** Called when the buffer goes from empty to holding something: time to schedule a write. */
    private readonly onFirst: () => void
  ) {}

  get size(): number {
    return this.entries.size
  }

  /** Whether the buffer holds as many sessions as it may: the caller should flush. */
  get full(): boolean {
    return this.entries.size >= this.capacity
  }

  /** Records activity: `next` is the session as the touch left it (computed from `apply`'s view). */
  record(id: SessionId, next: Session, activity: ActivityRecord | undefined): void {
    const previous = this.entries.get(id)
    if (this.entries.size === 0) this.onFirst()
    this.journal?.push([id, previous])
    const recordedTime = activity !== undefined && activity.responseTime !== null
    this.entries.set(id, {
      lastActiveAt: next.lastActiveAt,
      expiresAt: next.expiresAt,
      messages: (previous?.messages ?? 0) + (activity?.messages ?? 0),
      responseTimes: recordedTime ? next.responseTimes : previous?.responseTimes ?? null
    })
  }

  /** `stored` with this process's activity not yet written applied. */
  apply(stored: Session): Session {
    const p = this.entries.get(stored.id)
    if (p === undefined) return stored
    return {
      ...stored,
      lastActiveAt: p.lastActiveAt > stored.lastActiveAt ? p.lastActiveAt : stored.lastActiveAt,
      expiresAt: p.expiresAt > stored.expiresAt ? p.expiresAt : stored.expiresAt,
      messageCount: stored.messageCount + p.messages,
      responseTimes: p.responseTimes ?? stored.responseTimes
    }
  }

  /** Drops a session's buffered activity (a full write of the session has included it). */
  forget(id: SessionId): void {
    const previous = this.entries.get(id)
    if (previous === undefined) return
    this.journal?.push([id, previous])
    this.entries.delete(id)
  }

  /** Takes everything buffered, leaving the buffer empty. */
  drain(): ReadonlyMap<SessionId, Pending> {
    const taken = this.entries
    if (this.journal !== undefined) { for (const [id, pending] of taken) this.journal.push([id, pending]) }
    this.entries = new Map()
    return taken
  }

  /**
   * Starts journaling changes (if not already: a transaction is opening) and returns the point `undo` goes back to
   * (a savepoint of the buffer).
   */
  mark(): number {
    if (this.journal === undefined) this.journal = []
    return this.journal.length
  }

  /** Puts the buffer back as it was at `mark` (the transaction or savepoint taken then was rolled back). */
  undo(mark: number): void {
    const journal = this.journal
    if (journal === undefined) return
    const wasEmpty = this.entries.size === 0
    for (let i = journal.length - 1; i >= mark; i--) {
      const [id, previous] = journal[i]!
      if (previous === undefined) this.entries.delete(id)
      else this.entries.set(id, previous)
    }
    journal.length = mark
    // Activity put back after a write had taken it all: the writer must be told again.
    if (wasEmpty && this.entries.size > 0) this.onFirst()
  }

  /** Stops journaling: the outermost transaction has committed or rolled back. */
  settle(): void {
    this.journal = undefined
  }
}
