/** Restoring an effect-sessions Postgres store from a backup, after checking all of it, in one transaction. */
import type { SqlClient } from "@effect/sql/SqlClient"
import { Effect } from "effect"
import type { ActivePointer } from "../../../domain/BackupFormat.js"
import type { BackupRejected, Progress, RestoreReport } from "../../../domain/BackupReports.js"
import type { InvalidConfig, StoreFailure } from "../../../domain/Errors.js"
import type { Session } from "../../../domain/Session.js"
import { columns, encode } from "../../../domain/SqlRows.js"
import { readBackup } from "../../../internal/BackupFiles.js"
import type { PostgresStoreOptions } from "../PostgresStore.js"
import { batchSize, describe, openClient, readSchemaStatus, statements } from "./backupDb.js"
import { storeFailure } from "./errors.js"
import { migrate } from "./schema.js"

/** The array type of each column `encode` writes, for inserting a batch as one `unnest`. */
const arrayTypes: Record<(typeof columns)[number], string> = {
  id: "text[]",
  owner: "text[]",
  name: "text[]",
  kind: "text[]",
  status: "text[]",
  created_at: "int8[]",
  last_active_at: "int8[]",
  expires_at: "int8[]",
  idle_timeout: "int8[]",
  max_lifetime: "int8[]",
  ended_at: "int8[]",
  end_reason: "text[]",
  message_count: "int8[]",
  response_times: "text[]",
  data: "text[]",
  version: "int8[]"
}

const insertBatch = `INSERT INTO sessions (${columns.join(", ")})
  SELECT * FROM unnest(${columns.map((column, i) => `$${i + 1}::${arrayTypes[column]}`).join(", ")})`

/**
 * Replaces the sessions of the store reached with `store` with those of the backup `from`, after checking the whole
 * file: a damaged, truncated, foreign or newer-format file fails `BackupRejected` and the store is left as it was.
 * Then, in one transaction holding the store's tables (nodes wait for it, up to their lock timeout), removes every
 * session, lease and active pointer, inserts the backup's and recounts `session_counts`. Creates or migrates the
 * schema when needed. With `dryRun`, checks and reports without writing or migrating anything.
 */
export const restore = (
  options: {
    readonly store: PostgresStoreOptions
    readonly from: string
    readonly dryRun?: boolean
    readonly onProgress?: Progress
  }
): Effect.Effect<RestoreReport, BackupRejected | StoreFailure | InvalidConfig> =>
  Effect.scoped(Effect.gen(function*() {
    const contents = yield* readBackup(options.from)
    const { schema, sql } = yield* openClient(options.store)
    const dryRun = options.dryRun === true
    const report = (replaced: number): RestoreReport => ({
      file: contents.file,
      sessions: contents.sessions.length,
      activePointers: contents.active.length,
      replaced,
      dryRun
    })
    if (dryRun) {
      const status = yield* readSchemaStatus(sql, schema, describe(options.store))
      if (!status.exists) return report(0)
      const [row] = yield* sql.unsafe<{ n: number }>(`SELECT count(*)::int8 AS n FROM ${schema}.sessions`).pipe(
        Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure("restore", error)))
      )
      return report(row!.n)
    }
    yield* migrate(sql, schema)
    const replaced = yield* replace(sql, contents.sessions, contents.active, options.onProgress).pipe(
      Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure("restore", error)))
    )
    return report(replaced)
  }))

const replace = (
  sql: SqlClient,
  sessions: ReadonlyArray<Session>,
  active: ReadonlyArray<ActivePointer>,
  onProgress: Progress | undefined
) =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe("LOCK TABLE sessions, session_counts, leases, active_sessions IN ACCESS EXCLUSIVE MODE")
    const [{ n: replaced }] = (yield* sql.unsafe<{ n: number }>(statements.total)) as [{ n: number }]
    yield* sql.unsafe("DELETE FROM leases")
    yield* sql.unsafe("DELETE FROM active_sessions")
    yield* sql.unsafe("DELETE FROM sessions")
    for (let start = 0; start < sessions.length; start += batchSize) {
      const rows = sessions.slice(start, start + batchSize).map(encode)
      yield* sql.unsafe(insertBatch, columns.map((_, i) => rows.map((row) => row[i])))
      onProgress?.(Math.min(start + batchSize, sessions.length), sessions.length)
    }
    if (active.length > 0) {
      yield* sql.unsafe(
        "INSERT INTO active_sessions (owner, session_id) SELECT * FROM unnest($1::text[], $2::text[])",
        [active.map((pointer) => pointer.owner), active.map((pointer) => pointer.sessionId)]
      )
    }
    yield* sql.unsafe(statements.clearCounts)
    yield* sql.unsafe(statements.recount)
    return replaced
  }))
