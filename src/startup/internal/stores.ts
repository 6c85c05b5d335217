/**
 * The stores a service can run on (SQLite, Postgres), each behind one shape: its layer, its backup writer, and the
 * operator's jobs on it (backup, restore, verify, schema status). The CLI and `serve` work on whichever one the
 * settings chose without knowing which.
 */
import { Effect, Either, Layer, Option, Redacted } from "effect"
import * as Fs from "node:fs"
import * as PostgresBackup from "../../adapters/postgres/Backup.js"
import * as PostgresStore from "../../adapters/postgres/PostgresStore.js"
import * as SqliteBackup from "../../adapters/sqlite/Backup.js"
import * as SqliteStore from "../../adapters/sqlite/SqliteStore.js"
import type { BackupRejected, Progress, RestoreReport, SchemaStatus, VerifyReport } from "../../domain/BackupReports.js"
import { type DurationInput, formatDuration, parseDuration } from "../../domain/Config.js"
import type { InvalidConfig, InvalidInput, StoreFailure } from "../../domain/Errors.js"
import type { BackupReport, SessionBackup } from "../../services/SessionBackup.js"
import type { SessionStore } from "../../services/SessionStore.js"

/** Which store the settings chose, with its options. */
export type StoreSettings =
  | { readonly _tag: "Sqlite"; readonly options: SqliteStore.SqliteStoreOptions }
  | { readonly _tag: "Postgres"; readonly options: PostgresStore.PostgresStoreOptions }

/** The name of each store, as `serve --store` takes it. */
export type StoreKind = "sqlite" | "postgres"

/** One store, as the service and the operator's commands use it. */
export interface Store {
  readonly kind: StoreKind
  /** Where it is, for people (a Postgres URL without its password). */
  readonly location: string
  /** What to do when it does not exist yet. */
  readonly missing: string
  /** The store (with the optional capabilities it brings). */
  readonly layer: Layer.Layer<SessionStore, StoreFailure | InvalidConfig>
  /** The `SessionBackup` port, writing into `directory`. */
  readonly backupLayer: (directory: string) => Layer.Layer<SessionBackup>
  /** Its schema version, read without creating or changing anything; `None` when it does not exist yet. */
  readonly schemaStatus: Effect.Effect<Option.Option<SchemaStatus>, StoreFailure>
  readonly backup: (
    options: { readonly to: string; readonly overwrite: boolean; readonly onProgress?: Progress }
  ) => Effect.Effect<BackupReport, StoreFailure | InvalidInput>
  readonly restore: (
    options: { readonly from: string; readonly dryRun: boolean; readonly onProgress?: Progress }
  ) => Effect.Effect<RestoreReport, BackupRejected | StoreFailure>
  readonly verify: (
    options: { readonly repair: boolean; readonly onProgress?: Progress }
  ) => Effect.Effect<VerifyReport, StoreFailure>
  /** Its settings in effect, by variable (no password). */
  readonly settings: ReadonlyArray<readonly [string, string]>
}

/** The settings were checked when read: a bad schema name here is a bug. */
const checked = <A, E>(effect: Effect.Effect<A, E | InvalidConfig>): Effect.Effect<A, Exclude<E, InvalidConfig>> =>
  Effect.catchIf(
    effect,
    (error): error is InvalidConfig =>
      typeof error === "object" && error !== null && "_tag" in error && error._tag === "InvalidConfig",
    (error) => Effect.die(error)
  ) as Effect.Effect<A, Exclude<E, InvalidConfig>>

/** A duration option as the settings show it (options read from the environment are checked, so they parse). */
const shownDuration = (input: DurationInput | undefined, fallback: string) =>
  input === undefined
    ? fallback
    : Either.match(parseDuration(input), { onLeft: () => String(input), onRight: formatDuration })

const sqlite = (options: SqliteStore.SqliteStoreOptions): Store => {
  const database = options.filename
  return {
    kind: "sqlite",
    location: database,
    missing: `no database at ${database}; start the service once (npm start) or set SESSIONS_SQLITE_FILE / ` +
      "SESSIONS_DATA_DIR",
    layer: SqliteStore.layer(options),
    backupLayer: (directory) => SqliteBackup.layer({ database, directory }),
    schemaStatus: Effect.suspend(() =>
      Fs.existsSync(database) ? Effect.map(SqliteBackup.schemaStatus(database), Option.some) : Effect.succeedNone
    ),
    backup: (job) => SqliteBackup.backup({ database, ...job }),
    restore: (job) => SqliteBackup.restore({ database, ...job }),
    verify: (job) => SqliteBackup.verify({ database, ...job }),
    settings: [
      ["SESSIONS_SQLITE_FILE", database],
      ["SESSIONS_SQLITE_SYNCHRONOUS", options.synchronous ?? "normal"],
      ["SESSIONS_SQLITE_BUSY_TIMEOUT", shownDuration(options.busyTimeout, "1s")]
    ]
  }
}

const postgres = (options: PostgresStore.PostgresStoreOptions): Store => {
  const url = PostgresBackup.redactUrl(Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url)
  const schema = options.schema ?? "effect_sessions"
  return {
    kind: "postgres",
    location: `${url} schema ${schema}`,
    missing: `no effect-sessions schema ${schema} at ${url}; start the service once or set SESSIONS_PG_SCHEMA`,
    layer: PostgresStore.layer(options),
    backupLayer: (directory) => PostgresBackup.layer({ store: options, directory }),
    schemaStatus: checked(
      Effect.map(PostgresBackup.schemaStatus(options), (status) =>
        status.exists
          ? Option.some<SchemaStatus>({
            database: status.database,
            ours: status.ours,
            version: status.version,
            current: status.current
          })
          : Option.none())
    ),
    backup: (job) => checked(PostgresBackup.backup({ store: options, ...job })),
    restore: (job) => checked(PostgresBackup.restore({ store: options, ...job })),
    verify: (job) => checked(PostgresBackup.verify({ store: options, ...job })),
    settings: [
      ["SESSIONS_PG_URL", url],
      ["SESSIONS_PG_SCHEMA", schema],
      ["SESSIONS_PG_MAX_CONNECTIONS", String(options.maxConnections ?? 10)],
      ["SESSIONS_PG_STATEMENT_TIMEOUT", shownDuration(options.statementTimeout, "5s")],
      ["SESSIONS_PG_LOCK_TIMEOUT", shownDuration(options.lockTimeout, "2s")]
    ]
  }
}

/** The store the settings chose. */
export const storeOf = (settings: StoreSettings): Store =>
  settings._tag === "Sqlite" ? sqlite(settings.options) : postgres(settings.options)

/** Every store setting there is, as rows of the config reference. */
export const storeReference = [...SqliteStore.reference, ...PostgresStore.reference]
