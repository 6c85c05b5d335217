/**
 * The `SessionStore` contract, written once: every store runs it unchanged with one line,
 * `sessionStoreContract("MemoryStore", MemoryStore.layer)`. Each case builds a fresh store from the layer.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Layer, Option, TestClock } from "effect"
import type { EndReason, Millis } from "../../src/domain/Session.js"
import { type Cursor, type Session, SessionStore } from "../../src/index.js"
import { aSession, owner, policy, roomy } from "./fixtures.js"
import { invariantCases } from "./invariants.js"
import { regenerateCases } from "./regenerate.js"

type Check = Effect.Effect<void, unknown, SessionStore>

/** Runs every contract case against stores built from `layer`; `propertyRuns` sizes the random-operations case. */
export const sessionStoreContract = <E>(
  name: string,
  layer: Layer.Layer<SessionStore, E>,
  options: { readonly propertyRuns?: number } = {}
) => {
  const test = (title: string, body: () => Check) =>
    it.effect(title, () => Effect.provide(Effect.suspend(body), Layer.fresh(layer)))

  const store = SessionStore

  const failure = <A, X>(effect: Effect.Effect<A, X, SessionStore>) =>
    Effect.flip(effect) as Effect.Effect<X, A, SessionStore>

  describe(`${name} satisfies the SessionStore contract`, () => {
    describe("insert and get", () => {
      test("an inserted session reads back equal, and a missing id reads as none", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession({ name: "first", data: { a: [1, "two", null, true], b: { c: 3.5 } } })
          const inserted = yield* s.insert(session, roomy)
          expect(inserted.ended).toEqual([])
          expect(Option.getOrThrow(yield* s.get(session.id))).toEqual(session)
          const other = yield* aSession()
          expect(Option.isNone(yield* s.get(other.id))).toBe(true)
        }))

      test("inserting an id that is already stored fails StoreError and changes nothing", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession({ data: 1 })
          yield* s.insert(session, roomy)
          const error = yield* failure(s.insert({ ...session, owner: owner("mallory"), data: 2 }, roomy))
          expect(error._tag).toBe("StoreError")
          expect(Option.getOrThrow(yield* s.get(session.id)).data).toBe(1)
        }))

      test("inserting the same session again (a retried insert that landed) succeeds without change", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession({ name: "once" })
          yield* s.insert(session, roomy)
          yield* s.update(session.id, { data: "changed" })
          const again = yield* s.insert(session, roomy)
          expect(again.session).toMatchObject({ id: session.id, data: "changed", version: 2 })
          expect((yield* s.counts).active).toBe(1)
        }))

      test("a live name is unique per owner; other owners, unnamed and ended sessions do not conflict", () =>
        Effect.gen(function*() {
          const s = yield* store
          const first = yield* aSession({ owner: "alice", name: "main" })
          yield* s.insert(first, roomy)
          const clash = yield* failure(s.insert(yield* aSession({ owner: "alice", name: "main" }), roomy))
          expect(clash).toMatchObject({ _tag: "SessionNameTaken", owner: "alice", name: "main" })
          yield* s.insert(yield* aSession({ owner: "bob", name: "main" }), roomy)
          yield* s.insert(yield* aSession({ owner: "alice", name: null }), roomy)
          yield* s.insert(yield* aSession({ owner: "alice", name: null }), roomy)
          yield* s.update(first.id, { event: "close" })
          const again = yield* aSession({ owner: "alice", name: "main" })
          yield* s.insert(again, roomy)
          expect(Option.getOrThrow(yield* s.get(again.id)).name).toBe("main")
        }))

      test("capacity: reject fails CapacityExceeded with the scope and limit; ended sessions do not count", () =>
        Effect.gen(function*() {
          const s = yield* store
          const limits = { maxSessions: 3, maxSessionsPerOwner: 2, capacityPolicy: "reject" as const }
          const a1 = yield* aSession({ owner: "alice" })
          yield* s.insert(a1, limits)
          yield* s.insert(yield* aSession({ owner: "alice" }), limits)
          expect(yield* failure(s.insert(yield* aSession({ owner: "alice" }), limits))).toMatchObject({
            _tag: "CapacityExceeded",
            scope: "owner",
            limit: 2
          })
          yield* s.insert(yield* aSession({ owner: "bob" }), limits)
          expect(yield* failure(s.insert(yield* aSession({ owner: "carol" }), limits))).toMatchObject({
            _tag: "CapacityExceeded",
            scope: "global",
            limit: 3
          })
          yield* s.update(a1.id, { event: "close" })
          yield* s.insert(yield* aSession({ owner: "carol" }), limits)
          const counts = yield* s.counts
          expect(counts.active).toBe(3)
          expect(counts.closed).toBe(1)
        }))

      test("concurrent inserts at the capacity edge never pass either limit", () =>
        Effect.gen(function*() {
          const s = yield* store
          const limits = { maxSessions: 10, maxSessionsPerOwner: 4, capacityPolicy: "reject" as const }
          const owners = ["a", "b", "c", "d"]
          const attempts = yield* Effect.forEach(
            Array.from({ length: 40 }, (_, i) => owners[i % owners.length]!),
            (o) => Effect.flatMap(aSession({ owner: o }), (session) => Effect.either(s.insert(session, limits))),
            { concurrency: "unbounded" }
          )
          const won = attempts.filter(Either.isRight).length
          expect(won).toBe(10)
          for (const lost of attempts.filter(Either.isLeft)) expect(lost.left._tag).toBe("CapacityExceeded")
          const page = yield* s.list({ limit: 100 })
          expect(page.sessions.length).toBe(10)
          for (const o of owners) {
            expect(page.sessions.filter((x) => x.owner === o).length).toBeLessThanOrEqual(4)
          }
          expect((yield* s.counts).active).toBe(10)
        }))

      test("evict-lru ends the least recently active unleased sessions, the owner's own at the owner limit", () =>
        Effect.gen(function*() {
          const s = yield* store
          const limits = { maxSessions: 3, maxSessionsPerOwner: 2, capacityPolicy: "evict-lru" as const }
          const oldest = yield* aSession({ owner: "alice", name: "oldest" })
          yield* s.insert(oldest, limits)
          yield* TestClock.adjust("1 second")
          const leased = yield* aSession({ owner: "bob" })
          yield* s.insert(leased, limits)
          yield* s.acquireLease(leased.id, "worker", Duration.minutes(1))
          yield* TestClock.adjust("1 second")
          const middle = yield* aSession({ owner: "carol" })
          yield* s.insert(middle, limits)
          yield* TestClock.adjust("1 second")
          yield* s.touch(oldest.id)
          // Global limit: the least recently active is now `leased`, which is skipped; `middle` goes.
          const first = yield* s.insert(yield* aSession({ owner: "dave" }), limits)
          expect(first.ended.map((x) => x.id)).toEqual([middle.id])
          expect(first.ended[0]).toMatchObject({ owner: "carol", from: "active", status: "evicted", endedAt: 3000 })
          expect(first.ended[0]!.endReason.length).toBeGreaterThan(0)
          expect(Option.getOrThrow(yield* s.get(middle.id))).toMatchObject({ version: 2, endedAt: 3000 })
          expect(Option.getOrThrow(yield* s.get(middle.id)).status).toBe("evicted")
          // Owner limit: alice has one live session; a second fits, a third evicts alice's oldest.
          yield* TestClock.adjust("1 second")
          yield* s.update(leased.id, { event: "close" })
          const alice2 = yield* aSession({ owner: "alice" })
          yield* s.insert(alice2, limits)
          yield* TestClock.adjust("1 second")
          const third = yield* s.insert(yield* aSession({ owner: "alice", name: "newest" }), limits)
          expect(third.ended.map((x) => x.id)).toEqual([oldest.id])
          const counts = yield* s.counts
          expect(counts.active).toBe(3)
          expect(counts.evicted).toBe(2)
        }))

      test("evict-lru fails CapacityExceeded when every candidate holds a lease, and changes nothing", () =>
        Effect.gen(function*() {
          const s = yield* store
          const limits = { maxSessions: 2, maxSessionsPerOwner: 2, capacityPolicy: "evict-lru" as const }
          for (const o of ["a", "b"]) {
            const x = yield* aSession({ owner: o })
            yield* s.insert(x, limits)
            yield* s.acquireLease(x.id, `worker-${o}`, Duration.minutes(1))
          }
          const error = yield* failure(s.insert(yield* aSession({ owner: "c" }), limits))
          expect(error).toMatchObject({ _tag: "CapacityExceeded", scope: "global", limit: 2 })
          expect((yield* s.counts).active).toBe(2)
          expect((yield* s.counts).evicted).toBe(0)
        }))
    })

    test("ownerCounts counts one owner's sessions by status", () =>
      Effect.gen(function*() {
        const s = yield* store
        const a = yield* aSession({ owner: "alice" })
        const b = yield* aSession({ owner: "alice" })
        yield* s.insert(a, roomy)
        yield* s.insert(b, roomy)
        yield* s.insert(yield* aSession({ owner: "bob" }), roomy)
        yield* s.update(a.id, { event: "wait" })
        yield* s.update(b.id, { event: "close" })
        expect(yield* s.ownerCounts(owner("alice"))).toEqual({
          active: 0,
          waiting: 1,
          closed: 1,
          expired: 0,
          evicted: 0
        })
        expect(yield* s.ownerCounts(owner("nobody"))).toEqual({
          active: 0,
          waiting: 0,
          closed: 0,
          expired: 0,
          evicted: 0
        })
      }))

    describe("update", () => {
      test("a data write replaces data and bumps the version by one", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          const { from, session: updated } = yield* s.update(session.id, { data: { turn: 1 } })
          expect(from).toBe("active")
          expect(updated).toMatchObject({ data: { turn: 1 }, version: 2, status: "active" })
          expect(Option.getOrThrow(yield* s.get(session.id))).toEqual(updated)
          const again = yield* s.update(session.id, { data: { turn: 2 }, expectedVersion: 2 })
          expect(again.session.version).toBe(3)
        }))

      test("a data or status write is activity: lastActiveAt moves to now and expiresAt follows", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          yield* TestClock.adjust("10 minutes")
          const written = yield* s.update(session.id, { data: { turn: 1 } })
          expect(written.session).toMatchObject({ lastActiveAt: 600_000, expiresAt: 600_000 + 15 * 60_000 })
          yield* TestClock.adjust("10 minutes")
          // Without the write, the session would have expired at 15 minutes.
          const waited = yield* s.update(session.id, { event: "wait" })
          expect(waited.session).toMatchObject({ status: "waiting", lastActiveAt: 1_200_000 })
          expect(Option.getOrThrow(yield* s.get(session.id))).toEqual(waited.session)
        }))

      test("two writers with the same expected version: exactly one wins, the other gets VersionConflict", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          const results = yield* Effect.all(
            Array.from({ length: 8 }, (_, i) => Effect.either(s.update(session.id, { data: i, expectedVersion: 1 }))),
            { concurrency: "unbounded" }
          )
          const winners = results.filter(Either.isRight)
          expect(winners.length).toBe(1)
          for (const loser of results.filter(Either.isLeft)) {
            expect(loser.left).toMatchObject({ _tag: "VersionConflict", expected: 1, actual: 2 })
          }
          const stored = Option.getOrThrow(yield* s.get(session.id))
          expect(stored.version).toBe(2)
          expect(stored.data).toBe(winners[0]!.right.session.data)
        }))

      test("events follow the transition table and an ended session takes no writes", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession({ name: "chat" })
          yield* s.insert(session, roomy)
          expect(yield* failure(s.update(session.id, { event: "resume" }))).toMatchObject({
            _tag: "InvalidTransition",
            from: "active",
            event: "resume"
          })
          expect(yield* s.update(session.id, { event: "wait" })).toMatchObject({
            from: "active",
            session: { status: "waiting" }
          })
          expect(yield* failure(s.update(session.id, { event: "wait" }))).toMatchObject({ _tag: "InvalidTransition" })
          expect((yield* s.counts).waiting).toBe(1)
          expect(yield* s.update(session.id, { event: "resume" })).toMatchObject({
            from: "waiting",
            session: { status: "active" }
          })
          yield* TestClock.adjust("5 seconds")
          const closed = yield* s.update(session.id, { event: "close", reason: "done" as EndReason, data: "last" })
          expect(closed.from).toBe("active")
          expect(closed.session).toMatchObject({
            status: "closed",
            endedAt: 5000,
            endReason: "done",
            data: "last",
            version: 4
          })
          for (const write of [{ data: 1 }, { event: "close" as const }, { event: "wait" as const }]) {
            expect(yield* failure(s.update(session.id, write))).toMatchObject({
              _tag: "SessionEnded",
              status: "closed"
            })
          }
          expect(yield* s.counts).toEqual({ active: 0, waiting: 0, closed: 1, expired: 0, evicted: 0 })
        }))

      test("a missing session fails SessionNotFound", () =>
        Effect.gen(function*() {
          const s = yield* store
          const ghost = yield* aSession()
          expect(yield* failure(s.update(ghost.id, { data: 1 }))).toMatchObject({ _tag: "SessionNotFound" })
        }))

      test("a stale fencing token cannot write; the current one can", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          const first = yield* s.acquireLease(session.id, "a", Duration.seconds(10))
          yield* s.update(session.id, { data: "by a", fence: first.token })
          yield* TestClock.adjust("11 seconds")
          // The lease expired: its token no longer writes, even before anyone takes it over.
          expect(yield* failure(s.update(session.id, { data: "late a", fence: first.token }))).toMatchObject({
            _tag: "StaleFencingToken",
            token: first.token
          })
          const second = yield* s.acquireLease(session.id, "b", Duration.seconds(10))
          expect(second.token).toBeGreaterThan(first.token)
          expect(yield* failure(s.update(session.id, { data: "stale a", fence: first.token }))).toMatchObject({
            _tag: "StaleFencingToken"
          })
          yield* s.update(session.id, { data: "by b", fence: second.token })
          expect(Option.getOrThrow(yield* s.get(session.id)).data).toBe("by b")
        }))
    })

    describe("touch", () => {
      test("touch moves lastActiveAt and expiresAt and never changes data, status or version", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession({ data: { keep: "me" } })
          yield* s.insert(session, roomy)
          yield* s.update(session.id, { event: "wait" })
          yield* TestClock.adjust("10 minutes")
          const { from, session: touched } = yield* s.touch(session.id)
          expect(from).toBe("waiting")
          expect(touched).toMatchObject({
            data: { keep: "me" },
            version: 2,
            status: "waiting",
            lastActiveAt: 600_000,
            expiresAt: 600_000 + 900_000
          })
          expect(Option.getOrThrow(yield* s.get(session.id))).toEqual(touched)
        }))

      test("expiresAt never passes createdAt + maxLifetime", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession({
            policy: { idleTimeout: Duration.hours(20), maxLifetime: Duration.hours(24) }
          })
          yield* s.insert(session, roomy)
          yield* TestClock.adjust(Duration.hours(10))
          const touched = yield* s.touch(session.id)
          expect(touched.session.expiresAt).toBe(24 * 3_600_000)
        }))

      test("activity adds messages and keeps at most `window` response times, newest last", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          for (let i = 1; i <= 5; i++) {
            yield* s.touch(session.id, { messages: 2, responseTime: (i * 10) as Millis, window: 3 })
          }
          const { session: last } = yield* s.touch(session.id, { messages: 1, responseTime: null, window: 3 })
          expect(last.messageCount).toBe(11)
          expect(last.responseTimes).toEqual([30, 40, 50])
          expect(last.version).toBe(1)
          expect(Option.getOrThrow(yield* s.get(session.id)).responseTimes).toEqual([30, 40, 50])
        }))

      test("touching a tombstone fails SessionEnded, and a missing id SessionNotFound", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          yield* s.update(session.id, { event: "close" })
          expect(yield* failure(s.touch(session.id))).toMatchObject({ _tag: "SessionEnded", status: "closed" })
          const ghost = yield* aSession()
          expect(yield* failure(s.touch(ghost.id))).toMatchObject({ _tag: "SessionNotFound" })
        }))
    })

    describe("list", () => {
      test("filters by owner, status and kind together", () =>
        Effect.gen(function*() {
          const s = yield* store
          const made: Array<Session> = []
          for (const [o, kind] of [["alice", "chat"], ["alice", "agent"], ["bob", "chat"], ["alice", "chat"]]) {
            const x = yield* aSession({ owner: o, kind })
            yield* s.insert(x, roomy)
            made.push(x)
          }
          yield* s.update(made[3]!.id, { event: "wait" })
          const ids = (page: { sessions: ReadonlyArray<Session> }) => page.sessions.map((x) => x.id)
          expect(ids(yield* s.list({ owner: owner("alice"), limit: 10 }))).toEqual([
            made[0]!.id,
            made[1]!.id,
            made[3]!.id
          ])
          expect(ids(yield* s.list({ kind: made[0]!.kind, limit: 10 }))).toEqual([
            made[0]!.id,
            made[2]!.id,
            made[3]!.id
          ])
          expect(ids(yield* s.list({ status: "waiting", limit: 10 }))).toEqual([made[3]!.id])
          expect(ids(yield* s.list({ owner: owner("alice"), status: "active", kind: made[0]!.kind, limit: 10 })))
            .toEqual([made[0]!.id])
          expect(ids(yield* s.list({ owner: owner("nobody"), limit: 10 }))).toEqual([])
        }))

      test("pagination visits every session exactly once while sessions are inserted and end", () =>
        Effect.gen(function*() {
          const s = yield* store
          const before: Array<Session> = []
          for (let i = 0; i < 57; i++) {
            const x = yield* aSession({ owner: `o${i % 3}` })
            yield* s.insert(x, roomy)
            before.push(x)
          }
          for (const filter of [{}, { owner: owner("o1") }]) {
            const seen: Array<string> = []
            let after: Cursor | undefined = undefined
            let pages = 0
            do {
              const page: { sessions: ReadonlyArray<Session>; next: Cursor | null } = yield* s.list({
                ...filter,
                limit: 5,
                after
              })
              seen.push(...page.sessions.map((x) => x.id))
              expect(page.sessions.length).toBeLessThanOrEqual(5)
              // Writers interleave with the walk.
              yield* s.insert(yield* aSession({ owner: `o${pages % 3}` }), roomy)
              yield* s.update(before[(pages * 7) % before.length]!.id, { event: "close" }).pipe(Effect.ignore)
              after = page.next ?? undefined
              pages++
            } while (after !== undefined)
            const expected = before.filter((x) => "owner" in filter ? x.owner === filter.owner : true).map((x) => x.id)
            expect(new Set(seen).size).toBe(seen.length)
            for (const id of expected) expect(seen).toContain(id)
          }
        }))

      test("a malformed cursor fails InvalidInput naming the cursor", () =>
        Effect.gen(function*() {
          const s = yield* store
          const error = yield* failure(s.list({ limit: 10, after: "../etc/passwd" as Cursor }))
          expect(error).toMatchObject({ _tag: "InvalidInput", field: "cursor" })
        }))
    })

    describe("expiry", () => {
      test("expire ends exactly the due live sessions, earliest expiry first, within its limit", () =>
        Effect.gen(function*() {
          const s = yield* store
          const sessions: Array<Session> = []
          for (let i = 0; i < 6; i++) {
            const x = yield* aSession({ owner: `o${i}` })
            yield* s.insert(x, roomy)
            sessions.push(x)
            yield* TestClock.adjust("1 minute")
          }
          // Now 6 minutes in; sessions expire at 15, 16, ... 20 minutes. Touch #0 so it expires last (21m).
          yield* s.touch(sessions[0]!.id)
          yield* s.update(sessions[2]!.id, { event: "close" })
          expect(yield* s.expire(100)).toEqual([])
          yield* TestClock.adjust("11 minutes") // 17m: only #1 (16m) is due.
          expect((yield* s.expire(100)).map((x) => x.id)).toEqual([sessions[1]!.id])
          yield* TestClock.adjust("3 minutes") // 20m: #3 (18m), #4 (19m), #5 (20m: due exactly at expiresAt)
          expect((yield* s.expire(2)).map((x) => x.id)).toEqual([sessions[3]!.id, sessions[4]!.id])
          expect((yield* s.expire(100)).map((x) => x.id)).toEqual([sessions[5]!.id])
          expect(yield* s.counts).toMatchObject({ active: 1, closed: 1, expired: 4 })
        }))

      test("a session is due exactly at expiresAt, not one millisecond before", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          yield* TestClock.adjust(Duration.millis(15 * 60_000 - 1))
          expect(Option.getOrThrow(yield* s.get(session.id)).status).toBe("active")
          expect(yield* s.expire(10)).toEqual([])
          yield* TestClock.adjust(Duration.millis(1))
          expect(Option.getOrThrow(yield* s.get(session.id)).status).toBe("expired")
          expect((yield* s.expire(10)).map((x) => x.id)).toEqual([session.id])
        }))

      test("expire ends due sessions oldest first, skips leased ones, and frees their names", () =>
        Effect.gen(function*() {
          const s = yield* store
          const a = yield* aSession({ owner: "alice", name: "a" })
          yield* s.insert(a, roomy)
          yield* s.setActive(owner("alice"), a.id)
          yield* TestClock.adjust("1 minute")
          const b = yield* aSession({ owner: "bob" })
          yield* s.insert(b, roomy)
          const c = yield* aSession({ owner: "carol", policy: { ...policy, maxLifetime: Duration.minutes(10) } })
          yield* s.insert(c, roomy)
          yield* s.acquireLease(b.id, "worker", Duration.hours(1))
          yield* TestClock.adjust("30 minutes")
          const ended = yield* s.expire(10)
          // c expires at 11m (its lifetime), a at 15m; b is leased. Each ended at the instant it expired.
          expect(ended.map((x) => x.id)).toEqual([c.id, a.id])
          expect(ended[0]).toMatchObject({ from: "active", endReason: "max lifetime" })
          expect(ended[1]).toEqual({
            id: a.id,
            owner: "alice",
            from: "active",
            status: "expired",
            endedAt: 15 * 60_000,
            endReason: "idle timeout"
          })
          expect(Option.getOrThrow(yield* s.get(a.id))).toMatchObject({ status: "expired", version: 2 })
          expect(Option.getOrThrow(yield* s.get(b.id)).status).toBe("active")
          expect(Option.isNone(yield* s.getActive(owner("alice")))).toBe(true)
          yield* s.insert(yield* aSession({ owner: "alice", name: "a" }), roomy)
          expect(yield* s.counts).toMatchObject({ active: 2, expired: 2 })
          expect(yield* s.expire(10)).toEqual([])
        }))

      test("a write to a due session expires it instead of applying, unless the session is leased", () =>
        Effect.gen(function*() {
          const s = yield* store
          const plain = yield* aSession({ owner: "a", name: "x" })
          const written = yield* aSession({ owner: "b" })
          const leased = yield* aSession({ owner: "c" })
          for (const x of [plain, written, leased]) yield* s.insert(x, roomy)
          const lease = yield* s.acquireLease(leased.id, "worker", Duration.hours(1))
          yield* TestClock.adjust("15 minutes")
          const touched = yield* s.touch(plain.id)
          expect(touched).toMatchObject({
            from: "active",
            session: { status: "expired", endReason: "idle timeout", endedAt: 15 * 60_000, lastActiveAt: 0 }
          })
          const updated = yield* s.update(written.id, { data: "too late" })
          expect(updated).toMatchObject({ from: "active", session: { status: "expired", data: { messages: [] } } })
          // Work in flight holds a lease: its session is not expired under it.
          const kept = yield* s.update(leased.id, { data: "still working", fence: lease.token })
          expect(kept).toMatchObject({ from: "active", session: { status: "active", data: "still working" } })
          expect((yield* s.touch(leased.id)).session.expiresAt).toBe(30 * 60_000)
          expect(yield* s.counts).toMatchObject({ active: 1, expired: 2 })
          yield* s.insert(yield* aSession({ owner: "a", name: "x" }), roomy)
        }))

      test("a session that has expired reads as expired for every reader, before any sweep records it", () =>
        Effect.gen(function*() {
          const s = yield* store
          const gone = yield* aSession({ owner: "alice", name: "gone", kind: "chat" })
          const leased = yield* aSession({ owner: "alice", kind: "chat" })
          for (const x of [gone, leased]) yield* s.insert(x, roomy)
          yield* s.setActive(owner("alice"), gone.id)
          yield* s.acquireLease(leased.id, "worker", Duration.hours(1))
          yield* TestClock.adjust("15 minutes")
          const expired = { status: "expired", endedAt: 15 * 60_000, endReason: "idle timeout", version: 2 }
          expect(Option.getOrThrow(yield* s.get(gone.id))).toMatchObject({ ...expired, name: "gone" })
          // Work in flight holds a lease: that session is still live.
          expect(Option.getOrThrow(yield* s.get(leased.id)).status).toBe("active")
          const ids = (page: { readonly sessions: ReadonlyArray<Session> }) => page.sessions.map((x) => x.id)
          expect(ids(yield* s.list({ owner: owner("alice"), status: "active", limit: 10 }))).toEqual([leased.id])
          expect(ids(yield* s.list({ status: "active", limit: 10 }))).toEqual([leased.id])
          expect(ids(yield* s.list({ status: "expired", limit: 10 }))).toEqual([gone.id])
          expect(ids(yield* s.list({ owner: owner("alice"), status: "expired", limit: 10 }))).toEqual([gone.id])
          const all = yield* s.list({ kind: "chat" as Session["kind"], limit: 10 })
          expect(all.sessions.find((x) => x.id === gone.id)).toMatchObject(expired)
          expect(Option.isNone(yield* s.getActive(owner("alice")))).toBe(true)
          expect(yield* failure(s.setActive(owner("alice"), gone.id))).toMatchObject({
            _tag: "SessionEnded",
            status: "expired"
          })
          expect(yield* failure(s.acquireLease(gone.id, "late", Duration.hours(1)))).toMatchObject({
            _tag: "SessionEnded",
            status: "expired"
          })
          // What the reads presented is exactly what recording the expiry leaves.
          const presented = Option.getOrThrow(yield* s.get(gone.id))
          expect((yield* s.expire(10)).map((x) => x.id)).toEqual([gone.id])
          expect(Option.getOrThrow(yield* s.get(gone.id))).toEqual(presented)
        }))

      test("a session that has expired holds neither its name nor a capacity slot against an insert", () =>
        Effect.gen(function*() {
          const s = yield* store
          const limits = { maxSessions: 3, maxSessionsPerOwner: 2, capacityPolicy: "reject" } as const
          const named = yield* aSession({ owner: "alice", name: "chat" })
          const other = yield* aSession({ owner: "alice" })
          const bob = yield* aSession({ owner: "bob" })
          for (const x of [named, other, bob]) yield* s.insert(x, limits)
          yield* TestClock.adjust("15 minutes")
          // The name, the owner limit (2) and the global limit (3) would all refuse this insert, were expiry lazy.
          const again = yield* aSession({ owner: "alice", name: "chat" })
          const inserted = yield* s.insert(again, limits)
          // Only what stands in the way is recorded: the name's holder, which also frees the slots it needed.
          expect(inserted.ended).toEqual([
            {
              id: named.id,
              owner: "alice",
              from: "active",
              status: "expired",
              endReason: "idle timeout",
              endedAt: 900_000
            }
          ])
          expect(Option.getOrThrow(yield* s.get(named.id)).status).toBe("expired")
          // The global limit: the sessions that have expired make room, one insert at a time.
          const first = yield* s.insert(yield* aSession({ owner: "carol" }), limits)
          const second = yield* s.insert(yield* aSession({ owner: "dave" }), limits)
          expect([...first.ended, ...second.ended].map((x) => x.id).sort()).toEqual([other.id, bob.id].sort())
          expect(yield* s.counts).toMatchObject({ active: 3, expired: 3 })
          // Full of live sessions: refused, and nothing changed.
          expect(yield* failure(s.insert(yield* aSession({ owner: "erin" }), limits))).toMatchObject({
            _tag: "CapacityExceeded",
            scope: "global"
          })
          expect(yield* s.counts).toMatchObject({ active: 3, expired: 3 })
        }))

      test("under evict-lru, sessions that have expired are recorded as expired before any live one is evicted", () =>
        Effect.gen(function*() {
          const s = yield* store
          const limits = { maxSessions: 2, maxSessionsPerOwner: 2, capacityPolicy: "evict-lru" } as const
          const old = yield* aSession({ owner: "alice" })
          yield* s.insert(old, limits)
          yield* TestClock.adjust("10 minutes")
          const recent = yield* aSession({ owner: "bob" })
          yield* s.insert(recent, limits)
          yield* TestClock.adjust("6 minutes")
          const inserted = yield* s.insert(yield* aSession({ owner: "carol" }), limits)
          expect(inserted.ended).toEqual([
            expect.objectContaining({ id: old.id, status: "expired", endedAt: 15 * 60_000 })
          ])
          expect(Option.getOrThrow(yield* s.get(recent.id)).status).toBe("active")
        }))

      test("a session expired by its absolute lifetime says so", () =>
        Effect.gen(function*() {
          const s = yield* store
          const short = { idleTimeout: Duration.minutes(15), maxLifetime: Duration.minutes(20) }
          const session = yield* aSession({ policy: short })
          yield* s.insert(session, roomy)
          yield* TestClock.adjust("10 minutes")
          expect((yield* s.touch(session.id)).session.expiresAt).toBe(20 * 60_000)
          yield* TestClock.adjust("10 minutes")
          const [ended] = yield* s.expire(10)
          expect(ended).toMatchObject({ id: session.id, endReason: "max lifetime", status: "expired" })
          expect(Option.getOrThrow(yield* s.get(session.id)).expiresAt).toBe(20 * 60_000)
        }))

      test("expire respects its limit and leaves the rest for the next batch", () =>
        Effect.gen(function*() {
          const s = yield* store
          for (let i = 0; i < 25; i++) yield* s.insert(yield* aSession({ owner: `o${i}` }), roomy)
          yield* TestClock.adjust("1 hour")
          expect((yield* s.expire(10)).length).toBe(10)
          expect((yield* s.expire(10)).length).toBe(10)
          expect((yield* s.expire(10)).length).toBe(5)
          expect(yield* s.counts).toMatchObject({ active: 0, expired: 25 })
        }))
    })

    describe("recency and purge", () => {
      test("evict-lru ends live sessions in the order of their last activity, touches and writes included", () =>
        Effect.gen(function*() {
          const s = yield* store
          const limits = { maxSessions: 3, maxSessionsPerOwner: 3, capacityPolicy: "evict-lru" } as const
          const xs: Array<Session> = []
          for (const o of ["a", "b", "c"]) {
            const x = yield* aSession({ owner: o })
            yield* s.insert(x, limits)
            xs.push(x)
            yield* TestClock.adjust("1 second")
          }
          yield* s.touch(xs[0]!.id)
          yield* TestClock.adjust("1 second")
          yield* s.update(xs[1]!.id, { data: { again: true } })
          // Least recently active now: #2, then #0, then #1.
          const evicted: Array<string> = []
          for (const o of ["d", "e", "f"]) {
            const inserted = yield* s.insert(yield* aSession({ owner: o }), limits)
            evicted.push(...inserted.ended.map((x) => x.id))
          }
          expect(evicted).toEqual([xs[2]!.id, xs[0]!.id, xs[1]!.id])
        }))

      test("purge deletes only tombstones older than the retention, oldest first, within its limit", () =>
        Effect.gen(function*() {
          const s = yield* store
          const xs: Array<Session> = []
          for (let i = 0; i < 5; i++) {
            const x = yield* aSession({ owner: `o${i}`, policy: { ...policy, idleTimeout: Duration.hours(2) } })
            yield* s.insert(x, roomy)
            xs.push(x)
          }
          for (let i = 0; i < 4; i++) {
            yield* s.update(xs[i]!.id, { event: "close" })
            yield* TestClock.adjust("10 minutes")
          }
          // Ended at 0, 10, 20, 30 minutes; now 40 minutes. Retention 15m: the first three qualify.
          expect(yield* s.purge(Duration.minutes(15), 2)).toBe(2)
          expect(Option.isNone(yield* s.get(xs[0]!.id))).toBe(true)
          expect(Option.isNone(yield* s.get(xs[1]!.id))).toBe(true)
          expect(yield* s.purge(Duration.minutes(15), 100)).toBe(1)
          expect(Option.isSome(yield* s.get(xs[3]!.id))).toBe(true)
          expect(Option.isSome(yield* s.get(xs[4]!.id))).toBe(true)
          expect(yield* s.counts).toEqual({ active: 1, waiting: 0, closed: 1, expired: 0, evicted: 0 })
          expect((yield* s.list({ limit: 10 })).sessions.map((x) => x.id)).toEqual([xs[3]!.id, xs[4]!.id])
        }))
    })

    describe("active pointer", () => {
      test("setActive switches atomically and returns the previous; ended sessions clear it", () =>
        Effect.gen(function*() {
          const s = yield* store
          const a = yield* aSession({ owner: "alice" })
          const b = yield* aSession({ owner: "alice" })
          const bob = yield* aSession({ owner: "bob" })
          for (const x of [a, b, bob]) yield* s.insert(x, roomy)
          expect(Option.isNone(yield* s.getActive(owner("alice")))).toBe(true)
          expect(Option.isNone(yield* s.setActive(owner("alice"), a.id))).toBe(true)
          expect(Option.getOrThrow(yield* s.setActive(owner("alice"), b.id))).toBe(a.id)
          expect(Option.getOrThrow(yield* s.getActive(owner("alice"))).id).toBe(b.id)
          expect(yield* failure(s.setActive(owner("alice"), bob.id))).toMatchObject({ _tag: "SessionNotFound" })
          yield* s.update(a.id, { event: "close" })
          expect(yield* failure(s.setActive(owner("alice"), a.id))).toMatchObject({ _tag: "SessionEnded" })
          yield* s.update(b.id, { event: "close" })
          expect(Option.isNone(yield* s.getActive(owner("alice")))).toBe(true)
        }))

      test("concurrent switches leave exactly one active session per owner, one of the candidates", () =>
        Effect.gen(function*() {
          const s = yield* store
          const xs: Array<Session> = []
          for (let i = 0; i < 12; i++) {
            const x = yield* aSession({ owner: i < 6 ? "alice" : "bob" })
            yield* s.insert(x, roomy)
            xs.push(x)
          }
          const previous = yield* Effect.forEach(
            [...xs, ...xs].reverse(),
            (x) => s.setActive(x.owner, x.id),
            { concurrency: "unbounded" }
          )
          for (const o of ["alice", "bob"]) {
            const current = Option.getOrThrow(yield* s.getActive(owner(o)))
            expect(current.owner).toBe(o)
            expect(xs.map((x) => x.id)).toContain(current.id)
          }
          // Every switch but the first per owner saw a previous one.
          expect(previous.filter(Option.isNone).length).toBe(2)
        }))
    })

    regenerateCases(test)

    describe("leases", () => {
      test("leases exclude other holders until they expire; tokens always grow", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          yield* s.insert(session, roomy)
          const a = yield* s.acquireLease(session.id, "a", Duration.seconds(30))
          expect(a).toMatchObject({ sessionId: session.id, holder: "a", expiresAt: 30_000 })
          expect(yield* failure(s.acquireLease(session.id, "b", Duration.seconds(30)))).toMatchObject({
            _tag: "LeaseHeld",
            holder: "a",
            expiresAt: 30_000
          })
          yield* TestClock.adjust("20 seconds")
          const renewed = yield* s.renewLease(a, Duration.seconds(30))
          expect(renewed).toMatchObject({ token: a.token, expiresAt: 50_000 })
          yield* TestClock.adjust("29 seconds")
          expect(yield* failure(s.acquireLease(session.id, "b", Duration.seconds(30)))).toMatchObject({
            _tag: "LeaseHeld"
          })
          yield* TestClock.adjust("1 second")
          // Exactly at expiry the lease is gone: stale-lock recovery.
          const b = yield* s.acquireLease(session.id, "b", Duration.seconds(30))
          expect(b.token).toBeGreaterThan(a.token)
          expect(yield* failure(s.renewLease(renewed, Duration.seconds(30)))).toMatchObject({
            _tag: "StaleFencingToken"
          })
          expect((yield* s.leases).map((l) => [l.holder, l.token])).toEqual([["b", b.token]])
          yield* s.releaseLease(renewed)
          expect((yield* s.leases).length).toBe(1)
          yield* s.releaseLease(b)
          expect(yield* s.leases).toEqual([])
          const c = yield* s.acquireLease(session.id, "c", Duration.seconds(30))
          expect(c.token).toBeGreaterThan(b.token)
        }))

      test("leases on missing or ended sessions fail, and ending a session drops its lease", () =>
        Effect.gen(function*() {
          const s = yield* store
          const session = yield* aSession()
          const ghost = yield* aSession()
          yield* s.insert(session, roomy)
          expect(yield* failure(s.acquireLease(ghost.id, "a", Duration.seconds(5)))).toMatchObject({
            _tag: "SessionNotFound"
          })
          const lease = yield* s.acquireLease(session.id, "a", Duration.seconds(5))
          yield* s.update(session.id, { event: "close" })
          expect(yield* s.leases).toEqual([])
          expect(yield* failure(s.renewLease(lease, Duration.seconds(5)))).toMatchObject({ _tag: "StaleFencingToken" })
          expect(yield* failure(s.acquireLease(session.id, "a", Duration.seconds(5)))).toMatchObject({
            _tag: "SessionEnded"
          })
        }))

      test("tokens stay strictly increasing across sessions under concurrent acquisition", () =>
        Effect.gen(function*() {
          const s = yield* store
          const xs: Array<Session> = []
          for (let i = 0; i < 10; i++) {
            const x = yield* aSession({ owner: `o${i}` })
            yield* s.insert(x, roomy)
            xs.push(x)
          }
          const leases = yield* Effect.forEach(
            xs,
            (x) => s.acquireLease(x.id, "w", Duration.seconds(5)),
            { concurrency: "unbounded" }
          )
          const tokens = leases.map((l) => l.token)
          expect(new Set(tokens).size).toBe(10)
          const more = yield* s.acquireLease(xs[0]!.id, "w", Duration.seconds(5))
          expect(more.token).toBeGreaterThan(Math.max(...tokens))
        }))
    })

    invariantCases(layer, options.propertyRuns ?? 100)

    test("remove takes a record away whatever its state, with its lease and pointer; counts follow", () =>
      Effect.gen(function*() {
        const s = yield* store
        const live = yield* aSession({ owner: "alice", name: "again" })
        const ended = yield* aSession({ owner: "alice" })
        for (const x of [live, ended]) yield* s.insert(x, roomy)
        yield* s.setActive(owner("alice"), live.id)
        yield* s.acquireLease(live.id, "worker", Duration.hours(1))
        yield* s.update(ended.id, { event: "close" })
        expect(yield* s.remove(live.id, "removed in a test")).toBe(true)
        expect(yield* s.remove(ended.id, "removed in a test")).toBe(true)
        expect(yield* s.remove(live.id, "again")).toBe(false)
        expect(Option.isNone(yield* s.get(live.id))).toBe(true)
        expect(Option.isNone(yield* s.getActive(owner("alice")))).toBe(true)
        expect(yield* s.leases).toEqual([])
        expect(yield* s.counts).toEqual({ active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 })
        expect(yield* s.ownerCounts(owner("alice"))).toEqual({
          active: 0,
          waiting: 0,
          closed: 0,
          expired: 0,
          evicted: 0
        })
        // Its name is free again.
        yield* s.insert(yield* aSession({ owner: "alice", name: "again" }), roomy)
      }))

    test("every failure is typed: no store call dies", () =>
      Effect.gen(function*() {
        const s = yield* store
        const ghost = yield* aSession()
        const exits: ReadonlyArray<Exit.Exit<unknown, unknown>> = yield* Effect.all([
          Effect.exit(s.update(ghost.id, { event: "close" })),
          Effect.exit(s.touch(ghost.id)),
          Effect.exit(s.setActive(owner("x"), ghost.id)),
          Effect.exit(s.list({ limit: 1, after: "" as Cursor })),
          Effect.exit(
            s.renewLease({ sessionId: ghost.id, holder: "x", token: 1, expiresAt: 0 as never }, Duration.seconds(1))
          )
        ])
        for (const exit of exits) {
          expect(Exit.isFailure(exit)).toBe(true)
          if (Exit.isFailure(exit)) expect(exit.cause._tag).toBe("Fail")
        }
      }))
  })
}
