/**
 * The typed failures of effect-sessions: one `Schema.TaggedError` class per failure, and their union `SessionError`.
 *
 * Every class is serialisable (its schema encodes it to JSON), so the HTTP adapter sends errors as they are and a
 * client decodes them with the same schemas. Durations are encoded as milliseconds, the unit in the name (`retryAfterMs`).
 */
import { Duration, Schema } from "effect"

/** A duration field, encoded as milliseconds under the field's name with `Ms` appended (`retryAfter` as `retryAfterMs`). */
const millis = <K extends string>(name: K) =>
  Schema.propertySignature(Schema.DurationFromMillis).pipe(Schema.fromKey(`${name}Ms` as const))

/** A session's status, repeated here as a plain literal schema so errors do not depend on the Session module. */
const Status = Schema.Literal("active", "waiting", "closed", "expired", "evicted")

/** No session has this id (or, over HTTP, it belongs to another owner). */
export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {
  id: Schema.String
}) {
  override get message() {
    return `session ${this.id} was not found`
  }
}

/**
 * The session has ended (closed, expired or evicted) and is kept as a tombstone, so the caller learns why it is gone.
 */
export class SessionEnded extends Schema.TaggedError<SessionEnded>()("SessionEnded", {
  id: Schema.String,
  status: Schema.Literal("closed", "expired", "evicted")
}) {
  override get message() {
    return `session ${this.id} has ended (${this.status})`
  }
}

/** Another session of the same owner that has not ended already has this name. */
export class SessionNameTaken extends Schema.TaggedError<SessionNameTaken>()("SessionNameTaken", {
  owner: Schema.String,
  name: Schema.String
}) {
  override get message() {
    return `owner ${this.owner} already has a live session named "${this.name}"`
  }
}

/** Creating one more live session would pass the global or the per-owner limit. */
export class CapacityExceeded extends Schema.TaggedError<CapacityExceeded>()("CapacityExceeded", {
  scope: Schema.Literal("global", "owner"),
  limit: Schema.Number
}) {
  override get message() {
    return this.scope === "global"
      ? `the service holds its maximum of ${this.limit} live sessions`
      : `this owner holds its maximum of ${this.limit} live sessions`
  }
}

/** A value given by a caller is not valid: which field, what was wrong with it, and what is allowed. */
export class InvalidInput extends Schema.TaggedError<InvalidInput>()("InvalidInput", {
  field: Schema.String,
  reason: Schema.String,
  expected: Schema.String
}) {
  override get message() {
    return `${this.field}: ${this.reason}; expected ${this.expected}`
  }
}

/** The event is not allowed from the session's status (see the transition table in `Lifecycle`). */
export class InvalidTransition extends Schema.TaggedError<InvalidTransition>()("InvalidTransition", {
  id: Schema.String,
  from: Status,
  event: Schema.String
}) {
  override get message() {
    return `session ${this.id} cannot ${this.event} while ${this.from}`
  }
}

/** A compare-and-set write expected one version of the session and found another. */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()("VersionConflict", {
  id: Schema.String,
  expected: Schema.Number,
  actual: Schema.Number
}) {
  override get message() {
    return `session ${this.id} is at version ${this.actual}, not the expected ${this.expected}`
  }
}

/** The session's exclusive permit was not acquired within the lock timeout. */
export class SessionBusy extends Schema.TaggedError<SessionBusy>()("SessionBusy", {
  id: Schema.String,
  holder: Schema.String,
  waited: millis("waited")
}) {
  override get message() {
    return `session ${this.id} is busy (held by ${this.holder}); gave up after ${Duration.format(this.waited)}`
  }
}

/** A store lease on the session is held by another holder until `expiresAt` (epoch milliseconds). */
export class LeaseHeld extends Schema.TaggedError<LeaseHeld>()("LeaseHeld", {
  id: Schema.String,
  holder: Schema.String,
  expiresAt: Schema.Number
}) {
  override get message() {
    return `session ${this.id} is leased by ${this.holder}`
  }
}

/**
 * A write carried a fencing token that is no longer the session's current lease: the lease expired or was taken by
 * another holder, so the write was refused.
 */
export class StaleFencingToken extends Schema.TaggedError<StaleFencingToken>()("StaleFencingToken", {
  id: Schema.String,
  token: Schema.Number
}) {
  override get message() {
    return `fencing token ${this.token} no longer holds the lease on session ${this.id}`
  }
}

/** A rate limit was exceeded; the call may be retried after `retryAfter`. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  key: Schema.String,
  retryAfter: millis("retryAfter")
}) {
  override get message() {
    return `rate limit exceeded for ${this.key}; retry after ${Duration.format(this.retryAfter)}`
  }
}

/** An operation ran past its deadline and was interrupted. */
export class OperationTimeout extends Schema.TaggedError<OperationTimeout>()("OperationTimeout", {
  operation: Schema.String,
  after: millis("after")
}) {
  override get message() {
    return `${this.operation} timed out after ${Duration.format(this.after)}`
  }
}

/** The store did not answer or reported a transient condition (busy, locked, connection lost). Retried. */
export class StoreUnavailable extends Schema.TaggedError<StoreUnavailable>()("StoreUnavailable", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `store unavailable during ${this.operation}: ${this.reason}`
  }
}

/** The store failed in a way retrying cannot fix (constraint, I/O error, incompatible schema). Never retried. */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  operation: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `store error during ${this.operation}: ${this.reason}`
  }
}

/** A stored record could not be decoded. */
export class CorruptRecord extends Schema.TaggedError<CorruptRecord>()("CorruptRecord", {
  id: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `stored session ${this.id} is corrupt: ${this.reason}`
  }
}

/** The manager is shutting down and accepts no new work. */
export class ShuttingDown extends Schema.TaggedError<ShuttingDown>()("ShuttingDown", {}) {
  override get message() {
    return "the session manager is shutting down"
  }
}

/** One problem with one configuration field. */
export const ConfigIssue = Schema.Struct({ field: Schema.String, reason: Schema.String })

/** The configuration is invalid; `issues` lists every bad field, not only the first. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  issues: Schema.Array(ConfigIssue)
}) {
  override get message() {
    return `invalid configuration:\n${this.issues.map((issue) => `  - ${issue.field}: ${issue.reason}`).join("\n")}`
  }
}

/** Every failure of effect-sessions, as a schema (for encoding and decoding) and as a type. */
export const SessionError = Schema.Union(
  SessionNotFound,
  SessionEnded,
  SessionNameTaken,
  CapacityExceeded,
  InvalidInput,
  InvalidTransition,
  VersionConflict,
  SessionBusy,
  LeaseHeld,
  StaleFencingToken,
  RateLimited,
  OperationTimeout,
  StoreUnavailable,
  StoreError,
  CorruptRecord,
  ShuttingDown,
  InvalidConfig
)
export type SessionError = typeof SessionError.Type

/** The failures every store call may produce: transient (`StoreUnavailable`) or permanent (`StoreError`). */
export type StoreFailure = StoreUnavailable | StoreError
