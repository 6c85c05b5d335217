/**
 * A model-free property of every store: after any random sequence of operations, each index agrees with what a scan
 * of all sessions says (counts, due-for-expiry, recency, names, capacity, the active pointer, leases).
 */
import { expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, Either, Layer, Option, TestClock } from "effect"
import * as fc from "fast-check"
import { makeSessionId } from "../../src/domain/Ids.js"
import { type Cursor, isEnded, type OwnerId, type Session, SessionStore } from "../../src/index.js"
import { aSession } from "./fixtures.js"

type Command =
  | { readonly op: "insert"; readonly owner: number; readonly name: number | null; readonly evict: boolean }
  | { readonly op: "touch"; readonly pick: number }
  | { readonly op: "event"; readonly pick: number; readonly event: "wait" | "resume" | "close" }
  | { readonly op: "data"; readonly pick: number; readonly expect: boolean }
  | { readonly op: "expire"; readonly limit: number }
  | { readonly op: "purge"; readonly limit: number }
  | { readonly op: "advance"; readonly millis: number }
  | { readonly op: "activate"; readonly pick: number }
  | { readonly op: "lease"; readonly pick: number; readonly ttl: number }
  | { readonly op: "release"; readonly pick: number }
  | { readonly op: "regenerate"; readonly pick: number }

const pick = fc.nat()
const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("insert" as const),
      owner: fc.nat(3),
      name: fc.option(fc.nat(2)),
      evict: fc.boolean()
    })
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("touch" as const), pick }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("event" as const),
      pick,
      event: fc.constantFrom("wait" as const, "resume" as const, "close" as const)
    })
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("data" as const), pick, expect: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("expire" as const), limit: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("purge" as const), limit: fc.integer({ min: 1, max: 4 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 20 * 60_000 }) })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("activate" as const), pick }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("lease" as const), pick, ttl: fc.integer({ min: 1, max: 30 * 60_000 }) })
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("release" as const), pick }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("regenerate" as const), pick }) }
)

const limits = { maxSessions: 8, maxSessionsPerOwner: 3 }
const owners = ["ann", "ben", "cat", "dan"]
const retention = Duration.minutes(10)

const scanAll = Effect.gen(function*() {
  const store = yield* SessionStore
  const all: Array<Session> = []
  let after: Cursor | undefined
  do {
    const page = yield* store.list({ limit: 7, after })
    all.push(...page.sessions)
    after = page.next ?? undefined
  } while (after !== undefined)
  return all
})

const run = (commands: ReadonlyArray<Command>) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const ids: Array<Session["id"]> = []
    const leases = new Map<string, Effect.Effect.Success<ReturnType<typeof store.acquireLease>>>()
    // Runs `f` on one of the sessions inserted so far, ignoring its typed failure (the checks come at the end).
    const on = (n: number, f: (id: Session["id"]) => Effect.Effect<unknown, unknown>) =>
      ids.length === 0 ? Effect.void : Effect.ignore(f(ids[n % ids.length]!))
    for (const c of commands) {
      switch (c.op) {
        case "insert": {
          const session = yield* aSession({ owner: owners[c.owner]!, name: c.name === null ? null : `n${c.name}` })
          const result = yield* Effect.either(
            store.insert(session, { ...limits, capacityPolicy: c.evict ? "evict-lru" : "reject" })
          )
          if (Either.isRight(result)) ids.push(session.id)
          break
        }
        case "touch":
          yield* on(c.pick, (id) => store.touch(id))
          break
        case "event":
          yield* on(c.pick, (id) => store.update(id, { event: c.event }))
          break
        case "data":
          yield* on(c.pick, (id) =>
            Effect.flatMap(store.get(id), (s) =>
              store.update(id, {
                data: { n: ids.length },
                expectedVersion: c.expect ? Option.match(s, { onNone: () => 1, onSome: (x) => x.version }) : undefined
              })))
          break
        case "expire": {
          const now = yield* Clock.currentTimeMillis
          for (const ended of yield* store.expire(c.limit)) {
            expect(ended.status).toBe("expired")
            const stored = Option.getOrThrow(yield* store.get(ended.id))
            // It ended when it expired: at its expiresAt, or later if a lease held it past then; never after now.
            const lease = leases.get(ended.id)
            const leaseEnd = lease === undefined ? 0 : lease.expiresAt
            expect(ended.endedAt).toBeLessThanOrEqual(now)
            expect(ended.endedAt).toBeGreaterThanOrEqual(stored.expiresAt)
            if (leaseEnd <= stored.expiresAt) expect(ended.endedAt).toBe(stored.expiresAt)
            expect(stored).toMatchObject({ status: "expired", endedAt: ended.endedAt, endReason: ended.endReason })
            expect(["active", "waiting"]).toContain(ended.from)
          }
          break
        }
        case "purge":
          yield* store.purge(retention, c.limit)
          break
        case "advance":
          yield* TestClock.adjust(Duration.millis(c.millis))
          break
        case "activate":
          yield* on(c.pick, (id) =>
            Effect.flatMap(store.get(id), (s) =>
              Option.match(s, {
                onNone: (): Effect.Effect<unknown, unknown> => Effect.void,
                onSome: (x) => store.setActive(x.owner, id)
              })))
          break
        case "lease":
          yield* on(c.pick, (id) =>
            Effect.map(store.acquireLease(id, "model", Duration.millis(c.ttl)), (lease) => leases.set(id, lease)))
          break
        case "release":
          yield* on(c.pick, (id) => {
            const lease = leases.get(id)
            return lease === undefined ? Effect.void : store.releaseLease(lease)
          })
          break
        case "regenerate": {
          if (ids.length === 0) {
            break
          }
          const at = c.pick % ids.length
          const newId = makeSessionId()
          const result = yield* Effect.either(store.regenerate(ids[at]!, newId))
          if (Either.isRight(result) && result.right.session.id === newId) {
            leases.delete(ids[at]!)
            ids[at] = newId
          }
          break
        }
      }
    }
    yield* checkIndexes
  })

/**
 * Checks what must hold in any store at any time, from a full scan: counts by status, both capacity limits, live
 * names unique per owner, the active pointer on a live session of its owner, ended exactly when `endedAt` is set.
 * Returns the scan.
 */
export const storeInvariants = (
  owners: ReadonlyArray<string>,
  limits: { readonly maxSessions: number; readonly maxSessionsPerOwner: number }
) =>
  Effect.gen(function*() {
    const store = yield* SessionStore
    const seen = yield* scanAll
    // Recording every expiry that is due, as a sweep does, changes nothing a reader sees: reads already present
    // sessions that have expired exactly as their recorded expiry leaves them. Only then can counts match a scan.
    while ((yield* store.expire(1000)).length > 0) {
      // until nothing is due
    }
    const all = yield* scanAll
    expect(all).toEqual(seen)
    expect(new Set(all.map((s) => s.id)).size).toBe(all.length)
    const live = all.filter((s) => !isEnded(s.status))
    const tally = { active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 }
    for (const s of all) tally[s.status]++
    expect(yield* store.counts).toEqual(tally)
    expect(live.length).toBeLessThanOrEqual(limits.maxSessions)
    for (const owner of owners) {
      const mine = live.filter((s) => s.owner === owner)
      expect(mine.length).toBeLessThanOrEqual(limits.maxSessionsPerOwner)
      const names = mine.flatMap((s) => (s.name === null ? [] : [s.name]))
      expect(new Set(names).size).toBe(names.length)
      const byStatus = { active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 }
      for (const s of all) if (s.owner === owner) byStatus[s.status]++
      expect(yield* store.ownerCounts(owner as OwnerId)).toEqual(byStatus)
      const active = yield* store.getActive(owner as OwnerId)
      if (Option.isSome(active)) {
        expect(active.value.owner).toBe(owner)
        expect(isEnded(active.value.status)).toBe(false)
      }
    }
    for (const s of all) {
      expect(s.endedAt === null).toBe(!isEnded(s.status))
      expect(s.endReason === null).toBe(!isEnded(s.status))
    }
    return all
  })

const checkIndexes = Effect.gen(function*() {
  const store = yield* SessionStore
  const now = yield* Clock.currentTimeMillis
  const all = yield* storeInvariants(owners, limits)
  const live = all.filter((s) => !isEnded(s.status))

  // After storeInvariants recorded every expiry that was due, no live session is past its expiresAt but one a lease
  // holds (work in flight), and another expire finds nothing.
  const leased = new Set((yield* store.leases).filter((lease) => lease.expiresAt > now).map((lease) => lease.sessionId))
  for (const s of live) if (s.expiresAt <= now) expect(leased.has(s.id)).toBe(true)
  expect(yield* store.expire(1000)).toEqual([])

  const liveIds = new Set(live.map((s) => s.id))
  for (const lease of yield* store.leases) expect(liveIds.has(lease.sessionId)).toBe(true)
})

/** Adds the random-operations case to a contract suite. */
export const invariantCases = <E>(layer: Layer.Layer<SessionStore, E>, runs: number) =>
  it.effect.prop(
    "after random operations every index agrees with a scan",
    [fc.array(command, { minLength: 1, maxLength: 80 })],
    ([commands]) => Effect.provide(run(commands), Layer.fresh(layer)),
    { fastCheck: { numRuns: runs } }
  )
