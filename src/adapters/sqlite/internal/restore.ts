/** Restoring an effect-sessions SQLite database from a backup, after checking all of it. */
import type Database from "better-sqlite3"
import { Effect } from "effect"
import type { ActivePointer } from "../../../domain/BackupFormat.js"
import type { Progress, RestoreReport } from "../../../domain/BackupReports.js"
import type { Session } from "../../../domain/Session.js"
import { columns, encode } from "../../../domain/SqlRows.js"
import { readBackup } from "../../../internal/BackupFiles.js"
import { batchSize, recount, sync } from "./backupJobs.js"
import { openDatabase, scopedDatabase } from "./database.js"

/**
 * Replaces the sessions of the database at `database` with those of the backup `from`, in one transaction, after
 * checking the whole file. A damaged, truncated, foreign or newer-format file fails `BackupRejected` and the
 * database is left as it was. With `dryRun`, checks and reports without writing.
 */
export const restore = (
  options: {
    readonly database: string
    readonly from: string
    readonly dryRun?: boolean
    readonly onProgress?: Progress
  }
) =>
  Effect.scoped(Effect.gen(function*() {
    const contents = yield* readBackup(options.from)
    const file = contents.file
    const db = yield* scopedDatabase(openDatabase({ filename: options.database }))
    const replaced = yield* sync("restore", () =>
      (db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n)
    const report: RestoreReport = {
      file,
      sessions: contents.sessions.length,
      activePointers: contents.active.length,
      replaced,
      dryRun: options.dryRun === true
    }
    if (options.dryRun === true) {
      return report
    }
    yield* sync("restore", () =>
      replace(db, contents.sessions, contents.active, options.onProgress))
    return report
  }))

const replace = (
  db: Database.Database,
  sessions: ReadonlyArray<Session>,
  active: ReadonlyArray<ActivePointer>,
  onProgress: Progress | undefined
) => {
  const insert = db.prepare(
    `INSERT INTO sessions (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`
  )
  const point = db.prepare("INSERT INTO active_sessions (owner, session_id) VALUES (?, ?)")
  db.transaction(() => {
    db.exec("DELETE FROM leases; DELETE FROM active_sessions; DELETE FROM sessions;")
    sessions.forEach((session, i) => {
      insert.run(...encode(session))
      if ((i + 1) % batchSize === 0) onProgress?.(i + 1, sessions.length)
    })
    for (const pointer of active) point.run(pointer.owner, pointer.sessionId)
    db.exec(recount)
  }).immediate()
  onProgress?.(sessions.length, sessions.length)
}
