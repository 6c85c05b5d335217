import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Logger, LogLevel, TestClock } from "effect"
import * as Path from "node:path"
import { maintenance } from "../examples/backup.js"
import { reply } from "../examples/chat-reply.js"
import { program } from "../examples/first-sessions.js"
import { twoNodes } from "../examples/many-nodes.js"
import * as Plain from "../examples/plain-layers.js"
import { onCountedMemory, onMemory, onPostgres, onSqlite } from "../examples/swap-store.js"
import { type InvalidConfig, MemoryStore, SessionManager } from "../src/index.js"
import { freshSchema, testUrl } from "./support/postgres.js"
import { tempDir } from "./support/sqlite.js"

describe("examples", () => {
  it.effect("first-sessions creates, touches, lists and expires a session", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust("4 seconds")
      const ended = yield* Fiber.join(fiber)
      expect(ended).toMatchObject({ status: "expired", endReason: "idle timeout", expiresAt: 3000 })
    }))

  const chat = SessionManager.layer().pipe(Layer.provideMerge(MemoryStore.layer))

  it.effect("chat-reply streams a reply into the conversation inside withSession", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager.SessionManager
      const session = yield* sessions.create({ owner: "alice", data: { turns: [] } })
      const fiber = yield* Effect.fork(
        reply(session.id, "hello there", { timeout: "5 seconds", tokenDelay: "100 millis" })
      )
      yield* TestClock.adjust("1 second")
      const updated = yield* Fiber.join(fiber)
      expect(updated.data.turns).toEqual([
        { role: "user", text: "hello there" },
        { role: "assistant", text: "You said: hello there" }
      ])
      const after = yield* sessions.get(session.id)
      expect(after).toMatchObject({ messageCount: 2, responseTimes: [400] })
    }).pipe(Effect.provide(chat)))

  it.effect("chat-reply gives up at its deadline and writes nothing", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager.SessionManager
      const session = yield* sessions.create({ owner: "alice", data: { turns: [] } })
      const fiber = yield* Effect.fork(
        reply(session.id, "a slow answer", { timeout: "1 second", tokenDelay: "1 second" })
      )
      yield* TestClock.adjust("2 seconds")
      expect(yield* Effect.flip(Fiber.join(fiber))).toMatchObject({ _tag: "OperationTimeout" })
      expect((yield* sessions.get(session.id)).data).toEqual({ turns: [] })
    }).pipe(Effect.provide(chat)))

  it.scoped("backup writes a checked backup, restore checks it (dry run), verify finds the database sound", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const database = Path.join(dir, "sessions.db")
      yield* onSqlite(database)
      const { report, restored, verified } = yield* maintenance(database, Path.join(dir, "backups"))
      expect(report).toMatchObject({ sessions: 1 })
      expect(restored).toMatchObject({ sessions: 1 })
      expect(verified).toMatchObject({ ok: true, rows: 1 })
    }))

  it.scoped("swap-store runs the same app on three store layers", () =>
    Effect.gen(function*() {
      expect((yield* onMemory).data).toEqual({ step: 1 })
      const dir = yield* tempDir
      expect((yield* onSqlite(Path.join(dir, "sessions.db"))).data).toEqual({ step: 1 })
      const calls = { count: 0 }
      expect((yield* onCountedMemory(calls)).data).toEqual({ step: 1 })
      expect(calls.count).toBeGreaterThanOrEqual(3)
    }))

  it.live("swap-store runs the same app on Postgres", () =>
    Effect.scoped(Effect.gen(function*() {
      const session = yield* onPostgres(testUrl, yield* freshSchema)
      expect(session).toMatchObject({ owner: "alice", data: { step: 1 }, version: 2 })
    })))

  it.live("many-nodes: a session created on one node is written and watched from another", () =>
    Effect.scoped(Effect.gen(function*() {
      const outcome = yield* twoNodes(testUrl, yield* freshSchema)
      expect(outcome).toMatchObject({
        updated: { data: { topic: "billing" }, version: 2 },
        clash: "SessionNameTaken",
        events: ["Created", "Updated"]
      })
    })))

  it.scopedLive("plain-layers: each layer built from plain values works, and a bad value fails InvalidConfig", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const onSqlite = yield* Layer.build(Plain.Manager.pipe(Layer.provide(Plain.Sqlite(Path.join(dir, "s.db")))))
      const sessions = Context.get(onSqlite, SessionManager.SessionManager)
      expect((yield* sessions.create({ owner: "alice" })).expiresAt).toBeGreaterThan(0)
      const onPostgres = yield* Layer.build(
        Plain.Manager.pipe(Layer.provide(Plain.Postgres(testUrl, yield* freshSchema)))
      )
      const shared = Context.get(onPostgres, SessionManager.SessionManager)
      const created = yield* shared.create({ owner: "bob" })
      expect(created.expiresAt - created.createdAt).toBe(15 * 60_000)
      const key = { key: Buffer.from("k".repeat(32)), source: { _tag: "Environment" } } as const
      const served = yield* Layer.build(
        Plain.Http(key).pipe(Layer.provide(Plain.Manager), Layer.provide(MemoryStore.layer))
      )
      const address = Context.get(served, HttpServer.HttpServer).address as HttpServer.TcpAddress
      const health = yield* Effect.promise(() => fetch(`http://127.0.0.1:${address.port}/healthz`))
      expect(health.status).toBe(200)
      const broken = yield* Effect.flip(Layer.build(Plain.Broken))
      expect(broken).toMatchObject({ _tag: "InvalidConfig" })
      expect((broken as InvalidConfig).issues.map((issue) => issue.field)).toEqual(["busyTimeout", "maxPendingTouches"])
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))
})
