/**
 * Rows of the `sessions` table to and from `Session` records. Decoding checks every column and says which one is
 * wrong, so a damaged row becomes a `CorruptRecord` instead of a defect or a session with bad values.
 */
import { Either } from "effect"
import { CorruptRecord } from "../../../domain/Errors.js"
import { isSessionId, validateOwnerId, validateSessionKind, validateSessionName } from "../../../domain/Ids.js"
import {
  type EndReason,
  type EpochMillis,
  isEnded,
  type JsonValue,
  type Millis,
  type Session,
  type SessionStatus,
  statuses
} from "../../../domain/Session.js"

/** A row of the `sessions` table, as better-sqlite3 returns it. */
export interface SessionRow {
  readonly seq: number
  readonly id: unknown
  readonly owner: unknown
  readonly name: unknown
  readonly kind: unknown
  readonly status: unknown
  readonly created_at: unknown
  readonly last_active_at: unknown
  readonly expires_at: unknown
  readonly idle_timeout: unknown
  readonly max_lifetime: unknown
  readonly ended_at: unknown
  readonly end_reason: unknown
  readonly message_count: unknown
  readonly response_times: unknown
  readonly data: unknown
  readonly version: unknown
}

/** The columns written for a session, in the order of `insertSql`. */
export const columns = [
  "id",
  "owner",
  "name",
  "kind",
  "status",
  "created_at",
  "last_active_at",
  "expires_at",
  "idle_timeout",
  "max_lifetime",
  "ended_at",
  "end_reason",
  "message_count",
  "response_times",
  "data",
  "version"
] as const

/** The parameters that write `session` into the columns above. */
export const encode = (session: Session): Array<unknown> => [
  session.id,
  session.owner,
  session.name,
  session.kind,
  session.status,
  session.createdAt,
  session.lastActiveAt,
  session.expiresAt,
  session.idleTimeout,
  session.maxLifetime,
  session.endedAt,
  session.endReason,
  session.messageCount,
  JSON.stringify(session.responseTimes),
  JSON.stringify(session.data),
  session.version
]

class Bad {
  constructor(readonly reason: string) {}
}

const show = (value: unknown) => (typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : String(value))

const integer = (column: string, value: unknown, min: number): number => {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new Bad(`${column}: expected a whole number of at least ${min}, got ${show(value)}`)
  }
  return value
}

const text = <A>(
  column: string,
  value: unknown,
  check: (value: unknown, field: string) => Either.Either<A, { readonly reason: string }>
): A => {
  const checked = check(value, column)
  if (Either.isLeft(checked)) throw new Bad(`${column}: ${checked.left.reason}`)
  return checked.right
}

const json = (column: string, value: unknown): unknown => {
  if (typeof value !== "string") throw new Bad(`${column}: expected JSON text, got ${show(value)}`)
  try {
    return JSON.parse(value)
  } catch {
    throw new Bad(`${column}: not valid JSON`)
  }
}

const responseTimes = (value: unknown): ReadonlyArray<Millis> => {
  const parsed = json("response_times", value)
  if (!Array.isArray(parsed) || !parsed.every((n) => typeof n === "number" && Number.isFinite(n) && n >= 0)) {
    throw new Bad("response_times: expected an array of non-negative numbers")
  }
  return parsed as ReadonlyArray<Millis>
}

/** A row as a session, or the `CorruptRecord` that says which column is wrong. */
export const decode = (row: SessionRow): Either.Either<Session, CorruptRecord> => {
  const id = typeof row.id === "string" ? row.id : `seq ${row.seq}`
  try {
    if (!isSessionId(row.id)) throw new Bad(`id: not a session id: ${show(row.id)}`)
    const status = row.status as SessionStatus
    if (!statuses.includes(status)) throw new Bad(`status: not a status: ${show(row.status)}`)
    const ended = isEnded(status)
    if ((row.ended_at === null) === ended || (row.end_reason === null) === ended) {
      throw new Bad(`ended_at, end_reason: must be set exactly when the status is an ended one (status ${status})`)
    }
    if (row.end_reason !== null && typeof row.end_reason !== "string") throw new Bad("end_reason: expected text")
    const session: Session = {
      id: row.id,
      owner: text("owner", row.owner, validateOwnerId),
      name: row.name === null ? null : text("name", row.name, validateSessionName),
      kind: text("kind", row.kind, validateSessionKind),
      status,
      createdAt: integer("created_at", row.created_at, 0) as EpochMillis,
      lastActiveAt: integer("last_active_at", row.last_active_at, 0) as EpochMillis,
      expiresAt: integer("expires_at", row.expires_at, 0) as EpochMillis,
      idleTimeout: integer("idle_timeout", row.idle_timeout, 1) as Millis,
      maxLifetime: integer("max_lifetime", row.max_lifetime, 1) as Millis,
      endedAt: row.ended_at === null ? null : integer("ended_at", row.ended_at, 0) as EpochMillis,
      endReason: row.end_reason as EndReason | null,
      messageCount: integer("message_count", row.message_count, 0),
      responseTimes: responseTimes(row.response_times),
      data: json("data", row.data) as JsonValue,
      version: integer("version", row.version, 1)
    }
    return Either.right(session)
  } catch (error) {
    if (error instanceof Bad) return Either.left(new CorruptRecord({ id, reason: error.reason }))
    throw error
  }
}
