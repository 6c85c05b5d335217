/**
 * Backup, restore, verify and repair of an effect-sessions Postgres store, in the same checksummed file format as
 * the SQLite store's (`BackupFormat`), so a backup moves between the two. Each job opens a small pool of its own on
 * the store's schema, so they work whether or not services are running on it.
 *
 * - `backup` reads one consistent snapshot (a single `REPEATABLE READ, READ ONLY` transaction, while every node
 *   goes on writing) into a temporary file next to the destination, fsyncs it and moves it into place: the file
 *   appears only complete, and an existing one is never replaced unless `overwrite` says so.
 * - `restore` reads the whole backup and checks it before it touches the database, then replaces the schema's
 *   sessions, active pointers and leases in one transaction and recounts `session_counts`. `dryRun` stops before
 *   writing.
 * - `verify` decodes every row, checks the active pointers and compares the summed count changes with a recount, all
 *   in one snapshot; with `repair` it moves rows that do not decode to `quarantine` (the store's `remove`) and
 *   recounts.
 */
import { Clock, Effect, Either, Layer } from "effect"
import * as Path from "node:path"
import * as Format from "../../domain/BackupFormat.js"
import type { Progress, SchemaStatus } from "../../domain/BackupReports.js"
import { type CorruptRecord, InvalidConfig, InvalidInput, StoreError, type StoreFailure } from "../../domain/Errors.js"
import { decode, rowSeq, type SessionRow } from "../../domain/SqlRows.js"
import * as Files from "../../internal/BackupFiles.js"
import { type BackupReport, SessionBackup } from "../../services/SessionBackup.js"
import { batchSize, describe, openClient, readSchemaStatus, requireCurrent, statements } from "./internal/backupDb.js"
import { storeFailure } from "./internal/errors.js"
import { schemaVersion } from "./internal/schema.js"
import type { PostgresStoreOptions } from "./PostgresStore.js"

export {
  BackupRejected,
  type CorruptRow,
  type Progress,
  type RestoreReport,
  type SchemaStatus,
  type VerifyReport
} from "../../domain/BackupReports.js"
export { type BackupReport } from "../../services/SessionBackup.js"
export { redactUrl } from "./internal/backupDb.js"

/**
 * Writes a backup of the store reached with `store` to `to`: one consistent snapshot, taken while services keep
 * writing. The file appears under its name only once it is complete and on disk. An existing file is replaced only
 * with `overwrite`; otherwise the backup fails `InvalidInput` with `field: "file"` naming it, and nothing changes.
 * Rows that do not decode are left out and reported in `skipped`. Fails `StoreError` when the schema is missing, of
 * another application or of another version, `StoreUnavailable` when the server does not answer in time.
 */
export const backup = (
  options: {
    readonly store: PostgresStoreOptions
    readonly to: string
    readonly overwrite?: boolean
    readonly onProgress?: Progress
  }
): Effect.Effect<BackupReport, StoreFailure | InvalidInput | InvalidConfig> =>
  Effect.scoped(Effect.gen(function*() {
    const target = Path.resolve(options.to)
    const overwrite = options.overwrite === true
    if (!overwrite && Files.existsAsFile(target)) return yield* Files.fileExists(target)
    const { schema, sql } = yield* openClient(options.store)
    yield* Effect.flatMap(readSchemaStatus(sql, schema, describe(options.store)), (status) =>
      requireCurrent(status, schema))
    const file = yield* Files.openWriter(target, overwrite)
    const write = (text: string) =>
      Effect.try({
        try: () =>
          file.write(text),
        catch: (error) => Files.fileError("backup", error)
      })
    const createdAt = yield* Clock.currentTimeMillis
    const written = new Set<string>()
    const skipped: Array<CorruptRecord> = []
    // One snapshot: every row and pointer as of one instant, whatever the nodes write meanwhile.
    const pointers = yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql.unsafe(statements.snapshot)
      const [{ n: total }] = (yield* sql.unsafe<{ n: number }>(statements.total)) as [{ n: number }]
      yield* write(Format.headerLine({ createdAt, schemaVersion }))
      let after = 0
      let done = 0
      for (;;) {
        const rows = (yield* sql.unsafe(statements.page, [after, batchSize]).values) as ReadonlyArray<SessionRow>
        if (rows.length === 0) break
        let text = ""
        for (const row of rows) {
          const decoded = decode(row)
          if (Either.isLeft(decoded)) skipped.push(decoded.left)
          else {
            text += Format.sessionLine(decoded.right)
            written.add(decoded.right.id)
          }
        }
        yield* write(text)
        done += rows.length
        options.onProgress?.(done, total)
        after = rowSeq(rows[rows.length - 1]!)
      }
      const pointers = (yield* sql.unsafe<{ owner: string; session_id: string }>(statements.pointers))
        .filter((row) => written.has(row.session_id))
        .map((row) => ({ owner: row.owner, sessionId: row.session_id }))
      for (const pointer of pointers) yield* write(Format.activeLine(pointer))
      return pointers
    })).pipe(Effect.catchTag("SqlError", (error) => Effect.fail(storeFailure("backup", error))))
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

/**
 * Reads the schema version of the store reached with `store` without creating or changing anything: a schema that
 * does not exist yet reads as version 0, ours. Fails `StoreUnavailable` when the server does not answer.
 */
export const schemaStatus = (
  store: PostgresStoreOptions
): Effect.Effect<SchemaStatus & { readonly exists: boolean }, StoreFailure | InvalidConfig> =>
  Effect.scoped(
    Effect.flatMap(openClient(store), ({ schema, sql }) => readSchemaStatus(sql, schema, describe(store)))
  )

/**
 * The `SessionBackup` port over the store reached with `store`, writing into `directory` (the service's backup
 * directory): each backup is `backup` to a plain file name there, never replacing a file.
 */
export const layer = (options: { readonly store: PostgresStoreOptions; readonly directory: string }) =>
  Layer.succeed(SessionBackup, {
    backup: (name) =>
      Format.isPlainFileName(name)
        ? backup({ store: options.store, to: Path.join(options.directory, name) }).pipe(
          Effect.catchIf(
            (error): error is InvalidConfig => error instanceof InvalidConfig,
            (error) => Effect.fail(new StoreError({ operation: "backup", reason: error.message }))
          )
        )
        : Effect.fail(
          new InvalidInput({
            field: "name",
            reason: "is not a plain file name",
            expected: "a file name of letters, digits, '.', '_' and '-'"
          })
        )
  })

export { restore } from "./internal/backupRestore.js"
export { verify } from "./internal/backupVerify.js"
