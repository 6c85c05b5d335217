import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { ConfigProvider, Duration, Effect, Either, Exit, Layer, Option, Scope, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { applicationId, schemaVersion } from "../../src/adapters/sqlite/internal/schema.js"
import { parseDuration, SessionManager, SessionStore } from "../../src/index.js"
import { SqliteStore } from "../../src/sqlite.js"
import { aSession, roomy } from "../contract/fixtures.js"
import { config } from "../support/manager.js"
import { tempDir } from "../support/sqlite.js"

/** Builds a store on `file` in a scope of its own, returning the store and the scope to close. */
const openStore = (file: string, options: Omit<SqliteStore.SqliteStoreOptions, "filename"> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(SqliteStore.layer({ ...options, filename: file }), scope)
    return { store: context.unsafeMap.get(SessionStore.key) as SessionStore["Type"], scope }
  })

const raw = (file: string) => new Database(file)

describe("SqliteStore: opening and migrations", () => {
  it.scoped("creates and migrates a new file, then reopens it with its sessions", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "nested", "sessions.db")
      const first = yield* openStore(file)
      const session = yield* aSession({ name: "kept" })
      yield* first.store.insert(session, roomy)
      yield* Scope.close(first.scope, Exit.void)
      const db = raw(file)
      expect(db.pragma("user_version", { simple: true })).toBe(schemaVersion)
      expect(db.pragma("application_id", { simple: true })).toBe(applicationId)
      expect(db.pragma("journal_mode", { simple: true })).toBe("wal")
      db.close()
      // The directory it made for the file is its owner's alone: session data lives there.
      if (process.platform !== "win32") expect(Fs.statSync(Path.dirname(file)).mode & 0o777).toBe(0o700)
      const second = yield* openStore(file)
      expect(Option.getOrThrow(yield* second.store.get(session.id))).toEqual(session)
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.scoped("refuses a database written by a newer version, naming both versions, and leaves it unchanged", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "sessions.db")
      yield* Effect.flatMap(openStore(file), ({ scope }) => Scope.close(scope, Exit.void))
      const db = raw(file)
      db.pragma("user_version = 99")
      db.close()
      const before = Fs.readFileSync(file)
      const error = yield* Effect.flip(openStore(file))
      expect(error).toMatchObject({ _tag: "StoreError", operation: "open" })
      expect(error.message).toContain("schema version 99")
      expect(error.message).toContain(`up to schema version ${schemaVersion}`)
      expect(Fs.readFileSync(file).equals(before)).toBe(true)
    }))

  it.scoped("refuses files that belong to something else", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const other = Path.join(dir, "other.db")
      const db = raw(other)
      db.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
      db.close()
      expect((yield* Effect.flip(openStore(other))).message).toContain("holds other tables (invoices)")
      const foreign = Path.join(dir, "foreign.db")
      const app = raw(foreign)
      app.pragma("application_id = 1234")
      app.close()
      expect((yield* Effect.flip(openStore(foreign))).message).toContain("not an effect-sessions database")
      const notSqlite = Path.join(dir, "notes.txt")
      Fs.writeFileSync(notSqlite, "this is not a database, just some text that is long enough to have a header")
      expect(yield* Effect.flip(openStore(notSqlite))).toMatchObject({ _tag: "StoreError", operation: "open" })
    }))

  it.effect("layerConfig reads SESSIONS_SQLITE_* and reports every bad variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(SqliteStore.optionsFromEnv)
      expect(error.issues.map((issue) => issue.field)).toEqual([
        "SESSIONS_SQLITE_SYNCHRONOUS",
        "SESSIONS_SQLITE_BUSY_TIMEOUT"
      ])
      const options = yield* SqliteStore.optionsFromEnv.pipe(
        Effect.withConfigProvider(ConfigProvider.fromMap(
          new Map([
            ["SESSIONS_SQLITE_FILE", "/tmp/x.db"],
            ["SESSIONS_SQLITE_SYNCHRONOUS", "full"],
            ["SESSIONS_TOUCH_COALESCE", "250ms"]
          ])
        ))
      )
      expect(options).toMatchObject({ filename: "/tmp/x.db", synchronous: "full" })
      expect(Duration.toMillis(Either.getOrThrow(parseDuration(options.touchCoalesce)))).toBe(250)
    }).pipe(
      Effect.withConfigProvider(ConfigProvider.fromMap(
        new Map([
          ["SESSIONS_SQLITE_SYNCHRONOUS", "sometimes"],
          ["SESSIONS_SQLITE_BUSY_TIMEOUT", "soon"]
        ])
      ))
    ))
})

describe("SqliteStore: failures", () => {
  it.scoped("a database locked by another connection is StoreUnavailable (retryable), and works once released", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "sessions.db")
      const { store } = yield* openStore(file, { busyTimeout: "50 millis" })
      const other = raw(file)
      other.exec("BEGIN IMMEDIATE")
      const session = yield* aSession()
      const busy = yield* Effect.flip(store.insert(session, roomy))
      expect(busy).toMatchObject({ _tag: "StoreUnavailable", operation: "insert" })
      expect(busy.message).toContain("SQLITE_BUSY")
      other.exec("ROLLBACK")
      other.close()
      yield* store.insert(session, roomy)
    }))

  it.scoped("anything else SQLite reports is StoreError, never an exception", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "sessions.db")
      const { store } = yield* openStore(file)
      const other = raw(file)
      other.exec("DROP TABLE active_sessions")
      other.close()
      const session = yield* aSession()
      yield* store.insert(session, roomy)
      const error = yield* Effect.flip(store.setActive(session.owner, session.id))
      expect(error).toMatchObject({ _tag: "StoreError", operation: "setActive" })
      expect(error.message).toContain("no such table")
    }))

  it.scoped("a row that does not decode is CorruptRecord naming the session and the column; listings skip it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "sessions.db")
      const { store } = yield* openStore(file)
      const good = yield* aSession({ owner: "alice" })
      const bad = yield* aSession({ owner: "alice" })
      const worse = yield* aSession({ owner: "alice" })
      for (const s of [good, bad, worse]) yield* store.insert(s, roomy)
      const db = raw(file)
      db.prepare("UPDATE sessions SET data = '{not json' WHERE id = ?").run(bad.id)
      db.prepare("UPDATE sessions SET version = 0 WHERE id = ?").run(worse.id)
      db.close()
      expect(yield* Effect.flip(store.get(bad.id))).toMatchObject({
        _tag: "CorruptRecord",
        id: bad.id,
        reason: "data: not valid JSON"
      })
      expect(yield* Effect.flip(store.touch(worse.id))).toMatchObject({ _tag: "CorruptRecord", id: worse.id })
      expect((yield* Effect.flip(store.update(worse.id, { data: 1 }))).message).toContain(
        "version: expected a whole number"
      )
      const page = yield* store.list({ owner: good.owner, limit: 10 })
      expect(page.sessions.map((s) => s.id)).toEqual([good.id])
      expect(page.corrupt.map((c) => c.id).sort()).toEqual([bad.id, worse.id].sort())
      // Due rows are ended whatever their data holds, so sweeps never stall on a damaged one.
      yield* TestClock.adjust("1 hour")
      const ended = yield* store.expire(10)
      expect(ended.map((t) => t.id).sort()).toEqual([good.id, bad.id, worse.id].sort())
      expect(yield* store.counts).toMatchObject({ active: 0, expired: 3 })
      expect(yield* store.expire(10)).toEqual([])
    }))
})

describe("SqliteStore: one damaged record", () => {
  it.scoped("an operator removes a session that cannot be read, without a repair run; it is kept in quarantine", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "sessions.db")
      const scope = yield* Scope.make()
      const layer = SessionManager.layer(config(), { sweeper: false }).pipe(
        Layer.provideMerge(SqliteStore.layer({ filename: file }))
      )
      const context = yield* Layer.buildWithScope(layer, scope)
      const m = context.unsafeMap.get(SessionManager.SessionManager.key) as SessionManager.SessionManagerShape
      const broken = yield* m.create({ owner: "alice", name: "chat" })
      const fine = yield* m.create({ owner: "alice" })
      yield* m.activate("alice", broken.id)
      // What an earlier version's unchecked durations left behind: a row no read can decode.
      const db = raw(file)
      db.prepare("UPDATE sessions SET expires_at = 1e308, idle_timeout = 1.5 WHERE id = ?").run(broken.id)
      for (const call of [m.get(broken.id), m.touch(broken.id), m.close(broken.id)]) {
        expect(yield* Effect.flip(call)).toMatchObject({ _tag: "CorruptRecord", id: broken.id })
      }
      expect(yield* m.remove(broken.id, { reason: "unreadable expires_at" })).toBe(true)
      expect(yield* Effect.flip(m.get(broken.id))).toMatchObject({ _tag: "SessionNotFound" })
      expect((yield* m.get(fine.id)).status).toBe("active")
      expect((yield* m.stats).counts).toMatchObject({ active: 1 })
      // Its name and its slot are free, and the row waits in quarantine for whoever investigates.
      yield* m.create({ owner: "alice", name: "chat" })
      const kept = db.prepare("SELECT id, reason, row FROM quarantine").all() as Array<Record<string, string>>
      expect(kept.map((row) => [row["id"], row["reason"]])).toEqual([[broken.id, "unreadable expires_at"]])
      expect(JSON.parse(kept[0]!["row"]!)).toMatchObject({ id: broken.id, expires_at: 1e308 })
      db.close()
      yield* Scope.close(scope, Exit.void)
    }))
})

describe("SqliteStore: touches written behind", () => {
  it.scoped("coalesces touches: visible at once in this process, written once per session per window", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = Path.join(dir, "sessions.db")
      const { scope, store } = yield* openStore(file, { touchCoalesce: "1 second" })
      const session = yield* aSession()
      yield* store.insert(session, roomy)
      const db = raw(file)
      db.exec(
        "CREATE TABLE touch_writes (id TEXT); CREATE TRIGGER count_touch AFTER UPDATE OF last_active_at ON sessions BEGIN INSERT INTO touch_writes VALUES (NEW.id); END;"
      )
      const stored = () => db.prepare("SELECT last_active_at, message_count FROM sessions WHERE id = ?").get(session.id)
      for (let i = 1; i <= 50; i++) {
        yield* TestClock.adjust("10 millis")
        yield* store.touch(session.id, { messages: 1, responseTime: null, window: 10 })
      }
      // Read back at once in this process, not yet written.
      expect(Option.getOrThrow(yield* store.get(session.id))).toMatchObject({ lastActiveAt: 500, messageCount: 50 })
      expect(stored()).toEqual({ last_active_at: 0, message_count: 0 })
      yield* TestClock.adjust("1 second")
      expect(stored()).toEqual({ last_active_at: 500, message_count: 50 })
      expect((db.prepare("SELECT count(*) AS n FROM touch_writes").get() as { n: number }).n).toBe(1)
      // Data and status writes are written before they are acknowledged.
      yield* store.update(session.id, { data: "durable" })
      expect((db.prepare("SELECT data FROM sessions WHERE id = ?").get(session.id) as { data: string }).data).toBe(
        "\"durable\""
      )
      // Closing the store writes what is still buffered.
      yield* store.touch(session.id, { messages: 5, responseTime: null, window: 10 })
      yield* Scope.close(scope, Exit.void)
      expect(stored()).toEqual({ last_active_at: 1500, message_count: 55 })
      db.close()
    }))

  it.scoped("expiry and eviction decide on the true activity, buffered touches included", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { store } = yield* openStore(Path.join(dir, "sessions.db"), { touchCoalesce: "1 hour" })
      const a = yield* aSession({ owner: "a" })
      yield* store.insert(a, roomy)
      yield* TestClock.adjust("1 second")
      const b = yield* aSession({ owner: "b" })
      yield* store.insert(b, roomy)
      yield* TestClock.adjust("14 minutes")
      // Buffered: on disk, a is still the least recently active and due first (at 15m, b at 15m1s).
      yield* store.touch(a.id)
      yield* TestClock.adjust(Duration.millis(60_000 - 1000))
      expect(yield* store.expire(10)).toEqual([])
      const limits = { maxSessions: 2, maxSessionsPerOwner: 2, capacityPolicy: "evict-lru" as const }
      const inserted = yield* store.insert(yield* aSession({ owner: "c" }), limits)
      expect(inserted.ended.map((t) => t.id)).toEqual([b.id])
      expect(Option.getOrThrow(yield* store.get(a.id)).status).toBe("active")
    }))
})
