/**
 * What happens to sessions, as events: a `SessionEvent` union with sequence numbers, and `EventsMissed`, which a
 * subscriber receives in place of events it fell too far behind to get.
 */
import { Schema } from "effect"
import { OwnerId, SessionId, SessionKind, SessionName } from "./Ids.js"
import { EndReason, EpochMillis, LiveStatus } from "./Session.js"

const common = {
  /** Position in this run of the manager's event sequence (see `EventPosition`): 1, 2, 3, ... with no gaps. */
  seq: Schema.Number,
  at: EpochMillis,
  id: SessionId,
  owner: OwnerId
}

/** A session was created. */
export const Created = Schema.TaggedStruct("Created", {
  ...common,
  name: Schema.NullOr(SessionName),
  kind: SessionKind,
  expiresAt: EpochMillis
})

/** A live session moved between `active` and `waiting`. */
export const StatusChanged = Schema.TaggedStruct("StatusChanged", { ...common, from: LiveStatus, to: LiveStatus })

/** A session was touched or had activity recorded; it now expires at `expiresAt`. */
export const Activity = Schema.TaggedStruct("Activity", {
  ...common,
  messageCount: Schema.Number,
  expiresAt: EpochMillis
})

/** A session's data was written; it is now at `version`. */
export const Updated = Schema.TaggedStruct("Updated", { ...common, version: Schema.Number })

/** A session was closed by its owner or an operator. */
export const Closed = Schema.TaggedStruct("Closed", { ...common, from: LiveStatus, reason: EndReason })

/** A session expired (idle timeout or max lifetime). */
export const Expired = Schema.TaggedStruct("Expired", { ...common, from: LiveStatus, reason: EndReason })

/** A session was evicted to make room for a new one. */
export const Evicted = Schema.TaggedStruct("Evicted", { ...common, from: LiveStatus, reason: EndReason })

/** A session became its owner's active one, replacing `previous` (if any). */
export const Activated = Schema.TaggedStruct("Activated", { ...common, previous: Schema.NullOr(SessionId) })

/** A session was given a new id, `id` (see `SessionManager.regenerate`); its old one, `previous`, reaches nothing now. */
export const Regenerated = Schema.TaggedStruct("Regenerated", { ...common, previous: SessionId })

/** Everything the manager publishes about sessions. */
export const SessionEvent = Schema.Union(
  Created,
  StatusChanged,
  Activity,
  Updated,
  Closed,
  Expired,
  Evicted,
  Activated,
  Regenerated
)
export type SessionEvent = typeof SessionEvent.Type

/**
 * In a subscription, in place of `count` events (sequence numbers `from` to `from + count - 1`) that the subscriber
 * fell too far behind to receive: the bounded buffer had already dropped them. With `restarted`, the subscriber
 * resumed from a position of an earlier run of the manager (before a restart, or of another node): whatever happened
 * after that position and before this run is unknown here, and `from`/`count` cover only this run's dropped events.
 */
export const EventsMissed = Schema.TaggedStruct("EventsMissed", {
  from: Schema.Number,
  count: Schema.Number,
  restarted: Schema.optional(Schema.Boolean)
})
export type EventsMissed = typeof EventsMissed.Type

/**
 * A position in a manager's event sequence that survives restarts: the `epoch` names one run of the manager (its
 * sequence numbers start at 1 again in the next one), `seq` the last event seen in it.
 */
export interface EventPosition {
  readonly epoch: string
  readonly seq: number
}

/** What a subscription yields: events in sequence order, with a gap marker wherever events were dropped. */
export const SubscriptionItem = Schema.Union(SessionEvent, EventsMissed)
export type SubscriptionItem = typeof SubscriptionItem.Type
