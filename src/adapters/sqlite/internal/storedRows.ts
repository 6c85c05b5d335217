/**
 * Reading one session by id on the hot paths (`get`, `touch`, writes): only the columns a `Session` returns, and a
 * decode that trusts what the store itself wrote (every value was checked on its way in) but checks each column's
 * shape, cheaply. A row that fails is read again whole and decoded by `SqlRows.decode`, which names the bad column in
 * its `CorruptRecord`.
 */
import type { SessionId } from "../../../domain/Ids.js"
import {
  type EndReason,
  isEpochMillis,
  isLimitMillis,
  type JsonValue,
  type Millis,
  type Session,
  type SessionStatus
} from "../../../domain/Session.js"

/** The columns of a session read by id, in this order (the id is the key asked for). */
export const storedColumns = "owner, name, kind, status, created_at, last_active_at, expires_at, idle_timeout, " +
  "max_lifetime, ended_at, end_reason, message_count, response_times, data, version"

/** How many columns `storedColumns` names: a lease's columns, when read too, come after them. */
export const storedWidth = 15

/** A row read with `storedColumns` (better-sqlite3's raw mode), and maybe more columns after them. */
export type StoredRow = ReadonlyArray<unknown>

/** Whether each status is an ended one; `undefined` for anything that is not a status. */
const endedBy: Record<string, boolean | undefined> = {
  active: false,
  waiting: false,
  closed: true,
  expired: true,
  evicted: true
}

const count = (value: unknown, min: number): value is number =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= min

const parsed = (value: unknown): unknown => {
  if (typeof value !== "string") return undefined
  try {
    return JSON.parse(value)
  } catch {
    return undefined
  }
}

/**
 * The session stored under `id` from its row, or `undefined` if a column does not have the shape the store writes
 * (the caller then decodes the whole row to say which). Checks types, instants and limits, the status and its ending,
 * and that both JSON columns parse (the response times to an array); trusts the rest as written.
 */
export const storedSession = (id: SessionId, row: StoredRow): Session | undefined => {
  const owner = row[0]
  const name = row[1]
  const kind = row[2]
  const status = row[3]
  const createdAt = row[4]
  const lastActiveAt = row[5]
  const expiresAt = row[6]
  const idleTimeout = row[7]
  const maxLifetime = row[8]
  const endedAt = row[9]
  const endReason = row[10]
  const messageCount = row[11]
  const version = row[14]
  if (
    typeof owner !== "string" || (name !== null && typeof name !== "string") || typeof kind !== "string" ||
    typeof status !== "string" || !isEpochMillis(createdAt) || !isEpochMillis(lastActiveAt) ||
    !isEpochMillis(expiresAt) || !isLimitMillis(idleTimeout) || !isLimitMillis(maxLifetime) ||
    !count(messageCount, 0) || !count(version, 1)
  ) return undefined
  const ended = Object.hasOwn(endedBy, status) ? endedBy[status] : undefined
  if (ended === undefined) return undefined
  if (ended ? !isEpochMillis(endedAt) || typeof endReason !== "string" : endedAt !== null || endReason !== null) {
    return undefined
  }
  // Most sessions have recorded no response time yet: their window is read without a parse.
  const responseTimes = row[12] === "[]" ? [] : parsed(row[12])
  if (!Array.isArray(responseTimes)) return undefined
  const data = parsed(row[13])
  if (data === undefined) return undefined
  return {
    id,
    owner,
    name,
    kind,
    status: status as SessionStatus,
    createdAt,
    lastActiveAt,
    expiresAt,
    idleTimeout,
    maxLifetime,
    endedAt,
    endReason: endReason as EndReason | null,
    messageCount,
    responseTimes: responseTimes as ReadonlyArray<Millis>,
    data: data as JsonValue,
    version
  } as Session
}
