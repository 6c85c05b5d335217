/**
 * Postgres stores for tests, on the real server (`SESSIONS_TEST_PG_URL`, default the local `test` database that
 * `.ci/run` makes sure answers): each build gets a Postgres schema of its own, dropped afterwards, so tests never see
 * each other's sessions.
 */
import { Effect, Layer } from "effect"
import Pg from "pg"
import { PostgresStore } from "../../src/postgres.js"

/** The database the tests use. */
export const testUrl = process.env["SESSIONS_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test"

let schemas = 0

/** Runs one statement on a connection of its own (for test setup and for reading what the store wrote). */
export const psql = <A = Record<string, unknown>>(text: string, params: ReadonlyArray<unknown> = []) =>
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: testUrl })
    await client.connect()
    try {
      return (await client.query(text, params as Array<unknown>)).rows as Array<A>
    } finally {
      await client.end()
    }
  })

/** A fresh schema name for the scope, dropped with everything in it when the scope closes. */
export const freshSchema = Effect.acquireRelease(
  Effect.sync(() => `t${process.pid}_${Date.now().toString(36)}_${++schemas}`),
  (schema) => psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
)

/** A Postgres store on a fresh schema; options other than the URL and schema may be given. */
export const postgresLayer = (options: Omit<PostgresStore.PostgresStoreOptions, "url" | "schema"> = {}) =>
  Layer.unwrapScoped(
    Effect.map(freshSchema, (schema) => PostgresStore.layer({ ...options, url: testUrl, schema }))
  )
