/**
 * The session record: its fields, its status set, and the schemas that encode it for storage and transport.
 *
 * Stored fields that are instants or spans use branded millisecond numbers (`EpochMillis`, `Millis`) so a record
 * stays small in memory and encodes as plain JSON; the unit is in the brand. APIs take `Duration`s.
 */
import { Clock, Effect, Schema } from "effect"
import { isJsonValue } from "./Data.js"
import { OwnerId, SessionId, SessionKind, SessionName } from "./Ids.js"

/** The latest instant a `Date` can hold (8.64e15 milliseconds after the epoch): no stored instant is later. */
export const maxEpochMillis = 8_640_000_000_000_000

/** Whether `value` can be a stored instant: whole milliseconds from 0 to `maxEpochMillis`. */
export const isEpochMillis = (value: unknown): value is EpochMillis =>
  typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= maxEpochMillis

/** An instant: whole milliseconds since the Unix epoch, read from `Clock`, at most `maxEpochMillis`. */
export const EpochMillis = Schema.Number.pipe(
  Schema.int(),
  Schema.between(0, maxEpochMillis),
  Schema.brand("EpochMillis")
)
export type EpochMillis = typeof EpochMillis.Type

/**
 * `clock`'s time now as a stored instant: whole milliseconds (a clock may read fractions, as `TestClock` does after a
 * jittered delay; instants are stored and checked in whole milliseconds, so every reader decodes what was written).
 */
export const epochMillisOf = (clock: Clock.Clock): EpochMillis =>
  Math.floor(clock.unsafeCurrentTimeMillis()) as EpochMillis

/** Now, as an instant, from the current `Clock` (so `TestClock` drives it). */
export const currentEpochMillis: Effect.Effect<EpochMillis> = Effect.clockWith((clock) =>
  Effect.sync(() => epochMillisOf(clock))
)

/** A span of time in milliseconds (a response time, or a session's limit). */
export const Millis = Schema.Number.pipe(Schema.finite(), Schema.nonNegative(), Schema.brand("Millis"))
export type Millis = typeof Millis.Type

/**
 * The longest limit a session may have (`idleTimeout`, `maxLifetime`), and the longest duration any setting takes:
 * 36,500 days (about 100 years), in milliseconds. With it, every instant computed from a limit stays a valid date.
 */
export const maxLimitMillis = 36_500 * 86_400_000

/** Whether `value` can be a session's limit: whole milliseconds from 1 to `maxLimitMillis`. */
export const isLimitMillis = (value: unknown): value is Millis =>
  typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= maxLimitMillis

/** A session's limit as stored: whole milliseconds, 1 to `maxLimitMillis`. */
export const LimitMillis = Schema.Number.pipe(
  Schema.int(),
  Schema.between(1, maxLimitMillis),
  Schema.brand("Millis")
)

/** The statuses a session can be in: two live ones and three ended ones. */
export const SessionStatus = Schema.Literal("active", "waiting", "closed", "expired", "evicted")
export type SessionStatus = typeof SessionStatus.Type

/** The statuses of a session that has not ended. */
export const LiveStatus = Schema.Literal("active", "waiting")
export type LiveStatus = typeof LiveStatus.Type

/** The statuses of a session that has ended; an ended session is kept as a tombstone until `retention` passes. */
export const EndedStatus = Schema.Literal("closed", "expired", "evicted")
export type EndedStatus = typeof EndedStatus.Type

/** Every status, in a fixed order (for counts and metrics). */
export const statuses: ReadonlyArray<SessionStatus> = SessionStatus.literals

/** Whether a session in `status` has ended. */
export const isEnded = (status: SessionStatus): status is EndedStatus =>
  status === "closed" || status === "expired" || status === "evicted"

/** Any JSON value: what a session's `data` may hold (see `Data.isJsonValue` for the exact rule). */
export type JsonValue = null | boolean | number | string | ReadonlyArray<JsonValue> | {
  readonly [key: string]: JsonValue
}

/**
 * The schema of a JSON value (finite numbers only, as JSON has no NaN or Infinity). It checks the value in place and
 * keeps it as it is: rebuilding objects key by key would turn an own `"__proto__"` member, which `JSON.parse` makes,
 * into a change of prototype.
 */
export const JsonValue: Schema.Schema<JsonValue> = Schema.declare(
  (value: unknown): value is JsonValue => isJsonValue(value),
  {
    identifier: "JsonValue",
    description: "a JSON value (finite numbers, strings, booleans, null, arrays and plain objects)",
    jsonSchema: {
      anyOf: [
        { type: "object" },
        { type: "array" },
        { type: "string" },
        { type: "number" },
        { type: "boolean" },
        { type: "null" }
      ]
    }
  }
)

/** Why a session ended, in words ("closed by owner", "idle timeout", "max lifetime", "evicted: capacity"). */
export const EndReason = Schema.String.pipe(Schema.maxLength(256), Schema.brand("EndReason"))
export type EndReason = typeof EndReason.Type

/**
 * A session: a long-lived, stateful interaction that a server keeps track of.
 *
 * - `idleTimeout` and `maxLifetime` are fixed when the session is created (from the configuration, or per session),
 *   so a session's promise of life never changes under it and every store can tell why it expired.
 * - `expiresAt` is always `min(lastActiveAt + idleTimeout, createdAt + maxLifetime)` (see `Expiry.expiresAt`).
 * - `responseTimes` holds the last `responseTimeWindow` response times, oldest first, never more.
 * - `version` starts at 1 and grows by one on every data or status write; activity (touch) never changes it.
 * - `endedAt` and `endReason` are set exactly when `status` is an ended one.
 */
export const Session = Schema.Struct({
  id: SessionId,
  owner: OwnerId,
  name: Schema.NullOr(SessionName),
  kind: SessionKind,
  status: SessionStatus,
  createdAt: EpochMillis,
  lastActiveAt: EpochMillis,
  expiresAt: EpochMillis,
  idleTimeout: LimitMillis,
  maxLifetime: LimitMillis,
  endedAt: Schema.NullOr(EpochMillis),
  endReason: Schema.NullOr(EndReason),
  messageCount: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  responseTimes: Schema.Array(Millis),
  data: JsonValue,
  version: Schema.Number.pipe(Schema.int(), Schema.positive())
}).annotations({ identifier: "Session" })
export interface Session extends Schema.Schema.Type<typeof Session> {}

/**
 * The response times of a session that has recorded none: one frozen empty array shared by every new session, since
 * a window is never changed in place (`Activity.pushResponseTime` makes a new one).
 */
export const noResponseTimes: ReadonlyArray<Millis> = Object.freeze([])

/** Counts of sessions by status, tombstones included. */
export interface StatusCounts {
  readonly active: number
  readonly waiting: number
  readonly closed: number
  readonly expired: number
  readonly evicted: number
}

/** The number of live sessions in `counts`. */
export const liveCount = (counts: StatusCounts): number => counts.active + counts.waiting
