import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope, TestClock } from "effect"
import * as Path from "node:path"
import { SessionManager } from "../../src/index.js"
import { SqliteStore } from "../../src/sqlite.js"
import { config } from "../support/manager.js"
import { tempDir } from "../support/sqlite.js"

const Manager = SessionManager.SessionManager

const start = (file: string, input: Parameters<typeof config>[0] = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = SessionManager.layer(config(input)).pipe(Layer.provide(SqliteStore.layer({ filename: file })))
    const context = yield* Layer.buildWithScope(layer, scope)
    return { manager: context.unsafeMap.get(Manager.key) as SessionManager.SessionManagerShape, scope }
  })

describe("SessionManager over SQLite", () => {
  it.scoped("sessions, their data and their tombstones survive a restart", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "sessions.db")
      const first = yield* start(file)
      const kept = yield* first.manager.create({ owner: "alice", name: "kept", data: { step: 1 } })
      yield* first.manager.update(kept.id, { step: 2 })
      yield* first.manager.recordActivity(kept.id, { messages: 3, responseTime: "250 millis" })
      const gone = yield* first.manager.create({ owner: "alice" })
      yield* first.manager.close(gone.id, { reason: "done" })
      yield* first.manager.activate("alice", kept.id)
      yield* Scope.close(first.scope, Exit.void)
      const second = yield* start(file)
      expect(yield* second.manager.get(kept.id)).toMatchObject({
        name: "kept",
        data: { step: 2 },
        version: 2,
        messageCount: 3,
        responseTimes: [250]
      })
      expect(yield* second.manager.get(gone.id)).toMatchObject({ status: "closed", endReason: "done" })
      expect((yield* second.manager.active("alice")).pipe((a) => a._tag === "Some" && a.value.id)).toBe(kept.id)
      expect((yield* second.manager.stats).counts).toMatchObject({ active: 1, closed: 1 })
      yield* Scope.close(second.scope, Exit.void)
    }))

  it.scoped("the sweeper expires on time with buffered activity, and withSession keeps a session alive", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "sessions.db")
      const { manager: m } = yield* start(file, { sweepInterval: "30s", touchCoalesce: "10s" })
      const idle = yield* m.create({ owner: "a" })
      const touched = yield* m.create({ owner: "b" })
      const busy = yield* m.create({ owner: "c" })
      yield* TestClock.adjust("10 minutes")
      yield* m.touch(touched.id)
      const work = yield* Effect.fork(m.withSession(busy.id, () => Effect.sleep("20 minutes"), { timeout: "1 hour" }))
      yield* TestClock.adjust("5 minutes")
      expect((yield* m.get(idle.id)).status).toBe("expired")
      expect((yield* m.get(touched.id)).status).toBe("active")
      expect((yield* m.get(busy.id)).status).toBe("active")
      yield* TestClock.adjust("15 minutes")
      yield* Fiber.join(work)
      expect((yield* m.get(touched.id)).status).toBe("expired")
      expect((yield* m.get(busy.id)).status).toBe("active")
    }))

  it.scoped("compare-and-set and fencing hold on the file", () =>
    Effect.gen(function*() {
      const file = Path.join(yield* tempDir, "sessions.db")
      const { manager: m } = yield* start(file)
      const s = yield* m.create({ owner: "a", data: 0 })
      const results = yield* Effect.all(
        [1, 2, 3].map((n) => Effect.either(m.update(s.id, n, { expectedVersion: 1 }))),
        { concurrency: "unbounded" }
      )
      expect(results.filter((r) => r._tag === "Right").length).toBe(1)
      expect(results.filter((r) => r._tag === "Left").map((r) => r._tag === "Left" && r.left._tag)).toEqual([
        "VersionConflict",
        "VersionConflict"
      ])
    }))
})
