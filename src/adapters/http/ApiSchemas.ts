/** The bodies, parameters and answers of the HTTP API, as schemas (the OpenAPI document names each). */
import { Schema } from "effect"
import { Session, SessionStatus } from "../../domain/Session.js"

/** A page of sessions. */
export const SessionPage = Schema.Struct({
  sessions: Schema.Array(Session),
  next: Schema.NullOr(Schema.String),
  /** Ids of stored sessions in this range that could not be read (corrupt): reported, not returned. */
  corrupt: Schema.Array(Schema.String)
}).annotations({ identifier: "SessionPage" })

/** Filters and position of a listing. */
export const ListParams = Schema.Struct({
  status: Schema.optional(SessionStatus),
  kind: Schema.optional(Schema.String),
  after: Schema.optional(Schema.String),
  limit: Schema.optional(Schema.NumberFromString)
})

const Duration = Schema.Union(Schema.String, Schema.Number).annotations({
  description: "a duration: milliseconds, or text like 15m, 1h30m, \"2 hours\""
})

/** What a new session is made of (the owner is the token's subject). */
export const CreateSessionBody = Schema.Struct({
  name: Schema.optional(Schema.NullOr(Schema.String)),
  kind: Schema.optional(Schema.String),
  data: Schema.optional(Schema.Unknown),
  idleTimeout: Schema.optional(Duration),
  maxLifetime: Schema.optional(Duration)
}).annotations({ identifier: "CreateSession" })

/** Activity to record. */
export const ActivityBody = Schema.Struct({
  messages: Schema.optional(Schema.Number),
  responseTimeMs: Schema.optional(Schema.Number)
}).annotations({ identifier: "Activity" })

/** Which session to make the owner's active one. */
export const ActivateBody = Schema.Struct({ id: Schema.String }).annotations({ identifier: "Activate" })

/** The counts and tables of the service. */
export const Stats = Schema.Struct({
  counts: Schema.Struct({
    active: Schema.Number,
    waiting: Schema.Number,
    closed: Schema.Number,
    expired: Schema.Number,
    evicted: Schema.Number
  }),
  live: Schema.Number,
  inFlight: Schema.Number,
  locksHeld: Schema.Number,
  rateLimitKeys: Schema.Number,
  events: Schema.Struct({ epoch: Schema.String, lastSeq: Schema.Number, buffered: Schema.Number }),
  sweeps: Schema.Struct({ runs: Schema.Number, failures: Schema.Number })
}).annotations({ identifier: "Stats" })

/** What one sweep did. */
export const SweepReport = Schema.Struct({
  expired: Schema.Number,
  purged: Schema.Number,
  rateLimitKeysForgotten: Schema.Number
}).annotations({ identifier: "SweepReport" })

/** What a backup wrote. */
export const BackupReport = Schema.Struct({
  file: Schema.String,
  sessions: Schema.Number,
  activePointers: Schema.Number,
  skipped: Schema.Number,
  bytes: Schema.Number,
  sha256: Schema.String
}).annotations({ identifier: "BackupReport" })

/** The allowed browser origins, as set by an operator. */
export const Origins = Schema.Struct({ origins: Schema.Array(Schema.String) }).annotations({ identifier: "Origins" })

/** A record an operator removed, whatever its state (a corrupt one included). */
export const Removed = Schema.Struct({ id: Schema.String, removed: Schema.Literal(true) }).annotations({
  identifier: "Removed"
})
