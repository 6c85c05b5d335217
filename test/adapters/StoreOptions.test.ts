/**
 * The stores' options as plain values: durations as text or milliseconds work (and are applied), and bad options fail
 * the layer with one `InvalidConfig` naming every bad field, before anything is created on disk or in the database.
 * On a real SQLite file in a temporary directory and the real Postgres server.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Clock, ConfigProvider, Context, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import * as fc from "fast-check"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { checkOptions, connectionOf } from "../../src/adapters/postgres/internal/connection.js"
import { formatDuration, InvalidConfig, SessionStore } from "../../src/index.js"
import { PostgresStore } from "../../src/postgres.js"
import { SqliteStore } from "../../src/sqlite.js"
import { aSession, roomy } from "../contract/fixtures.js"
import { freshSchema, psql, testUrl } from "../support/postgres.js"
import { tempDir } from "../support/sqlite.js"

/** Options a caller in plain JavaScript might pass, which the types would refuse. */
const unchecked = <A>(options: Record<string, unknown>) => options as unknown as A

/** Runs an effect with these variables as its whole environment. */
const withEnv = (variables: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(variables))))

const fieldsOf = (error: unknown) => {
  expect(error).toBeInstanceOf(InvalidConfig)
  return (error as InvalidConfig).issues.map((issue) => issue.field)
}

describe("SqliteStore options", () => {
  it.scopedLive("plain durations work: a busy timeout of \"300ms\" is how long a write waits for another's lock", () =>
    Effect.gen(function*() {
      const filename = Path.join(yield* tempDir, "sessions.db")
      const layer = SqliteStore.layer({
        filename,
        synchronous: "full",
        busyTimeout: "300ms",
        touchCoalesce: "15 minutes",
        maxPendingTouches: 5
      })
      const store = yield* Effect.map(Layer.build(layer), Context.get(SessionStore))
      const session = yield* aSession()
      yield* store.insert(session, roomy)
      expect(Option.isSome(yield* store.get(session.id))).toBe(true)
      const other = new Database(filename)
      other.exec("BEGIN IMMEDIATE")
      const started = yield* Clock.currentTimeMillis
      const busy = yield* Effect.flip(store.insert(yield* aSession(), roomy))
      const waited = (yield* Clock.currentTimeMillis) - started
      other.exec("ROLLBACK")
      other.close()
      expect(busy._tag).toBe("StoreUnavailable")
      // Well under the default of 1s: the text was applied.
      expect(waited).toBeGreaterThanOrEqual(250)
      expect(waited).toBeLessThan(900)
    }))

  it.scoped("bad options fail InvalidConfig naming every bad field, and nothing is created on disk", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const all = yield* Effect.flip(Layer.build(SqliteStore.layer(unchecked({
        filename: "  ",
        synchronous: "sometimes",
        busyTimeout: "soon",
        touchCoalesce: -5,
        maxPendingTouches: 0
      }))))
      expect(fieldsOf(all)).toEqual(["filename", "synchronous", "busyTimeout", "touchCoalesce", "maxPendingTouches"])
      expect(all.message).toContain("sometimes")
      const nested = Path.join(dir, "nested")
      const file = Path.join(nested, "sessions.db")
      const one = yield* Effect.flip(Effect.scoped(SqliteStore.make({ filename: file, busyTimeout: "1 fortnight" })))
      expect(fieldsOf(one)).toEqual(["busyTimeout"])
      const sync = yield* Effect.flip(Effect.scoped(SqliteStore.makeSync({ filename: file, maxPendingTouches: 1.5 })))
      expect(fieldsOf(sync)).toEqual(["maxPendingTouches"])
      expect(Fs.existsSync(nested)).toBe(false)
    }))

  it.effect("any set of bad fields is reported exactly, in the options' order", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.record({
            synchronous: fc.boolean(),
            busyTimeout: fc.boolean(),
            touchCoalesce: fc.boolean(),
            maxPendingTouches: fc.boolean()
          }),
          async (bad) => {
            const options = unchecked<SqliteStore.SqliteStoreOptions>({
              filename: ":memory:",
              synchronous: bad.synchronous ? "FULL!" : "normal",
              busyTimeout: bad.busyTimeout ? "1.5ms" : 2_000,
              touchCoalesce: bad.touchCoalesce ? "soon" : "0ms",
              maxPendingTouches: bad.maxPendingTouches ? 1_000_001 : 1_000_000
            })
            const exit = await Effect.runPromise(Effect.either(Effect.scoped(SqliteStore.make(options))))
            const expected = Object.entries(bad).filter(([, isBad]) => isBad).map(([field]) => field)
            expect(Either.isLeft(exit) ? fieldsOf(exit.left) : []).toEqual(expected)
          }
        ),
        { numRuns: 16 }
      )
    ))

  it.effect("from the environment, through the same checks: fields named by their variables", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SqliteStore.optionsFromEnvIn("/data"))
      expect(fieldsOf(error)).toEqual([
        "SESSIONS_TOUCH_COALESCE",
        "SESSIONS_SQLITE_FILE",
        "SESSIONS_SQLITE_SYNCHRONOUS",
        "SESSIONS_SQLITE_BUSY_TIMEOUT"
      ])
      const options = yield* SqliteStore.optionsFromEnvIn("/data").pipe(
        withEnv({ SESSIONS_SQLITE_BUSY_TIMEOUT: "1s" })
      )
      expect(options.filename).toBe(Path.join("/data", "sessions.db"))
      expect(formatDuration(options.busyTimeout as Duration.Duration)).toBe("1s")
    }).pipe(withEnv({
      SESSIONS_SQLITE_FILE: " ",
      SESSIONS_SQLITE_SYNCHRONOUS: "off",
      SESSIONS_SQLITE_BUSY_TIMEOUT: "-1s",
      SESSIONS_TOUCH_COALESCE: "often"
    })))
})

describe("PostgresStore options", () => {
  it.scopedLive("plain values work, and the connections get the timeouts they say", () =>
    Effect.gen(function*() {
      const schema = yield* freshSchema
      const options: PostgresStore.PostgresStoreOptions = {
        url: Redacted.make(testUrl),
        schema,
        maxConnections: 2,
        statementTimeout: "4s",
        lockTimeout: "750ms",
        connectTimeout: 3_000,
        events: { heartbeat: "1 second", retain: 10 }
      }
      const store = yield* Effect.map(Layer.build(PostgresStore.layer(options)), Context.get(SessionStore))
      const session = yield* aSession()
      yield* store.insert(session, roomy)
      expect(Option.isSome(yield* store.get(session.id))).toBe(true)
      const connection = connectionOf(Either.getOrThrow(checkOptions(options)), "test")
      expect(connection).toMatchObject({ statement_timeout: 4_000, lock_timeout: 750, connectionTimeoutMillis: 3_000 })
    }))

  it.scopedLive("bad options fail InvalidConfig naming every bad field (the URL never shown), before connecting", () =>
    Effect.gen(function*() {
      const all = yield* Effect.flip(Layer.build(PostgresStore.layer(unchecked({
        url: "mysql://app:hunter2@db/app",
        schema: "Robert'); DROP",
        maxConnections: 1001,
        statementTimeout: "soon",
        lockTimeout: 0,
        connectTimeout: "-1s",
        events: { heartbeat: "0ms", retain: 0 }
      }))))
      expect(fieldsOf(all)).toEqual([
        "url",
        "schema",
        "maxConnections",
        "statementTimeout",
        "lockTimeout",
        "connectTimeout",
        "events.heartbeat",
        "events.retain"
      ])
      expect(all.message).not.toContain("hunter2")
      const schema = yield* freshSchema
      const one = yield* Effect.flip(Effect.scoped(PostgresStore.make({ url: testUrl, schema, lockTimeout: "1.5ms" })))
      expect(fieldsOf(one)).toEqual(["lockTimeout"])
      const missing = yield* Effect.flip(Effect.scoped(PostgresStore.make(unchecked({ schema }))))
      expect(fieldsOf(missing)).toEqual(["url"])
      const created = yield* psql("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema])
      expect(created).toEqual([])
    }))

  it.effect("from the environment, through the same checks: fields named by their variables", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(PostgresStore.optionsFromEnv)
      expect(fieldsOf(error)).toEqual([
        "SESSIONS_PG_URL",
        "SESSIONS_PG_SCHEMA",
        "SESSIONS_PG_MAX_CONNECTIONS",
        "SESSIONS_PG_STATEMENT_TIMEOUT",
        "SESSIONS_PG_LOCK_TIMEOUT"
      ])
      const options = yield* PostgresStore.optionsFromEnv.pipe(
        withEnv({ SESSIONS_PG_URL: testUrl, SESSIONS_PG_LOCK_TIMEOUT: "250ms" })
      )
      expect(Redacted.isRedacted(options.url)).toBe(true)
      expect(options).toMatchObject({ schema: "effect_sessions", maxConnections: 10 })
      expect(Duration.toMillis(options.lockTimeout as Duration.Duration)).toBe(250)
    }).pipe(withEnv({
      SESSIONS_PG_URL: "localhost",
      SESSIONS_PG_SCHEMA: "Sessions",
      SESSIONS_PG_MAX_CONNECTIONS: "0",
      SESSIONS_PG_STATEMENT_TIMEOUT: "forever",
      SESSIONS_PG_LOCK_TIMEOUT: "0ms"
    })))
})
