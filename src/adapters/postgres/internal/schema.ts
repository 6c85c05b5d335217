/**
 * The Postgres schema of effect-sessions and its versioned migrations, kept in code. Every table lives in one
 * Postgres schema of its own (option `schema`, default `effect_sessions`), reached through each connection's
 * `search_path`. The version is recorded in its `meta` table; migrations run at start in one transaction under an
 * advisory lock, so nodes starting at once migrate once, and a schema written by a newer version is refused
 * unchanged.
 */
import type { SqlClient } from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { StoreError, type StoreFailure } from "../../../domain/Errors.js"
import { storeFailure } from "./errors.js"

/** The name `meta` records as the schema's owner, so a schema of another application is never changed. */
export const application = "effect-sessions"

const live = "status IN ('active', 'waiting')"

/** The migrations, in order: migration `i` (from 0) takes a schema from version `i` to `i + 1`. */
const migrations: ReadonlyArray<ReadonlyArray<string>> = [
  [
    `CREATE TABLE sessions (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id text NOT NULL UNIQUE,
      owner text NOT NULL,
      name text,
      kind text NOT NULL,
      status text NOT NULL,
      created_at bigint NOT NULL,
      last_active_at bigint NOT NULL,
      expires_at bigint NOT NULL,
      idle_timeout bigint NOT NULL,
      max_lifetime bigint NOT NULL,
      ended_at bigint,
      end_reason text,
      message_count bigint NOT NULL,
      response_times text NOT NULL,
      data text NOT NULL,
      version bigint NOT NULL
    )`,
    `CREATE UNIQUE INDEX sessions_live_name ON sessions (owner, name) WHERE name IS NOT NULL AND ${live}`,
    "CREATE INDEX sessions_owner ON sessions (owner, seq)",
    "CREATE INDEX sessions_waiting ON sessions (seq) WHERE status = 'waiting'",
    `CREATE INDEX sessions_due ON sessions (expires_at) WHERE ${live}`,
    `CREATE INDEX sessions_recency ON sessions (last_active_at) WHERE ${live}`,
    "CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at IS NOT NULL",
    // Changes of the counts by status, appended by every change in its own transaction (no row every writer
    // locks), summed on read and folded into one row per status by `flush`.
    "CREATE TABLE session_counts (status text NOT NULL, n bigint NOT NULL)",
    `CREATE TABLE leases (
      session_id text PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
      holder text NOT NULL,
      token bigint NOT NULL,
      expires_at bigint NOT NULL
    )`,
    "CREATE SEQUENCE lease_tokens",
    `CREATE TABLE active_sessions (
      owner text PRIMARY KEY,
      session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE
    )`,
    "CREATE INDEX active_sessions_session ON active_sessions (session_id)",
    `CREATE TABLE quarantine (
      seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      id text,
      row text NOT NULL,
      reason text NOT NULL,
      quarantined_at bigint NOT NULL
    )`
  ],
  [
    // Events of every node, numbered without gaps in commit order (appended under an advisory lock); NOTIFY carries
    // only the newest seq, a listener reads the rows. `events_epoch` names this sequence.
    `CREATE TABLE events (
      seq bigint PRIMARY KEY,
      at bigint NOT NULL,
      node text NOT NULL,
      event text NOT NULL
    )`,
    "INSERT INTO meta (key, value) VALUES ('events_epoch', md5(random()::text || clock_timestamp()::text))"
  ]
]

/** The schema version this build of effect-sessions writes and reads. */
export const schemaVersion = migrations.length

/** Whether `name` can name the store's Postgres schema: a plain lower-case identifier. */
export const isSchemaName = (name: string): boolean => /^[a-z_][a-z0-9_]{0,62}$/.test(name)

const refuse = (reason: string) => Effect.fail(new StoreError({ operation: "open", reason }))

/**
 * Brings the schema to `schemaVersion` in one transaction under an advisory lock held to its end (another node
 * starting at once waits, then finds the work done). Fails `StoreError`, changing nothing, when the schema was
 * written by a newer version or holds tables of another application.
 */
export const migrate = (sql: SqlClient, schema: string): Effect.Effect<number, StoreFailure> =>
  sql.withTransaction(Effect.gen(function*() {
    yield* sql.unsafe("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`effect-sessions:${schema}`])
    yield* sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    const tables = (yield* sql.unsafe<{ name: string }>(
      "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1",
      [schema]
    )).map((row) => row.name)
    let version = 0
    if (tables.includes("meta")) {
      const rows = yield* sql.unsafe<{ key: string; value: string }>(`SELECT key, value FROM ${schema}.meta`)
      const meta = new Map(rows.map((row) => [row.key, row.value]))
      if (meta.get("application") !== application) {
        return yield* refuse(`schema ${schema} belongs to another application; refusing to change it`)
      }
      version = Number(meta.get("schema_version"))
      if (!(version <= schemaVersion)) {
        return yield* refuse(
          `schema ${schema} has schema version ${meta.get("schema_version")}, written by a newer effect-sessions; ` +
            `this version reads up to schema version ${schemaVersion}. Upgrade effect-sessions; the database was ` +
            `left unchanged`
        )
      }
    } else if (tables.length > 0) {
      return yield* refuse(
        `schema ${schema} holds other tables (${tables.join(", ")}); effect-sessions needs a schema of its own`
      )
    } else {
      yield* sql.unsafe(`CREATE TABLE ${schema}.meta (key text PRIMARY KEY, value text NOT NULL)`)
      yield* sql.unsafe(`INSERT INTO ${schema}.meta (key, value) VALUES ('application', $1), ('schema_version', '0')`, [
        application
      ])
    }
    for (let next = version; next < schemaVersion; next++) {
      for (const statement of migrations[next]!) yield* sql.unsafe(statement)
    }
    if (version < schemaVersion) {
      yield* sql.unsafe(`UPDATE ${schema}.meta SET value = $1 WHERE key = 'schema_version'`, [String(schemaVersion)])
    }
    return schemaVersion
  })).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure("open", error))))
