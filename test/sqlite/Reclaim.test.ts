import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect, Exit, Layer, Scope, TestClock } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { SessionManager } from "../../src/index.js"
import { SqliteStore } from "../../src/sqlite.js"
import { config } from "../support/manager.js"
import { tempDir } from "../support/sqlite.js"

const Manager = SessionManager.SessionManager

/** The bytes the database takes on disk: the file and its WAL. */
const onDisk = (file: string) =>
  [file, `${file}-wal`].reduce((total, path) => total + (Fs.existsSync(path) ? Fs.statSync(path).size : 0), 0)

describe("SQLite gives space back after large purges", () => {
  it.scoped(
    "after every session ended and was purged, the file and its WAL shrink to a small fraction",
    () =>
      Effect.gen(function*() {
        const file = Path.join(yield* tempDir, "sessions.db")
        const scope = yield* Scope.make()
        const layer = SessionManager.layer(
          config({ retention: "1m", sweepBatch: 1000, maxSessions: 100_000, maxSessionsPerOwner: 100_000 }),
          { sweeper: false }
        ).pipe(Layer.provide(SqliteStore.layer({ filename: file })))
        const context = yield* Layer.buildWithScope(layer, scope)
        const m = context.unsafeMap.get(Manager.key) as SessionManager.SessionManagerShape
        const data = { notes: "x".repeat(1000) }
        const ids: Array<string> = []
        for (let i = 0; i < 8000; i++) ids.push((yield* m.create({ owner: `owner-${i % 50}`, data })).id)
        for (const id of ids) yield* m.close(id)
        const peak = onDisk(file)
        expect(peak).toBeGreaterThan(8_000_000)
        yield* TestClock.adjust("2 minutes")
        let purged = 0
        for (let round = 0; round < 20 && purged < ids.length; round++) purged += (yield* m.sweep).purged
        expect(purged).toBe(ids.length)
        const after = onDisk(file)
        expect(after).toBeLessThan(peak / 10)
        yield* Scope.close(scope, Exit.void)
        // The file is whole, and a new session still goes in.
        const db = new Database(file)
        expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
        expect(db.pragma("auto_vacuum", { simple: true })).toBe(2)
        db.close()
      }),
    120_000
  )

  it.scoped("a database made without incremental vacuum is converted once when opened, its sessions kept", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "old.db")
      const open = Effect.gen(function*() {
        const scope = yield* Scope.make()
        const layer = SessionManager.layer(config(), { sweeper: false }).pipe(
          Layer.provide(SqliteStore.layer({ filename: file }))
        )
        const context = yield* Layer.buildWithScope(layer, scope)
        return { m: context.unsafeMap.get(Manager.key) as SessionManager.SessionManagerShape, scope }
      })
      const first = yield* open
      const kept = yield* first.m.create({ owner: "alice", data: { kept: true } })
      yield* Scope.close(first.scope, Exit.void)
      // As an earlier version left it: no auto_vacuum.
      const old = new Database(file)
      old.pragma("auto_vacuum = NONE")
      old.exec("VACUUM")
      expect(old.pragma("auto_vacuum", { simple: true })).toBe(0)
      old.close()
      const second = yield* open
      expect(yield* second.m.get(kept.id)).toMatchObject({ data: { kept: true }, status: "active" })
      yield* Scope.close(second.scope, Exit.void)
      const db = new Database(file)
      expect(db.pragma("auto_vacuum", { simple: true })).toBe(2)
      expect(db.pragma("integrity_check", { simple: true })).toBe("ok")
      db.close()
    }))
})
