// examples/many-nodes.ts
import { Chunk, Effect, Layer, Stream } from "effect"
import { makeConfig, SessionManager } from "effect-sessions"
import { PostgresStore } from "effect-sessions/postgres"

// One node of a service: a manager over the shared Postgres database. Every node runs the same layer.
export const node = (url: string, schema: string) =>
  Layer.unwrapEffect(
    Effect.map(
      makeConfig({ idleTimeout: "15m", maxSessions: 100_000 }),
      (config) => SessionManager.layer(config).pipe(Layer.provide(PostgresStore.layer({ url, schema })))
    )
  )

// Two nodes, as two processes would be: a session created on one is read, written and watched from the other.
export const twoNodes = (url: string, schema: string) =>
  Effect.scoped(Effect.gen(function*() {
    const tag = SessionManager.SessionManager
    const a = (yield* Layer.build(node(url, schema))).unsafeMap.get(tag.key) as SessionManager.SessionManager["Type"]
    const b = (yield* Layer.build(node(url, schema))).unsafeMap.get(tag.key) as SessionManager.SessionManager["Type"]
    // Events of every node reach subscribers on every node, numbered alike (so Last-Event-ID resumes anywhere).
    const watched = yield* Effect.fork(Stream.runCollect(Stream.take(b.events(), 2)))
    yield* Effect.sleep("200 millis")
    const session = yield* a.create({ owner: "alice", name: "support-chat" })
    const updated = yield* b.update(session.id, { topic: "billing" }, { expectedVersion: 1 })
    // Names, capacity and one active session per owner hold across nodes: the database enforces them.
    const clash = yield* Effect.flip(b.create({ owner: "alice", name: "support-chat" }))
    const events = Chunk.toArray(yield* watched).map((item) => item._tag)
    return { updated, clash: clash._tag, events }
  }))
