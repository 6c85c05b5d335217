/**
 * What the backup, restore and verify jobs of every SQL store report, and the refusal of a backup file, in the same
 * shapes whichever store ran them (the operator CLI prints them without knowing which).
 */
import { Schema } from "effect"

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
  /** The database verified: a file, or a Postgres URL (without its password) and schema. */
  readonly database: string
  /** `["ok"]`, or the problems the database itself reports (SQLite's integrity and foreign-key checks, say). */
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

/** The schema version of a store's database, read without changing anything. */
export interface SchemaStatus {
  readonly database: string
  /** Whether the database is an effect-sessions one (or still empty). */
  readonly ours: boolean
  readonly version: number
  /** The schema version this build writes. */
  readonly current: number
}
