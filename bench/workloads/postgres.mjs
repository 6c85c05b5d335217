/**
 * Postgres workloads, one subject per process:
 * `node postgres.mjs <subject> '{"concurrency": c, "sessions": 1000, "ops": n, "pool": 10}'`.
 *
 * Each process makes a schema of its own (`bench_<pid>`, dropped at the end), fills it with `sessions` sessions
 * through the subject, then, for a warm-up and each measured run, does `ops` calls of each phase from `concurrency`
 * callers at once (each caller takes the next call when its previous one is acknowledged):
 *
 * - create: `ops` new sessions;
 * - get, touch, update (a data write): the pre-filled sessions, in turn;
 * - close: the sessions this run created.
 *
 * Per phase: ops/s and the p50 and p99 latency of one call (ms). Every subject gets a pool of `pool` connections.
 *
 * Subjects:
 * - effect-sessions: `SessionManager` over `PostgresStore.layer({ url, schema, events: false })`;
 * - effect-sessions store alone: the same store's `SessionStore` calls (`insert`, `get`, `touch`, `update`,
 *   `update({event: "close"})`), without the manager;
 * - raw pg: a `pg.Pool` (the copy effect-sessions loads) on the store's own `sessions` table (made by the store's
 *   migration, so same columns and indexes), one autocommitted statement per call: INSERT, SELECT by id, UPDATE of
 *   the activity columns, UPDATE of the data, UPDATE to closed (a tombstone, as effect-sessions keeps): the floor;
 * - @effect/sql-pg: `PgClient.layerFromPool` over the same kind of pool, `sql.unsafe(text, params)` with raw pg's
 *   exact SELECT (get) and UPDATE (touch): what @effect/sql costs on its own;
 * - connect-pg-simple: express-session's Postgres store (its table made in the schema), `get`, `set` (create and
 *   update), `touch`, `destroy` (close).
 *
 * The server: `BENCH_PG_URL`, default postgres://postgres@127.0.0.1:5432/test.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import connectPgSimple from "connect-pg-simple"
import { Effect, Layer, ManagedRuntime } from "effect"
import session from "express-session"
import { createRequire } from "node:module"
import { promisify } from "node:util"
import { defaultKind, makeSessionId, newSession, SessionManager, SessionStore } from "../../dist/index.js"
import { PostgresStore } from "../../dist/postgres.js"
import { args, benchConfig, idleMs, newId, payload, perSecond, quantile, report, round3 } from "../lib/common.mjs"

/** `pg` as effect-sessions loads it (not a copy of bench's own node_modules). */
const Pg = createRequire(new URL("../../dist/postgres.js", import.meta.url))("pg")

const url = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432/test"
const schema = `bench_${process.pid}`
const phases = ["create", "get", "touch", "update", "close"]
const config = benchConfig()
const dataOf = (i) => ({ ...payload, turns: i })

/** Statements of the raw subjects, on the store's `sessions` table. */
const rowColumns = "seq, id, owner, name, kind, status, created_at, last_active_at, expires_at, idle_timeout, " +
  "max_lifetime, ended_at, end_reason, message_count, response_times, data, version"
const text = {
  insert:
    "INSERT INTO sessions (id, owner, name, kind, status, created_at, last_active_at, expires_at, idle_timeout, " +
    "max_lifetime, ended_at, end_reason, message_count, response_times, data, version) " +
    "VALUES ($1, $2, NULL, 'default', 'active', $3, $3, $4, $5, $6, NULL, NULL, 0, '[]', $7, 1)",
  get: `SELECT ${rowColumns} FROM sessions WHERE id = $1`,
  touch: "UPDATE sessions SET last_active_at = $1, expires_at = $2 WHERE id = $3",
  update: "UPDATE sessions SET data = $1, version = version + 1 WHERE id = $2",
  close: "UPDATE sessions SET status = 'closed', ended_at = $1, end_reason = 'closed', version = version + 1 " +
    "WHERE id = $2 AND status IN ('active', 'waiting')"
}

/** A pool like the store's: `max` connections, the schema on the search path, 64-bit integers as numbers. */
const poolOf = (max) => {
  const pool = new Pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${schema}`,
    types: { getTypeParser: (oid, format) => (oid === 20 ? Number : Pg.types.getTypeParser(oid, format)) }
  })
  pool.on("error", () => {})
  return pool
}

const admin = async (statement) => {
  const client = new Pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(statement)
  } finally {
    await client.end()
  }
}

/** The store's tables in the schema, made by its own migration (for the subjects that do not run the store). */
const migrated = () =>
  Effect.runPromise(Effect.scoped(PostgresStore.make({ url, schema, events: false, maxConnections: 1 })))

// Timing ------------------------------------------------------------------------------------------------------------

const summary = (phase, ops, ms, latencies) => ({
  [`${phase} ops/s`]: perSecond(ops, ms),
  [`${phase} p50 ms`]: round3(quantile(latencies, 0.5)),
  [`${phase} p99 ms`]: round3(quantile(latencies, 0.99))
})

/** `ops` calls `call(i)` (a promise) from `concurrency` callers. */
const promisePhase = async (phase, ops, concurrency, call) => {
  const latencies = new Array(ops)
  let next = 0
  const caller = async () => {
    while (next < ops) {
      const i = next++
      const started = performance.now()
      await call(i)
      latencies[i] = performance.now() - started
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, caller))
  return summary(phase, ops, performance.now() - started, latencies)
}

/** `ops` calls `call(i)` (an effect) from `concurrency` fibers, as one program run by `runtime`. */
const effectPhase = (runtime, phase, ops, concurrency, call) =>
  runtime.runPromise(Effect.gen(function*() {
    const latencies = new Array(ops)
    let next = 0
    const caller = Effect.gen(function*() {
      while (next < ops) {
        const i = next++
        const started = performance.now()
        yield* call(i)
        latencies[i] = performance.now() - started
      }
    })
    const started = performance.now()
    yield* Effect.all(Array.from({ length: concurrency }, () => caller), { concurrency: "unbounded", discard: true })
    return summary(phase, ops, performance.now() - started, latencies)
  }))

/**
 * A subject from its calls: `create(i, keep)` (hands the new id to `keep`), `get(id)`, `touch(id)`, `update(id, i)`,
 * `close(id)`, run by `phase(name, ops, concurrency, call)`. The pre-filled sessions are `ids` if the subject has
 * them already, else `sessions` made with `create`. Returns one measured run.
 */
const measured = async ({ calls, ids, phase, only = phases }, { sessions, ops, concurrency }) => {
  const filled = ids ?? []
  if (ids === undefined) {
    await phase("prefill", sessions, Math.max(concurrency, 16), (i) => calls.create(i, (id) => filled.push(id)))
  }
  return async () => {
    const result = {}
    const created = []
    const at = (i) => filled[i % filled.length]
    const run = {
      create: (i) => calls.create(i, (id) => created.push(id)),
      get: (i) => calls.get(at(i)),
      touch: (i) => calls.touch(at(i)),
      update: (i) => calls.update(at(i), i),
      close: (i) => calls.close(created[i])
    }
    for (const name of only) Object.assign(result, await phase(name, ops, concurrency, run[name]))
    return result
  }
}

// effect-sessions ---------------------------------------------------------------------------------------------------

const storeLayer = (pool) => PostgresStore.layer({ url, schema, events: false, maxConnections: pool })

const manager = async ({ pool, sessions }) => {
  const runtime = ManagedRuntime.make(
    SessionManager.layer(config, { sweeper: false }).pipe(Layer.provideMerge(storeLayer(pool)))
  )
  const m = await runtime.runPromise(SessionManager.SessionManager)
  return {
    runtime,
    ids: await rawFill(sessions),
    phase: (name, ops, concurrency, call) => effectPhase(runtime, name, ops, concurrency, call),
    calls: {
      create: (i, keep) => Effect.map(m.create({ owner: `o${i % 1000}`, data: payload }), (s) => keep(s.id)),
      get: (id) => m.get(id),
      touch: (id) => m.touch(id),
      update: (id, i) => m.update(id, dataOf(i)),
      close: (id) => m.close(id)
    }
  }
}

const storeAlone = async ({ pool, sessions }) => {
  const runtime = ManagedRuntime.make(storeLayer(pool))
  const store = await runtime.runPromise(SessionStore)
  const policy = { idleTimeout: config.idleTimeout, maxLifetime: config.maxLifetime }
  return {
    runtime,
    ids: await rawFill(sessions),
    phase: (name, ops, concurrency, call) => effectPhase(runtime, name, ops, concurrency, call),
    calls: {
      create: (i, keep) =>
        Effect.suspend(() => {
          const s = newSession({
            id: makeSessionId(),
            owner: `o${i % 1000}`,
            name: null,
            kind: defaultKind,
            data: payload,
            now: Date.now(),
            policy
          })
          return Effect.map(store.insert(s, config), () => keep(s.id))
        }),
      get: (id) =>
        Effect.flatMap(store.get(id), (found) => (found._tag === "Some" ? Effect.void : Effect.die("missing"))),
      touch: (id) => store.touch(id),
      update: (id, i) => store.update(id, { data: dataOf(i) }),
      close: (id) => store.update(id, { event: "close" })
    }
  }
}

// raw pg and @effect/sql-pg -----------------------------------------------------------------------------------------

const expect = (count, result) => {
  if (result.rowCount !== count) throw new Error(`${result.rowCount} rows, expected ${count}`)
}

const rawPg = async ({ pool: max }) => {
  await migrated()
  const pool = poolOf(max)
  const maxLifetime = 30 * 86_400_000
  return {
    pool,
    end: () => pool.end(),
    phase: promisePhase,
    calls: {
      create: async (i, keep) => {
        const id = makeSessionId()
        const now = Date.now()
        expect(
          1,
          await pool.query(text.insert, [
            id,
            `o${i % 1000}`,
            now,
            now + idleMs,
            idleMs,
            maxLifetime,
            JSON.stringify(payload)
          ])
        )
        keep(id)
      },
      get: async (id) => expect(1, await pool.query(text.get, [id])),
      touch: async (id) => {
        const now = Date.now()
        expect(1, await pool.query(text.touch, [now, now + idleMs, id]))
      },
      update: async (id, i) => expect(1, await pool.query(text.update, [JSON.stringify(dataOf(i)), id])),
      close: async (id) => expect(1, await pool.query(text.close, [Date.now(), id]))
    }
  }
}

/**
 * `sessions` live sessions written straight into the store's table (raw pg's INSERT, four connections) with their
 * count, so the subjects on the store's schema start from the same set without the setup going through them.
 */
const rawFill = async (sessions) => {
  const raw = await rawPg({ pool: 4 })
  const ids = []
  await promisePhase("prefill", sessions, 4, (i) => raw.calls.create(i, (id) => ids.push(id)))
  await raw.pool.query("INSERT INTO session_counts (status, n) VALUES ('active', $1)", [sessions])
  await raw.end()
  return ids
}

const effectSql = async ({ pool: max, sessions }) => {
  const ids = await rawFill(sessions)
  const runtime = ManagedRuntime.make(
    PgClient.layerFromPool({
      acquire: Effect.acquireRelease(Effect.sync(() => poolOf(max)), (p) => Effect.promise(() => p.end()))
    })
  )
  const sql = await runtime.runPromise(PgClient.PgClient)
  const rows = (count) => (found) => found.length === count ? Effect.void : Effect.die(`${found.length} rows`)
  return {
    runtime,
    ids,
    only: ["get", "touch"],
    phase: (name, ops, concurrency, call) => effectPhase(runtime, name, ops, concurrency, call),
    calls: {
      get: (id) => Effect.flatMap(sql.unsafe(text.get, [id]), rows(1)),
      touch: (id) =>
        Effect.suspend(() => {
          const now = Date.now()
          return Effect.map(sql.unsafe(text.touch, [now, now + idleMs, id]).raw, (result) => expect(1, result))
        })
    }
  }
}

// connect-pg-simple -------------------------------------------------------------------------------------------------

const cookie = () => ({ originalMaxAge: idleMs, expires: new Date(Date.now() + idleMs), httpOnly: true, path: "/" })

const pgSimple = async ({ pool: max }) => {
  await admin(`CREATE SCHEMA ${schema}`)
  const pool = poolOf(max)
  const PgStore = connectPgSimple(session)
  const store = new PgStore({ pool, schemaName: schema, createTableIfMissing: true, pruneSessionInterval: false })
  const set = promisify(store.set.bind(store))
  const get = promisify(store.get.bind(store))
  const touch = promisify(store.touch.bind(store))
  const destroy = promisify(store.destroy.bind(store))
  return {
    end: async () => {
      await store.close()
      await pool.end()
    },
    phase: promisePhase,
    calls: {
      create: async (i, keep) => {
        const id = newId()
        await set(id, { cookie: cookie(), data: payload })
        keep(id)
      },
      get: async (id) => {
        if (!(await get(id))) throw new Error("missing")
      },
      touch: (id) => touch(id, { cookie: cookie() }),
      update: (id, i) => set(id, { cookie: cookie(), data: dataOf(i) }),
      close: (id) => destroy(id)
    }
  }
}

const subjects = {
  "effect-sessions": manager,
  "effect-sessions store alone": storeAlone,
  "raw pg": rawPg,
  "@effect/sql-pg": effectSql,
  "connect-pg-simple": pgSimple
}

const { params, subject } = args()
const make = subjects[subject]
if (make === undefined) throw new Error(`no Postgres subject ${subject}`)
const options = { sessions: 1_000, ops: 1_000, concurrency: 1, pool: 10, ...params }
await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
let made
try {
  made = await make(options)
  const once = await measured(made, options)
  await report(options.runs ?? 3, once)
} finally {
  await made?.runtime?.dispose()
  await made?.end?.()
  await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
}
process.exit(0)
