/**
 * The `effect-sessions` operator CLI. Every command reads the same `SESSIONS_*` settings as the service and works on
 * the configured store directly (the SQLite database, or the Postgres schema when `SESSIONS_PG_URL` is set), so it
 * needs no running server (`status` asks one if it answers).
 * Read commands take `--json`; long operations report progress on stderr; failures are one line on stderr and a
 * non-zero exit code (2 for usage errors, 1 for the rest). The commands live in `internal/`, one file per family.
 */
import { Command, Options } from "@effect/cli"
import { Option } from "effect"
import { serveWith } from "../../startup/Startup.js"
import { backup, restore, verify } from "./internal/backups.js"
import { config } from "./internal/config.js"
import { doctor } from "./internal/doctor.js"
import { close, list, locks, remove, show, status, sweep } from "./internal/sessions.js"
import { token } from "./internal/token.js"

export { CliFailure } from "./internal/common.js"

/** `serve`: runs the HTTP service until SIGTERM or SIGINT. */
const serve = Command.make("serve", {
  store: Options.choice("store", ["sqlite", "postgres"]).pipe(
    Options.withDescription(
      "The store to run on (default: postgres when SESSIONS_PG_URL is set, else sqlite); postgres needs SESSIONS_PG_URL"
    ),
    Options.optional
  )
}, ({ store }) => serveWith({ store: Option.getOrUndefined(store) })).pipe(
  Command.withDescription(
    "Run the HTTP service on the configured store: SQLite, or Postgres when SESSIONS_PG_URL is set (stops cleanly " +
      "on SIGTERM/SIGINT)"
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
    remove,
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
