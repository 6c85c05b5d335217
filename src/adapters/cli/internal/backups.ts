/** The commands on the store as a whole: `backup` (and `backup list`), `restore` and `verify`, on SQLite or Postgres. */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import * as Files from "../../../internal/BackupFiles.js"
import { storeOfSettings } from "../../../startup/Startup.js"
import { CliFailure, existingStore, json, settings, usageError } from "./common.js"
import { formatBytes, progress, table } from "./output.js"

const file = (name: string, description: string) => Args.text({ name }).pipe(Args.withDescription(description))

/**
 * `backup <file>`. Its file is optional to the parser only so that `backup list` can be a subcommand (`@effect/cli`
 * parses a command's own arguments before its subcommand's name); a missing file is a usage error all the same.
 */
const write = Command.make("backup", {
  file: file("file", "Where to write the backup (a file named list: give a path, ./list)").pipe(Args.optional),
  json,
  force: Options.boolean("force").pipe(Options.withDescription("Replace the file if it exists"))
}, ({ file, force, json }) =>
  Effect.gen(function*() {
    if (Option.isNone(file)) {
      return yield* usageError("Missing argument <file>: where to write the backup (`backup list` lists the backups)")
    }
    const current = yield* settings
    const store = yield* existingStore(current)
    const report = yield* store.backup({
      to: file.value,
      overwrite: force,
      onProgress: progress("backup")
    }).pipe(
      Effect.catchIf(
        (error) => error._tag === "InvalidInput" && error.field === "file",
        (error) => new CliFailure({ reason: `${error.reason}; add --force to replace it` })
      )
    )
    if (json) return yield* Console.log(JSON.stringify(report, null, 2))
    yield* Console.log(
      `wrote ${report.file}: ${report.sessions} sessions, ${report.bytes} bytes, sha256 ${report.sha256}`
    )
    for (const record of report.skipped) {
      yield* Console.error(`left out corrupt record ${record.id}: ${record.reason}`)
    }
  })).pipe(
    Command.withDescription(
      "Write a consistent backup of the store to a file (the service may be running); an existing file is " +
        "replaced only with --force. `backup list` lists the backups in the data directory; to write a file named " +
        "list, give it as a path: backup ./list"
    )
  )

/** `backup list`: the backups in the data directory, each read and checked in full. */
const listBackups = Command.make("list", { json }, (options) =>
  Effect.gen(function*() {
    // `backup <file> list` and `backup --force list` are mistakes, not a backup and a listing.
    const parent = yield* write
    if (Option.isSome(parent.file) || parent.force) {
      return yield* usageError("backup list takes no file and no --force (to write a file named list: backup ./list)")
    }
    const json = options.json || parent.json
    const current = yield* settings
    const directory = Files.backupDirectory(current.service.dataDir)
    const backups = yield* Files.list({ dir: directory, onProgress: progress("backup list") })
    const rows = backups.map((entry) => ({ ...entry, writtenAt: new Date(entry.writtenAt).toISOString() }))
    if (json) return yield* Console.log(JSON.stringify({ directory, backups: rows }, null, 2))
    if (rows.length === 0) return yield* Console.log(`no backups in ${directory}`)
    yield* Console.log(
      table(
        ["file", "written", "sessions", "active", "size", "checksum"],
        rows.map((entry) => [
          entry.file,
          entry.writtenAt,
          entry.sessions === null ? "-" : String(entry.sessions),
          entry.activePointers === null ? "-" : String(entry.activePointers),
          formatBytes(entry.bytes),
          entry.verified ? "ok" : `FAILED: ${entry.problem}`
        ])
      )
    )
    const failed = rows.filter((entry) => !entry.verified).length
    yield* Console.log(`${rows.length} file(s) in ${directory}${failed > 0 ? `, ${failed} that do not verify` : ""}`)
  })).pipe(
    Command.withDescription(
      "List the backups in <data dir>/backups (where the service writes them): when each was written, its sessions " +
        "and active pointers, its size, and whether all of it verifies"
    )
  )

/** `backup <file>`, with its subcommand `backup list`. */
export const backup = write.pipe(Command.withSubcommands([listBackups]))

/** `restore <file>`: replaces the sessions with a backup's, once all of it checks. */
export const restore = Command.make("restore", {
  file: file("file", "The backup to restore"),
  json,
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Check the backup and report, without writing"))
}, ({ dryRun, file, json }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const report = yield* storeOfSettings(current).restore({
      from: file,
      dryRun,
      onProgress: progress("restore")
    })
    if (json) return yield* Console.log(JSON.stringify(report, null, 2))
    yield* Console.log(
      `${dryRun ? "would restore" : "restored"} ${report.sessions} sessions and ${report.activePointers} active ` +
        `pointers from ${report.file}, replacing ${report.replaced} sessions`
    )
  })).pipe(
    Command.withDescription(
      "Replace the store's sessions with a backup's (from either store), after checking all of it (stop the " +
        "service first)"
    )
  )

/** `verify [--repair]`: the database's integrity, rows that decode, counters; `--repair` quarantines bad rows. */
export const verify = Command.make("verify", {
  json,
  repair: Options.boolean("repair").pipe(
    Options.withDescription("Move rows that do not decode to the quarantine table and recount")
  )
}, ({ json, repair }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const store = yield* existingStore(current)
    const report = yield* store.verify({ repair, onProgress: progress("verify") })
    if (json) yield* Console.log(JSON.stringify(report, null, 2))
    else {
      yield* Console.log(
        `integrity: ${report.integrity.join("; ")}\nrows: ${report.rows}, corrupt: ${report.corrupt.length}, ` +
          `counters ${report.countsMatch ? "match" : "do not match"}${
            repair ? `, quarantined ${report.quarantined}` : ""
          }`
      )
      for (const row of report.corrupt) yield* Console.log(`  corrupt ${row.id}: ${row.reason}`)
    }
    if (!report.ok && !repair) {
      return yield* Effect.fail(
        new CliFailure({ reason: "verify found problems; `verify --repair` quarantines bad rows" })
      )
    }
    if (report.integrity[0] !== "ok") {
      return yield* Effect.fail(
        new CliFailure({
          reason: `${
            store.kind === "sqlite" ? "SQLite reports" : "the store holds"
          } damage that repair cannot fix; restore from a backup`
        })
      )
    }
  })).pipe(
    Command.withDescription(
      "Check the store: its integrity (SQLite's checks, Postgres's active pointers), every row decoding, the status " +
        "counters"
    )
  )
