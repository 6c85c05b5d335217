/**
 * Backup, restore, verify and repair of an effect-sessions SQLite database: library functions for the operator CLI
 * and the admin API. Each opens the database file itself, so they work whether or not a service is running on it.
 * The file format is the domain's (`BackupFormat`), shared with the Postgres store: a backup moves between them.
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
import { Clock, Effect, Either, Layer } from "effect"
import * as Path from "node:path"
import * as Format from "../../domain/BackupFormat.js"
import type { Progress } from "../../domain/BackupReports.js"
import { type CorruptRecord, InvalidInput, type StoreFailure } from "../../domain/Errors.js"
import { decode } from "../../domain/SqlRows.js"
import * as Files from "../../internal/BackupFiles.js"
import { type BackupReport as SessionBackupReport, SessionBackup } from "../../services/SessionBackup.js"
import { eachBatch, sync } from "./internal/backupJobs.js"
import { openExisting, scopedDatabase } from "./internal/database.js"
import { schemaVersion } from "./internal/schema.js"

export {
  BackupRejected,
  type CorruptRow,
  type Progress,
  type RestoreReport,
  type SchemaStatus,
  type VerifyReport
} from "../../domain/BackupReports.js"

/** What a backup wrote (rows that did not decode are left out: `verify` reports them, `repair` quarantines them). */
export type BackupReport = SessionBackupReport

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
    if (!overwrite && Files.existsAsFile(target)) return yield* Files.fileExists(target)
    const db = yield* scopedDatabase(openExisting(options.database, true))
    const file = yield* Files.openWriter(target, overwrite)
    // One read transaction: every row comes from the same snapshot, whatever writers do meanwhile.
    yield* Effect.acquireRelease(sync("backup", () => db.exec("BEGIN")), () => Effect.sync(() => db.exec("COMMIT")))
    const total = yield* sync(
      "backup",
      () => (db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n
    )
    const createdAt = yield* Clock.currentTimeMillis
    yield* sync("backup", () => file.write(Format.headerLine({ createdAt, schemaVersion })))
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
        file.write(text)
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
    yield* sync("backup", () => {
      for (const pointer of pointers) file.write(Format.activeLine(pointer))
    })
    const { bytes, sha256 } = yield* file.finish({ sessions: written.size, activePointers: pointers.length })
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

/** The directory, in the service's data directory, where it writes backups (`POST /admin/backup`). */
export const backupDirectory = Files.backupDirectory

/** One file of a backups directory, as `list` found it. */
export type BackupListing = Files.Listing

/**
 * The files in the directory `dir` (where the service writes its backups), each read and checked in full: its
 * counts when it is a valid backup, what is wrong when not (damaged, foreign, unfinished, unreadable). Oldest first.
 * A missing directory holds none; one that cannot be read fails `StoreError`.
 */
export const list: (
  options: { readonly dir: string; readonly onProgress?: Progress }
) => Effect.Effect<ReadonlyArray<BackupListing>, StoreFailure> = Files.list

/**
 * The `SessionBackup` port over the database at `database`, writing into `directory` (the service's
 * `backupDirectory`): each backup is `backup` to a plain file name there, never replacing a file.
 */
export const layer = (options: { readonly database: string; readonly directory: string }) =>
  Layer.succeed(SessionBackup, {
    backup: (name) =>
      Format.isPlainFileName(name)
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
export { schemaStatus, verify } from "./internal/verify.js"
