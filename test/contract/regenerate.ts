/** The `regenerate` cases of the store contract: a session moved to a new id, atomically, and every refusal. */
import { describe, expect } from "@effect/vitest"
import { Duration, Effect, Either, Option, TestClock } from "effect"
import { makeSessionId } from "../../src/domain/Ids.js"
import { type Session, SessionStore } from "../../src/index.js"
import { aSession, owner, roomy } from "./fixtures.js"

type Check = Effect.Effect<void, unknown, SessionStore>

const failure = <A, X>(effect: Effect.Effect<A, X, SessionStore>) => Effect.flip(effect) as Effect.Effect<X, A>

/** Adds the `regenerate` cases to a contract suite, each run by `test` on a fresh store. */
export const regenerateCases = (test: (title: string, body: () => Check) => void) =>
  describe("regenerate", () => {
    test("moves the session whole to the new id; the old id is gone for every later call", () =>
      Effect.gen(function*() {
        const s = yield* SessionStore
        const session = yield* aSession({ owner: "alice", name: "main", data: { step: 1 } })
        yield* s.insert(session, roomy)
        yield* TestClock.adjust("1 minute")
        yield* s.update(session.id, { data: { step: 2 } })
        yield* s.touch(session.id, { messages: 2, responseTime: null, window: 10 })
        const before = Option.getOrThrow(yield* s.get(session.id))
        yield* TestClock.adjust("1 minute")
        const newId = makeSessionId()
        const moved = yield* s.regenerate(session.id, newId)
        expect(moved).toEqual({ session: { ...before, id: newId }, from: "active" })
        expect(before).toMatchObject({ version: 2, messageCount: 2, lastActiveAt: 60_000 })
        expect(Option.getOrThrow(yield* s.get(newId))).toEqual(moved.session)
        expect(Option.isNone(yield* s.get(session.id))).toBe(true)
        expect(yield* failure(s.update(session.id, { data: 3 }))).toMatchObject({ _tag: "SessionNotFound" })
        expect(yield* failure(s.touch(session.id))).toMatchObject({ _tag: "SessionNotFound" })
        expect(yield* failure(s.regenerate(session.id, makeSessionId()))).toMatchObject({ _tag: "SessionNotFound" })
        expect(yield* failure(s.acquireLease(session.id, "w", Duration.seconds(5)))).toMatchObject({
          _tag: "SessionNotFound"
        })
        expect((yield* s.list({ owner: owner("alice"), limit: 10 })).sessions.map((x) => x.id)).toEqual([newId])
        expect((yield* s.list({ limit: 10 })).sessions.map((x) => x.id)).toEqual([newId])
        expect(yield* s.counts).toEqual({ active: 1, waiting: 0, closed: 0, expired: 0, evicted: 0 })
        expect((yield* s.ownerCounts(owner("alice"))).active).toBe(1)
        // The name stays taken, now by the new id, until that session ends.
        expect(yield* failure(s.insert(yield* aSession({ owner: "alice", name: "main" }), roomy))).toMatchObject({
          _tag: "SessionNameTaken"
        })
        yield* s.update(newId, { event: "close" })
        yield* s.insert(yield* aSession({ owner: "alice", name: "main" }), roomy)
      }))

    test("moves the owner's active pointer and drops the lease; a waiting session stays waiting", () =>
      Effect.gen(function*() {
        const s = yield* SessionStore
        const a = yield* aSession({ owner: "alice" })
        const b = yield* aSession({ owner: "alice" })
        for (const x of [a, b]) yield* s.insert(x, roomy)
        yield* s.setActive(owner("alice"), a.id)
        const lease = yield* s.acquireLease(a.id, "worker", Duration.minutes(1))
        const newA = makeSessionId()
        yield* s.regenerate(a.id, newA, { fence: lease.token })
        expect(Option.getOrThrow(yield* s.getActive(owner("alice"))).id).toBe(newA)
        expect(yield* s.leases).toEqual([])
        expect(yield* failure(s.renewLease(lease, Duration.minutes(1)))).toMatchObject({ _tag: "StaleFencingToken" })
        const again = yield* s.acquireLease(newA, "other", Duration.minutes(1))
        expect(again.token).toBeGreaterThan(lease.token)
        yield* s.update(b.id, { event: "wait" })
        const newB = makeSessionId()
        const moved = yield* s.regenerate(b.id, newB)
        expect(moved).toMatchObject({ session: { id: newB, status: "waiting", version: 2 }, from: "waiting" })
        expect(Option.getOrThrow(yield* s.getActive(owner("alice"))).id).toBe(newA)
        expect(yield* s.counts).toMatchObject({ active: 1, waiting: 1 })
      }))

    test("keeps the session's place in recency: evict-lru still goes by last activity", () =>
      Effect.gen(function*() {
        const s = yield* SessionStore
        const limits = { maxSessions: 3, maxSessionsPerOwner: 3, capacityPolicy: "evict-lru" } as const
        const xs: Array<Session> = []
        for (const o of ["a", "b", "c"]) {
          const x = yield* aSession({ owner: o })
          yield* s.insert(x, limits)
          xs.push(x)
          yield* TestClock.adjust("1 second")
        }
        const newA = makeSessionId()
        yield* s.regenerate(xs[0]!.id, newA)
        const inserted = yield* s.insert(yield* aSession({ owner: "d" }), limits)
        expect(inserted.ended.map((x) => x.id)).toEqual([newA])
      }))

    test("refuses missing, another owner's and ended sessions, stale fences and a new id in use; changes nothing", () =>
      Effect.gen(function*() {
        const s = yield* SessionStore
        const session = yield* aSession({ owner: "alice" })
        const other = yield* aSession({ owner: "bob" })
        const ended = yield* aSession({ owner: "alice" })
        for (const x of [session, other, ended]) yield* s.insert(x, roomy)
        yield* s.update(ended.id, { event: "close" })
        const ghost = yield* aSession()
        const fresh = makeSessionId()
        expect(yield* failure(s.regenerate(ghost.id, fresh))).toMatchObject({ _tag: "SessionNotFound", id: ghost.id })
        expect(yield* failure(s.regenerate(session.id, fresh, { owner: owner("bob") }))).toMatchObject({
          _tag: "SessionNotFound",
          id: session.id
        })
        expect(yield* failure(s.regenerate(ended.id, fresh))).toMatchObject({ _tag: "SessionEnded", status: "closed" })
        const lease = yield* s.acquireLease(session.id, "worker", Duration.seconds(30))
        expect(yield* failure(s.regenerate(session.id, fresh, { fence: lease.token + 1 }))).toMatchObject({
          _tag: "StaleFencingToken"
        })
        expect(yield* failure(s.regenerate(session.id, other.id))).toMatchObject({ _tag: "StoreError" })
        expect(yield* failure(s.regenerate(session.id, session.id))).toMatchObject({ _tag: "StoreError" })
        yield* TestClock.adjust("31 seconds")
        // The lease has expired: its token no longer fences anything.
        expect(yield* failure(s.regenerate(session.id, fresh, { fence: lease.token }))).toMatchObject({
          _tag: "StaleFencingToken"
        })
        expect(Option.isNone(yield* s.get(fresh))).toBe(true)
        expect(Option.getOrThrow(yield* s.get(session.id))).toEqual(session)
        expect(Option.getOrThrow(yield* s.get(other.id)).owner).toBe("bob")
        expect(yield* s.counts).toEqual({ active: 2, waiting: 0, closed: 1, expired: 0, evicted: 0 })
      }))

    test("a session that has expired gets its expiry recorded instead, under its old id", () =>
      Effect.gen(function*() {
        const s = yield* SessionStore
        const session = yield* aSession({ owner: "alice" })
        yield* s.insert(session, roomy)
        yield* s.setActive(owner("alice"), session.id)
        yield* TestClock.adjust("16 minutes")
        const newId = makeSessionId()
        const result = yield* s.regenerate(session.id, newId)
        expect(result).toMatchObject({
          session: { id: session.id, status: "expired", endedAt: 15 * 60_000, version: 2 },
          from: "active"
        })
        expect(Option.getOrThrow(yield* s.get(session.id)).status).toBe("expired")
        expect(Option.isNone(yield* s.get(newId))).toBe(true)
        expect(Option.isNone(yield* s.getActive(owner("alice")))).toBe(true)
        expect(yield* s.counts).toMatchObject({ active: 0, expired: 1 })
        expect(yield* failure(s.regenerate(session.id, newId))).toMatchObject({ _tag: "SessionEnded" })
      }))

    test("calling again after it landed (a retry) succeeds without change, within the owner scope", () =>
      Effect.gen(function*() {
        const s = yield* SessionStore
        const session = yield* aSession({ owner: "alice", name: "once" })
        yield* s.insert(session, roomy)
        const newId = makeSessionId()
        const first = yield* s.regenerate(session.id, newId, { owner: owner("alice") })
        const again = yield* s.regenerate(session.id, newId, { owner: owner("alice") })
        expect(again).toEqual(first)
        expect(yield* failure(s.regenerate(session.id, newId, { owner: owner("bob") }))).toMatchObject({
          _tag: "SessionNotFound"
        })
        expect((yield* s.list({ limit: 10 })).sessions.map((x) => x.id)).toEqual([newId])
        expect((yield* s.counts).active).toBe(1)
      }))

    test("concurrent regenerates of one session: exactly one wins, the others find it gone", () =>
      Effect.gen(function*() {
        const s = yield* SessionStore
        const session = yield* aSession({ owner: "alice", name: "contended" })
        yield* s.insert(session, roomy)
        const newIds = Array.from({ length: 8 }, () => makeSessionId())
        const outcomes = yield* Effect.forEach(
          newIds,
          (newId) => Effect.either(s.regenerate(session.id, newId)),
          { concurrency: "unbounded" }
        )
        const won = outcomes.filter(Either.isRight)
        expect(won.length).toBe(1)
        for (const lost of outcomes.filter(Either.isLeft)) expect(lost.left._tag).toBe("SessionNotFound")
        const winner = won[0]!.right.session.id
        expect(newIds).toContain(winner)
        const all = (yield* s.list({ limit: 20 })).sessions
        expect(all.map((x) => x.id)).toEqual([winner])
        expect(all[0]).toMatchObject({ name: "contended", owner: "alice" })
        expect((yield* s.counts).active).toBe(1)
      }))
  })
