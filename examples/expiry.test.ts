/**
 * How to test session expiry in your own app: run the manager under `TestClock` and move time by hand. Nothing
 * sleeps; fifteen idle minutes pass in microseconds, to the millisecond.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, TestClock } from "effect"
import { makeConfig, MemoryStore, SessionManager } from "effect-sessions"

const Sessions = Layer.unwrapEffect(
  Effect.map(
    makeConfig({ idleTimeout: "15m", sweepInterval: "30s" }),
    (config) => SessionManager.layer(config).pipe(Layer.provide(MemoryStore.layer))
  )
)

describe("session expiry, under TestClock", () => {
  it.effect("an idle session expires exactly at its idle timeout", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager.SessionManager
      const session = yield* sessions.create({ owner: "alice" })
      yield* TestClock.adjust(Duration.millis(15 * 60_000 - 1))
      expect((yield* sessions.get(session.id)).status).toBe("active")
      yield* TestClock.adjust(Duration.millis(1))
      expect((yield* sessions.get(session.id)).status).toBe("expired")
    }).pipe(Effect.provide(Sessions)))

  it.effect("activity keeps a session alive", () =>
    Effect.gen(function*() {
      const sessions = yield* SessionManager.SessionManager
      const session = yield* sessions.create({ owner: "alice" })
      for (let minute = 0; minute < 60; minute += 10) {
        yield* TestClock.adjust("10 minutes")
        yield* sessions.touch(session.id)
      }
      expect((yield* sessions.get(session.id)).status).toBe("active")
    }).pipe(Effect.provide(Sessions)))
})
