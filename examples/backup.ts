/**
 * Backing up, checking and restoring a SQLite store with `Backup` from `effect-sessions/sqlite` (what the CLI's
 * `backup`, `restore` and `verify` do). `test/examples.test.ts` runs it on a fresh database; the README quotes it.
 */
import { Effect } from "effect"
import { Backup } from "effect-sessions/sqlite"

export const maintenance = (database: string, backups: string) =>
  Effect.gen(function*() {
    // A consistent snapshot while the service keeps writing; the file appears only once complete and on disk.
    const report = yield* Backup.backup({ database, to: `${backups}/sessions.ndjson` })
    // Checks the whole file (trailer, SHA-256, format version, every record) before touching the database, then
    // replaces its sessions in one transaction. A damaged file fails BackupRejected and changes nothing.
    const restored = yield* Backup.restore({ database, from: report.file, dryRun: true })
    // integrity_check, foreign keys, every row decoding, the counters; with repair, undecodable rows are moved to
    // the quarantine table.
    const verified = yield* Backup.verify({ database, repair: true })
    return { report, restored, verified }
  })
