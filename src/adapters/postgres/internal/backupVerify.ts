/** Verifying and repairing an effect-sessions Postgres store: rows that decode, active pointers, the counts. */
import type { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Either } from "effect"
import type { CorruptRow, Progress, VerifyReport } from "../../../domain/BackupReports.js"
import type { InvalidConfig, StoreFailure } from "../../../domain/Errors.js"
import type { SessionId } from "../../../domain/Ids.js"
import { decode, rowSeq, type SessionRow } from "../../../domain/SqlRows.js"
import type { PostgresStoreOptions } from "../PostgresStore.js"
import { batchSize, describe, openClient, readSchemaStatus, requireCurrent, statements } from "./backupDb.js"
import { makeDb } from "./db.js"
import { storeFailure } from "./errors.js"
import { remove } from "./upkeep.js"

/** What one snapshot of the store shows. */
interface Findings {
  readonly rows: number
  readonly corrupt: ReadonlyArray<CorruptRow>
  readonly integrity: ReadonlyArray<string>
  readonly countsMatch: boolean
}

/** Every row decoded, the pointers checked and the counts compared, in one `REPEATABLE READ` snapshot. */
const inspect = (sql: SqlClient, onProgress: Progress | undefined) =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe(statements.snapshot)
    const [{ n: total }] = (yield* sql.unsafe<{ n: number }>(statements.total)) as [{ n: number }]
    const corrupt: Array<CorruptRow> = []
    let rows = 0
    let after = 0
    for (;;) {
      const page = (yield* sql.unsafe(statements.page, [after, batchSize]).values) as ReadonlyArray<SessionRow>
      if (page.length === 0) break
      for (const row of page) {
        const decoded = decode(row)
        if (Either.isLeft(decoded)) corrupt.push({ seq: rowSeq(row), id: decoded.left.id, reason: decoded.left.reason })
      }
      rows += page.length
      onProgress?.(rows, total)
      after = rowSeq(page[page.length - 1]!)
    }
    const stray = yield* sql.unsafe<{ owner: string; session_id: string }>(statements.strayPointers)
    const [{ n: differ }] = (yield* sql.unsafe<{ n: number }>(statements.countsDiffer)) as [{ n: number }]
    const integrity = stray.length === 0
      ? ["ok"]
      : stray.map((row) => `the active pointer of ${row.owner} names ${row.session_id}, a session of another owner`)
    const findings: Findings = { rows, corrupt, integrity, countsMatch: differ === 0 }
    return findings
  }))

/**
 * Sets `session_counts` to what the rows say, in one transaction that holds the table against writers (they append
 * their changes after it, so none is lost or counted twice).
 */
const recount = (sql: SqlClient) =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe(statements.lockCounts)
    yield* sql.unsafe(statements.clearCounts)
    yield* sql.unsafe(statements.recount)
  }))

/**
 * Checks the store reached with `store`: every row decoding, every active pointer on a session of its owner, the
 * summed count changes against a recount, all in one snapshot. With `repair`, moves each row that does not decode to
 * `quarantine` (the store's `remove`, with the reason) and recounts. Fails `StoreError` when the schema is missing, of
 * another application or of another version (nothing is migrated), `StoreUnavailable` when the server does not answer.
 */
export const verify = (
  options: { readonly store: PostgresStoreOptions; readonly repair?: boolean; readonly onProgress?: Progress }
): Effect.Effect<VerifyReport, StoreFailure | InvalidConfig> =>
  Effect.scoped(Effect.gen(function*() {
    const database = describe(options.store)
    const { schema, sql } = yield* openClient(options.store)
    yield* Effect.flatMap(readSchemaStatus(sql, schema, database), (status) => requireCurrent(status, schema))
    const found = yield* inspect(sql, options.onProgress).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure("verify", error)))
    )
    let quarantined = 0
    if (options.repair === true && (found.corrupt.length > 0 || !found.countsMatch)) {
      const db = makeDb(sql)
      for (const row of found.corrupt) {
        if (yield* remove(db, row.id as SessionId, `verify --repair: ${row.reason}`)) quarantined++
      }
      yield* recount(sql).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure("repair", error))))
    }
    const report: VerifyReport = {
      database,
      integrity: found.integrity,
      rows: found.rows,
      corrupt: found.corrupt,
      countsMatch: found.countsMatch,
      quarantined,
      ok: found.integrity[0] === "ok" && found.corrupt.length === 0 && found.countsMatch
    }
    return report
  }))
