/**
 * Touches held in memory between writes (write-behind): per session, the latest activity since the last flush. Reads
 * in this process see it at once; the database gets it at the next flush, at most once per session per flush.
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
    this.entries.delete(id)
  }

  /** Puts back a batch whose write failed (activity recorded since, for the same session, is newer and kept). */
  restore(batch: ReadonlyMap<SessionId, Pending>): void {
    for (const [id, pending] of batch) if (!this.entries.has(id)) this.entries.set(id, pending)
  }

  /** Takes everything buffered, leaving the buffer empty. */
  drain(): ReadonlyMap<SessionId, Pending> {
    const taken = this.entries
    this.entries = new Map()
    return taken
  }
}
