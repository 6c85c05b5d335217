/**
 * Every statement the SQLite store runs, prepared once per connection. Hot queries are answered from indexes (see
 * `schema.ts`); `test/sqlite/QueryPlans.test.ts` checks each plan for full scans.
 */
import type Database from "better-sqlite3"
import { columns, rowColumns } from "../../../domain/SqlRows.js"
import { storedColumns } from "./storedRows.js"

const live = "status IN ('active', 'waiting')"
const unleased = "NOT EXISTS (SELECT 1 FROM leases l WHERE l.session_id = s.id AND l.expires_at > ?)"
/** The columns a batch needs to end a session, with its lease's end: no data to decode. */
const light = "s.seq, s.id, s.owner, s.status, s.created_at, s.last_active_at, s.expires_at, s.idle_timeout, " +
  "s.max_lifetime, (SELECT l.expires_at FROM leases l WHERE l.session_id = s.id) AS lease_expires_at"
const ids = "SELECT value FROM json_each(?)"
const prefixed = rowColumns.split(", ").map((column) => `s.${column}`).join(", ")

/** The statements that read whole rows: they return arrays in `rowColumns` order. */
const fullRows: ReadonlySet<string> = new Set(["byId", "byIdWithLease", "activeSession", "session", "sessionWithLease"])

/** The SQL of each statement, by name (exported so tests can explain their plans). */
export const sql = {
  insert: `INSERT INTO sessions (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
  byId: `SELECT ${rowColumns} FROM sessions WHERE id = ?`,
  byIdWithLease: `SELECT ${prefixed}, l.holder, l.expires_at, l.token
    FROM sessions s LEFT JOIN leases l ON l.session_id = s.id WHERE s.id = ?`,
  session: `SELECT ${storedColumns} FROM sessions WHERE id = ?`,
  sessionWithLease: `SELECT ${storedColumns.split(", ").map((column) => `s.${column}`).join(", ")},
    l.holder, l.expires_at, l.token FROM sessions s LEFT JOIN leases l ON l.session_id = s.id WHERE s.id = ?`,
  leaseOf: "SELECT holder, token, expires_at FROM leases WHERE session_id = ?",
  ownerLive: "SELECT n FROM owner_live_counts WHERE owner = ?",
  adjustOwner:
    "INSERT INTO owner_live_counts (owner, n) VALUES (?, ?) ON CONFLICT (owner) DO UPDATE SET n = n + excluded.n",
  dropEmptyOwner: "DELETE FROM owner_live_counts WHERE owner = ? AND n <= 0",
  counts: "SELECT status, n FROM session_counts",
  adjustCount: "UPDATE session_counts SET n = n + ? WHERE status = ?",
  ownerCounts: "SELECT status, count(*) AS n FROM sessions WHERE owner = ? GROUP BY status",
  ownerVictims: `SELECT ${light} FROM sessions s INDEXED BY sessions_owner WHERE s.owner = ? AND s.${live}
    AND s.seq <> ? AND ${unleased} ORDER BY s.last_active_at LIMIT ?`,
  globalVictims: `SELECT ${light} FROM sessions s INDEXED BY sessions_recency WHERE s.${live} AND s.seq <> ?
    AND ${unleased} ORDER BY s.last_active_at LIMIT ?`,
  write: `UPDATE sessions SET status = ?, last_active_at = ?, expires_at = ?, ended_at = ?, end_reason = ?,
    message_count = ?, response_times = ?, data = ?, version = ? WHERE id = ?`,
  endBatch: `UPDATE sessions SET status = j.value ->> 1, ended_at = j.value ->> 2, end_reason = j.value ->> 3,
    version = version + 1 FROM json_each(?) AS j WHERE sessions.seq = j.value ->> 0`,
  liveByName: `SELECT ${light} FROM sessions s WHERE s.owner = ? AND s.name = ? AND s.${live}`,
  ownerExpired: `SELECT ${light} FROM sessions s INDEXED BY sessions_owner WHERE s.owner = ? AND s.${live}
    AND s.expires_at <= ? AND s.seq <> ? AND ${unleased} ORDER BY s.expires_at LIMIT ?`,
  dropLeases: `DELETE FROM leases WHERE session_id IN (${ids})`,
  dropPointers: `DELETE FROM active_sessions WHERE session_id IN (${ids})`,
  activity: `UPDATE sessions SET last_active_at = max(last_active_at, ?), expires_at = max(expires_at, ?),
    message_count = message_count + ?, response_times = coalesce(?, response_times) WHERE id = ? AND ${live}`,
  dueUnleased: `SELECT ${light} FROM sessions s INDEXED BY sessions_due WHERE s.${live} AND s.expires_at <= ?
    AND ${unleased} ORDER BY s.expires_at LIMIT ?`,
  purge: `DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions INDEXED BY sessions_ended WHERE ended_at <= ?
    ORDER BY ended_at LIMIT ?) RETURNING status`,
  activeOf: "SELECT session_id FROM active_sessions WHERE owner = ?",
  activeSession: `SELECT ${prefixed} FROM active_sessions a JOIN sessions s ON s.id = a.session_id WHERE a.owner = ?`,
  setActive: `INSERT INTO active_sessions (owner, session_id) VALUES (?, ?)
    ON CONFLICT (owner) DO UPDATE SET session_id = excluded.session_id`,
  nextToken: "UPDATE meta SET value = value + 1 WHERE key = 'lease_token' RETURNING value",
  putLease: `INSERT INTO leases (session_id, holder, token, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET holder = excluded.holder, token = excluded.token,
    expires_at = excluded.expires_at`,
  releaseLease: "DELETE FROM leases WHERE session_id = ? AND token = ?",
  leases: "SELECT session_id, holder, token, expires_at FROM leases ORDER BY session_id",
  wholeRow: "SELECT * FROM sessions WHERE id = ?",
  quarantine: "INSERT INTO quarantine (id, row, reason, quarantined_at) VALUES (?, ?, ?, ?)",
  deleteRow: "DELETE FROM sessions WHERE seq = ?",
  deleteById: "DELETE FROM sessions WHERE id = ?"
} as const

/** The filters of a listing that select a statement: owner, status and kind, each present or not. */
export interface ListShape {
  readonly owner: boolean
  readonly status: boolean
  readonly kind: boolean
}

/**
 * The listing statement for a combination of filters: keyset pagination on `seq`, through the owner index when an
 * owner is given, through the index of waiting sessions for `listWaiting`, and otherwise along `seq` itself (listing
 * ended sessions, or one kind, across all owners, is an operator's walk, not a hot path). Parameters: the filters
 * given, in that order, then the cursor's seq and the limit.
 */
export const listSql = (shape: ListShape & { readonly waiting?: boolean; readonly expired?: boolean }): string => {
  const index = shape.owner ? "sessions_owner" : shape.waiting === true ? "sessions_waiting" : undefined
  const status = shape.waiting === true
    ? "status = 'waiting' AND status = ?"
    // Live sessions may have expired without a record of it yet: the store presents them as expired.
    : shape.expired === true
    ? `(status = ? OR ${live})`
    : "status = ?"
  const where = [
    ...(shape.owner ? ["owner = ?"] : []),
    ...(shape.status ? [status] : []),
    ...(shape.kind ? ["kind = ?"] : []),
    "seq > ?"
  ]
  return `SELECT ${rowColumns} FROM sessions${index === undefined ? "" : ` INDEXED BY ${index}`} WHERE ${
    where.join(" AND ")
  } ORDER BY seq LIMIT ?`
}

/** The prepared statements of one connection. */
export type Statements =
  & { readonly [K in keyof typeof sql]: Database.Statement }
  & {
    readonly list: (
      shape: ListShape & { readonly waiting?: boolean; readonly expired?: boolean }
    ) => Database.Statement
  }

/** The statements, prepared on `db`. */
export const prepare = (db: Database.Database): Statements => {
  const prepared = Object.fromEntries(
    Object.entries(sql).map(([name, text]) => {
      const statement = db.prepare(text)
      return [name, fullRows.has(name) ? statement.raw(true) : statement]
    })
  ) as { readonly [K in keyof typeof sql]: Database.Statement }
  const lists = new Map<string, Database.Statement>()
  return {
    ...prepared,
    list: (shape: ListShape & { readonly waiting?: boolean; readonly expired?: boolean }): Database.Statement => {
      const key = `${shape.owner}${shape.status}${shape.kind}${shape.waiting === true}${shape.expired === true}`
      let statement = lists.get(key)
      if (statement === undefined) {
        statement = db.prepare(listSql(shape)).raw(true)
        lists.set(key, statement)
      }
      return statement
    }
  }
}
