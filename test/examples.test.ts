import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, TestClock } from "effect"
import { program } from "../examples/first-sessions.js"

describe("examples", () => {
  it.effect("first-sessions creates, touches, lists and expires a session", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust("3 seconds")
      const result = yield* fiber.await.pipe(Effect.flatten)
      expect(result.expired.length).toBe(1)
      expect(result.expired[0]).toMatchObject({ status: "expired", endReason: "idle timeout", expiresAt: 3000 })
      expect(Option.getOrThrow(result.after).status).toBe("expired")
      expect(result.counts).toMatchObject({ active: 0, expired: 1 })
    }))
})
