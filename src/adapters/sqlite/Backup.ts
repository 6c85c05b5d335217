/**
 * Backup, restore, verify and repair of an effect-sessions SQLite database: library functions for the operator CLI
 * and the admin API. Each opens the database file itself, so they work whether or not a service is running on it.
 *
 * - `backup` writes a consistent snapshot (one read transaction, while writers go on) to a temporary file next to the
 *   destination, fsyncs it and moves it into place: a crash never leaves a partial file under the final name, and
 *   an existing file is never replaced unless `overwrite` says so.
 * - `list` reads and checks every file of a backups directory.
 * - `restore` reads the whole backup and checks it (trailer, checksum, format version, every record) before it
 *   touches the database, then replaces the database's sessions in one transaction. `dryRun` stops before writing.
 * - `verify` runs SQLite's integrity and foreign-key checks, decodes every row and compares the status counters;
 *   with `repair` it moves rows that do not decode to the `quarantine` table and recounts.
 */
import DatabaseConstructor from "better-sqlite3"
import type Database from "better-sqlite3"
import { Clock, Effect, Either, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { CorruptRecord, InvalidInput, type StoreFailure } from "../../domain/Errors.js"
import type { Session } from "../../domain/Session.js"
import * as Format from "./internal/backupFormat.js"
import { openDatabase, openExisting, scopedDatabase } from "./internal/database.js"
import { storeFailure } from "./internal/errors.js"
import { columns, decode, encode, rowColumns, type SessionRow } from "./internal/rows.js"
import { applicationId, schemaVersion } from "./internal/schema.js"

/** A backup file that cannot be restored: which file, and what is wrong with it. Nothing was changed. */
export class BackupRejected extends Schema.TaggedError<BackupRejected>()("BackupRejected", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.file} cannot be restored: ${this.reason}; the database was not changed`
  }
}

/** Called as a long operation goes: how many records are done out of how many. */
export type Progress = (done: number, total: number) => void

/** What a backup wrote. */
export interface BackupReport {
  readonly file: string
  readonly sessions: number
  readonly activePointers: number
  /** Rows that did not decode and were left out (`verify` reports them, `repair` quarantines them). */
  readonly skipped: ReadonlyArray<CorruptRecord>
  readonly bytes: number
  readonly sha256: string
}

/** What a restore did, or would do (`dryRun`). */
export interface RestoreReport {
  readonly file: string
  readonly sessions: number
  readonly activePointers: number
  /** Sessions the database held before, all replaced. */
  readonly replaced: number
  readonly dryRun: boolean
}

/** A row `verify` could not decode. */
export interface CorruptRow {
  readonly seq: number
  readonly id: string
  readonly reason: string
}

/** What `verify` found, and what `repair` moved. */
export interface VerifyReport {
  readonly database: string
  /** `["ok"]`, or SQLite's integrity and foreign-key problems. */
  readonly integrity: ReadonlyArray<string>
  readonly rows: number
  readonly corrupt: ReadonlyArray<CorruptRow>
  /** Whether the status counters matched the rows (they are recounted by `repair`). */
  readonly countsMatch: boolean
  /** Rows moved to the quarantine table. */
  readonly quarantined: number
  /** Nothing wrong found (before any repair). */
  readonly ok: boolean
}

const batchSize = 1000

/** Sets the status counters to what the rows say. */
const recount = `
  UPDATE session_counts SET n = (SELECT count(*) FROM sessions s WHERE s.status = session_counts.status);
  DELETE FROM owner_live_counts;
  INSERT INTO owner_live_counts (owner, n)
    SELECT owner, count(*) FROM sessions WHERE status IN ('active', 'waiting') GROUP BY owner;
`

/** Runs a synchronous block against the database, turning SQLite's exceptions into store failures. */
const sync = <A>(operation: string, f: () => A): Effect.Effect<A, StoreFailure> =>
  Effect.try({ try: f, catch: (error) => storeFailure(operation, error) })

/** Rows of `sessions` in `seq` order, `batchSize` at a time, yielding to other fibers between batches. */
const eachBatch = (
  db: Database.Database,
  operation: string,
  visit: (rows: ReadonlyArray<SessionRow>) => Effect.Effect<void, StoreFailure>
) => {
  const page = db.prepare(`SELECT ${rowColumns} FROM sessions WHERE seq > ? ORDER BY seq LIMIT ?`).raw(true)
  const loop = (after: number): Effect.Effect<void, StoreFailure> =>
    Effect.flatMap(sync(operation, () => page.all(after, batchSize) as Array<SessionRow>), (rows) =>
      rows.length === 0
        ? Effect.void
        : Effect.zipRight(visit(rows), Effect.zipRight(Effect.yieldNow(), loop(rows[rows.length - 1]![0]))))
  return loop(0)
}

/** The refusal of `backup` to replace an existing file without `overwrite`. */
const fileExists = (file: string) =>
  new InvalidInput({
    field: "file",
    reason: `${file} already exists`,
    expected: "a file name not in use (or overwrite to replace the file)"
  })

/**
 * Writes a backup of the database at `database` to `to`: a consistent snapshot, taken while the service may keep
 * writing. The file appears under its name only once it is complete and on disk. An existing file is replaced only
 * with `overwrite`; otherwise the backup fails `InvalidInput` with `field: "file"` naming it, and nothing changes.
 */
export const backup = (
  options: {
    readonly database: string
    readonly to: string
    readonly overwrite?: boolean
    readonly onProgress?: Progress
  }
): Effect.Effect<BackupReport, StoreFailure | InvalidInput> =>
  Effect.scoped(Effect.gen(function*() {
    const target = Path.resolve(options.to)
    const overwrite = options.overwrite === true
    if (!overwrite && Format.existsAsFile(target)) return yield* fileExists(target)
    const db = yield* scopedDatabase(openExisting(options.database, true))
    const temp = Format.temporaryName(target)
    yield* sync("backup", () => Fs.mkdirSync(Path.dirname(target), { recursive: true, mode: 0o700 }))
    const fd = yield* Effect.acquireRelease(
      sync("backup", () => Fs.openSync(temp, "wx", 0o600)),
      (fd, exit) =>
        Effect.sync(() => {
          Fs.closeSync(fd)
          if (exit._tag === "Failure") Fs.rmSync(temp, { force: true })
        })
    )
    // One read transaction: every row comes from the same snapshot, whatever writers do meanwhile.
    yield* Effect.acquireRelease(sync("backup", () => db.exec("BEGIN")), () => Effect.sync(() => db.exec("COMMIT")))
    const total = yield* sync(
      "backup",
      () => (db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n
    )
    const hash = Format.hasher()
    let bytes = 0
    const write = (text: string) => {
      const chunk = Buffer.from(text, "utf8")
      Format.writeAll(fd, chunk)
      hash.update(chunk)
      bytes += chunk.length
    }
    write(Format.headerLine({ createdAt: yield* Clock.currentTimeMillis, schemaVersion }))
    const written = new Set<string>()
    const skipped: Array<CorruptRecord> = []
    let done = 0
    yield* eachBatch(db, "backup", (rows) =>
      sync("backup", () => {
        let text = ""
        for (const row of rows) {
          const decoded = decode(row)
          if (Either.isLeft(decoded)) skipped.push(decoded.left)
          else {
            text += Format.sessionLine(decoded.right)
            written.add(decoded.right.id)
          }
        }
        write(text)
        done += rows.length
        options.onProgress?.(done, total)
      }))
    const pointers = yield* sync(
      "backup",
      () =>
        (db.prepare("SELECT owner, session_id FROM active_sessions ORDER BY owner").all() as Array<
          { owner: string; session_id: string }
        >)
          .filter((row) => written.has(row.session_id))
          .map((row) => ({ owner: row.owner, sessionId: row.session_id }))
    )
    for (const pointer of pointers) write(Format.activeLine(pointer))
    const sha256 = hash.digest("hex")
    const trailer = Format.trailerLine({ sha256, sessions: written.size, activePointers: pointers.length })
    Format.writeAll(fd, Buffer.from(trailer, "utf8"))
    bytes += Buffer.byteLength(trailer)
    yield* Effect.try({
      try: () => {
        Fs.fsyncSync(fd)
        Format.moveIntoPlace(temp, target, overwrite)
      },
      catch: (error) => !overwrite && Format.existsAsFile(target) ? fileExists(target) : storeFailure("backup", error)
    })
    const report: BackupReport = {
      file: target,
      sessions: written.size,
      activePointers: pointers.length,
      skipped,
      bytes,
      sha256
    }
    return report
  }))

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
    const file = Path.resolve(options.from)
    const bytes = yield* Effect.try({
      try: () => Fs.readFileSync(file),
      catch: (error) => new BackupRejected({ file, reason: error instanceof Error ? error.message : String(error) })
    })
    const contents = yield* Either.mapLeft(Format.parse(bytes), (reason) => new BackupRejected({ file, reason }))
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
  active: ReadonlyArray<Format.ActivePointer>,
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
          `SELECT count(*) AS n FROM (
           SELECT owner, n FROM owner_live_counts
           EXCEPT SELECT owner, count(*) FROM sessions WHERE status IN ('active', 'waiting') GROUP BY owner
           UNION ALL
           SELECT owner, count(*) FROM sessions WHERE status IN ('active', 'waiting') GROUP BY owner
           EXCEPT SELECT owner, n FROM owner_live_counts
         )`
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

/** The directory, in the service's data directory, where it writes backups (`POST /admin/backup`). */
export const backupDirectory = (dataDir: string) => Path.resolve(dataDir, "backups")

/** One file of a backups directory, as `list` found it. */
export type BackupListing = Format.Listing

/**
 * The files in the directory `dir` (where the service writes its backups), each read and checked in full: its
 * counts when it is a valid backup, what is wrong when not (damaged, foreign, unfinished, unreadable). Oldest first.
 * A missing directory holds none; one that cannot be read fails `StoreError`.
 */
export const list = (
  options: { readonly dir: string; readonly onProgress?: Progress }
): Effect.Effect<ReadonlyArray<BackupListing>, StoreFailure> =>
  Effect.gen(function*() {
    const dir = Path.resolve(options.dir)
    const files = yield* sync("list backups", () =>
      Fs.existsSync(dir)
        ? Fs.readdirSync(dir).flatMap((name) => {
          const stat = Fs.statSync(Path.join(dir, name), { throwIfNoEntry: false })
          return stat?.isFile() === true ? [{ name, stat }] : []
        })
        : [])
    const listings: Array<BackupListing> = []
    for (const { name, stat } of files) {
      listings.push(Format.inspect(dir, name, stat))
      options.onProgress?.(listings.length, files.length)
      yield* Effect.yieldNow()
    }
    return listings.sort((a, b) => a.writtenAt - b.writtenAt || a.file.localeCompare(b.file))
  })

/** The schema of a database file, as `doctor` reports it. */
export interface SchemaStatus {
  readonly database: string
  /** Whether the file is an effect-sessions database (or still empty). */
  readonly ours: boolean
  readonly version: number
  /** The schema version this build writes. */
  readonly current: number
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
