/**
 * How the Postgres store and its backup jobs reach the database, written once: the options checked, every
 * connection with the statement, lock, idle-in-transaction and connect timeouts and the schema on its search path,
 * 64-bit integers read as numbers (every stored number is a safe integer by the domain's rules), and a pool under
 * `@effect/sql-pg`'s client.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlClient } from "@effect/sql/SqlClient"
import { Duration, Effect, Redacted, type Scope } from "effect"
import Pg from "pg"
import { ConfigFields as Field } from "../../../domain/Config.js"
import { OptionChecks } from "../../../domain/Config.js"
import type { InvalidConfig, StoreFailure } from "../../../domain/Errors.js"
import type { PostgresStoreOptions } from "../PostgresStore.js"
import { storeFailure } from "./errors.js"
import { isSchemaName } from "./schema.js"

/** The Postgres store's options once checked, every default filled in (`heartbeat` and `retain` are `events`'). */
export interface PostgresStoreConfig {
  readonly url: Redacted.Redacted<string>
  readonly schema: string
  readonly maxConnections: number
  readonly statementTimeout: Duration.Duration
  readonly lockTimeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
  readonly heartbeat: Duration.Duration
  readonly retain: number
}

const timeout = (fallback: Duration.Duration, doc: string) => Field.duration({ default: fallback, doc })

/** The checks of `PostgresStoreOptions`, from code or from `SESSIONS_PG_*` variables. */
export const storeOptions = OptionChecks.defineOptions<PostgresStoreConfig>({
  url: OptionChecks.secretText({
    expected: "a URL like postgres://user@host:5432/database",
    valid: (url) => /^postgres(ql)?:\/\//.test(url),
    doc: "The database's URL; set, the service runs on Postgres."
  }),
  schema: OptionChecks.checkedText({
    default: "effect_sessions",
    expected: "a lower-case identifier",
    valid: isSchemaName,
    doc: "The Postgres schema of the store's tables."
  }),
  maxConnections: Field.integer({ default: 10, min: 1, max: 1000, doc: "Connections per node." }),
  statementTimeout: timeout(
    Duration.seconds(5),
    "Longest a statement runs before the server cancels it (`StoreUnavailable`, retried)."
  ),
  lockTimeout: timeout(
    Duration.seconds(2),
    "Longest a statement waits for a row another node holds (`StoreUnavailable`, retried)."
  ),
  connectTimeout: timeout(Duration.seconds(5), "Longest opening a connection may take."),
  heartbeat: timeout(Duration.seconds(2), "How often a node checks its listening connection and reads new events."),
  retain: Field.integer({ default: 100_000, min: 1, doc: "How many of the newest events the events table keeps." })
}, {
  required: ["url"],
  env: {
    url: "SESSIONS_PG_URL",
    schema: "SESSIONS_PG_SCHEMA",
    maxConnections: "SESSIONS_PG_MAX_CONNECTIONS",
    statementTimeout: "SESSIONS_PG_STATEMENT_TIMEOUT",
    lockTimeout: "SESSIONS_PG_LOCK_TIMEOUT"
  }
})

/** Checks options given in code; an issue names the option as written (`events.heartbeat`). */
export const checkOptions = (options: PostgresStoreOptions) => {
  const events = options.events === false ? undefined : options.events
  return storeOptions.check({
    url: options.url,
    schema: options.schema,
    maxConnections: options.maxConnections,
    statementTimeout: options.statementTimeout,
    lockTimeout: options.lockTimeout,
    connectTimeout: options.connectTimeout,
    heartbeat: events?.heartbeat,
    retain: events?.retain
  }, { heartbeat: "events.heartbeat", retain: "events.retain" })
}

/** 64-bit integers (counts, instants, tokens) as numbers; everything else as `pg` reads it. */
const types = {
  getTypeParser:
    ((oid: number, format?: "text" | "binary") =>
      oid === 20 ? Number : Pg.types.getTypeParser(oid, format as "text")) as Pg.CustomTypesConfig["getTypeParser"]
}

/** How every connection is made: the timeouts, and the schema on its search path. */
export const connectionOf = (config: PostgresStoreConfig, applicationName: string): Pg.ClientConfig => ({
  connectionString: Redacted.value(config.url),
  connectionTimeoutMillis: Duration.toMillis(config.connectTimeout),
  statement_timeout: Duration.toMillis(config.statementTimeout),
  lock_timeout: Duration.toMillis(config.lockTimeout),
  idle_in_transaction_session_timeout: 60_000,
  application_name: applicationName,
  options: `-c search_path=${config.schema}`,
  types
})

/**
 * Checks the options, then opens a client on the store's schema over a pool of at most `max` connections (default
 * `maxConnections`). Scoped: the pool closes with the scope (within two seconds). Fails `InvalidConfig` listing
 * every bad option before connecting, `StoreUnavailable` when the server cannot be reached.
 */
export const openClient = (
  options: PostgresStoreOptions,
  pool: { readonly max?: number | undefined; readonly applicationName: string }
): Effect.Effect<
  {
    readonly sql: SqlClient
    readonly schema: string
    readonly connection: Pg.ClientConfig
    readonly config: PostgresStoreConfig
  },
  StoreFailure | InvalidConfig,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const config = yield* checkOptions(options)
    const schema = config.schema
    const connection = connectionOf(config, pool.applicationName)
    const acquire = Effect.acquireRelease(
      Effect.sync(() => {
        const created = new Pg.Pool({
          ...connection,
          max: pool.max ?? config.maxConnections,
          idleTimeoutMillis: 30_000
        })
        // An idle connection that drops is replaced by the pool; without a handler its error would end the process.
        created.on("error", () => {})
        return created
      }),
      (created) => Effect.promise(() => created.end()).pipe(Effect.timeoutOption("2 seconds"))
    )
    const sql = yield* PgClient.fromPool({ acquire, types }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.mapError((error) => storeFailure("open", error))
    )
    return { sql, schema, connection, config }
  })
