/**
 * Every statement the SQLite store runs, prepared once per connection. Hot queries are answered from indexes (see
 * `schema.ts`); `test/sqlite/QueryPlans.test.ts` checks each plan for full scans.
 */
import type Database from "better-sqlite3"
import { columns } from "./rows.js"

const live = "status IN ('active', 'waiting')"
const unleased = "NOT EXISTS (SELECT 1 FROM leases l WHERE l.session_id = s.id AND l.expires_at > ?)"

/** The SQL of each statement, by name (exported so tests can explain their plans). */
export const sql = {
  insert: `INSERT INTO sessions (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
  byId: `SELECT s.*, l.holder AS lease_holder, l.expires_at AS lease_expires_at, l.token AS lease_token FROM sessions s
    LEFT JOIN leases l ON l.session_id = s.id WHERE s.id = ?`,
  nameTaken: `SELECT 1 FROM sessions WHERE owner = ? AND name = ? AND ${live}`,
  ownerLive: `SELECT count(*) AS n FROM sessions WHERE owner = ? AND ${live}`,
  counts: "SELECT status, n FROM session_counts",
  ownerCounts: "SELECT status, count(*) AS n FROM sessions WHERE owner = ? GROUP BY status",
  ownerVictims:
    `SELECT s.* FROM sessions s INDEXED BY sessions_owner_live WHERE s.owner = ? AND s.${live} AND ${unleased}
    ORDER BY s.last_active_at LIMIT ?`,
  globalVictims: `SELECT s.* FROM sessions s INDEXED BY sessions_recency WHERE s.${live} AND ${unleased}
    ORDER BY s.last_active_at LIMIT ?`,
  write: `UPDATE sessions SET status = ?, last_active_at = ?, expires_at = ?, ended_at = ?, end_reason = ?,
    message_count = ?, response_times = ?, data = ?, version = ? WHERE id = ?`,
  endCorrupt: `UPDATE sessions SET status = ?, ended_at = ?, end_reason = ?, version = version + 1 WHERE seq = ?`,
  activity: `UPDATE sessions SET last_active_at = max(last_active_at, ?), expires_at = max(expires_at, ?),
    message_count = message_count + ?, response_times = coalesce(?, response_times) WHERE id = ? AND ${live}`,
  due: `SELECT s.* FROM sessions s INDEXED BY sessions_due WHERE s.${live} AND s.expires_at <= ?
    ORDER BY s.expires_at LIMIT ?`,
  dueUnleased: `SELECT s.* FROM sessions s INDEXED BY sessions_due WHERE s.${live} AND s.expires_at <= ? AND ${unleased}
    ORDER BY s.expires_at LIMIT ?`,
  recency: `SELECT * FROM sessions INDEXED BY sessions_recency WHERE ${live} ORDER BY last_active_at LIMIT ?`,
  ownerRecency: `SELECT * FROM sessions INDEXED BY sessions_owner_live WHERE owner = ? AND ${live}
    ORDER BY last_active_at LIMIT ?`,
  purge: `DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions INDEXED BY sessions_ended WHERE ended_at <= ?
    ORDER BY ended_at LIMIT ?)`,
  activeOf: "SELECT session_id FROM active_sessions WHERE owner = ?",
  activeSession: `SELECT s.* FROM active_sessions a JOIN sessions s ON s.id = a.session_id WHERE a.owner = ?`,
  setActive: `INSERT INTO active_sessions (owner, session_id) VALUES (?, ?)
    ON CONFLICT (owner) DO UPDATE SET session_id = excluded.session_id`,
  nextToken: "UPDATE meta SET value = value + 1 WHERE key = 'lease_token' RETURNING value",
  putLease: `INSERT INTO leases (session_id, holder, token, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET holder = excluded.holder, token = excluded.token,
    expires_at = excluded.expires_at`,
  renewLease: "UPDATE leases SET expires_at = ? WHERE session_id = ? AND token = ? AND expires_at > ?",
  releaseLease: "DELETE FROM leases WHERE session_id = ? AND token = ?",
  leases: "SELECT session_id, holder, token, expires_at FROM leases ORDER BY session_id"
} as const

/** The filters of a listing that select a statement: owner, status and kind, each present or not. */
export interface ListShape {
  readonly owner: boolean
  readonly status: boolean
  readonly kind: boolean
}

/**
 * The listing statement for a combination of filters: keyset pagination on `seq`, through the index of the most
 * selective filter given (owner, then status, then kind). Parameters: the filters given, in that order, then the
 * cursor's seq and the limit.
 */
export const listSql = (shape: ListShape): string => {
  const index = shape.owner
    ? "sessions_owner"
    : shape.status
    ? "sessions_status"
    : shape.kind
    ? "sessions_kind"
    : undefined
  const where = [
    ...(shape.owner ? ["owner = ?"] : []),
    ...(shape.status ? ["status = ?"] : []),
    ...(shape.kind ? ["kind = ?"] : []),
    "seq > ?"
  ]
  return `SELECT * FROM sessions${index === undefined ? "" : ` INDEXED BY ${index}`} WHERE ${
    where.join(" AND ")
  } ORDER BY seq LIMIT ?`
}

/** The prepared statements of one connection. */
export type Statements =
  & { readonly [K in keyof typeof sql]: Database.Statement }
  & { readonly list: (shape: ListShape) => Database.Statement }

/** The statements, prepared on `db`. */
export const prepare = (db: Database.Database): Statements => {
  const prepared = Object.fromEntries(
    Object.entries(sql).map(([name, text]) => [name, db.prepare(text)])
  ) as { readonly [K in keyof typeof sql]: Database.Statement }
  const lists = new Map<string, Database.Statement>()
  return {
    ...prepared,
    list: (shape: ListShape): Database.Statement => {
      const key = `${shape.owner}${shape.status}${shape.kind}`
      let statement = lists.get(key)
      if (statement === undefined) {
        statement = db.prepare(listSql(shape))
        lists.set(key, statement)
      }
      return statement
    }
  }
}
