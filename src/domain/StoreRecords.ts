/**
 * The records a store exchanges with its callers: writes, what they left, what an insert did, listings and leases.
 * They are the vocabulary of the `SessionStore` port and of the store rules in `StoreRules`, so they live in the
 * domain, which both import.
 */
import type { CapacityPolicy } from "./Config.js"
import type { CorruptRecord } from "./Errors.js"
import type { OwnerId, SessionId, SessionKind } from "./Ids.js"
import type { EndReason, EpochMillis, JsonValue, LiveStatus, Millis, Session, SessionStatus } from "./Session.js"

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

/**
 * What an insert did: the session stored, and the sessions it ended to make room: expired ones that stood in the way
 * (recorded as expired), then, under `evict-lru`, evicted ones.
 */
export interface Inserted {
  readonly session: Session
  readonly ended: ReadonlyArray<Ended>
}

/** Activity to record with a touch: messages to add and a response time for the rolling window. */
export interface ActivityRecord {
  readonly messages: number
  readonly responseTime: Millis | null
  /** The window's length (`responseTimeWindow`); the store keeps at most this many response times. */
  readonly window: number
}

/**
 * One write to a session: new data, a lifecycle event, or both. The store applies it with `StoreRules.applyWrite`
 * inside one atomic step, so status changes never need a retry loop.
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
  /** An owner scope: the write happens only on a session of this owner (another's answers as if missing). */
  readonly owner?: OwnerId | undefined
}

/**
 * What guards a regenerate, as it guards a write: an owner scope (another owner's session answers as if missing) and
 * a fencing token (the session's current, unexpired lease).
 */
export type RegenerateGuard = Pick<SessionWrite, "owner" | "fence">

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
