import { describe, expect, it } from "@effect/vitest"
import { Chunk, ConfigProvider, Duration, Effect, Fiber, Layer, Option, Stream, Tracer } from "effect"
import { MemoryStore, SessionManager } from "../../src/index.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("SessionManager: creating and reading", () => {
    it.effect("creates an active session with validated input and the configured limits", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "alice", name: "support", kind: "chat", data: { topic: "billing" } })
        expect(s).toMatchObject({
          owner: "alice",
          name: "support",
          kind: "chat",
          status: "active",
          version: 1,
          data: { topic: "billing" },
          expiresAt: 15 * 60_000,
          idleTimeout: 15 * 60_000,
          maxLifetime: 24 * 3_600_000
        })
        expect(yield* m.get(s.id)).toEqual(s)
        const custom = yield* m.create({ owner: "alice", idleTimeout: "1 hour", maxLifetime: Duration.hours(2) })
        expect(custom).toMatchObject({ kind: "default", name: null, data: {}, expiresAt: 3_600_000 })
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("refuses bad input with InvalidInput naming the field", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const field = (effect: Effect.Effect<unknown, { readonly _tag: string }>) =>
          Effect.map(Effect.flip(effect), (e) => [e._tag, (e as { field?: string }).field])
        expect(yield* field(m.create({ owner: "" }))).toEqual(["InvalidInput", "owner"])
        expect(yield* field(m.create({ owner: "a", name: "no spaces" }))).toEqual(["InvalidInput", "name"])
        expect(yield* field(m.create({ owner: "a", kind: " x" }))).toEqual(["InvalidInput", "kind"])
        expect(yield* field(m.create({ owner: "a", data: "x".repeat(70_000) }))).toEqual(["InvalidInput", "data"])
        expect(yield* field(m.create({ owner: "a", data: () => 1 }))).toEqual(["InvalidInput", "data"])
        expect(yield* field(m.create({ owner: "a", idleTimeout: -5 }))).toEqual(["InvalidInput", "idleTimeout"])
        expect(yield* field(m.get("not-an-id"))).toEqual(["InvalidInput", "id"])
        expect(yield* field(m.list({ limit: 0 }))).toEqual(["InvalidInput", "limit"])
        expect(yield* field(m.list({ status: "paused" as never }))).toEqual(["InvalidInput", "status"])
        expect(yield* field(m.list({ after: "zzz" }))).toEqual(["InvalidInput", "cursor"])
        const s = yield* m.create({ owner: "a" })
        expect(yield* field(m.recordActivity(s.id, { messages: -1 }))).toEqual(["InvalidInput", "messages"])
        expect(yield* field(m.recordActivity(s.id, { responseTime: "soon" as never }))).toEqual([
          "InvalidInput",
          "responseTime"
        ])
        expect(yield* field(m.update(s.id, 1, { expectedVersion: 0 }))).toEqual(["InvalidInput", "expectedVersion"])
        expect(yield* field(m.close(s.id, { reason: "" }))).toEqual(["InvalidInput", "reason"])
        expect((yield* m.get(s.id)).version).toBe(1)
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("data is stored exactly as given, refused with its path when not plain JSON, and limited to maxDataBytes", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const refused = (data: unknown) => Effect.flip(m.create({ owner: "a", data }))
        expect(yield* refused({ when: new Date(0) })).toMatchObject({ _tag: "InvalidInput", field: "data.when" })
        expect(yield* refused({ skip: undefined })).toMatchObject({ field: "data.skip", reason: /undefined/ })
        expect(yield* refused({ list: [1, undefined] })).toMatchObject({ field: "data.list[1]" })
        expect(yield* refused({ n: Number.NaN })).toMatchObject({ field: "data.n", reason: /NaN/ })
        expect(yield* refused([new Map()])).toMatchObject({ field: "data[0]", reason: /a Map/ })
        const kept = { when: "1970-01-01T00:00:00.000Z", list: [1, null], nested: { "a key": [true, 2.5] } }
        const s = yield* m.create({ owner: "a", data: kept })
        expect(s.data).toStrictEqual(kept)
        expect((yield* m.get(s.id)).data).toStrictEqual(kept)
        // 10 bytes limit: "\"ééé\"" is 8 bytes, "\"éééé\"" is 10, "\"ééééé\"" is 12.
        const small = yield* Effect.provide(
          Effect.flatMap(Manager, (m2) =>
            Effect.all([
              Effect.either(m2.create({ owner: "a", data: "éééé" })),
              Effect.either(m2.create({ owner: "a", data: "ééééé" }))
            ])),
          store.managerLayer({ maxDataBytes: 10 })
        )
        expect(small[0]._tag).toBe("Right")
        expect(small[1]).toMatchObject({ _tag: "Left", left: { _tag: "InvalidInput", reason: "is 12 bytes of JSON" } })
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("an owner scope hides other owners' sessions exactly like missing ones", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "alice" })
        const asBob = { owner: "bob" }
        const calls: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          m.get(s.id, asBob),
          m.touch(s.id, asBob),
          m.recordActivity(s.id, { messages: 1 }, asBob),
          m.wait(s.id, asBob),
          m.update(s.id, "x", asBob),
          m.close(s.id, asBob),
          m.activate("bob", s.id),
          m.withSession(s.id, () => Effect.void, asBob)
        ]
        for (const call of calls) {
          expect(yield* Effect.flip(call)).toMatchObject({ _tag: "SessionNotFound", id: s.id })
        }
        const untouched = yield* m.get(s.id, { owner: "alice" })
        expect(untouched).toMatchObject({ status: "active", version: 1, lastActiveAt: 0, data: {} })
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("lists with filters and cursors; listWaiting finds sessions blocked on input", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const ids: Array<string> = []
        for (let i = 0; i < 7; i++) {
          ids.push((yield* m.create({ owner: i % 2 === 0 ? "alice" : "bob", kind: "chat" })).id)
        }
        yield* m.wait(ids[2]!)
        yield* m.wait(ids[3]!)
        const first = yield* m.list({ owner: "alice", limit: 2 })
        const second = yield* m.list({ owner: "alice", limit: 2, after: first.next! })
        expect([...first.sessions, ...second.sessions].map((s) => s.id)).toEqual([ids[0], ids[2], ids[4], ids[6]])
        expect(second.next).toBeNull()
        expect((yield* m.listWaiting()).sessions.map((s) => s.id)).toEqual([ids[2], ids[3]])
        expect((yield* m.listWaiting({ owner: "bob" })).sessions.map((s) => s.id)).toEqual([ids[3]])
      }).pipe(Effect.provide(store.managerLayer())))
  })

  describe("SessionManager: activity and lifecycle", () => {
    it.effect("touch moves expiry out without a write; recordActivity keeps a bounded window", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        yield* adjust("10 minutes")
        const touched = yield* m.touch(s.id)
        expect(touched).toMatchObject({ lastActiveAt: 600_000, expiresAt: 1_500_000, version: 1 })
        for (let i = 1; i <= 4; i++) yield* m.recordActivity(s.id, { messages: 2, responseTime: `${i * 100} millis` })
        const after = yield* m.get(s.id)
        expect(after.messageCount).toBe(8)
        expect(after.responseTimes).toEqual([200, 300, 400])
        expect(after.version).toBe(1)
      }).pipe(Effect.provide(store.managerLayer({ responseTimeWindow: 3 }))))

    it.effect("wait, resume and close follow the transition table; an ended session refuses everything", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a", name: "n" })
        expect(yield* Effect.flip(m.resume(s.id))).toMatchObject({ _tag: "InvalidTransition", from: "active" })
        expect((yield* m.wait(s.id)).status).toBe("waiting")
        expect(yield* Effect.flip(m.wait(s.id))).toMatchObject({ _tag: "InvalidTransition", from: "waiting" })
        expect((yield* m.resume(s.id)).status).toBe("active")
        const closed = yield* m.close(s.id, { reason: "user left" })
        expect(closed).toMatchObject({ status: "closed", endReason: "user left", version: 4 })
        const calls: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          m.touch(s.id),
          m.wait(s.id),
          m.update(s.id, 1),
          m.close(s.id),
          m.activate("a", s.id)
        ]
        for (const call of calls) {
          expect(yield* Effect.flip(call)).toMatchObject({ _tag: "SessionEnded", status: "closed" })
        }
        expect((yield* m.get(s.id)).status).toBe("closed")
        // The name is free again once the session has ended.
        yield* m.create({ owner: "a", name: "n" })
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("update with an expected version: one writer wins, the other gets VersionConflict", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a", data: { n: 0 } })
        const [a, b] = yield* Effect.all([
          Effect.either(m.update(s.id, { n: 1 }, { expectedVersion: 1 })),
          Effect.either(m.update(s.id, { n: 2 }, { expectedVersion: 1 }))
        ], { concurrency: 2 })
        expect([a._tag, b._tag].sort()).toEqual(["Left", "Right"])
        const loser = a._tag === "Left" ? a.left : b._tag === "Left" ? b.left : undefined
        expect(loser).toMatchObject({ _tag: "VersionConflict", expected: 1, actual: 2 })
        expect((yield* m.update(s.id, { n: 3 })).version).toBe(3)
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("a session past its expiresAt is expired by the next call on it, not revived", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        yield* adjust(Duration.millis(15 * 60_000 - 1))
        yield* m.touch(s.id)
        yield* adjust("15 minutes")
        expect(yield* Effect.flip(m.touch(s.id))).toMatchObject({ _tag: "SessionEnded", status: "expired" })
        expect(yield* m.get(s.id)).toMatchObject({ status: "expired", endReason: "idle timeout" })
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }))))

    it.effect("activate switches the owner's active session; active reads it", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const a = yield* m.create({ owner: "alice" })
        const b = yield* m.create({ owner: "alice" })
        expect(Option.isNone(yield* m.active("alice"))).toBe(true)
        yield* m.activate("alice", a.id)
        yield* adjust("1 second")
        const switched = yield* m.activate("alice", b.id)
        expect(switched).toMatchObject({ id: b.id, lastActiveAt: 1000 })
        expect(Option.getOrThrow(yield* m.active("alice")).id).toBe(b.id)
        yield* m.close(b.id)
        expect(Option.isNone(yield* m.active("alice"))).toBe(true)
      }).pipe(Effect.provide(store.managerLayer())))
  })

  describe("SessionManager: capacity", () => {
    it.effect("reject fails CapacityExceeded with the scope and limit", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        yield* m.create({ owner: "a" })
        yield* m.create({ owner: "a" })
        expect(yield* Effect.flip(m.create({ owner: "a" }))).toMatchObject({
          _tag: "CapacityExceeded",
          scope: "owner",
          limit: 2
        })
        yield* m.create({ owner: "b" })
        expect(yield* Effect.flip(m.create({ owner: "c" }))).toMatchObject({ scope: "global", limit: 3 })
      }).pipe(Effect.provide(store.managerLayer({ maxSessions: 3, maxSessionsPerOwner: 2 }))))

    it.effect("evict-lru ends the least recently active idle session, with an event, never one in use", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const busy = yield* m.create({ owner: "a" })
        yield* adjust("1 second")
        const idle = yield* m.create({ owner: "b" })
        yield* adjust("1 second")
        // busy is the least recently active, but it has work in flight when the next create needs room.
        const work = yield* Effect.fork(m.withSession(busy.id, () => Effect.sleep("1 minute")))
        yield* adjust("1 second")
        const fresh = yield* m.create({ owner: "c" })
        expect((yield* m.get(idle.id)).status).toBe("evicted")
        expect((yield* m.get(busy.id)).status).toBe("active")
        expect((yield* m.get(fresh.id)).status).toBe("active")
        const { events } = yield* m.stats
        const log = yield* Stream.runCollect(Stream.take(m.events(0), events.lastSeq))
        const evicted = Chunk.toArray(log).filter((e) => e._tag === "Evicted")
        expect(evicted).toMatchObject([{ id: idle.id, from: "active", reason: "evicted: capacity" }])
        // With every live session in use, there is nothing to evict.
        const other = yield* Effect.fork(m.withSession(fresh.id, () => Effect.sleep("1 minute")))
        yield* adjust("1 second")
        expect(yield* Effect.flip(m.create({ owner: "d" }))).toMatchObject({
          _tag: "CapacityExceeded",
          scope: "global"
        })
        yield* adjust("1 minute")
        yield* Fiber.join(work)
        yield* Fiber.join(other)
      }).pipe(
        Effect.provide(store.managerLayer({ maxSessions: 2, maxSessionsPerOwner: 2, capacityPolicy: "evict-lru" }))
      ))
  })

  describe("SessionManager: stats and tracing", () => {
    it.effect("stats counts by status; ownerStats one owner's sessions", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const a = yield* m.create({ owner: "alice" })
        yield* m.create({ owner: "alice" })
        yield* m.create({ owner: "bob" })
        yield* m.close(a.id)
        const stats = yield* m.stats
        expect(stats).toMatchObject({ counts: { active: 2, closed: 1 }, live: 2, inFlight: 0, locksHeld: 0 })
        expect(yield* m.ownerStats("alice")).toEqual({ active: 1, waiting: 0, closed: 1, expired: 0, evicted: 0 })
        expect(yield* Effect.flip(m.ownerStats(""))).toMatchObject({ _tag: "InvalidInput", field: "owner" })
      }).pipe(Effect.provide(store.managerLayer())))

    const spansOf = (tracing: boolean) =>
      Effect.gen(function*() {
        const spans: Array<string> = []
        const native = yield* Effect.tracer
        const tracer = Tracer.make({
          span: (name, parent, context, links, startTime, kind, options) => {
            spans.push(name)
            return native.span(name, parent, context, links, startTime, kind, options)
          },
          context: (f) => f()
        })
        yield* Effect.gen(function*() {
          const m = yield* Manager
          const s = yield* m.create({ owner: "a" })
          yield* m.get(s.id)
          yield* m.withSession(s.id, () => Effect.void)
        }).pipe(Effect.provide(store.managerLayer({}, { tracing })), Effect.withTracer(tracer))
        return spans
      })

    it.effect("with tracing on, every public call is a span; off, only withSession is", () =>
      Effect.gen(function*() {
        const on = yield* spansOf(true)
        expect(on).toEqual(
          expect.arrayContaining(["SessionManager.create", "SessionManager.get", "SessionManager.withSession"])
        )
        const off = yield* spansOf(false)
        expect(off.filter((name) => name.startsWith("SessionManager."))).toEqual(["SessionManager.withSession"])
      }))
  })

  describe("SessionManager.layerConfig", () => {
    it.effect("reads the configuration from SESSIONS_* variables", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        expect(s.expiresAt).toBe(5 * 60_000)
      }).pipe(
        Effect.provide(SessionManager.layerConfig().pipe(Layer.provide(MemoryStore.layer))),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SESSIONS_IDLE_TIMEOUT", "5m"]])))
      ))

    it.effect("fails InvalidConfig naming every bad variable", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Effect.scoped(Layer.build(SessionManager.layerConfig().pipe(Layer.provide(MemoryStore.layer))))
        )
        expect(error).toMatchObject({ _tag: "InvalidConfig" })
        expect((error as { issues: ReadonlyArray<{ field: string }> }).issues.map((i) => i.field)).toEqual([
          "SESSIONS_IDLE_TIMEOUT",
          "SESSIONS_MAX_SESSIONS"
        ])
      }).pipe(
        Effect.withConfigProvider(
          ConfigProvider.fromMap(new Map([["SESSIONS_IDLE_TIMEOUT", "5x"], ["SESSIONS_MAX_SESSIONS", "-1"]]))
        )
      ))
  })
})
