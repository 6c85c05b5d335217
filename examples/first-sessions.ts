/**
 * A first embedding of effect-sessions: the in-memory store, a short idle timeout, and the four things every session
 * service does (create, touch, list, expire). Run `program` in any Effect app; the test in `test/examples.test.ts`
 * runs it under `TestClock`, so the two seconds of idleness pass instantly.
 */
import { Console, Duration, Effect } from "effect"
import {
  currentEpochMillis,
  expiryPolicy,
  makeConfig,
  makeSessionId,
  MemoryStore,
  newSession,
  SessionStore,
  validateOwnerId,
  validateSessionKind,
  validateSessionName
} from "effect-sessions"

export const program = Effect.gen(function*() {
  // Settings are validated as a whole: a typo or a bad value fails with every problem listed.
  const config = yield* makeConfig({ idleTimeout: "2s", maxLifetime: "1h" })
  const policy = expiryPolicy(config)
  const store = yield* SessionStore

  // Create: input is validated (InvalidInput names the field and what is allowed), names are unique per owner.
  const now = yield* currentEpochMillis
  const session = newSession({
    id: makeSessionId(),
    owner: yield* validateOwnerId("alice"),
    name: yield* validateSessionName("support-chat"),
    kind: yield* validateSessionKind("chat"),
    data: { topic: "billing" },
    now,
    policy
  })
  // Capacity limits and policy come from the configuration.
  yield* store.insert(session, config)

  // Touch: one second later the session is used again, so its idle deadline moves out.
  yield* Effect.sleep("1 second")
  const touched = yield* store.touch(session.id)
  yield* Console.log(`touched: expires at +${touched.session.expiresAt - now}ms`)

  // List: keyset pagination, filtered by owner.
  const page = yield* store.list({ owner: session.owner, limit: 10 })
  yield* Console.log(`alice has ${page.sessions.length} session(s)`)

  // Expire: after two idle seconds the session is due, and a sweep ends it.
  yield* Effect.sleep(Duration.seconds(2))
  const expired = (yield* store.expire(100)).map((ended) => ended.session)
  const after = yield* store.get(session.id)
  yield* Console.log(`expired ${expired.length}: ${expired.map((s) => `${s.id} (${s.endReason})`).join(", ")}`)
  return { expired, after, counts: yield* store.counts }
}).pipe(Effect.provide(MemoryStore.layer))
