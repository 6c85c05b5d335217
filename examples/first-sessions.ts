/**
 * A first embedding of effect-sessions: the manager over the in-memory store with a short idle timeout, and the four
 * things every session service does (create, touch, list, expire). `test/examples.test.ts` runs `program` under
 * `TestClock`, so the idle seconds pass instantly; in an app it runs on the real clock.
 */
import { Console, Effect, Layer } from "effect"
import { makeConfig, MemoryStore, SessionManager } from "effect-sessions"

/** The manager's configuration: defaults, except a 2 second idle timeout and a sweep every second. */
const config = makeConfig({ idleTimeout: "2s", sweepInterval: "1s" })

/** The manager, over a fresh in-memory store. */
export const SessionsLive = Layer.unwrapEffect(
  Effect.map(config, (config) => SessionManager.layer(config).pipe(Layer.provide(MemoryStore.layer)))
)

export const program = Effect.gen(function*() {
  const sessions = yield* SessionManager.SessionManager

  // Create: input is validated (InvalidInput names the field and what is allowed); names are unique per owner.
  const session = yield* sessions.create({
    owner: "alice",
    name: "support-chat",
    kind: "chat",
    data: { topic: "billing" }
  })

  // Touch: one second later the session is used again, so it now expires two seconds after that.
  yield* Effect.sleep("1 second")
  const touched = yield* sessions.touch(session.id)
  yield* Console.log(`touched: expires ${touched.expiresAt - touched.createdAt}ms after creation`)

  // List: filtered, with keyset pagination.
  const page = yield* sessions.list({ owner: "alice", limit: 10 })
  yield* Console.log(`alice has ${page.sessions.length} session(s)`)

  // Expire: two idle seconds later the sweeper has ended it; the tombstone says why.
  yield* Effect.sleep("2 seconds")
  const ended = yield* sessions.get(session.id)
  yield* Console.log(`${ended.id} is ${ended.status} (${ended.endReason})`)
  return ended
}).pipe(Effect.provide(SessionsLive))
