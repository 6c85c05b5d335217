/** The commands on sessions: `status`, `list`, `show`, `close`, `sweep` and `locks`. */
import { Args, Command, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import type { Session, StatusCounts } from "../../../domain/Session.js"
import { statuses } from "../../../domain/Session.js"
import { SessionStore } from "../../../services/SessionStore.js"
import { askServer, CliFailure, existingDatabase, integerOption, json, settings, withManager } from "./common.js"
import { table } from "./output.js"

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

/** `status`: whether the service answers, and the sessions by status. */
export const status = Command.make("status", { json }, ({ json }) =>
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

/** `list`: any owner's sessions, filtered and paged. */
export const list = Command.make("list", {
  json,
  owner: Options.text("owner").pipe(Options.withDescription("Only this owner's sessions"), Options.optional),
  status: Options.choice("status", statuses).pipe(
    Options.withDescription("Only sessions in this status"),
    Options.optional
  ),
  kind: Options.text("kind").pipe(Options.withDescription("Only sessions of this kind"), Options.optional),
  limit: integerOption("limit", { min: 1, max: 1000, fallback: 100, description: "Page size" }),
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

/** `show <id>`: one session, tombstones included; a corrupt one is its `CorruptRecord`, in one line. */
export const show = Command.make(
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

/** `close <id>`: ends a session. */
export const close = Command.make(
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

/** `remove`: takes one record away whatever its state (one that cannot be read included), without a repair run. */
export const remove = Command.make(
  "remove",
  {
    id,
    json,
    reason: Options.text("reason").pipe(
      Options.withDescription("Why (kept with the record in the quarantine table)"),
      Options.withDefault("removed by operator")
    )
  },
  ({ id, json, reason }) =>
    withManager((manager) =>
      Effect.flatMap(manager.remove(id, { reason }), (removed) =>
        removed
          ? json
            ? Console.log(JSON.stringify({ id, removed }, null, 2))
            : Console.log(`removed ${id}; the record is kept in the quarantine table (${reason})`)
          : Effect.fail(new CliFailure({ reason: `no session ${id} is stored` })))
    )
).pipe(
  Command.withDescription(
    "Remove one session record whatever its state, a corrupt one included (kept in the quarantine table); " +
      "close is the normal way to end a session"
  )
)

/** `sweep`: expires due sessions and purges old tombstones now. */
export const sweep = Command.make(
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

/** `locks`: the leases on sessions; `--release-expired` releases a crashed holder's. */
export const locks = Command.make("locks", {
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
