/** Verifying and repairing an effect-sessions SQLite database, and reading its schema version. */
import DatabaseConstructor from "better-sqlite3"
import type Database from "better-sqlite3"
import { Clock, Effect, Either } from "effect"
import type { CorruptRow, Progress, SchemaStatus, VerifyReport } from "../../../domain/BackupReports.js"
import type { StoreFailure } from "../../../domain/Errors.js"
import { decode } from "../../../domain/SqlRows.js"
import { eachBatch, recount, sync } from "./backupJobs.js"
import { openExisting, scopedDatabase } from "./database.js"
import { applicationId, schemaVersion } from "./schema.js"

/**
 * Checks the database at `database`: SQLite's integrity and foreign keys, every row decoding, the status counters.
 * With `repair`, moves rows that do not decode to the `quarantine` table (with the reason and the time) and
 * recounts, in one transaction.
 */
export const verify = (
  options: { readonly database: string; readonly repair?: boolean; readonly onProgress?: Progress }
) =>
  Effect.scoped(Effect.gen(function*() {
    const repair = options.repair === true
    const db = yield* scopedDatabase(openExisting(options.database, !repair))
    const integrity = yield* sync("verify", () => {
      const problems = (db.pragma("integrity_check") as Array<{ integrity_check: string }>).map((row) =>
        row.integrity_check
      )
      const keys = (db.pragma("foreign_key_check") as Array<{ table: string; rowid: number; parent: string }>).map(
        (row) => `${row.table} row ${row.rowid} refers to a missing ${row.parent} row`
      )
      return problems[0] === "ok" && keys.length === 0 ? ["ok"] : [...problems.filter((p) => p !== "ok"), ...keys]
    })
    const total = yield* sync(
      "verify",
      () => (db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n
    )
    const corrupt: Array<CorruptRow> = []
    let rows = 0
    yield* eachBatch(db, "verify", (batch) =>
      Effect.sync(() => {
        for (const row of batch) {
          const decoded = decode(row)
          if (Either.isLeft(decoded)) corrupt.push({ seq: row[0], id: decoded.left.id, reason: decoded.left.reason })
        }
        rows += batch.length
        options.onProgress?.(rows, total)
      }))
    const countsMatch = yield* sync("verify", () =>
      (db.prepare(
          `SELECT count(*) AS n FROM session_counts c
         WHERE c.n <> (SELECT count(*) FROM sessions s WHERE s.status = c.status)`
        ).get() as { n: number }).n === 0 &&
      (db.prepare(
          // Each direction counted on its own: a compound SELECT reads left to right, so A EXCEPT B UNION ALL B
          // EXCEPT A would drop every row of the first difference.
          `WITH kept AS (SELECT owner, n FROM owner_live_counts),
            actual AS (SELECT owner, count(*) AS n FROM sessions WHERE status IN ('active', 'waiting') GROUP BY owner)
           SELECT (SELECT count(*) FROM (SELECT * FROM kept EXCEPT SELECT * FROM actual))
             + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM kept)) AS n`
        ).get() as { n: number }).n === 0)
    let quarantined = 0
    if (repair && (corrupt.length > 0 || !countsMatch)) {
      const now = yield* Clock.currentTimeMillis
      quarantined = yield* sync("repair", () => quarantine(db, corrupt, now))
    }
    const report: VerifyReport = {
      database: options.database,
      integrity,
      rows,
      corrupt,
      countsMatch,
      quarantined,
      ok: integrity[0] === "ok" && corrupt.length === 0 && countsMatch
    }
    return report
  }))

const quarantine = (db: Database.Database, corrupt: ReadonlyArray<CorruptRow>, now: number): number => {
  const read = db.prepare("SELECT * FROM sessions WHERE seq = ?")
  const keep = db.prepare("INSERT INTO quarantine (id, row, reason, quarantined_at) VALUES (?, ?, ?, ?)")
  const drop = db.prepare("DELETE FROM sessions WHERE seq = ?")
  let moved = 0
  db.transaction(() => {
    for (const row of corrupt) {
      const stored = read.get(row.seq)
      if (stored === undefined) continue
      keep.run(row.id, JSON.stringify(stored), row.reason, now)
      drop.run(row.seq)
      moved++
    }
    db.exec(recount)
  }).immediate()
  return moved
}

/** Reads the schema version of the database at `database` without changing anything (it must exist). */
export const schemaStatus = (database: string): Effect.Effect<SchemaStatus, StoreFailure> =>
  Effect.scoped(Effect.gen(function*() {
    const db = yield* scopedDatabase(
      sync("open", () => new DatabaseConstructor(database, { readonly: true, fileMustExist: true }))
    )
    return yield* sync("open", () => {
      const app = db.pragma("application_id", { simple: true }) as number
      return {
        database,
        ours: app === applicationId || app === 0,
        version: db.pragma("user_version", { simple: true }) as number,
        current: schemaVersion
      }
    })
  }))
