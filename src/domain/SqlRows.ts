/**
 * The stored form of a session in the SQL stores (SQLite, Postgres): its columns, the parameters that write a
 * session, and the decoding of a row back into a `Session`. Decoding checks every column by the domain's rules and
 * says which one is wrong, so a damaged row becomes a `CorruptRecord` instead of a defect or a session with bad
 * values. Pure: a store reads rows as arrays in `rowColumns` order and decodes them here.
 */
import { Either } from "effect"
import { CorruptRecord } from "./Errors.js"
import {
  isSessionId,
  type OwnerId,
  type SessionId,
  validateOwnerId,
  validateSessionKind,
  validateSessionName
} from "./Ids.js"
import type { Candidate } from "./InsertPlan.js"
import {
  type EndReason,
  type EpochMillis,
  isEnded,
  isEpochMillis,
  isLimitMillis,
  type JsonValue,
  type LiveStatus,
  maxLimitMillis,
  type Millis,
  type Session,
  type SessionStatus,
  statuses
} from "./Session.js"
import type { LeaseState } from "./StoreRules.js"

/**
 * The columns a full row is read with, in this order. Statements that read whole sessions select exactly these and
 * return arrays (better-sqlite3's raw mode), which is a third faster than building an object per row.
 */
export const rowColumns =
  "seq, id, owner, name, kind, status, created_at, last_active_at, expires_at, idle_timeout, max_lifetime, " +
  "ended_at, end_reason, message_count, response_times, data, version"

/** The position of each column of a full row, for the accessors below (no caller indexes a row itself). */
const at = {
  seq: 0,
  owner: 2,
  status: 5,
  leaseHolder: 17,
  leaseExpiresAt: 18,
  leaseToken: 19
} as const

/** A row of the `sessions` table read with `rowColumns`. */
export type SessionRow = readonly [
  seq: number,
  id: unknown,
  owner: unknown,
  name: unknown,
  kind: unknown,
  status: unknown,
  createdAt: unknown,
  lastActiveAt: unknown,
  expiresAt: unknown,
  idleTimeout: unknown,
  maxLifetime: unknown,
  endedAt: unknown,
  endReason: unknown,
  messageCount: unknown,
  responseTimes: unknown,
  data: unknown,
  version: unknown,
  ...rest: Array<unknown>
]

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

/**
 * The parameters of a write of every column a session's life changes (status, activity, ending, data, version),
 * in that order, then its id: what both SQL stores' `write` statements take.
 */
export const encodeWrite = (session: Session): Array<unknown> => [
  session.status,
  session.lastActiveAt,
  session.expiresAt,
  session.endedAt,
  session.endReason,
  session.messageCount,
  JSON.stringify(session.responseTimes),
  JSON.stringify(session.data),
  session.version,
  session.id
]

class Bad {
  constructor(readonly reason: string) {}
}

const show = (value: unknown) => (typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : String(value))

/** A stored instant, by the domain's rule (`isEpochMillis`). */
const instant = (column: string, value: unknown): EpochMillis => {
  if (!isEpochMillis(value)) throw new Bad(`${column}: expected an instant in whole milliseconds, got ${show(value)}`)
  return value
}

/** A stored limit, by the domain's rule (`isLimitMillis`). */
const limit = (column: string, value: unknown): Millis => {
  if (!isLimitMillis(value)) {
    throw new Bad(`${column}: expected whole milliseconds from 1 to ${maxLimitMillis}, got ${show(value)}`)
  }
  return value
}

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
  const [
    seq,
    rawId,
    owner,
    name,
    kind,
    rawStatus,
    createdAt,
    lastActiveAt,
    expires,
    idle,
    lifetime,
    endedAt,
    endReason,
    messageCount,
    times,
    data,
    version
  ] = row
  const id = typeof rawId === "string" ? rawId : `seq ${seq}`
  try {
    if (!isSessionId(rawId)) throw new Bad(`id: not a session id: ${show(rawId)}`)
    const status = rawStatus as SessionStatus
    if (!statuses.includes(status)) throw new Bad(`status: not a status: ${show(rawStatus)}`)
    const ended = isEnded(status)
    if ((endedAt === null) === ended || (endReason === null) === ended) {
      throw new Bad(`ended_at, end_reason: must be set exactly when the status is an ended one (status ${status})`)
    }
    if (endReason !== null && typeof endReason !== "string") throw new Bad("end_reason: expected text")
    const session: Session = {
      id: rawId,
      owner: text("owner", owner, validateOwnerId),
      name: name === null ? null : text("name", name, validateSessionName),
      kind: text("kind", kind, validateSessionKind),
      status,
      createdAt: instant("created_at", createdAt),
      lastActiveAt: instant("last_active_at", lastActiveAt),
      expiresAt: instant("expires_at", expires),
      idleTimeout: limit("idle_timeout", idle),
      maxLifetime: limit("max_lifetime", lifetime),
      endedAt: endedAt === null ? null : instant("ended_at", endedAt),
      endReason: endReason as EndReason | null,
      messageCount: integer("message_count", messageCount, 0),
      responseTimes: responseTimes(times),
      data: json("data", data) as JsonValue,
      version: integer("version", version, 1)
    }
    return Either.right(session)
  } catch (error) {
    if (error instanceof Bad) return Either.left(new CorruptRecord({ id, reason: error.reason }))
    throw error
  }
}

/** The row's position in insertion order (its cursor). */
export const rowSeq = (row: SessionRow): number => row[at.seq]

/** The owner column as stored (unchecked). */
export const rowOwner = (row: SessionRow): unknown => row[at.owner]

/** The lease of a row read with its lease columns after the session's (`byIdWithLease`), or `null` without one. */
export const rowLease = (row: SessionRow): LeaseState | null => {
  const expiresAt = row[at.leaseExpiresAt]
  return typeof expiresAt === "number"
    ? { holder: row[at.leaseHolder] as string, token: row[at.leaseToken] as number, expiresAt }
    : null
}

/**
 * The columns a batch or an insert's plan reads of a live session, with its lease's end: no data to decode. Read as
 * an object row (`light` in `statements.ts`).
 */
export interface LightRow {
  readonly seq: number
  readonly id: SessionId
  readonly owner: OwnerId
  readonly status: LiveStatus
  readonly created_at: number
  readonly last_active_at: number
  readonly expires_at: number
  readonly idle_timeout: number
  readonly max_lifetime: number
  readonly lease_expires_at: number | null
}

/** A light row as the store rules weigh it, with its seq for the statements that end it. */
export interface CandidateRow extends Candidate {
  readonly seq: number
}

/** A light row as a candidate of an insert's plan or a batch (numbers as stored: a damaged row gives nonsense, never a crash). */
export const candidateOf = (row: LightRow): CandidateRow => ({
  seq: row.seq,
  session: {
    id: row.id,
    owner: row.owner,
    status: row.status,
    createdAt: row.created_at as EpochMillis,
    lastActiveAt: row.last_active_at as EpochMillis,
    expiresAt: row.expires_at as EpochMillis,
    idleTimeout: row.idle_timeout as Millis,
    maxLifetime: row.max_lifetime as Millis
  },
  lease: row.lease_expires_at === null ? null : { expiresAt: row.lease_expires_at }
})
