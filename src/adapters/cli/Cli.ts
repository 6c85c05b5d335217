/**
 * The `effect-sessions` operator CLI. Every command reads the same `SESSIONS_*` settings as the service and works on
 * the configured SQLite database directly, so it needs no running server (`status` asks one if it answers).
 * Read commands take `--json`; long operations report progress on stderr; failures are one line on stderr and a
 * non-zero exit code.
 */
import { Args, Command, HelpDoc, Options, ValidationError } from "@effect/cli"
import { Config, Console, Duration, Effect, Either, Layer, Option, Redacted, Schema } from "effect"
import * as Fs from "node:fs"
import { parseDuration } from "../../domain/Config.js"
import { configReference } from "../../domain/Config.js"
import { validateOwnerId } from "../../domain/Ids.js"
import type { Session, StatusCounts } from "../../domain/Session.js"
import { statuses } from "../../domain/Session.js"
import * as SessionManager from "../../services/SessionManager.js"
import { SessionStore } from "../../services/SessionStore.js"
import {
  loadSigningKey,
  mintToken,
  secretFile,
  secretFileExposed,
  secretVariable,
  secretWeakness
} from "../http/Auth.js"
import { serveFromEnv, type Settings, settingsFromEnv } from "../http/Server.js"
import { serviceConfigReference } from "../http/ServiceConfig.js"
import * as Backup from "../sqlite/Backup.js"
import * as SqliteStore from "../sqlite/SqliteStore.js"
import { formatSettings, progress, table } from "./internal/output.js"

/** A command that could not do what it was asked; `message` is the one line printed. */
export class CliFailure extends Schema.TaggedError<CliFailure>()("CliFailure", { reason: Schema.String }) {
  override get message() {
    return this.reason
  }
}

const json = Options.boolean("json").pipe(Options.withDescription("Print the result as JSON"))

/** A duration option: `15m`, `1h30m`, `2d`...; anything else is a usage error naming the option. */
const durationOption = (name: string, fallback: Duration.Duration, description: string) =>
  Options.text(name).pipe(
    Options.withDescription(`${description} (a duration like 15m, 1h or 2d; default ${Duration.format(fallback)})`),
    Options.mapEffect((text) =>
      Either.match(parseDuration(text), {
        onLeft: (reason) =>
          Effect.fail(
            ValidationError.invalidValue(HelpDoc.p(`--${name}: ${reason}; expected a duration like 15m, 1h or 2d`))
          ),
        onRight: (duration) =>
          Duration.toMillis(duration) > 0
            ? Effect.succeed(duration)
            : Effect.fail(ValidationError.invalidValue(HelpDoc.p(`--${name}: must be longer than zero`)))
      })
    ),
    Options.withDefault(fallback)
  )

/** The settings, or a failure listing every bad variable. */
const settings = Effect.mapError(settingsFromEnv, (error) => new CliFailure({ reason: error.message }))

/** The database file of the settings, which must exist for every command but `serve` and `restore`. */
const existingDatabase = (current: Settings) =>
  Fs.existsSync(current.sqlite.filename)
    ? Effect.succeed(current.sqlite.filename)
    : Effect.fail(
      new CliFailure({
        reason: `no database at ${current.sqlite.filename}; start the service once (npm start) or set ` +
          "SESSIONS_SQLITE_FILE / SESSIONS_DATA_DIR"
      })
    )

/** Runs `use` with a manager over the configured database (no sweeper: the CLI only does what it is asked). */
const withManager = <A, E>(
  use: (manager: SessionManager.SessionManagerShape, current: Settings) => Effect.Effect<A, E, SessionStore>
) =>
  Effect.gen(function*() {
    const current = yield* settings
    yield* existingDatabase(current)
    const manager = SessionManager.SessionManager
    return yield* Effect.flatMap(manager, (service) => use(service, current)).pipe(
      Effect.provide(
        SessionManager.layer(current.sessions, { instance: "cli", node: "cli", sweeper: false }).pipe(
          Layer.provideMerge(SqliteStore.layer(current.sqlite))
        )
      )
    )
  })

const countsLine = (counts: StatusCounts) => statuses.map((status) => `${status} ${counts[status]}`).join(", ")

const sessionRow = (session: Session) => [
  session.id,
  session.owner,
  session.name ?? "-",
  session.kind,
  session.status,
  new Date(session.lastActiveAt).toISOString(),
  new Date(session.expiresAt).toISOString()
]

const printSession = (session: Session) =>
  Console.log(
    table(
      ["field", "value"],
      Object.entries(session).map(([key, value]) => [
        key,
        typeof value === "number" && /At$/.test(key) ? new Date(value).toISOString() : JSON.stringify(value)
      ])
    )
  )

/** `serve`: runs the HTTP service until SIGTERM or SIGINT. */
const serve = Command.make("serve", {}, () => serveFromEnv).pipe(
  Command.withDescription("Run the HTTP service on the configured SQLite database (stops cleanly on SIGTERM/SIGINT)")
)

interface ServerStatus {
  readonly url: string
  readonly reachable: boolean
  readonly ready: boolean
}

/** Asks the configured service whether it is up and ready, within two seconds. */
const askServer = (current: Settings): Effect.Effect<ServerStatus> => {
  const host = current.service.host === "0.0.0.0" || current.service.host === "::" ? "127.0.0.1" : current.service.host
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${current.service.port}`
  return Effect.tryPromise((signal) => fetch(`${url}/readyz`, { signal })).pipe(
    Effect.timeout("2 seconds"),
    Effect.map((response) => ({ url, reachable: true, ready: response.ok })),
    Effect.orElseSucceed(() => ({ url, reachable: false, ready: false }))
  )
}

const status = Command.make("status", { json }, ({ json }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const server = yield* askServer(current)
    const database = yield* existingDatabase(current)
    const counts = yield* withManager((manager) => Effect.map(manager.stats, (stats) => stats.counts))
    if (json) return yield* Console.log(JSON.stringify({ server, database, counts }, null, 2))
    yield* Console.log(
      `server:   ${
        server.reachable
          ? `${server.ready ? "ready" : "up, not ready"} at ${server.url}`
          : `not answering at ${server.url}`
      }\ndatabase: ${database}\nsessions: ${countsLine(counts)}`
    )
  })).pipe(Command.withDescription("Whether the service answers, and the sessions by status"))

const list = Command.make("list", {
  json,
  owner: Options.text("owner").pipe(Options.withDescription("Only this owner's sessions"), Options.optional),
  status: Options.choice("status", statuses).pipe(
    Options.withDescription("Only sessions in this status"),
    Options.optional
  ),
  kind: Options.text("kind").pipe(Options.withDescription("Only sessions of this kind"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDescription("Page size, 1-1000"), Options.withDefault(100)),
  after: Options.text("after").pipe(
    Options.withDescription("The cursor printed after the previous page"),
    Options.optional
  )
}, (options) =>
  withManager((manager) =>
    Effect.gen(function*() {
      const page = yield* manager.list({
        owner: Option.getOrUndefined(options.owner),
        status: Option.getOrUndefined(options.status),
        kind: Option.getOrUndefined(options.kind),
        after: Option.getOrUndefined(options.after),
        limit: options.limit
      })
      if (options.json) return yield* Console.log(JSON.stringify(page, null, 2))
      yield* Console.log(
        table(["id", "owner", "name", "kind", "status", "last active", "expires"], page.sessions.map(sessionRow))
      )
      for (const record of page.corrupt) yield* Console.error(`corrupt record ${record.id}: ${record.reason}`)
      if (page.next !== null) yield* Console.log(`more: --after ${page.next}`)
    })
  )).pipe(Command.withDescription("List sessions (every owner's), filtered and paged"))

const id = Args.text({ name: "id" }).pipe(Args.withDescription("A session id"))

const show = Command.make(
  "show",
  { id, json },
  ({ id, json }) =>
    withManager((manager) =>
      Effect.flatMap(
        manager.get(id),
        (session) => json ? Console.log(JSON.stringify(session, null, 2)) : printSession(session)
      )
    )
).pipe(Command.withDescription("Show one session, tombstones included"))

const close = Command.make(
  "close",
  {
    id,
    json,
    reason: Options.text("reason").pipe(
      Options.withDescription("Why (kept on the tombstone)"),
      Options.withDefault("closed by operator")
    )
  },
  ({ id, json, reason }) =>
    withManager((manager) =>
      Effect.flatMap(
        manager.close(id, { reason }),
        (session) =>
          json ? Console.log(JSON.stringify(session, null, 2)) : Console.log(`closed ${session.id} (${reason})`)
      )
    )
).pipe(Command.withDescription("Close a session"))

const sweep = Command.make(
  "sweep",
  { json },
  ({ json }) =>
    withManager((manager) =>
      Effect.flatMap(manager.sweep, (report) =>
        json
          ? Console.log(JSON.stringify(report, null, 2))
          : Console.log(`expired ${report.expired}, purged ${report.purged} tombstones`))
    )
).pipe(Command.withDescription("Expire due sessions and purge old tombstones now"))

const locks = Command.make("locks", {
  json,
  releaseExpired: Options.boolean("release-expired").pipe(
    Options.withDescription("Release leases whose holder let them expire (a crashed process's)")
  )
}, ({ json, releaseExpired }) =>
  withManager(() =>
    Effect.gen(function*() {
      const store = yield* SessionStore
      const now = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      const leases = yield* store.leases
      const expired = leases.filter((lease) => lease.expiresAt <= now)
      if (releaseExpired) yield* Effect.forEach(expired, store.releaseLease, { discard: true })
      const rows = leases.map((lease) => ({ ...lease, expired: lease.expiresAt <= now }))
      if (json) {
        return yield* Console.log(
          JSON.stringify({ leases: rows, released: releaseExpired ? expired.length : 0 }, null, 2)
        )
      }
      yield* Console.log(
        table(
          ["session", "holder", "fencing token", "expires", ""],
          rows.map((lease) => [
            lease.sessionId,
            lease.holder,
            String(lease.token),
            new Date(lease.expiresAt).toISOString(),
            lease.expired ? (releaseExpired ? "expired, released" : "expired") : ""
          ])
        )
      )
    })
  )).pipe(Command.withDescription("List the leases held on sessions: holder, fencing token, expiry"))

const file = (name: string, description: string) => Args.text({ name }).pipe(Args.withDescription(description))

const backup = Command.make(
  "backup",
  { file: file("file", "Where to write the backup"), json },
  ({ file, json }) =>
    Effect.gen(function*() {
      const current = yield* settings
      const database = yield* existingDatabase(current)
      const report = yield* Backup.backup({ database, to: file, onProgress: progress("backup") })
      if (json) return yield* Console.log(JSON.stringify(report, null, 2))
      yield* Console.log(
        `wrote ${report.file}: ${report.sessions} sessions, ${report.bytes} bytes, sha256 ${report.sha256}`
      )
      for (const record of report.skipped) {
        yield* Console.error(`left out corrupt record ${record.id}: ${record.reason}`)
      }
    })
).pipe(Command.withDescription("Write a consistent backup of the database to a file (the service may be running)"))

const restore = Command.make("restore", {
  file: file("file", "The backup to restore"),
  json,
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("Check the backup and report, without writing"))
}, ({ dryRun, file, json }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const report = yield* Backup.restore({
      database: current.sqlite.filename,
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
      "Replace the database's sessions with a backup's, after checking all of it (stop the service first)"
    )
  )

const verify = Command.make("verify", {
  json,
  repair: Options.boolean("repair").pipe(
    Options.withDescription("Move rows that do not decode to the quarantine table and recount")
  )
}, ({ json, repair }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const database = yield* existingDatabase(current)
    const report = yield* Backup.verify({ database, repair, onProgress: progress("verify") })
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
        new CliFailure({ reason: "SQLite reports damage that repair cannot fix; restore from a backup" })
      )
    }
  })).pipe(Command.withDescription("Check the database: SQLite integrity, every row decoding, the status counters"))

const token = Command.make("token", {
  owner: Options.text("owner").pipe(Options.withDescription("The owner the token acts for (its sub)")),
  admin: Options.boolean("admin").pipe(Options.withDescription("Also open /admin")),
  ttl: durationOption("ttl", Duration.hours(1), "How long the token is valid")
}, ({ admin, owner, ttl }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const subject = yield* Either.mapLeft(validateOwnerId(owner, "--owner"), (error) =>
      new CliFailure({ reason: error.message }))
    const key = yield* Effect.mapError(loadSigningKey(current.service), (error) =>
      new CliFailure({ reason: error.message }))
    yield* Console.log(yield* mintToken(key, current.service, { owner: subject, admin, ttl }))
  })).pipe(Command.withDescription("Mint a bearer token signed with the service's secret"))

const check = Command.make("check", { json }, ({ json }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const rows = formatSettings(current)
    if (json) return yield* Console.log(JSON.stringify(Object.fromEntries(rows), null, 2))
    yield* Console.log(table(["setting", "value"], rows.map(([name, value]) => [name, value])))
    yield* Console.log("configuration is valid")
  })).pipe(Command.withDescription("Check every SESSIONS_* setting and print the values in effect"))

const reference = Command.make("reference", {}, () =>
  Console.log(
    table(
      ["variable", "default", "meaning"],
      [...configReference, ...serviceConfigReference, ...SqliteStore.reference].map((row) => [
        row.env,
        row.default,
        row.doc
      ])
    )
  )).pipe(Command.withDescription("List every setting with its default"))

const config = Command.make("config").pipe(
  Command.withDescription("Check the configuration"),
  Command.withSubcommands([check, reference])
)

interface Finding {
  readonly check: string
  readonly ok: boolean
  readonly detail: string
  /** What to do about it, when it is not ok. */
  readonly fix: string | null
}

const finding = (check: string, ok: boolean, detail: string, fix: string | null = null): Finding => ({
  check,
  ok,
  detail,
  fix: ok ? null : fix
})

/** Every check of `doctor`, each one's outcome whatever the others' (nothing is changed or created). */
const diagnose = Effect.gen(function*() {
  const findings: Array<Finding> = []
  const loaded = yield* Effect.either(settingsFromEnv)
  if (Either.isLeft(loaded)) {
    findings.push(finding("config", false, loaded.left.message, "fix the variables listed, then run config check"))
    return findings
  }
  const current = loaded.right
  findings.push(finding("config", true, "every SESSIONS_* setting is valid"))
  const fromEnv = yield* Effect.orElseSucceed(Config.option(Config.redacted(secretVariable)), () => Option.none())
  const file = secretFile(current.service.dataDir)
  if (Option.isSome(fromEnv)) {
    const weakness = secretWeakness(Redacted.value(fromEnv.value))
    findings.push(
      finding(
        "secret",
        weakness === undefined,
        weakness ?? `${secretVariable} is set and strong`,
        "set a random secret of 32 bytes or more"
      )
    )
  } else if (Fs.existsSync(file)) {
    const weakness = secretWeakness(Fs.readFileSync(file, "utf8").trim())
    const exposed = secretFileExposed(file)
    findings.push(
      finding(
        "secret",
        weakness === undefined && !exposed,
        weakness !== undefined
          ? `${file}: ${weakness}`
          : exposed
          ? `${file} can be read by other users`
          : `${file}, readable by its owner only`,
        weakness !== undefined ? `delete ${file} and restart the service to generate a new one` : `chmod 600 ${file}`
      )
    )
  } else {
    findings.push(finding("secret", true, `none yet; the first start generates ${file}`))
  }
  const database = current.sqlite.filename
  if (!Fs.existsSync(database)) {
    findings.push(finding("database", true, `none yet at ${database}; the first start creates it`))
    return findings
  }
  const schema = yield* Effect.either(Backup.schemaStatus(database))
  if (Either.isLeft(schema)) {
    findings.push(finding("database", false, schema.left.message, "check the path and the file's permissions"))
    return findings
  }
  findings.push(
    finding("database", schema.right.ours, `${database}`, "SESSIONS_SQLITE_FILE names a file of another application")
  )
  findings.push(
    finding(
      "migrations",
      schema.right.version === schema.right.current,
      `schema version ${schema.right.version}, this build's is ${schema.right.current}`,
      schema.right.version < schema.right.current
        ? "start the service once to migrate (back up first)"
        : "this database was written by a newer effect-sessions: upgrade"
    )
  )
  if (schema.right.version === schema.right.current && schema.right.ours) {
    const report = yield* Effect.either(Backup.verify({ database }))
    findings.push(
      Either.isLeft(report)
        ? finding("integrity", false, report.left.message, "stop the service and run verify")
        : finding(
          "integrity",
          report.right.ok,
          `integrity ${
            report.right.integrity.join("; ")
          }, ${report.right.rows} rows, ${report.right.corrupt.length} corrupt, ` +
            `counters ${report.right.countsMatch ? "match" : "do not match"}`,
          report.right.integrity[0] === "ok" ? "run verify --repair" : "restore the latest backup (restore <file>)"
        )
    )
  }
  const server = yield* askServer(current)
  findings.push(
    finding(
      "service",
      true,
      server.reachable
        ? `answering at ${server.url}${server.ready ? "" : " (not ready)"}`
        : `not running at ${server.url}`
    )
  )
  return findings
})

const doctor = Command.make("doctor", { json }, ({ json }) =>
  Effect.gen(function*() {
    const findings = yield* diagnose
    if (json) yield* Console.log(JSON.stringify(findings, null, 2))
    else {
      for (const item of findings) {
        yield* Console.log(
          `${item.ok ? "ok  " : "FAIL"} ${item.check}: ${item.detail}${
            item.fix === null ? "" : `\n     fix: ${item.fix}`
          }`
        )
      }
    }
    const failed = findings.filter((item) => !item.ok).length
    if (failed > 0) return yield* Effect.fail(new CliFailure({ reason: `${failed} check(s) failed` }))
  })).pipe(
    Command.withDescription(
      "Check config, store, migrations, integrity and the secret file in one go, and say what to do about failures"
    )
  )

/** The whole command tree. */
export const command = Command.make("effect-sessions").pipe(
  Command.withDescription("Run and operate an effect-sessions service"),
  Command.withSubcommands([
    serve,
    status,
    list,
    show,
    close,
    sweep,
    locks,
    backup,
    restore,
    verify,
    token,
    config,
    doctor
  ])
)

/** Runs the CLI on `argv` (as `process.argv`: the first two entries are skipped). */
export const run = (argv: ReadonlyArray<string>, version: string) =>
  Command.run(command, { name: "effect-sessions", version })(argv)
