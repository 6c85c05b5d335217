import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Option, Stream } from "effect"
import { SessionManager } from "../../src/index.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("expiry is exact for every observer, with no sweep", () => {
    const layer = () =>
      store.managerLayer({ maxSessions: 2, maxSessionsPerOwner: 2, idleTimeout: "1m", sweepInterval: "1h" })

    it.effect("at its expiresAt a session reads as expired and frees its name and its capacity slot", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const first = yield* m.create({ owner: "alice", name: "chat" })
        const second = yield* m.create({ owner: "alice" })
        yield* m.activate("alice", first.id)
        expect(yield* Effect.flip(m.create({ owner: "alice", name: "other" }))).toMatchObject({
          _tag: "CapacityExceeded"
        })
        const events = yield* Effect.fork(Stream.runCollect(Stream.take(m.events(), 4)))
        yield* adjust("1 minute")
        expect(yield* m.get(first.id)).toMatchObject({ status: "expired", endReason: "idle timeout", endedAt: 60_000 })
        expect((yield* m.list({ owner: "alice", status: "active" })).sessions).toEqual([])
        expect((yield* m.list({ owner: "alice", status: "expired" })).sessions.map((s) => s.id).sort()).toEqual(
          [first.id, second.id].sort()
        )
        expect(Option.isNone(yield* m.active("alice"))).toBe(true)
        // The same name again, and a second one, in spite of the owner limit of 2: both expired ones make room.
        const again = yield* m.create({ owner: "alice", name: "chat" })
        yield* m.create({ owner: "alice" })
        expect(again.name).toBe("chat")
        // Each expiry an insert records is published like a sweep's.
        const published = Chunk.toReadonlyArray(yield* Fiber.join(events))
        expect(published.map((e) => e._tag)).toEqual(["Expired", "Created", "Expired", "Created"])
        const expired = published.filter((e) => e._tag === "Expired")
        expect(expired.map((e) => "id" in e && e.id).sort()).toEqual([first.id, second.id].sort())
        expect((yield* m.stats).counts).toMatchObject({ active: 2, expired: 2 })
      }).pipe(Effect.provide(layer())))
  })
})
