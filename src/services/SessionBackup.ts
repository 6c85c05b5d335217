/**
 * The `SessionBackup` port: a consistent copy of every session to a named file in the store's backup directory, for
 * the HTTP service's `/admin/backup` (which knows nothing of the store behind it). A store that can write one
 * provides it beside itself (the SQLite store: `Backup.layer`); a service without it answers that backups are not
 * available.
 */
import { Context, type Effect } from "effect"
import type { CorruptRecord, InvalidInput, StoreFailure } from "../domain/Errors.js"

/** What a backup wrote. */
export interface BackupReport {
  readonly file: string
  readonly sessions: number
  readonly activePointers: number
  /** Records that could not be read and were left out (an operator's `verify` finds them). */
  readonly skipped: ReadonlyArray<CorruptRecord>
  readonly bytes: number
  readonly sha256: string
}

/** The operations of a backup writer. */
export interface SessionBackupShape {
  /**
   * Writes a consistent snapshot of every session (taken while writers go on) to `name` in the backup directory;
   * the file appears under its name only once complete and on disk. Never replaces an existing file
   * (`InvalidInput{field: "file"}`); a name that is not a plain file name fails `InvalidInput{field: "name"}`.
   */
  readonly backup: (name: string) => Effect.Effect<BackupReport, InvalidInput | StoreFailure>
}

/** The backup writer of the store a service runs on. */
export class SessionBackup extends Context.Tag("effect-sessions/SessionBackup")<SessionBackup, SessionBackupShape>() {}
