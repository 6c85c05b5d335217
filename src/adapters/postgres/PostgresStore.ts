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
import { Context, Effect, Layer, type Redacted } from "effect"
import * as Os from "node:os"
import type { DurationInput } from "../../domain/Config.js"
import type { InvalidConfig, StoreFailure } from "../../domain/Errors.js"
import { SessionEventBus } from "../../services/SessionEventBus.js"
import { SessionStore, type SessionStoreShape } from "../../services/SessionStore.js"
import { openClient, storeOptions } from "./internal/connection.js"
import { makeDb } from "./internal/db.js"
import { storeFailure } from "./internal/errors.js"
import { makeEventBus } from "./internal/events.js"
import * as Reads from "./internal/reads.js"
import { regenerate } from "./internal/regenerate.js"
import { migrate } from "./internal/schema.js"
import * as Upkeep from "./internal/upkeep.js"
import * as Writes from "./internal/writes.js"

/**
 * How the Postgres store reaches its database. Durations are `Duration`s, milliseconds or text (`"5s"`, `"500ms"`,
 * `"2 seconds"`), each at least 1ms; every option is checked when the store is built (see `make`).
 */
export interface PostgresStoreOptions {
  /** A connection URL, `postgres://user:password@host:port/database` (libpq's parameters in the query). */
  readonly url: string | Redacted.Redacted<string>
  /** The Postgres schema holding the store's tables (created if missing). Default `effect_sessions`. */
  readonly schema?: string | undefined
  /** Most connections this node opens: 1 to 1000, default 10. */
  readonly maxConnections?: number | undefined
  /** Longest any statement may run before the server cancels it (`StoreUnavailable`). Default 5 seconds. */
  readonly statementTimeout?: DurationInput | undefined
  /** Longest a statement waits for a row another transaction holds (`StoreUnavailable`). Default 2 seconds. */
  readonly lockTimeout?: DurationInput | undefined
  /** Longest opening a connection may take. Default 5 seconds. */
  readonly connectTimeout?: DurationInput | undefined
  /**
   * Events across nodes (`SessionEventBus`): how often a node checks its listening connection and reads new events
   * without a notification (default 2 seconds), and how many of the newest events the table keeps for nodes that
   * reconnect (a whole number of at least 1, default 100,000). `false`: each node's events stay its own.
   */
  readonly events?: false | {
    readonly heartbeat?: DurationInput | undefined
    readonly retain?: number | undefined
  } | undefined
}

/**
 * Connects, migrates the schema (see `schema.ts`) and builds the store. Scoped: the pool closes with the scope.
 * Fails `InvalidConfig` listing every bad option (named as written: `url`, `events.heartbeat`, ...) before it
 * connects, `StoreUnavailable` when the database cannot be reached, `StoreError` when the schema belongs to another
 * application or was written by a newer version (left unchanged).
 */
export const make = (options: PostgresStoreOptions) =>
  Effect.gen(function*() {
    const { config, connection, schema, sql } = yield* openClient(options, { applicationName: "effect-sessions" })
    yield* migrate(sql, schema)
    const db = makeDb(sql)
    const events = options.events === false ? undefined : yield* makeEventBus(db, {
      connection,
      schema,
      node: `${Os.hostname()}/${process.pid}`,
      heartbeat: config.heartbeat,
      retain: config.retain
    })
    const store: SessionStoreShape = {
      insert: (session, insertOptions) => Writes.insert(db, session, insertOptions),
      get: (id) => Reads.get(db, id),
      update: (id, write) => Writes.update(db, id, write),
      touch: (id, activity, owner) => Writes.touch(db, id, activity, owner),
      regenerate: (id, newId, guard) => regenerate(db, id, newId, guard),
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

/**
 * The options read from the environment: `SESSIONS_PG_URL` (required), `SESSIONS_PG_SCHEMA`,
 * `SESSIONS_PG_MAX_CONNECTIONS`, `SESSIONS_PG_STATEMENT_TIMEOUT` and `SESSIONS_PG_LOCK_TIMEOUT`, checked as `make`
 * checks options given in code. Fails `InvalidConfig` naming every bad variable.
 */
export const optionsFromEnv: Effect.Effect<PostgresStoreOptions, InvalidConfig> = Effect.map(
  storeOptions.fromEnv(),
  (config) => ({
    url: config.url,
    schema: config.schema,
    maxConnections: config.maxConnections,
    statementTimeout: config.statementTimeout,
    lockTimeout: config.lockTimeout
  })
)

/** The Postgres store as a layer configured from the environment (see `optionsFromEnv`). */
export const layerConfig: Layer.Layer<SessionStore | SessionEventBus, StoreFailure | InvalidConfig> = Layer
  .unwrapEffect(
    Effect.map(optionsFromEnv, layer)
  )

const variables = ["url", "schema", "maxConnections", "statementTimeout", "lockTimeout"] as const

/** The Postgres store's settings, as rows of the config reference. */
export const reference: ReadonlyArray<
  { readonly field: string; readonly env: string; readonly default: string; readonly doc: string }
> = variables.map((field) => ({
  field,
  env: storeOptions.env[field]!,
  default: storeOptions.fields[field].defaultText,
  doc: storeOptions.fields[field].doc
}))
