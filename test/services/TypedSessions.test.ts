import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { SessionManager, TypedSessions } from "../../src/index.js"
import { forEachStore } from "../support/stores.js"

class Turn extends Schema.Class<Turn>("Turn")({
  role: Schema.Literal("user", "assistant"),
  text: Schema.String
}) {}

const ChatData = Schema.Struct({
  model: Schema.String,
  turns: Schema.Array(Turn),
  startedAt: Schema.DateFromString
})

forEachStore((store) => {
  describe("typed session data", () => {
    it.effect("data is encoded on write and decoded on read with the caller's schema", () =>
      Effect.gen(function*() {
        const chats = yield* TypedSessions.typed(ChatData)
        const m = yield* SessionManager.SessionManager
        const started = new Date(Date.UTC(2026, 0, 1))
        const s = yield* chats.create({ owner: "alice", data: { model: "m1", turns: [], startedAt: started } })
        expect(s.data.startedAt).toBeInstanceOf(Date)
        expect(s.data.startedAt.getTime()).toBe(started.getTime())
        // The store keeps the encoded (JSON) form.
        expect((yield* m.get(s.id)).data).toEqual({ model: "m1", turns: [], startedAt: "2026-01-01T00:00:00.000Z" })
        const next = yield* chats.update(s.id, {
          ...s.data,
          turns: [new Turn({ role: "user", text: "hello" })]
        }, { expectedVersion: 1 })
        expect(next.data.turns[0]).toBeInstanceOf(Turn)
        const read = yield* chats.get(s.id)
        expect(read.data.turns.map((t) => t.text)).toEqual(["hello"])
        const inWork = yield* chats.withSession(s.id, ({ session }) => Effect.succeed(session.data.model))
        expect(inWork).toBe("m1")
      }).pipe(Effect.provide(store.managerLayer())))

    it.effect("data that does not fit the schema fails InvalidInput on data, on write and on read", () =>
      Effect.gen(function*() {
        const chats = yield* TypedSessions.typed(ChatData)
        const m = yield* SessionManager.SessionManager
        const bad = { model: "m1", turns: [{ role: "robot", text: "?" }], startedAt: new Date(0) } as never
        const refused = yield* Effect.flip(chats.create({ owner: "alice", data: bad }))
        expect(refused).toMatchObject({ _tag: "InvalidInput", field: "data" })
        expect((refused as { reason: string }).reason).toContain("robot")
        // Data written by someone else that no longer fits the schema.
        const raw = yield* m.create({ owner: "alice", data: { model: 7 } })
        expect(yield* Effect.flip(chats.get(raw.id))).toMatchObject({ _tag: "InvalidInput", field: "data" })
        expect(yield* Effect.flip(chats.withSession(raw.id, () => Effect.void))).toMatchObject({
          _tag: "InvalidInput",
          field: "data"
        })
        expect((yield* m.list({ owner: "alice" })).sessions.length).toBe(1)
      }).pipe(Effect.provide(store.managerLayer())))
  })
})
