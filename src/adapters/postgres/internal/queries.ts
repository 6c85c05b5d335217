/**
 * Every statement the Postgres store runs, by name. Writes that decide on what they read lock it first (`FOR UPDATE`
 * of the session's row; inserts also an advisory lock, so capacity holds across nodes); batches claim their rows
 * with `FOR UPDATE SKIP LOCKED`, so nodes sweeping at once never wait on each other nor end a session twice.
 */
import { columns, rowColumns } from "../../../domain/SqlRows.js"

const live = "status IN ('active', 'waiting')"
const unleased = "NOT EXISTS (SELECT 1 FROM leases l WHERE l.session_id = s.id AND l.expires_at > $NOW)"
/** The columns a batch or an insert's plan needs of a live session, with its lease's end: no data to decode. */
const light = "s.seq, s.id, s.owner, s.status, s.created_at, s.last_active_at, s.expires_at, s.idle_timeout, " +
  "s.max_lifetime, (SELECT l.expires_at FROM leases l WHERE l.session_id = s.id) AS lease_expires_at"
const prefixed = rowColumns.split(", ").map((column) => `s.${column}`).join(", ")
const numbered = (text: string, now: number) => text.replaceAll("$NOW", `$${now}`)

/** The SQL of each statement. Parameters are numbered in the order each caller passes them. */
export const sql = {
  /** Serializes inserts across nodes: capacity is checked and used in one step. */
  lockInserts: "SELECT pg_advisory_xact_lock(hashtextextended('effect-sessions:insert:' || current_schema(), 0))",
  /** Serializes switches of one owner's active session. */
  lockOwner: "SELECT pg_advisory_xact_lock(hashtextextended('effect-sessions:active:' || $1, 0))",
  insert: `INSERT INTO sessions (${columns.join(", ")}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(", ")})`,
  byId: `SELECT ${rowColumns} FROM sessions WHERE id = $1`,
  byIdWithLease: `SELECT ${prefixed}, l.holder, l.expires_at, l.token
    FROM sessions s LEFT JOIN leases l ON l.session_id = s.id WHERE s.id = $1`,
  lockedWithLease: `SELECT ${prefixed}, l.holder, l.expires_at, l.token
    FROM sessions s LEFT JOIN leases l ON l.session_id = s.id WHERE s.id = $1 FOR UPDATE OF s`,
  sharedWithLease: `SELECT ${prefixed}, l.holder, l.expires_at, l.token
    FROM sessions s LEFT JOIN leases l ON l.session_id = s.id WHERE s.id = $1 FOR SHARE OF s`,
  leaseOf: "SELECT holder, token, expires_at FROM leases WHERE session_id = $1",
  lockedLease: "SELECT holder, token, expires_at FROM leases WHERE session_id = $1 FOR UPDATE",
  liveCounts: `SELECT (SELECT count(*) FROM sessions WHERE owner = $1 AND ${live}) AS owner_live,
    (SELECT coalesce(sum(n), 0)::int8 FROM session_counts WHERE ${live}) AS global_live`,
  counts: "SELECT status, coalesce(sum(n), 0)::int8 AS n FROM session_counts GROUP BY status",
  ownerCounts: "SELECT status, count(*) AS n FROM sessions WHERE owner = $1 GROUP BY status",
  liveByName: `SELECT ${light} FROM sessions s WHERE s.owner = $1 AND s.name = $2 AND s.${live} FOR UPDATE OF s`,
  ownerExpired: numbered(
    `SELECT ${light} FROM sessions s WHERE s.owner = $1 AND s.${live} AND s.expires_at <= $NOW AND ${unleased}
    ORDER BY s.expires_at LIMIT $3 FOR UPDATE OF s SKIP LOCKED`,
    2
  ),
  ownerVictims: numbered(
    `SELECT ${light} FROM sessions s WHERE s.owner = $1 AND s.${live} AND ${unleased}
    ORDER BY s.last_active_at LIMIT $3 FOR UPDATE OF s SKIP LOCKED`,
    2
  ),
  globalVictims: numbered(
    `SELECT ${light} FROM sessions s WHERE s.${live} AND ${unleased} ORDER BY s.last_active_at LIMIT $2
    FOR UPDATE OF s SKIP LOCKED`,
    1
  ),
  dueUnleased: numbered(
    `SELECT ${light} FROM sessions s WHERE s.${live} AND s.expires_at <= $NOW AND ${unleased}
    ORDER BY s.expires_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED`,
    1
  ),
  write: `UPDATE sessions SET status = $1, last_active_at = $2, expires_at = $3, ended_at = $4, end_reason = $5,
    message_count = $6, response_times = $7, data = $8, version = $9 WHERE id = $10`,
  activity: `UPDATE sessions SET last_active_at = $1, expires_at = $2, message_count = $3, response_times = $4
    WHERE id = $5`,
  /** Ends a batch given as arrays (ids, statuses, instants, reasons), with their leases and active pointers. */
  endBatch:
    `WITH batch AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[]) AS b(id, status, at, reason)),
    ended AS (UPDATE sessions s SET status = b.status, ended_at = b.at, end_reason = b.reason, version = s.version + 1
      FROM batch b WHERE s.id = b.id AND s.${live} RETURNING s.id),
    leases_gone AS (DELETE FROM leases WHERE session_id IN (SELECT id FROM ended)),
    pointers_gone AS (DELETE FROM active_sessions WHERE session_id IN (SELECT id FROM ended))
    SELECT count(*) AS n FROM ended`,
  dropLease: "DELETE FROM leases WHERE session_id = $1",
  dropPointer: "DELETE FROM active_sessions WHERE session_id = $1",
  /** Appends changes of the counts, given as arrays (statuses, changes). */
  adjustCounts: "INSERT INTO session_counts (status, n) SELECT * FROM unnest($1::text[], $2::int8[])",
  /** Folds the appended changes into one row per status. */
  foldCounts: `WITH folded AS (DELETE FROM session_counts RETURNING status, n)
    INSERT INTO session_counts (status, n) SELECT status, sum(n) FROM folded GROUP BY status`,
  purge: `WITH gone AS (DELETE FROM sessions WHERE seq IN (SELECT seq FROM sessions WHERE ended_at <= $1
      ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING status),
    counted AS (INSERT INTO session_counts (status, n) SELECT status, -count(*) FROM gone GROUP BY status)
    SELECT count(*) AS n FROM gone`,
  activeOf: "SELECT session_id FROM active_sessions WHERE owner = $1",
  activeSession: `SELECT ${prefixed} FROM active_sessions a JOIN sessions s ON s.id = a.session_id WHERE a.owner = $1`,
  setActive: `INSERT INTO active_sessions (owner, session_id) VALUES ($1, $2)
    ON CONFLICT (owner) DO UPDATE SET session_id = excluded.session_id`,
  putLease: `INSERT INTO leases (session_id, holder, token, expires_at) VALUES ($1, $2, nextval('lease_tokens'), $3)
    ON CONFLICT (session_id) DO UPDATE SET holder = excluded.holder, token = excluded.token,
    expires_at = excluded.expires_at RETURNING token`,
  renewLease: "UPDATE leases SET expires_at = $3 WHERE session_id = $1 AND token = $2",
  releaseLease: "DELETE FROM leases WHERE session_id = $1 AND token = $2",
  leases: "SELECT session_id, holder, token, expires_at FROM leases ORDER BY session_id",
  wholeRow: "SELECT row_to_json(s)::text AS row, s.seq, s.status, s.owner FROM sessions s WHERE id = $1 FOR UPDATE",
  quarantine: "INSERT INTO quarantine (id, row, reason, quarantined_at) VALUES ($1, $2, $3, $4)",
  deleteRow: "DELETE FROM sessions WHERE seq = $1",
  deleteById: "DELETE FROM sessions WHERE id = $1"
} as const

/** The filters of a listing that select a statement: owner, status and kind, each present or not. */
export interface ListShape {
  readonly owner: boolean
  readonly status: boolean
  readonly kind: boolean
  /** Listing `expired`: live rows may have expired without a record of it yet, and are read too. */
  readonly expired: boolean
}

/**
 * The listing statement for a combination of filters: keyset pagination on `seq`. Parameters: the filters given, in
 * that order, then the cursor's seq and the limit.
 */
export const listSql = (shape: ListShape): string => {
  let n = 0
  const next = () => `$${++n}`
  const where = [
    ...(shape.owner ? [`owner = ${next()}`] : []),
    ...(shape.status ? [shape.expired ? `(status = ${next()} OR ${live})` : `status = ${next()}`] : []),
    ...(shape.kind ? [`kind = ${next()}`] : []),
    `seq > ${next()}`
  ]
  return `SELECT ${rowColumns} FROM sessions WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ${next()}`
}
