/**
 * The SQLite `SessionStore`, the embedded default: one file, one better-sqlite3 connection per process, WAL journal,
 * statements prepared once, migrations run at start, and touches written behind.
 *
 * Durability. A data or status write is durable once acknowledged: it is committed before the call returns. With
 * `synchronous: "normal"` (the default) a committed write survives a crash of the process but not necessarily a
 * power loss or OS crash (WAL's last transactions may be rolled back, never corrupted); with `"full"` every commit is
 * fsynced and survives both, at a cost per write. Touches are coalesced in memory and written at most once per
 * session per `touchCoalesce` (and before any expiry or eviction decision): a crash loses at most that much activity,
 * never data, status or a session.
 *
 * Group commit. Writes made through `SessionStore` by concurrent fibers share transactions: the writes queued while
 * the writer waits its turn (at most 256) are applied in arrival order, each in a savepoint of its own, then committed
 * together; each caller is answered after that commit, and a write that fails (a refusal, a constraint, an exception)
 * is rolled back alone and fails only its caller. A write made through `SessionStoreSync` runs at once, committing
 * any writes queued before it in its transaction.
 *
 * Many processes may share the file: writes that check before they write (capacity, names, versions, leases) hold
 * the write lock for the whole check. A call waits at most `busyTimeout` for another process's lock, then fails
 * `StoreUnavailable` (retried by the manager).
 *
 * This store drives better-sqlite3 directly rather than through `@effect/sql`: measured on the same machine, a
 * prepared-statement read through `SqlClient` cost 8x a raw prepared statement (31k vs 240k reads/s), which leaves
 * no room for a store within 0.8x of raw SQLite.
 */
import { Context, Effect, Either, Layer } from "effect"
import * as Path from "node:path"
import { configFromEnv, type DurationInput } from "../../domain/Config.js"
import { OptionChecks } from "../../domain/Config.js"
import { InvalidConfig, type StoreFailure } from "../../domain/Errors.js"
import { SessionStore, SessionStoreSync } from "../../services/SessionStore.js"
import { openStore, storeOptions } from "./internal/openStore.js"

/**
 * How the SQLite store opens its database. Durations are `Duration`s, milliseconds or text (`"1s"`, `"500ms"`,
 * `"15 minutes"`); every option is checked when the store is built (see `make`).
 */
export interface SqliteStoreOptions {
  /** A file path (its directory is created if missing), or `":memory:"` for a private in-memory database. */
  readonly filename: string
  /** `"normal"` (default): durable across process crashes. `"full"`: also across power loss, slower writes. */
  readonly synchronous?: "normal" | "full" | undefined
  /** How long a call waits for another connection's lock before failing `StoreUnavailable`. Default 1 second. */
  readonly busyTimeout?: DurationInput | undefined
  /** Touches of one session within this span are written once. Default 1 second; zero writes every touch. */
  readonly touchCoalesce?: DurationInput | undefined
  /** Most sessions with activity waiting to be written before it is written at once: 1 to 1,000,000, default 10,000. */
  readonly maxPendingTouches?: number | undefined
}

/**
 * Checks the options, opens (creating and migrating if needed) the database and builds the store's synchronous
 * operations on it. Scoped: queued writes are committed, buffered activity is written and the connection closed when
 * the scope closes. Fails `InvalidConfig` listing every bad option (`busyTimeout` not a duration, `synchronous`
 * neither "normal" nor "full", ...) before anything is created on disk; `StoreError` if the file cannot be opened,
 * belongs to another application, or was written by a newer schema version (named in the message; the file is left
 * as it is).
 */
export const makeSync = (options: SqliteStoreOptions) => Effect.map(openStore(options), ({ sync }) => sync)

/**
 * The store as the `SessionStore` port (see `makeSync` for its opening and closing): concurrent writes share
 * transactions (group commit), each answered once its transaction has committed.
 */
export const make = (options: SqliteStoreOptions) => Effect.map(openStore(options), ({ store }) => store)

/**
 * The SQLite store as a layer, with its synchronous capability (`SessionStoreSync`: better-sqlite3 answers on the
 * calling thread and bounds its waits by `busyTimeout`).
 */
export const layer = (
  options: SqliteStoreOptions
): Layer.Layer<SessionStore | SessionStoreSync, StoreFailure | InvalidConfig> =>
  Layer.scopedContext(
    Effect.map(
      openStore(options),
      ({ store, sync }) => Context.make(SessionStore, store).pipe(Context.add(SessionStoreSync, sync))
    )
  )

/**
 * The options read from the environment: `SESSIONS_SQLITE_FILE` (default `sessions.db` in `dataDir`),
 * `SESSIONS_SQLITE_SYNCHRONOUS` (`normal` or `full`), `SESSIONS_SQLITE_BUSY_TIMEOUT` (a duration), and
 * `SESSIONS_TOUCH_COALESCE` from the main configuration, checked as `make` checks options given in code. Fails
 * `InvalidConfig` naming every bad variable.
 */
export const optionsFromEnvIn = (dataDir: string): Effect.Effect<SqliteStoreOptions, InvalidConfig> =>
  Effect.gen(function*() {
    const config = yield* Effect.either(configFromEnv)
    const sqlite = yield* Effect.either(storeOptions.fromEnv({
      filename: Path.join(dataDir, "sessions.db"),
      touchCoalesce: Either.getOrUndefined(config)?.touchCoalesce
    }))
    return yield* Either.map(OptionChecks.allChecked({ config, sqlite }), (checked) => checked.sqlite)
  })

/** The options read from the environment (see `optionsFromEnvIn`), the default file being `.data/sessions.db`. */
export const optionsFromEnv: Effect.Effect<SqliteStoreOptions, InvalidConfig> = optionsFromEnvIn(".data")

/** The SQLite store as a layer configured from the environment (see `optionsFromEnv`). */
export const layerConfig: Layer.Layer<SessionStore | SessionStoreSync, StoreFailure | InvalidConfig> = Layer
  .unwrapEffect(Effect.map(optionsFromEnv, layer))

const row = (field: "synchronous" | "busyTimeout") => ({
  field,
  env: storeOptions.env[field]!,
  default: storeOptions.fields[field].defaultText,
  doc: storeOptions.fields[field].doc
})

/** The SQLite store's settings, as rows of the config reference. */
export const reference: ReadonlyArray<
  { readonly field: string; readonly env: string; readonly default: string; readonly doc: string }
> = [
  {
    field: "filename",
    env: storeOptions.env.filename!,
    default: "sessions.db in SESSIONS_DATA_DIR",
    doc: storeOptions.fields.filename.doc
  },
  row("synchronous"),
  row("busyTimeout")
]
