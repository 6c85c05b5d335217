import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { SessionManager, SessionStore } from "../../src/index.js"
import { Faults } from "../support/FaultyStore.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("regenerate", () => {
    it.effect("moves the session to a new id: the old one is gone, the rest stays, and it is published", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "alice", name: "chat", data: { step: 1 } })
        yield* m.update(s.id, { step: 2 })
        yield* m.activate("alice", s.id)
        const before = yield* m.get(s.id)
        const seen = yield* Effect.fork(Stream.runCollect(Stream.take(m.events(), 1)))
        yield* adjust("1 second")
        const fresh = yield* m.regenerate(s.id, { owner: "alice" })
        expect(fresh.id).not.toBe(s.id)
        expect(fresh.id).toMatch(/^[A-Za-z0-9_-]{22}$/)
        expect(fresh).toEqual({ ...before, id: fresh.id })
        expect(yield* Effect.flip(m.get(s.id))).toMatchObject({ _tag: "SessionNotFound", id: s.id })
        expect(yield* Effect.flip(m.touch(s.id))).toMatchObject({ _tag: "SessionNotFound" })
        expect(yield* Effect.flip(m.close(s.id))).toMatchObject({ _tag: "SessionNotFound" })
        expect(yield* m.get(fresh.id)).toEqual(fresh)
        expect(Option.getOrThrow(yield* m.active("alice")).id).toBe(fresh.id)
        expect((yield* m.list({ owner: "alice" })).sessions.map((x) => x.id)).toEqual([fresh.id])
        expect((yield* m.stats).counts.active).toBe(1)
        const [event] = Chunk.toArray(yield* Fiber.join(seen))
        expect(event).toMatchObject({ _tag: "Regenerated", id: fresh.id, previous: s.id, owner: "alice", at: 1000 })
        // The new id works like any other: writes with the version the session had.
        expect((yield* m.update(fresh.id, { step: 3 }, { expectedVersion: before.version })).version).toBe(3)
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }))))

    it.effect("is scoped to the owner, refuses ended sessions, and expires one past its expiresAt", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "alice" })
        expect(yield* Effect.flip(m.regenerate(s.id, { owner: "bob" }))).toMatchObject({ _tag: "SessionNotFound" })
        expect(yield* Effect.flip(m.regenerate("not an id"))).toMatchObject({ _tag: "InvalidInput", field: "id" })
        const closed = yield* m.create({ owner: "alice" })
        yield* m.close(closed.id)
        expect(yield* Effect.flip(m.regenerate(closed.id))).toMatchObject({ _tag: "SessionEnded", status: "closed" })
        yield* adjust("16 minutes")
        expect(yield* Effect.flip(m.regenerate(s.id))).toMatchObject({ _tag: "SessionEnded", status: "expired" })
        expect((yield* m.get(s.id)).status).toBe("expired")
        expect((yield* m.stats).counts).toMatchObject({ active: 0, closed: 1, expired: 1 })
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }))))

    it.effect("inside withSession on the same session it fails InvalidInput and changes nothing", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "alice" })
        const other = yield* m.create({ owner: "alice" })
        const [refused, moved] = yield* m.withSession(
          s.id,
          () => Effect.all([Effect.flip(m.regenerate(s.id)), m.regenerate(other.id)])
        )
        expect(refused).toMatchObject({ _tag: "InvalidInput", field: "id" })
        expect(refused.message).toContain("withSession")
        expect(moved.id).not.toBe(other.id)
        expect((yield* m.get(s.id)).status).toBe("active")
        expect(yield* (yield* SessionStore).leases).toEqual([])
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }))))

    it.effect("waits for the session's permit, and fails SessionBusy after lockTimeout", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "alice" })
        const work = yield* Effect.fork(m.withSession(s.id, () => Effect.sleep("10 seconds")))
        yield* adjust("10 millis")
        const call = yield* Effect.fork(m.regenerate(s.id))
        yield* adjust("1 second")
        expect(yield* Effect.flip(Fiber.join(call))).toMatchObject({ _tag: "SessionBusy", id: s.id })
        // A call that starts waiting less than lockTimeout before the work ends gets the permit then.
        yield* adjust("8500 millis")
        const waiting = yield* Effect.fork(m.regenerate(s.id))
        yield* adjust("1 second")
        yield* Fiber.join(work)
        const fresh = yield* Fiber.join(waiting)
        expect(fresh.id).not.toBe(s.id)
        expect(yield* Effect.flip(m.get(s.id))).toMatchObject({ _tag: "SessionNotFound" })
      }).pipe(Effect.provide(store.managerLayer({ lockTimeout: "1 second", sweepInterval: "1h" }))))

    it.effect("a retry after a call that landed but answered too late makes no second id", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const faults = yield* Faults
        const s = yield* m.create({ owner: "alice", name: "once" })
        faults.inject("regenerate", { _tag: "late", delay: "10 seconds" })
        const call = yield* Effect.fork(m.regenerate(s.id, { owner: "alice" }))
        yield* adjust("6 seconds")
        const fresh = yield* Fiber.join(call)
        expect(faults.calls("regenerate").length).toBe(2)
        const stored = (yield* faults.unwrapped.list({ limit: 10 })).sessions
        expect(stored.map((x) => x.id)).toEqual([fresh.id])
        expect(stored[0]).toMatchObject({ name: "once", owner: "alice", status: "active" })
      }).pipe(Effect.provide(store.faultyManagerLayer({ storeTimeout: "5s", sweepInterval: "1h" }))))

    it.effect("is rate-limited like every call on a session", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "alice" })
        yield* m.get(s.id)
        yield* m.get(s.id)
        expect(yield* Effect.flip(m.regenerate(s.id))).toMatchObject({ _tag: "RateLimited", key: `session:${s.id}` })
        expect((yield* m.get(s.id).pipe(Effect.flip))._tag).toBe("RateLimited")
      }).pipe(Effect.provide(store.managerLayer({ sessionRateLimit: "2/1m", sweepInterval: "1h" }))))
  })
})
