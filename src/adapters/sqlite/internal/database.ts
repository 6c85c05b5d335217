/** Opening effect-sessions databases: the pragmas every connection sets, and the migrations run on open. */
import Database from "better-sqlite3"
import { Duration, Effect, Either, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { StoreError, type StoreFailure } from "../../../domain/Errors.js"
import { storeFailure } from "./errors.js"
import { applicationId, migrate, schemaVersion } from "./schema.js"

/** How to open a database for writing. */
export interface OpenOptions {
  readonly filename: string
  readonly synchronous?: "normal" | "full" | undefined
  readonly busyTimeout?: Duration.Duration | undefined
}

const inMemory = (filename: string) => filename === ":memory:" || filename.startsWith("file:")

/** The size, in bytes, the WAL file is cut back to after a checkpoint. */
const walSizeLimit = 16 * 1024 * 1024

/**
 * Makes the file give back the pages that purged sessions free (`auto_vacuum = INCREMENTAL`, used by the store after
 * large purges). A new file is set up so before its first table; a file made without it is rewritten once
 * (`VACUUM`), which an effect-sessions database made by an earlier version needs only the first time it is opened.
 */
const incrementalVacuum = (db: Database.Database): void => {
  if ((db.pragma("auto_vacuum", { simple: true }) as number) === 2) return
  const app = db.pragma("application_id", { simple: true }) as number
  const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }
  // Never rewrite a file of another application: `migrate` refuses it next, unchanged.
  if (app !== applicationId && tables.n > 0) return
  db.pragma("auto_vacuum = INCREMENTAL")
  if (tables.n > 0) db.exec("VACUUM")
}

/**
 * Opens `filename` for reading and writing (creating its directory and the file if missing), sets WAL, the
 * synchronous level, the busy timeout and foreign keys, and migrates it. Fails `StoreError` for files that cannot be
 * opened, belong to another application, or are newer than this build.
 */
export const openDatabase = (options: OpenOptions): Effect.Effect<Database.Database, StoreFailure> =>
  Effect.try({
    try: () => {
      if (!inMemory(options.filename)) {
        Fs.mkdirSync(Path.dirname(Path.resolve(options.filename)), { recursive: true, mode: 0o700 })
      }
      const db = new Database(options.filename)
      try {
        db.pragma(`busy_timeout = ${Duration.toMillis(options.busyTimeout ?? Duration.seconds(1))}`)
        // Before the WAL switch: that writes the file's first page, after which the vacuum mode is fixed.
        incrementalVacuum(db)
        if (!inMemory(options.filename)) {
          db.pragma("journal_mode = WAL")
        }
        db.pragma(`synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`)
        db.pragma("foreign_keys = ON")
        db.pragma("cache_size = -65536")
        db.pragma("temp_store = MEMORY")
        // After a checkpoint, the WAL file is cut back to this size rather than keeping its largest size forever.
        db.pragma(`journal_size_limit = ${walSizeLimit}`)
        const migrated = migrate(db)
        if (Either.isLeft(migrated)) throw migrated.left
        return db
      } catch (error) {
        db.close()
        throw error
      }
    },
    catch: (error) => (error instanceof StoreError ? error : storeFailure("open", error))
  })

/**
 * Opens an existing effect-sessions database without migrating it (for backup and verify): it must exist, be ours,
 * and be at this build's schema version.
 */
export const openExisting = (filename: string, readonly: boolean): Effect.Effect<Database.Database, StoreFailure> =>
  Effect.try({
    try: () => {
      const db = new Database(filename, { readonly, fileMustExist: true })
      try {
        db.pragma("busy_timeout = 5000")
        const app = db.pragma("application_id", { simple: true }) as number
        const version = db.pragma("user_version", { simple: true }) as number
        if (app !== applicationId || version !== schemaVersion) {
          throw new StoreError({
            operation: "open",
            reason: app !== applicationId
              ? `${filename} is not an effect-sessions database`
              : `${filename} has schema version ${version}; this build reads schema version ${schemaVersion}`
          })
        }
        return db
      } catch (error) {
        db.close()
        throw error
      }
    },
    catch: (error) => (error instanceof StoreError ? error : storeFailure("open", error))
  })

/** `openDatabase` or `openExisting` as a scoped resource: the connection closes with the scope. */
export const scopedDatabase = <E>(
  open: Effect.Effect<Database.Database, E>
): Effect.Effect<Database.Database, E, Scope.Scope> =>
  Effect.acquireRelease(open, (db) => Effect.sync(() => db.close()))
