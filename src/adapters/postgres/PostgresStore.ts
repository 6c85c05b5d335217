/**
 * The Postgres `SessionStore`: one database shared by many service processes on many machines. Every rule is the
 * store rules' (`StoreRules`, `InsertPlan`), applied inside one transaction per call that first locks what it reads:
 * the session's row for a write, an advisory lock for inserts (so global and per-owner capacity, live-name
 * uniqueness and the one active session per owner hold across nodes), and `FOR UPDATE SKIP LOCKED` for batches (each
 * due session is expired by exactly one node). Leases carry fencing tokens from one database sequence, so a node
 * whose lease lapsed cannot write. Every statement runs under `statementTimeout` and waits for a lock at most
 * `lockTimeout`; serialization failures, deadlocks, timeouts and lost connections fail `StoreUnavailable` (retried
 * by the manager), constraints and syntax `StoreError`, a row that does not decode `CorruptRecord`.
 *
 * Durability: an acknowledged write is committed (touches included: nothing is written behind). "Now" is each node's
 * `Clock`: the nodes' clocks must agree (NTP), as a skew of S moves every expiry and lease decision a node makes by S.
 *
 * Built on `@effect/sql-pg` over a `pg` pool configured here (timeouts, `search_path` to the store's schema, 64-bit
 * integers read as numbers: every stored number is a safe integer by the domain's rules).
 */
import { Config, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import * as Os from "node:os"
import { parseDuration } from "../../domain/Config.js"
import { InvalidConfig, type StoreFailure } from "../../domain/Errors.js"
import { SessionEventBus } from "../../services/SessionEventBus.js"
import { SessionStore, type SessionStoreShape } from "../../services/SessionStore.js"
import { openClient } from "./internal/connection.js"
import { makeDb } from "./internal/db.js"
import { storeFailure } from "./internal/errors.js"
import { makeEventBus } from "./internal/events.js"
import * as Reads from "./internal/reads.js"
import { isSchemaName, migrate } from "./internal/schema.js"
import * as Upkeep from "./internal/upkeep.js"
import * as Writes from "./internal/writes.js"

/** How the Postgres store reaches its database. */
export interface PostgresStoreOptions {
  /** A connection URL, `postgres://user:password@host:port/database` (libpq's parameters in the query). */
  readonly url: string | Redacted.Redacted<string>
  /** The Postgres schema holding the store's tables (created if missing). Default `effect_sessions`. */
  readonly schema?: string | undefined
  /** Most connections this node opens. Default 10. */
  readonly maxConnections?: number | undefined
  /** Longest any statement may run before the server cancels it (`StoreUnavailable`). Default 5 seconds. */
  readonly statementTimeout?: Duration.DurationInput | undefined
  /** Longest a statement waits for a row another transaction holds (`StoreUnavailable`). Default 2 seconds. */
  readonly lockTimeout?: Duration.DurationInput | undefined
  /** Longest opening a connection may take. Default 5 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /**
   * Events across nodes (`SessionEventBus`): how often a node checks its listening connection and reads new events
   * without a notification (default 2 seconds), and how many of the newest events the table keeps for nodes that
   * reconnect (default 100,000). `false`: each node's events stay its own.
   */
  readonly events?: false | {
    readonly heartbeat?: Duration.DurationInput | undefined
    readonly retain?: number | undefined
  } | undefined
}

/**
 * Connects, migrates the schema (see `schema.ts`) and builds the store. Scoped: the pool closes with the scope.
 * Fails `StoreUnavailable` when the database cannot be reached, `StoreError` when the schema belongs to another
 * application or was written by a newer version (left unchanged), `InvalidConfig` for bad options.
 */
export const make = (options: PostgresStoreOptions) =>
  Effect.gen(function*() {
    const { connection, schema, sql } = yield* openClient(options, {
      max: options.maxConnections ?? 10,
      applicationName: "effect-sessions"
    })
    yield* migrate(sql, schema)
    const db = makeDb(sql)
    const events = options.events === false ? undefined : yield* makeEventBus(db, {
      connection,
      schema,
      node: `${Os.hostname()}/${process.pid}`,
      heartbeat: Duration.decode(options.events?.heartbeat ?? "2 seconds"),
      retain: options.events?.retain ?? 100_000
    })
    const store: SessionStoreShape = {
      insert: (session, insertOptions) => Writes.insert(db, session, insertOptions),
      get: (id) => Reads.get(db, id),
      update: (id, write) => Writes.update(db, id, write),
      touch: (id, activity, owner) => Writes.touch(db, id, activity, owner),
      list: (query) => Reads.list(db, query),
      counts: Reads.counts(db),
      ownerCounts: (owner) => Reads.ownerCounts(db, owner),
      expire: (limit) => Writes.expire(db, limit),
      purge: (retention, limit) => Upkeep.purge(db, retention, limit),
      setActive: (owner, id) => Upkeep.setActive(db, owner, id),
      getActive: (owner) => Upkeep.getActive(db, owner),
      acquireLease: (id, holder, ttl) =>
        Effect.catchTag(Upkeep.acquireLease(db, id, holder, ttl), "CorruptRecord", (corrupt) =>
          Effect.fail(storeFailure("acquireLease", corrupt.reason))),
      renewLease: (lease, ttl) =>
        Upkeep.renewLease(db, lease, ttl),
      releaseLease: (lease) =>
        Upkeep.releaseLease(db, lease),
      leases: Upkeep.leases(db),
      remove: (id, reason) => Upkeep.remove(db, id, reason),
      flush: Upkeep.flush(db)
    }
    return { store, events }
  })

/**
 * The Postgres store as a layer, with its event bus (`SessionEventBus`: every node's events reach subscribers on
 * every node) unless `events: false`.
 */
export const layer = (
  options: PostgresStoreOptions
): Layer.Layer<SessionStore | SessionEventBus, StoreFailure | InvalidConfig> =>
  Layer.scopedContext(
    Effect.map(make(options), ({ events, store }) => {
      const context = Context.make(SessionStore, store)
      return (events === undefined ? context : Context.add(context, SessionEventBus, events)) as Context.Context<
        SessionStore | SessionEventBus
      >
    })
  )

const optionalString = (name: string) => Config.option(Config.string(name))

/**
 * The options read from the environment: `SESSIONS_PG_URL` (required), `SESSIONS_PG_SCHEMA`,
 * `SESSIONS_PG_MAX_CONNECTIONS`, `SESSIONS_PG_STATEMENT_TIMEOUT` and `SESSIONS_PG_LOCK_TIMEOUT`. Fails
 * `InvalidConfig` naming every bad variable.
 */
export const optionsFromEnv: Effect.Effect<PostgresStoreOptions, InvalidConfig> = Effect.gen(function*() {
  const raw = yield* Config.all({
    url: optionalString("SESSIONS_PG_URL"),
    schema: optionalString("SESSIONS_PG_SCHEMA"),
    maxConnections: optionalString("SESSIONS_PG_MAX_CONNECTIONS"),
    statementTimeout: optionalString("SESSIONS_PG_STATEMENT_TIMEOUT"),
    lockTimeout: optionalString("SESSIONS_PG_LOCK_TIMEOUT")
  }).pipe(Effect.mapError((error) => new InvalidConfig({ issues: [{ field: "environment", reason: String(error) }] })))
  const issues: Array<{ field: string; reason: string }> = []
  const url = Option.getOrElse(raw.url, () => "")
  if (!/^postgres(ql)?:\/\//.test(url)) {
    issues.push({ field: "SESSIONS_PG_URL", reason: "expected a URL like postgres://user@host:5432/database" })
  }
  const schema = Option.getOrUndefined(raw.schema)
  if (schema !== undefined && !isSchemaName(schema)) {
    issues.push({
      field: "SESSIONS_PG_SCHEMA",
      reason: `expected a lower-case identifier, got ${JSON.stringify(schema)}`
    })
  }
  const max = Option.map(raw.maxConnections, Number)
  if (Option.isSome(max) && !(Number.isSafeInteger(max.value) && max.value >= 1 && max.value <= 1000)) {
    issues.push({ field: "SESSIONS_PG_MAX_CONNECTIONS", reason: "expected a whole number from 1 to 1000" })
  }
  const duration = (field: string, value: Option.Option<string>) => {
    if (Option.isNone(value)) return undefined
    const parsed = parseDuration(value.value)
    if (Either.isRight(parsed) && Duration.toMillis(parsed.right) >= 1) return parsed.right
    issues.push({ field, reason: "expected a duration of at least 1ms, like 5s or 500ms" })
    return undefined
  }
  const statementTimeout = duration("SESSIONS_PG_STATEMENT_TIMEOUT", raw.statementTimeout)
  const lockTimeout = duration("SESSIONS_PG_LOCK_TIMEOUT", raw.lockTimeout)
  if (issues.length > 0) return yield* Effect.fail(new InvalidConfig({ issues }))
  return {
    url: Redacted.make(url),
    schema,
    maxConnections: Option.getOrUndefined(max),
    statementTimeout,
    lockTimeout
  }
})

/** The Postgres store as a layer configured from the environment (see `optionsFromEnv`). */
export const layerConfig: Layer.Layer<SessionStore | SessionEventBus, StoreFailure | InvalidConfig> = Layer
  .unwrapEffect(
    Effect.map(optionsFromEnv, layer)
  )

/** The Postgres store's settings, as rows of the config reference. */
export const reference: ReadonlyArray<
  { readonly field: string; readonly env: string; readonly default: string; readonly doc: string }
> = [
  {
    field: "url",
    env: "SESSIONS_PG_URL",
    default: "(none)",
    doc: "The database's URL; set, the service runs on Postgres."
  },
  {
    field: "schema",
    env: "SESSIONS_PG_SCHEMA",
    default: "effect_sessions",
    doc: "The Postgres schema of the store's tables."
  },
  { field: "maxConnections", env: "SESSIONS_PG_MAX_CONNECTIONS", default: "10", doc: "Connections per node." },
  {
    field: "statementTimeout",
    env: "SESSIONS_PG_STATEMENT_TIMEOUT",
    default: "5s",
    doc: "Longest a statement runs before the server cancels it (`StoreUnavailable`, retried)."
  },
  {
    field: "lockTimeout",
    env: "SESSIONS_PG_LOCK_TIMEOUT",
    default: "2s",
    doc: "Longest a statement waits for a row another node holds (`StoreUnavailable`, retried)."
  }
]
