/**
 * A first embedding of effect-sessions: the manager over the in-memory store with a short idle timeout, and the four
 * things every session service does (create, touch, list, expire). `test/examples.test.ts` runs `program` under
 * `TestClock`, so the idle seconds pass instantly; in an app it runs on the real clock. The README quotes it.
 */
import { Console, Effect, Layer } from "effect"
import { MemoryStore, SessionManager } from "effect-sessions"

// The manager over a fresh in-memory store; every setting but the idle timeout keeps its default. Plain values are
// validated as the environment is: a bad one fails the layer with InvalidConfig naming every bad field.
export const Sessions = SessionManager.layer({ idleTimeout: "2s" }).pipe(Layer.provide(MemoryStore.layer))

export const program = Effect.gen(function*() {
  const sessions = yield* SessionManager.SessionManager
  // Validated input (InvalidInput names the field); names are unique per owner among live sessions.
  const session = yield* sessions.create({ owner: "alice", name: "support-chat", data: { topic: "billing" } })
  yield* Effect.sleep("1 second")
  const touched = yield* sessions.touch(session.id) // activity: expiry moves out; never a data write
  yield* Console.log(`touched: expires ${touched.expiresAt - touched.createdAt}ms after creation`)
  const page = yield* sessions.list({ owner: "alice", limit: 10 }) // filtered, keyset pagination
  yield* Console.log(`alice has ${page.sessions.length} session(s)`)
  yield* Effect.sleep("2 seconds")
  // Expired exactly at its expiresAt, whether or not the sweeper (every 30s by default) has run: the tombstone says why.
  const ended = yield* sessions.get(session.id)
  yield* Console.log(`${ended.id} is ${ended.status} (${ended.endReason})`)
  return ended
}).pipe(Effect.provide(Sessions))
