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
import { Clock, Effect, Either, Layer, Schema } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { CorruptRecord, InvalidInput, type StoreFailure } from "../../domain/Errors.js"
import { type BackupReport as SessionBackupReport, SessionBackup } from "../../services/SessionBackup.js"
import * as Format from "./internal/backupFormat.js"
import { eachBatch, sync } from "./internal/backupJobs.js"
import { openExisting, scopedDatabase } from "./internal/database.js"
import { storeFailure } from "./internal/errors.js"
import { decode } from "../../domain/SqlRows.js"
import { schemaVersion } from "./internal/schema.js"

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

/** What a backup wrote (rows that did not decode are left out: `verify` reports them, `repair` quarantines them). */
export type BackupReport = SessionBackupReport

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

/** A plain backup file name: letters, digits, `.`, `_` and `-`, not starting with a dot. */
const fileName = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/

/**
 * The `SessionBackup` port over the database at `database`, writing into `directory` (the service's
 * `backupDirectory`): each backup is `backup` to a plain file name there, never replacing a file.
 */
export const layer = (options: { readonly database: string; readonly directory: string }) =>
  Layer.succeed(SessionBackup, {
    backup: (name) =>
      fileName.test(name)
        ? backup({ database: options.database, to: Path.join(options.directory, name) })
        : Effect.fail(
          new InvalidInput({
            field: "name",
            reason: "is not a plain file name",
            expected: "a file name of letters, digits, '.', '_' and '-'"
          })
        )
  })

export { restore } from "./internal/restore.js"
export { type SchemaStatus, schemaStatus, verify } from "./internal/verify.js"
