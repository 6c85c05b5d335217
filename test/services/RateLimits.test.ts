import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { TokenBuckets } from "../../src/domain/TokenBuckets.js"
import { SessionManager } from "../../src/index.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("rate limits", () => {
    it.effect("a session's calls past its rate fail RateLimited with when to retry; tokens come back with time", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        for (let i = 0; i < 5; i++) yield* m.get(s.id)
        const limited = yield* Effect.flip(m.touch(s.id))
        expect(limited).toMatchObject({ _tag: "RateLimited", key: `session:${s.id}` })
        expect(Duration.toMillis((limited as { retryAfter: Duration.Duration }).retryAfter)).toBe(200)
        // Another session has its own bucket.
        const other = yield* m.create({ owner: "b" })
        yield* m.get(other.id)
        yield* adjust("199 millis")
        expect((yield* Effect.flip(m.get(s.id)))._tag).toBe("RateLimited")
        yield* adjust("1 milli")
        expect((yield* m.get(s.id)).id).toBe(s.id)
      }).pipe(Effect.provide(store.managerLayer({ sessionRateLimit: "5/1s", sweepInterval: "1h" }))))

    it.effect("each run of a call is admitted on its own: an effect built once and run twice takes two tokens", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        const read = m.get(s.id)
        const touch = m.touch(s.id)
        yield* read
        yield* touch
        expect(yield* Effect.flip(read)).toMatchObject({ _tag: "RateLimited" })
        expect(yield* Effect.flip(touch)).toMatchObject({ _tag: "RateLimited" })
      }).pipe(Effect.provide(store.managerLayer({ sessionRateLimit: "2/1m", sweepInterval: "1h" }))))

    it.effect("an owner's calls are limited across its sessions, separately from each session's", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        yield* m.create({ owner: "alice" })
        yield* m.create({ owner: "alice" })
        yield* m.list({ owner: "alice" })
        expect(yield* Effect.flip(m.create({ owner: "alice" }))).toMatchObject({
          _tag: "RateLimited",
          key: "owner:alice"
        })
        yield* m.create({ owner: "bob" })
        yield* adjust("20 seconds")
        yield* m.create({ owner: "alice" })
      }).pipe(Effect.provide(store.managerLayer({ ownerRateLimit: "3/1m", sweepInterval: "1h" }))))

    it.effect("calls by id made for an owner take from the owner's budget, however many sessions they spread over", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const sessions = yield* Effect.all(Array.from({ length: 4 }, () => m.create({ owner: "alice" })))
        const asAlice = { owner: "alice" }
        // 4 creates took 4 of alice's 10 tokens; 6 scoped calls, each on a different session or kind, take the rest.
        yield* m.get(sessions[0]!.id, asAlice)
        yield* m.touch(sessions[1]!.id, asAlice)
        yield* m.recordActivity(sessions[2]!.id, { messages: 1 }, asAlice)
        yield* m.update(sessions[3]!.id, { n: 1 }, asAlice)
        yield* m.wait(sessions[0]!.id, asAlice)
        yield* m.withSession(sessions[1]!.id, () => Effect.void, asAlice)
        for (
          const call of [
            m.get(sessions[2]!.id, asAlice),
            m.touch(sessions[3]!.id, asAlice),
            m.close(sessions[0]!.id, asAlice),
            m.activate("alice", sessions[1]!.id)
          ]
        ) {
          expect(yield* Effect.flip(call)).toMatchObject({ _tag: "RateLimited", key: "owner:alice" })
        }
        // Unscoped calls (an operator's, trusted code's) do not spend the owner's budget.
        expect((yield* m.get(sessions[2]!.id)).id).toBe(sessions[2]!.id)
      }).pipe(Effect.provide(store.managerLayer({ ownerRateLimit: "10/1m", sweepInterval: "1h" }))))

    it("the key table stays at or under its cap with 1,000,000 distinct keys, forgetting the least recently used", () => {
      let now = 0
      const buckets = new TokenBuckets({ limit: 2, window: Duration.seconds(1) }, 10_000, () => now)
      for (let i = 0; i < 1_000_000; i++) {
        expect(buckets.take(`k${i}`)).toBe(0)
        if (buckets.size > 10_000) throw new Error(`table grew to ${buckets.size}`)
        now += i % 1000 === 0 ? 1 : 0
      }
      expect(buckets.size).toBe(10_000)
      // A key used again is the most recent: it survives the next evictions, an untouched one does not.
      buckets.take("k990001")
      for (let i = 0; i < 9_999; i++) buckets.take(`fresh${i}`)
      expect(buckets.take("k990001")).toBeGreaterThan(0)
      expect(buckets.take("k990002")).toBe(0)
    })

    it("idle keys are forgotten once their bucket has refilled; busy ones are kept", () => {
      let now = 0
      const buckets = new TokenBuckets({ limit: 10, window: Duration.seconds(10) }, 1_000, () => now)
      for (let i = 0; i < 100; i++) buckets.take(`idle${i}`)
      now = 9_000
      for (let i = 0; i < 5; i++) buckets.take("busy")
      now = 10_000
      expect(buckets.forgetIdle(1_000)).toBe(100)
      expect(buckets.size).toBe(1)
      now = 20_000
      expect(buckets.forgetIdle(1_000)).toBe(1)
      expect(buckets.size).toBe(0)
    })

    it.effect("the sweeper forgets idle keys, so the table follows the callers of the last window", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const ids: Array<string> = []
        for (let i = 0; i < 300; i++) ids.push((yield* m.create({ owner: `o${i}` })).id)
        for (const id of ids) yield* m.touch(id)
        expect((yield* m.stats).rateLimitKeys).toBe(600)
        yield* adjust("30 seconds")
        expect((yield* m.stats).rateLimitKeys).toBe(0)
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "30s" }))))
  })
})
