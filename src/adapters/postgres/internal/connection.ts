/**
 * How the Postgres store and its backup jobs reach the database, written once: the schema name checked, every
 * connection with the statement, lock, idle-in-transaction and connect timeouts and the schema on its search path,
 * 64-bit integers read as numbers (every stored number is a safe integer by the domain's rules), and a pool under
 * `@effect/sql-pg`'s client.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlClient } from "@effect/sql/SqlClient"
import { Duration, Effect, Redacted, type Scope } from "effect"
import Pg from "pg"
import { InvalidConfig, type StoreFailure } from "../../../domain/Errors.js"
import type { PostgresStoreOptions } from "../PostgresStore.js"
import { storeFailure } from "./errors.js"
import { isSchemaName } from "./schema.js"

const millis = (input: Duration.DurationInput | undefined, fallback: number) =>
  input === undefined ? fallback : Math.max(1, Math.round(Duration.toMillis(Duration.decode(input))))

/** 64-bit integers (counts, instants, tokens) as numbers; everything else as `pg` reads it. */
const types = {
  getTypeParser:
    ((oid: number, format?: "text" | "binary") =>
      oid === 20 ? Number : Pg.types.getTypeParser(oid, format as "text")) as Pg.CustomTypesConfig["getTypeParser"]
}

/** How every connection is made: the timeouts, and the schema on its search path. */
export const connectionOf = (
  options: PostgresStoreOptions,
  schema: string,
  applicationName: string
): Pg.ClientConfig => ({
  connectionString: Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url,
  connectionTimeoutMillis: millis(options.connectTimeout, 5_000),
  statement_timeout: millis(options.statementTimeout, 5_000),
  lock_timeout: millis(options.lockTimeout, 2_000),
  idle_in_transaction_session_timeout: 60_000,
  application_name: applicationName,
  options: `-c search_path=${schema}`,
  types
})

/**
 * A client on the store's schema over a pool of at most `max` connections. Scoped: the pool closes with the scope
 * (within two seconds). Fails `StoreUnavailable` when the server cannot be reached, `InvalidConfig` for a schema
 * name that is no plain identifier.
 */
export const openClient = (
  options: PostgresStoreOptions,
  pool: { readonly max: number; readonly applicationName: string }
): Effect.Effect<
  { readonly sql: SqlClient; readonly schema: string; readonly connection: Pg.ClientConfig },
  StoreFailure | InvalidConfig,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const schema = options.schema ?? "effect_sessions"
    if (!isSchemaName(schema)) {
      return yield* new InvalidConfig({
        issues: [{ field: "schema", reason: `expected a lower-case identifier, got ${JSON.stringify(schema)}` }]
      })
    }
    const connection = connectionOf(options, schema, pool.applicationName)
    const acquire = Effect.acquireRelease(
      Effect.sync(() => {
        const created = new Pg.Pool({ ...connection, max: pool.max, idleTimeoutMillis: 30_000 })
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
    return { sql, schema, connection }
  })
