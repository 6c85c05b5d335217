/**
 * Group commit on the SQLite store, on a real file: concurrent writes share transactions, each caller is answered
 * only once its write is committed (and in arrival order), a failing write fails only its caller, an interrupted
 * caller's write is withdrawn whole, and a process killed in the middle of its batches leaves every acknowledged write
 * on disk and no write half-applied.
 */
import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Context, Effect, Either, Fiber, Layer, Option, TestClock } from "effect"
import * as Path from "node:path"
import { maxBatch } from "../../src/adapters/sqlite/internal/GroupCommit.js"
import { openStore } from "../../src/adapters/sqlite/internal/openStore.js"
import { verify } from "../../src/adapters/sqlite/internal/verify.js"
import type { JsonValue, Session } from "../../src/domain/Session.js"
import { SessionManager, SessionStore, SessionStoreSync } from "../../src/index.js"
import { aSession, roomy } from "../contract/fixtures.js"
import { startChild } from "../reliability/support/child.js"
import { config } from "../support/manager.js"
import { tempDir } from "../support/sqlite.js"

/** A store on a new file, with a second connection on the same file that sees only what was committed. */
const fixture = Effect.gen(function*() {
  const file = Path.join(yield* tempDir, "sessions.db")
  const opened = yield* openStore({ filename: file })
  const other = yield* Effect.acquireRelease(
    Effect.sync(() => new Database(file, { readonly: true })),
    (db) => Effect.sync(() => db.close())
  )
  const committed = (id: string): boolean => other.prepare("SELECT 1 FROM sessions WHERE id = ?").get(id) !== undefined
  return { ...opened, file, other, committed }
})

const sessions = (n: number, spec: Parameters<typeof aSession>[0] = {}) =>
  Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) => aSession({ owner: `owner-${i % 7}`, ...spec }))

describe("SqliteStore group commit", () => {
  it.scoped("concurrent creates share transactions: fewer commits than writes, every one stored", () =>
    Effect.gen(function*() {
      const { commits, committed, store } = yield* fixture
      const before = { ...commits.stats }
      const batch = yield* sessions(50)
      yield* Effect.forEach(batch, (session) => store.insert(session, roomy), { concurrency: "unbounded" })
      expect(commits.stats.writes - before.writes).toBe(50)
      expect(commits.stats.commits - before.commits).toBeLessThan(50)
      expect(batch.filter((session) => !committed(session.id))).toEqual([])
      expect((yield* store.counts).active).toBe(50)
    }))

  it.scoped("the manager's writes share transactions too, though it reads through the synchronous form", () =>
    Effect.gen(function*() {
      const { commits, committed, store, sync } = yield* fixture
      const manager = yield* SessionManager.make(config({ maxSessionsPerOwner: 1000 }), { sweeper: false }).pipe(
        Effect.provide(
          Layer.succeedContext(Context.make(SessionStore, store).pipe(Context.add(SessionStoreSync, sync)))
        )
      )
      const before = { ...commits.stats }
      const created = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => manager.create({ owner: `owner-${i % 5}`, data: { i } }),
        { concurrency: "unbounded" }
      )
      expect(commits.stats.writes - before.writes).toBe(50)
      expect(commits.stats.commits - before.commits).toBeLessThan(50)
      expect(created.filter((session) => !committed(session.id))).toEqual([])
      // Concurrent updates of distinct sessions batch as well, each answered with its own new version.
      const updated = yield* Effect.forEach(created, (session) => manager.update(session.id, { done: true }), {
        concurrency: "unbounded"
      })
      expect(commits.stats.commits - before.commits).toBeLessThan(100)
      expect(updated.map((session) => session.version)).toEqual(created.map((session) => session.version + 1))
      expect((yield* manager.get(created[0]!.id)).data).toEqual({ done: true })
    }))

  it.scoped("a batch holds at most maxBatch writes; the rest go into the next", () =>
    Effect.gen(function*() {
      const { commits, store } = yield* fixture
      const before = { ...commits.stats }
      const batch = yield* sessions(maxBatch + 10)
      yield* Effect.forEach(batch, (session) => store.insert(session, roomy), { concurrency: "unbounded" })
      expect(commits.stats.commits - before.commits).toBeGreaterThanOrEqual(2)
      expect((yield* store.counts).active).toBe(maxBatch + 10)
    }))

  it.scoped("each caller is answered after its commit, in arrival order, writes applied in that order", () =>
    Effect.gen(function*() {
      const { committed, other, store } = yield* fixture
      const batch = yield* sessions(40)
      const arrived: Array<string> = []
      const answered: Array<string> = []
      const seenOnDisk: Array<boolean> = []
      yield* Effect.forEach(
        batch,
        (session) =>
          Effect.sync(() => arrived.push(session.id)).pipe(
            Effect.zipRight(store.insert(session, roomy)),
            Effect.tap(() =>
              Effect.sync(() => {
                // Another connection sees only what was committed: the write is durable by the time it is answered.
                seenOnDisk.push(committed(session.id))
                answered.push(session.id)
              })
            )
          ),
        { concurrency: "unbounded" }
      )
      expect(seenOnDisk).toEqual(batch.map(() => true))
      expect(answered).toEqual(arrived)
      const stored = other.prepare("SELECT id FROM sessions ORDER BY seq").pluck().all()
      expect(stored).toEqual(arrived)
    }))

  it.scoped("in one batch a refused or failing write fails only its caller; the others commit", () =>
    Effect.gen(function*() {
      const { commits, committed, file, store } = yield* fixture
      const holder = yield* aSession({ owner: "alice", name: "chat" })
      const target = yield* aSession({ owner: "alice" })
      yield* store.insert(holder, roomy)
      yield* store.insert(target, roomy)
      const first = yield* aSession({ owner: "alice" })
      const taken = yield* aSession({ owner: "alice", name: "chat" })
      const last = yield* aSession({ owner: "bob" })
      // A body that throws in the middle of its transaction: its data cannot be written as JSON.
      const unwritable: Session = { ...(yield* aSession({ owner: "bob" })), data: 1n as unknown as JsonValue }
      const before = { ...commits.stats }
      const [a, b, c, d, e, f] = yield* Effect.all(
        [
          Effect.either(store.insert(first, roomy)),
          Effect.either(store.insert(taken, roomy)),
          Effect.either(store.update(target.id, { data: { stale: true }, expectedVersion: 7 })),
          Effect.either(store.insert(unwritable, roomy)),
          Effect.either(store.update(target.id, { data: { fresh: true }, expectedVersion: 1 })),
          Effect.either(store.insert(last, roomy))
        ],
        { concurrency: "unbounded" }
      )
      expect(commits.stats.commits - before.commits).toBe(1)
      expect(commits.stats.writes - before.writes).toBe(6)
      expect(Either.isRight(a) && Either.isRight(e) && Either.isRight(f)).toBe(true)
      expect(b).toMatchObject({ left: { _tag: "SessionNameTaken", name: "chat" } })
      expect(c).toMatchObject({ left: { _tag: "VersionConflict", expected: 7, actual: 1 } })
      expect(d).toMatchObject({ left: { _tag: "StoreError", operation: "insert" } })
      expect([first, last, holder].map((s) => committed(s.id))).toEqual([true, true, true])
      expect([taken, unwritable].map((s) => committed(s.id))).toEqual([false, false])
      expect(Option.getOrThrow(yield* store.get(target.id))).toMatchObject({ data: { fresh: true }, version: 2 })
      expect(yield* store.counts).toMatchObject({ active: 4 })
      const report = yield* verify({ database: file })
      expect(report).toMatchObject({ ok: true, countsMatch: true, rows: 4 })
    }))

  it.scoped("a write rolled back in its batch puts back the buffered activity it had written", () =>
    Effect.gen(function*() {
      const { other, store } = yield* fixture
      const holder = yield* aSession({ owner: "alice", name: "chat" })
      const touched = yield* aSession({ owner: "alice" })
      yield* store.insert(holder, roomy)
      yield* store.insert(touched, roomy)
      yield* TestClock.adjust("10 seconds")
      const activity = (yield* store.touch(touched.id)).session.lastActiveAt
      expect(activity).toBeGreaterThan(touched.lastActiveAt)
      const onDisk = () =>
        other.prepare("SELECT last_active_at FROM sessions WHERE id = ?").pluck().get(touched.id) as number
      // The refused insert writes the buffered activity first (its name check decides on true activity), then is
      // rolled back: the activity goes back to the buffer instead of being lost with the rollback.
      const [refused, fine] = yield* Effect.all(
        [
          Effect.either(store.insert(yield* aSession({ owner: "alice", name: "chat" }), roomy)),
          store.insert(
            yield* aSession({ owner: "bob" }),
            roomy
          )
        ],
        { concurrency: "unbounded" }
      )
      expect(refused).toMatchObject({ left: { _tag: "SessionNameTaken" } })
      expect(fine.ended).toEqual([])
      expect(onDisk()).toBe(touched.lastActiveAt)
      expect(Option.getOrThrow(yield* store.get(touched.id)).lastActiveAt).toBe(activity)
      yield* store.flush
      expect(onDisk()).toBe(activity)
    }))

  it.scoped("a caller interrupted before its batch ran withdraws its write", () =>
    Effect.gen(function*() {
      const { commits, committed, store } = yield* fixture
      const gone = yield* aSession()
      const kept = yield* aSession()
      const fiber = yield* Effect.fork(store.insert(gone, roomy))
      yield* Effect.yieldNow()
      expect(commits.size).toBe(1)
      yield* Fiber.interrupt(fiber)
      yield* store.insert(kept, roomy)
      expect([committed(gone.id), committed(kept.id)]).toEqual([false, true])
      expect(Option.isNone(yield* store.get(gone.id))).toBe(true)
      expect(yield* store.counts).toMatchObject({ active: 1 })
    }))

  it.scoped("when the caller that was to commit a batch is interrupted, the writes queued behind it still commit", () =>
    Effect.gen(function*() {
      const { commits, committed, store } = yield* fixture
      const gone = yield* aSession()
      const kept = yield* aSession()
      const first = yield* Effect.fork(store.insert(gone, roomy))
      const second = yield* Effect.fork(store.insert(kept, roomy))
      yield* Effect.yieldNow()
      expect(commits.size).toBe(2)
      yield* Fiber.interrupt(first)
      yield* Fiber.join(second)
      expect([committed(gone.id), committed(kept.id)]).toEqual([false, true])
      expect(commits.size).toBe(0)
    }))

  it.scoped("a synchronous write commits the writes queued before it, in the same order", () =>
    Effect.gen(function*() {
      const { commits, committed, store, sync } = yield* fixture
      const queued = yield* aSession()
      const direct = yield* aSession()
      const fiber = yield* Effect.fork(store.insert(queued, roomy))
      yield* Effect.yieldNow()
      expect(commits.size).toBe(1)
      expect(Either.isRight(sync.insert(direct, roomy))).toBe(true)
      expect([committed(queued.id), committed(direct.id)]).toEqual([true, true])
      expect(commits.size).toBe(0)
      yield* Fiber.join(fiber)
    }))
})

describe("SqliteStore group commit, killed mid-batch", () => {
  it.scopedLive(
    "SIGKILL while batches are written: every acknowledged write is on disk, none half-applied",
    () =>
      Effect.gen(function*() {
        const file = Path.join(yield* tempDir, "sessions.db")
        const script = Path.join(import.meta.dirname, "..", "reliability", "children", "groupCommit.ts")
        const child = startChild(script, [file])
        const acked = () => child.lines.filter((line) => line["ack"] !== undefined)
        // Killed once a good number of batches have been acknowledged, while the writers are still going.
        yield* Effect.promise(async () => {
          const deadline = Date.now() + 60_000
          while (acked().length < 600 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
        })
        child.process.kill("SIGKILL")
        expect(yield* Effect.promise(() => child.exited)).toBeNull()
        const lines = acked()
        expect(lines.length, child.stderr()).toBeGreaterThanOrEqual(600)
        const db = new Database(file, { readonly: true })
        const rows = new Map(
          (db.prepare("SELECT id, version, data FROM sessions").all() as Array<
            { id: string; version: number; data: string }
          >).map((row) => [row.id, row])
        )
        db.close()
        const missing = lines.filter((line) => {
          const row = rows.get(String(line["id"]))
          return row === undefined || row.version < Number(line["version"])
        })
        expect(missing).toEqual([])
        // Every row written whole: each update wrote its version and its data together.
        for (const row of rows.values()) {
          const data = JSON.parse(row.data) as { writes?: number }
          expect(data.writes).toBe(row.version - 1)
        }
        const report = yield* verify({ database: file })
        expect(report).toMatchObject({ ok: true, countsMatch: true, integrity: ["ok"], corrupt: [] })
        expect(report.rows).toBe(rows.size)
      }),
    90_000
  )
})
