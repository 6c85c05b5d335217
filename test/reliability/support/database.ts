/**
 * Direct reads of a service's SQLite file, with no store, manager or service in between: what a crash left in it,
 * whether SQLite finds it intact, and the leases its last process still held.
 */
import Database from "better-sqlite3"
import type { Ledger, Stored } from "./ledger.js"

/** Opens `filename` (recovering its WAL after a crash), runs `f` on it, and closes it. */
export const withDatabase = <A>(filename: string, f: (db: Database.Database) => A): A => {
  const db = new Database(filename)
  try {
    return f(db)
  } finally {
    db.close()
  }
}

/** `PRAGMA integrity_check`: "ok" when SQLite finds nothing wrong. */
export const integrity = (filename: string): string =>
  withDatabase(
    filename,
    (db) => (db.pragma("integrity_check") as Array<{ integrity_check: string }>)[0]!.integrity_check
  )

/** What the ledger says was lost, compared with the sessions table of `filename` (see `Ledger.lost`). */
export const lostIn = (filename: string, ledger: Ledger): Array<string> =>
  withDatabase(filename, (db) => {
    const read = db.prepare("SELECT version, status, data FROM sessions WHERE id = ?")
    return ledger.lost((id): Stored | undefined => {
      const row = read.get(id) as { version: number; status: string; data: string } | undefined
      return row === undefined
        ? undefined
        : { id, version: row.version, status: row.status, data: JSON.parse(row.data) }
    })
  })

/** A lease as stored, with the owner of its session. */
export interface StoredLease {
  readonly sessionId: string
  readonly owner: string
  readonly holder: string
  readonly token: number
  readonly expiresAt: number
}

/** The leases still unexpired at `now` (ms since the epoch): work a killed process left in flight. */
export const liveLeases = (filename: string, now: number): Array<StoredLease> =>
  withDatabase(filename, (db) =>
    db.prepare(
      `SELECT l.session_id AS sessionId, s.owner AS owner, l.holder AS holder, l.token AS token,
        l.expires_at AS expiresAt FROM leases l JOIN sessions s ON s.id = l.session_id WHERE l.expires_at > ?`
    ).all(now) as Array<StoredLease>)
