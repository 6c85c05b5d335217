/**
 * What the Postgres backup, restore and verify jobs share: a small pool of their own on the store's schema (the same
 * timeouts as the store's, so every statement is bounded), the schema's status read without changing it, the
 * statements they run against the store's tables, and the recount of `session_counts`.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { Effect, Redacted } from "effect"
import type { SchemaStatus } from "../../../domain/BackupReports.js"
import { StoreError, type StoreFailure } from "../../../domain/Errors.js"
import { rowColumns } from "../../../domain/SqlRows.js"
import type { PostgresStoreOptions } from "../PostgresStore.js"
import { openClient as openConnection } from "./connection.js"
import { storeFailure } from "./errors.js"
import { application, schemaVersion } from "./schema.js"

/** Sessions read or written per statement. */
export const batchSize = 500

/** The statements of the jobs, by name. */
export const statements = {
  /** Makes the transaction one snapshot that cannot write (issued first in it). */
  snapshot: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
  total: "SELECT count(*)::int8 AS n FROM sessions",
  page: `SELECT ${rowColumns} FROM sessions WHERE seq > $1 ORDER BY seq LIMIT $2`,
  pointers: "SELECT owner, session_id FROM active_sessions ORDER BY owner",
  /** Statuses whose appended changes do not sum to the rows in that status. */
  countsDiffer: `SELECT count(*)::int8 AS n
    FROM (SELECT status, sum(n)::int8 AS n FROM session_counts GROUP BY status) c
    FULL JOIN (SELECT status, count(*)::int8 AS n FROM sessions GROUP BY status) s USING (status)
    WHERE coalesce(c.n, 0) <> coalesce(s.n, 0)`,
  /** Pointers on a session of another owner (the foreign key keeps them on an existing one). */
  strayPointers: `SELECT a.owner, a.session_id FROM active_sessions a JOIN sessions s ON s.id = a.session_id
    WHERE s.owner <> a.owner ORDER BY a.owner`,
  /** Writers append to `session_counts`: while it is locked they wait, so the recount misses none of them. */
  lockCounts: "LOCK TABLE session_counts IN EXCLUSIVE MODE",
  clearCounts: "DELETE FROM session_counts",
  recount: "INSERT INTO session_counts (status, n) SELECT status, count(*) FROM sessions GROUP BY status"
} as const

/** Where a job ran, as reports name it: the URL without its password, and the schema. */
export const describe = (options: PostgresStoreOptions): string =>
  `${redactUrl(Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url)} schema ${
    options.schema ?? "effect_sessions"
  }`

/** A connection URL with its password (in the user part or the query) replaced by `***`. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    if (parsed.searchParams.has("password")) parsed.searchParams.set("password", "***")
    return parsed.toString().replaceAll("%2A%2A%2A", "***")
  } catch {
    return "(a URL that does not parse)"
  }
}

/** A client for one job on the store's schema: two connections at most, with the store's timeouts. */
export const openClient = (options: PostgresStoreOptions) =>
  Effect.map(
    openConnection(options, { max: 2, applicationName: "effect-sessions-admin" }),
    ({ schema, sql }) => ({ sql, schema })
  )

/** The schema's version and owner, read without creating or changing anything (a missing schema is version 0). */
export const readSchemaStatus = (
  sql: SqlClient,
  schema: string,
  database: string
): Effect.Effect<SchemaStatus & { readonly exists: boolean }, StoreFailure> =>
  Effect.gen(function*() {
    const tables = (yield* sql.unsafe<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1",
      [schema]
    )).map((row) => row.name)
    if (!tables.includes("meta")) {
      return { database, ours: tables.length === 0, version: 0, current: schemaVersion, exists: false }
    }
    const rows = yield* sql.unsafe<{ key: string; value: string }>(`SELECT key, value FROM ${schema}.meta`)
    const meta = new Map(rows.map((row) => [row.key, row.value]))
    return {
      database,
      ours: meta.get("application") === application,
      version: Number(meta.get("schema_version") ?? 0),
      current: schemaVersion,
      exists: true
    }
  }).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure("open", error))))

/**
 * Fails `StoreError`, naming the problem, unless the schema is an effect-sessions one at this build's version (the
 * jobs that read a store never migrate it).
 */
export const requireCurrent = (status: SchemaStatus & { readonly exists: boolean }, schema: string) =>
  !status.exists
    ? Effect.fail(
      new StoreError({ operation: "open", reason: `no effect-sessions schema ${schema}; start the service once` })
    )
    : !status.ours
    ? Effect.fail(new StoreError({ operation: "open", reason: `schema ${schema} belongs to another application` }))
    : status.version !== status.current
    ? Effect.fail(
      new StoreError({
        operation: "open",
        reason: `schema ${schema} has schema version ${status.version}, this build's is ${status.current}`
      })
    )
    : Effect.void
