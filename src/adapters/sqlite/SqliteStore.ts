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
 * Many processes may share the file: writes that check before they write (capacity, names, versions, leases) hold
 * the write lock for the whole check. A call waits at most `busyTimeout` for another process's lock, then fails
 * `StoreUnavailable` (retried by the manager).
 *
 * This store drives better-sqlite3 directly rather than through `@effect/sql`: measured on the same machine, a
 * prepared-statement read through `SqlClient` cost 8x a raw prepared statement (31k vs 240k reads/s), which leaves
 * no room for a store within 0.8x of raw SQLite.
 */
import type Database from "better-sqlite3"
import { Cause, Config, Context, Duration, Effect, Either, Layer, Option, Queue } from "effect"
import * as Path from "node:path"
import { configFromEnv, parseDuration } from "../../domain/Config.js"
import { InvalidConfig, type StoreFailure } from "../../domain/Errors.js"
import { epochMillisOf } from "../../domain/Session.js"
import { fromSync, SessionStore, SessionStoreSync, type SessionStoreSyncShape } from "../../services/SessionStore.js"
import { openDatabase } from "./internal/database.js"
import { storeFailure } from "./internal/errors.js"
import * as Leases from "./internal/leases.js"
import * as Listing from "./internal/listing.js"
import { SqliteState } from "./internal/SqliteState.js"
import * as Upkeep from "./internal/upkeep.js"

/** How the SQLite store opens its database. */
export interface SqliteStoreOptions {
  /** A file path (its directory is created if missing), or `":memory:"` for a private in-memory database. */
  readonly filename: string
  /** `"normal"` (default): durable across process crashes. `"full"`: also across power loss, slower writes. */
  readonly synchronous?: "normal" | "full" | undefined
  /** How long a call waits for another connection's lock before failing `StoreUnavailable`. Default 1 second. */
  readonly busyTimeout?: Duration.DurationInput | undefined
  /** Touches of one session within this span are written once. Default 1 second; zero writes every touch. */
  readonly touchCoalesce?: Duration.DurationInput | undefined
  /** Most sessions with activity waiting to be written before it is written at once. Default 10,000. */
  readonly maxPendingTouches?: number | undefined
}

/** A call to the driver, its exceptions (busy, locked, I/O) turned into store failures. */
const driverCall = <A, E>(operation: string, f: () => Either.Either<A, E>): Either.Either<A, E | StoreFailure> => {
  try {
    return f()
  } catch (error) {
    return Either.left(storeFailure(operation, error))
  }
}

const ok = <A>(value: A): Either.Either<A, never> => Either.right(value)

/** The store's synchronous operations over its state (`SessionStoreSync`); its `SessionStore` is made from them. */
const syncOver = (state: SqliteState): SessionStoreSyncShape => ({
  insert: (session, options) => driverCall("insert", () => state.insert(session, options)),
  get: (id) => driverCall("get", () => state.get(id)),
  update: (id, write) => driverCall("update", () => state.update(id, write)),
  touch: (id, activity, owner) => driverCall("touch", () => state.touch(id, activity, owner)),
  list: (query) => driverCall("list", () => Listing.list(state, query)),
  counts: () => driverCall("counts", () => ok(Listing.counts(state))),
  ownerCounts: (owner) => driverCall("ownerCounts", () => ok(Listing.ownerCounts(state, owner))),
  expire: (limit) => driverCall("expire", () => ok(Upkeep.expire(state, limit))),
  purge: (retention, limit) => driverCall("purge", () => ok(Upkeep.purge(state, retention, limit))),
  setActive: (owner, id) => driverCall("setActive", () => Leases.setActive(state, owner, id)),
  getActive: (owner) => driverCall("getActive", () => Leases.getActive(state, owner)),
  acquireLease: (id, holder, ttl) => driverCall("acquireLease", () => Leases.acquireLease(state, id, holder, ttl)),
  renewLease: (lease, ttl) => driverCall("renewLease", () => Leases.renewLease(state, lease, ttl)),
  releaseLease: (lease) => driverCall("releaseLease", () => ok(Leases.releaseLease(state, lease))),
  leases: () => driverCall("leases", () => ok(Leases.leases(state))),
  remove: (id, reason) => driverCall("remove", () => ok(Upkeep.remove(state, id, reason))),
  flush: () => driverCall("flush", () => ok(state.flush()))
})

/**
 * Opens (creating and migrating if needed) the database and builds the store on it. Scoped: buffered activity is
 * written and the connection closed when the scope closes. Fails `StoreError` if the file cannot be opened, belongs
 * to another application, or was written by a newer schema version (named in the message; the file is left as it is).
 */
export const makeSync = (options: SqliteStoreOptions) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clock
    const coalesce = Duration.decode(options.touchCoalesce ?? Duration.seconds(1))
    const db: Database.Database = yield* Effect.acquireRelease(openDatabase(options), (db) =>
      Effect.suspend(() =>
        driverCall("flush", () => ok(state.flush()))
      ).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning("effect-sessions: writing buffered activity on close failed", error)
        ),
        Effect.ensuring(Effect.sync(() => db.close()))
      ))
    // Wake-ups of the writer: a dropping queue of one, since a second signal before the first is taken adds nothing.
    const wakeups = yield* Queue.dropping<void>(1)
    const state: SqliteState = new SqliteState(
      db,
      () => epochMillisOf(clock),
      options.maxPendingTouches ?? 10_000,
      Duration.toMillis(coalesce) > 0,
      () => Queue.unsafeOffer(wakeups, undefined)
    )
    if (Duration.toMillis(coalesce) > 0) {
      // The writer sleeps only while there is activity to write: after the first touch of a quiet spell, it waits
      // `touchCoalesce` and writes everything buffered by then.
      yield* Queue.take(wakeups).pipe(
        Effect.zipRight(Effect.sleep(coalesce)),
        Effect.zipRight(Effect.suspend(() => driverCall("flush", () => ok(state.flush())))),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.interrupt
            : Effect.logWarning("effect-sessions: writing buffered activity failed; it stays buffered", cause).pipe(
              Effect.zipRight(Queue.offer(wakeups, undefined))
            )
        ),
        Effect.forever,
        Effect.forkScoped
      )
    }
    return syncOver(state)
  })

/** `makeSync`, as the `SessionStore` port. */
export const make = (options: SqliteStoreOptions) => Effect.map(makeSync(options), fromSync)

/**
 * The SQLite store as a layer, with its synchronous capability (`SessionStoreSync`: better-sqlite3 answers on the
 * calling thread and bounds its waits by `busyTimeout`).
 */
export const layer = (options: SqliteStoreOptions): Layer.Layer<SessionStore | SessionStoreSync, StoreFailure> =>
  Layer.scopedContext(
    Effect.map(
      makeSync(options),
      (sync) => Context.make(SessionStore, fromSync(sync)).pipe(Context.add(SessionStoreSync, sync))
    )
  )

const optionalString = (name: string) => Config.option(Config.string(name))

/**
 * The options read from the environment: `SESSIONS_SQLITE_FILE` (default `sessions.db` in `dataDir`),
 * `SESSIONS_SQLITE_SYNCHRONOUS` (`normal` or `full`), `SESSIONS_SQLITE_BUSY_TIMEOUT` (a duration), and
 * `SESSIONS_TOUCH_COALESCE` from the main configuration. Fails `InvalidConfig` naming every bad variable.
 */
export const optionsFromEnvIn = (dataDir: string): Effect.Effect<SqliteStoreOptions, InvalidConfig> =>
  Effect.gen(function*() {
    const config = yield* Effect.either(configFromEnv)
    const raw = yield* Config.all({
      file: optionalString("SESSIONS_SQLITE_FILE"),
      synchronous: optionalString("SESSIONS_SQLITE_SYNCHRONOUS"),
      busyTimeout: optionalString("SESSIONS_SQLITE_BUSY_TIMEOUT")
    }).pipe(
      Effect.mapError((error) => new InvalidConfig({ issues: [{ field: "environment", reason: String(error) }] }))
    )
    const issues: Array<{ field: string; reason: string }> = Either.isLeft(config) ? [...config.left.issues] : []
    const synchronous = Option.getOrElse(raw.synchronous, () => "normal")
    if (synchronous !== "normal" && synchronous !== "full") {
      issues.push({
        field: "SESSIONS_SQLITE_SYNCHRONOUS",
        reason: `expected normal or full, got ${JSON.stringify(synchronous)}`
      })
    }
    const busyTimeout = Option.map(raw.busyTimeout, parseDuration)
    if (Option.isSome(busyTimeout) && Either.isLeft(busyTimeout.value)) {
      issues.push({
        field: "SESSIONS_SQLITE_BUSY_TIMEOUT",
        reason: `expected a duration like 1s or 500ms; ${busyTimeout.value.left}`
      })
    }
    const file = Option.getOrElse(raw.file, () => Path.join(dataDir, "sessions.db"))
    if (file.trim() === "") issues.push({ field: "SESSIONS_SQLITE_FILE", reason: "is empty" })
    if (issues.length > 0) return yield* Effect.fail(new InvalidConfig({ issues }))
    return {
      filename: file,
      synchronous: synchronous as "normal" | "full",
      busyTimeout: Option.isSome(busyTimeout) && Either.isRight(busyTimeout.value)
        ? busyTimeout.value.right
        : undefined,
      touchCoalesce: Either.isRight(config) ? config.right.touchCoalesce : undefined
    }
  })

/** The options read from the environment (see `optionsFromEnvIn`), the default file being `.data/sessions.db`. */
export const optionsFromEnv: Effect.Effect<SqliteStoreOptions, InvalidConfig> = optionsFromEnvIn(".data")

/** The SQLite store as a layer configured from the environment (see `optionsFromEnv`). */
export const layerConfig: Layer.Layer<SessionStore | SessionStoreSync, StoreFailure | InvalidConfig> = Layer
  .unwrapEffect(Effect.map(optionsFromEnv, layer))

/** The SQLite store's settings, as rows of the config reference. */
export const reference: ReadonlyArray<
  { readonly field: string; readonly env: string; readonly default: string; readonly doc: string }
> = [
  {
    field: "filename",
    env: "SESSIONS_SQLITE_FILE",
    default: "sessions.db in SESSIONS_DATA_DIR",
    doc: "The database file (created with its directory if missing)."
  },
  {
    field: "synchronous",
    env: "SESSIONS_SQLITE_SYNCHRONOUS",
    default: "normal",
    doc: "`normal`: acknowledged writes survive a process crash. `full`: also a power loss, slower writes."
  },
  {
    field: "busyTimeout",
    env: "SESSIONS_SQLITE_BUSY_TIMEOUT",
    default: "1s",
    doc: "How long a write waits for another process's lock before `StoreUnavailable` (retried)."
  }
]
