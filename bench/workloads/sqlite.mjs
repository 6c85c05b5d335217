/**
 * SQLite workloads, one subject per process: `node sqlite.mjs <subject> '{"workload": "crud"|"sweep", "n": ...}'`.
 *
 * - `crud` `{n}`: create n sessions, get each, touch each, close (delete) each, every operation acknowledged by the
 *   subject before the next; ops/s per phase.
 * - `sweep` `{n}`: n expired among 2n stored sessions; milliseconds to remove the expired ones.
 * - `concurrent create` `{n, callers, synchronous}`: n creates from `callers` concurrent callers, each acknowledged
 *   (committed) before its caller makes the next; the database at `synchronous` (FULL: every commit is durable, an
 *   fsync of the WAL; NORMAL: durable against a crash of the process). Raw better-sqlite3 makes one transaction per
 *   create (synchronous, so one caller at a time is all it can do): the floor that group commit is measured against.
 *
 * Subjects: effect-sessions (SessionManager over its SQLite store: WAL, synchronous=NORMAL, touches written behind
 * and coalesced, flushed before any expiry decision), raw better-sqlite3 prepared statements on a minimal indexed
 * table in WAL with synchronous=NORMAL (one transaction per operation, and batched 1,000 per transaction: the
 * SQLite floor), and better-sqlite3-session-store through the express-session Store API.
 */
import Database from "better-sqlite3"
import SqliteSessionStore from "better-sqlite3-session-store"
import { Effect } from "effect"
import session from "express-session"
import * as Path from "node:path"
import { promisify } from "node:util"
import { SessionManager } from "../../dist/index.js"
import { SqliteStore } from "../../dist/sqlite.js"
import {
  args,
  idleMs,
  inTempDir,
  managerCrud,
  manualClock,
  newId,
  payload,
  perSecond,
  report,
  round3,
  sqliteFixture,
  timedPhases,
  withManager
} from "../lib/common.mjs"

const json = JSON.stringify(payload)

// effect-sessions ---------------------------------------------------------------------------------------------------

const ours = {
  crud: ({ n }) => inTempDir((dir) => managerCrud(n, SqliteStore.layer({ filename: Path.join(dir, "sessions.db") }))),
  "concurrent create": ({ callers, n, synchronous }) =>
    inTempDir((dir) =>
      withManager(
        Effect.gen(function*() {
          const manager = yield* SessionManager.SessionManager
          const each = Math.ceil(n / callers)
          const started = performance.now()
          yield* Effect.forEach(
            Array.from({ length: callers }, (_, c) => c),
            (c) =>
              Effect.gen(function*() {
                for (let i = 0; i < each; i++) {
                  yield* manager.create({ owner: `o${(c * each + i) % 1000}`, data: payload })
                }
              }),
            { concurrency: "unbounded", discard: true }
          )
          return { "create ops/s": perSecond(each * callers, performance.now() - started) }
        }),
        { store: SqliteStore.layer({ filename: Path.join(dir, "sessions.db"), synchronous }) }
      )
    ),
  sweep: async ({ n }) => {
    fixture ??= await sqliteFixture(n, epoch, SqliteStore)
    return inTempDir((dir) => {
      const filename = Path.join(dir, "sessions.db")
      fixture.copy(filename)
      const clock = manualClock(epoch)
      return withManager(
        Effect.gen(function*() {
          const manager = yield* SessionManager.SessionManager
          clock.advance(120_000)
          const started = performance.now()
          const swept = yield* manager.sweep
          const ms = performance.now() - started
          if (swept.expired !== n) throw new Error(`swept ${swept.expired}, expected ${n}`)
          return { "sweep ms": round3(ms) }
        }),
        { clock, store: SqliteStore.layer({ filename }) }
      )
    })
  }
}

/** The database the sweep runs copy (built through the manager once per process), and the time it was built at. */
let fixture
const epoch = Date.now()

// raw better-sqlite3 -----------------------------------------------------------------------------------------------

const openRaw = (dir, synchronous = "normal") => {
  const db = new Database(Path.join(dir, "raw.db"))
  db.pragma("journal_mode = WAL")
  db.pragma(`synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`)
  db.exec(
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, data TEXT NOT NULL, last_active_at INTEGER NOT NULL, " +
      "expires_at INTEGER NOT NULL) WITHOUT ROWID; CREATE INDEX sessions_expiry ON sessions (expires_at)"
  )
  return {
    db,
    insert: db.prepare("INSERT INTO sessions VALUES (?, ?, ?, ?)"),
    get: db.prepare("SELECT * FROM sessions WHERE id = ?"),
    touch: db.prepare("UPDATE sessions SET last_active_at = ?, expires_at = ? WHERE id = ?"),
    remove: db.prepare("DELETE FROM sessions WHERE id = ?"),
    sweep: db.prepare("DELETE FROM sessions WHERE expires_at <= ?")
  }
}

const rawCrud = (batch) => ({ n }) =>
  inTempDir(async (dir) => {
    const raw = openRaw(dir)
    const list = Array.from({ length: n }, newId)
    const step = {
      create: (id) => {
        const now = Date.now()
        raw.insert.run(id, json, now, now + idleMs)
      },
      get: (id) => {
        if (raw.get.get(id) === undefined) throw new Error("missing")
      },
      touch: (id) => {
        const now = Date.now()
        raw.touch.run(now, now + idleMs, id)
      },
      close: (id) => raw.remove.run(id)
    }
    const result = await timedPhases(n, (phase) => {
      const one = step[phase]
      if (batch === 1) {
        for (const id of list) one(id)
        return
      }
      const chunk = raw.db.transaction((ids) => {
        for (const id of ids) one(id)
      })
      for (let i = 0; i < n; i += batch) chunk(list.slice(i, i + batch))
    })
    raw.db.close()
    return result
  })

/** One transaction per create, each committed before the next (better-sqlite3 autocommits a lone statement). */
const rawConcurrentCreate = ({ n, synchronous }) =>
  inTempDir((dir) => {
    const raw = openRaw(dir, synchronous)
    const list = Array.from({ length: n }, newId)
    const started = performance.now()
    for (const id of list) {
      const now = Date.now()
      raw.insert.run(id, json, now, now + idleMs)
    }
    const ops = perSecond(n, performance.now() - started)
    raw.db.close()
    return { "create ops/s": ops }
  })

const rawSweep = ({ n }) =>
  inTempDir(async (dir) => {
    const raw = openRaw(dir)
    const now = Date.now()
    raw.db.transaction(() => {
      for (let i = 0; i < 2 * n; i++) {
        raw.insert.run(newId(), json, now, i % 2 === 0 ? now - 1 : now + idleMs)
      }
    })()
    const started = performance.now()
    const { changes } = raw.sweep.run(now)
    const ms = performance.now() - started
    if (changes !== n) throw new Error(`deleted ${changes}, expected ${n}`)
    raw.db.close()
    return { "sweep ms": round3(ms) }
  })

// better-sqlite3-session-store ---------------------------------------------------------------------------------------

const SessionStore = SqliteSessionStore(session)

const storeOf = (dir) => {
  const db = new Database(Path.join(dir, "store.db"))
  db.pragma("journal_mode = WAL")
  db.pragma("synchronous = NORMAL")
  const store = new SessionStore({ client: db, expired: { clear: false, intervalMs: 2 ** 31 - 1 } })
  return {
    db,
    store,
    set: promisify(store.set.bind(store)),
    get: promisify(store.get.bind(store)),
    touch: promisify(store.touch.bind(store)),
    destroy: promisify(store.destroy.bind(store)),
    length: promisify(store.length.bind(store))
  }
}

const cookie = (expires) => ({ originalMaxAge: idleMs, expires: new Date(expires), httpOnly: true, path: "/" })

const sessionStore = {
  crud: ({ n }) =>
    inTempDir(async (dir) => {
      const store = storeOf(dir)
      const list = Array.from({ length: n }, newId)
      const result = await timedPhases(n, async (phase) => {
        for (const id of list) {
          if (phase === "create") await store.set(id, { cookie: cookie(Date.now() + idleMs), data: payload })
          else if (phase === "get") {
            if (!(await store.get(id))) throw new Error("missing")
          } else if (phase === "touch") await store.touch(id, { cookie: cookie(Date.now() + idleMs) })
          else await store.destroy(id)
        }
      })
      store.db.close()
      return result
    }),
  sweep: ({ n }) =>
    inTempDir(async (dir) => {
      const store = storeOf(dir)
      const now = Date.now()
      const insert = store.db.prepare("INSERT INTO sessions (sid, sess, expire) VALUES (?, ?, ?)")
      store.db.transaction(() => {
        for (let i = 0; i < 2 * n; i++) {
          const expires = new Date(i % 2 === 0 ? now - 60_000 : now + idleMs)
          insert.run(newId(), JSON.stringify({ cookie: cookie(expires), data: payload }), expires.toISOString())
        }
      })()
      const started = performance.now()
      store.store.clearExpiredSessions()
      const ms = performance.now() - started
      const left = store.db.prepare("SELECT count(*) AS n FROM sessions").get().n
      if (left !== n) throw new Error(`${left} left, expected ${n}`)
      store.db.close()
      return { "sweep ms": round3(ms) }
    })
}

const subjects = {
  "effect-sessions": ours,
  "raw better-sqlite3": { crud: rawCrud(1), sweep: rawSweep, "concurrent create": rawConcurrentCreate },
  "raw better-sqlite3 batched": { crud: rawCrud(1000) },
  "better-sqlite3-session-store": sessionStore
}

const { params, subject } = args()
const workload = subjects[subject]?.[params.workload]
if (workload === undefined) throw new Error(`no ${params.workload} workload for ${subject}`)
await report(params.runs ?? 3, () => workload(params))
fixture?.remove()
process.exit(0)
