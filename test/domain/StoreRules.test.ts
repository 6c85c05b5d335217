import { describe, expect, it } from "@effect/vitest"
import { Duration, Either } from "effect"
import * as fc from "fast-check"
import { type Candidate, capacityNeeds, endingsOf, planInsert } from "../../src/domain/InsertPlan.js"
import type { Cursor, SessionWrite } from "../../src/domain/StoreRecords.js"
import {
  applyTouch,
  applyWrite,
  cursorOf,
  endingOf,
  expire,
  expiryEnding,
  type Held,
  leaseRefusal,
  positionOf,
  renewLease
} from "../../src/domain/StoreRules.js"
import type { EndReason, EpochMillis, Millis, OwnerId, Session, SessionId, SessionStatus } from "../../src/index.js"
import { makeSessionId, transition } from "../../src/index.js"

const statuses: ReadonlyArray<SessionStatus> = ["active", "waiting", "closed", "expired", "evicted"]

/** A stored session at some point of its life, with or without a lease, and a "now" around its expiry. */
const heldAndNow = fc.record({
  status: fc.constantFrom(...statuses),
  createdAt: fc.integer({ min: 0, max: 1_000_000 }),
  idle: fc.integer({ min: 1, max: 100_000 }),
  lifetime: fc.integer({ min: 1, max: 400_000 }),
  activeAfter: fc.integer({ min: 0, max: 100_000 }),
  version: fc.integer({ min: 1, max: 20 }),
  lease: fc.option(
    fc.record({
      holder: fc.constantFrom("a", "b"),
      token: fc.integer({ min: 1, max: 5 }),
      after: fc.integer({ min: -50_000, max: 200_000 })
    }),
    { nil: null }
  ),
  nowAfter: fc.integer({ min: 0, max: 500_000 })
}).map((r) => {
  const lastActiveAt = r.createdAt + r.activeAfter
  const expiresAt = Math.min(lastActiveAt + r.idle, r.createdAt + r.lifetime)
  const ended = r.status === "closed" || r.status === "expired" || r.status === "evicted"
  const session: Session = {
    id: makeSessionId(),
    owner: "alice" as OwnerId,
    name: null,
    kind: "chat" as Session["kind"],
    status: r.status,
    createdAt: r.createdAt as EpochMillis,
    lastActiveAt: lastActiveAt as EpochMillis,
    expiresAt: expiresAt as EpochMillis,
    idleTimeout: r.idle as Millis,
    maxLifetime: r.lifetime as Millis,
    endedAt: ended ? (lastActiveAt as EpochMillis) : null,
    endReason: ended ? ("why" as EndReason) : null,
    messageCount: 0,
    responseTimes: [],
    data: { v: 1 },
    version: r.version
  }
  const now = (r.createdAt + r.nowAfter) as EpochMillis
  const lease = r.lease === null
    ? null
    : { holder: r.lease.holder, token: r.lease.token, expiresAt: now + r.lease.after }
  return { held: { session, lease } as Held, now }
})

const writes = fc.record({
  data: fc.option(fc.constant({ v: 2 }), { nil: undefined }),
  event: fc.option(fc.constantFrom("wait" as const, "resume" as const, "close" as const), { nil: undefined }),
  expectedVersion: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
  fence: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined })
}).map((w): SessionWrite => w)

/** The oracle: the rules as the port's contract states them, one after the other, in plain words turned to code. */
const expectedWrite = (held: Held, write: SessionWrite, now: number) => {
  const s = held.session
  const ended = s.status === "closed" || s.status === "expired" || s.status === "evicted"
  const leaseLive = held.lease !== null && held.lease.expiresAt > now
  if (ended) return { tag: "SessionEnded" }
  if (s.expiresAt <= now && !leaseLive) return { tag: "Right", status: "expired", version: s.version + 1 }
  if (write.fence !== undefined && !(leaseLive && held.lease!.token === write.fence)) {
    return { tag: "StaleFencingToken" }
  }
  if (write.expectedVersion !== undefined && write.expectedVersion !== s.version) return { tag: "VersionConflict" }
  let status: SessionStatus = s.status
  if (write.event !== undefined) {
    const next = transition(s, write.event)
    if (Either.isLeft(next)) return { tag: next.left._tag }
    status = next.right
  }
  return { tag: "Right", status, version: s.version + 1 }
}

describe("store rules: writes and touches against an independent oracle", () => {
  it.prop("applyWrite refuses, expires or applies exactly as the contract says", [heldAndNow, writes], ([
    { held, now },
    write
  ]) => {
    const outcome = applyWrite(held, write, now)
    const expected = expectedWrite(held, write, now)
    if (Either.isLeft(outcome)) {
      expect(outcome.left._tag).toBe(expected.tag)
      return
    }
    expect({ tag: "Right", status: outcome.right.session.status, version: outcome.right.session.version }).toEqual(
      expected
    )
    const after = outcome.right.session
    expect(outcome.right.from).toBe(held.session.status)
    if (after.status === "expired") {
      // Recorded at the instant it expired: its expiresAt, or the end of the lease that held it past then.
      const leaseEnd = held.lease?.expiresAt ?? 0
      expect(after.endedAt).toBe(Math.max(held.session.expiresAt, leaseEnd))
      expect(after.data).toEqual(held.session.data)
    } else if (after.status === "closed") {
      expect(after).toMatchObject({ endedAt: now, endReason: "closed" })
    } else {
      expect(after.lastActiveAt).toBe(Math.max(now, held.session.lastActiveAt))
      expect(after.expiresAt).toBe(
        Math.min(after.lastActiveAt + after.idleTimeout, after.createdAt + after.maxLifetime)
      )
      expect(after.data).toEqual(write.data ?? held.session.data)
    }
  }, { fastCheck: { numRuns: 3000 } })

  it.prop("applyTouch never changes data, status or version of a live session it does not expire", [
    heldAndNow,
    fc.option(fc.record({ messages: fc.integer({ min: 0, max: 5 }), ms: fc.option(fc.nat(1000)) }), { nil: undefined })
  ], ([{ held, now }, activity]) => {
    const record = activity === undefined
      ? undefined
      : { messages: activity.messages, responseTime: activity.ms as Millis | null, window: 3 }
    const outcome = applyTouch(held, record, now)
    const expected = expectedWrite(held, {}, now)
    if (expected.tag === "SessionEnded") {
      expect(Either.isLeft(outcome)).toBe(true)
      return
    }
    const after = Either.getOrThrow(outcome).session
    if (expected.status === "expired") {
      expect(after.status).toBe("expired")
      return
    }
    expect(after).toMatchObject({
      status: held.session.status,
      version: held.session.version,
      data: held.session.data,
      messageCount: held.session.messageCount + (record?.messages ?? 0)
    })
    expect(after.responseTimes.length).toBeLessThanOrEqual(3)
  }, { fastCheck: { numRuns: 2000 } })
})

describe("store rules: expiry recorded in place", () => {
  it.prop("expiryEnding reads the same ending from a record's fields as expire makes of the session", [heldAndNow], ([
    { held }
  ]) => {
    if (held.session.status !== "active" && held.session.status !== "waiting") return
    const inPlace = expiryEnding(held.session, held.lease)
    expect(inPlace).toStrictEqual(endingOf(expire(held)))
    // The lease holds the session past its expiresAt only while it lasts longer.
    const leaseEnd = held.lease === null ? null : held.lease.expiresAt
    expect(inPlace.endedAt).toBe(
      leaseEnd !== null && leaseEnd > held.session.expiresAt ? leaseEnd : held.session.expiresAt
    )
  })
})

describe("store rules: leases", () => {
  it.prop("a lease goes to a holder unless the session ended or expired, or another's lease is unexpired", [
    heldAndNow,
    fc.constantFrom("a", "b")
  ], ([{ held, now }, holder]) => {
    const refusal = leaseRefusal(held, holder, now)
    const expected = expectedWrite(held, {}, now)
    const others = held.lease !== null && held.lease.expiresAt > now && held.lease.holder !== holder
    if (expected.tag === "SessionEnded" || expected.status === "expired") expect(refusal?._tag).toBe("SessionEnded")
    else expect(refusal?._tag).toBe(others ? "LeaseHeld" : undefined)
  })

  it("renews only the current unexpired lease", () => {
    const lease = { sessionId: "s" as SessionId, holder: "a", token: 3, expiresAt: 100 as EpochMillis }
    const ttl = Duration.millis(50)
    expect(Either.getOrThrow(renewLease(lease, { holder: "a", token: 3, expiresAt: 100 }, ttl, 99)).expiresAt).toBe(149)
    expect(Either.isLeft(renewLease(lease, { holder: "a", token: 3, expiresAt: 100 }, ttl, 100))).toBe(true)
    expect(Either.isLeft(renewLease(lease, { holder: "b", token: 4, expiresAt: 500 }, ttl, 99))).toBe(true)
    expect(Either.isLeft(renewLease(lease, null, ttl, 1))).toBe(true)
  })
})

/** Candidates of one owner or another, some expired, some leased, at distinct activity instants. */
const candidates = fc.array(
  fc.record({
    owner: fc.constantFrom("alice", "bob"),
    lastActiveAt: fc.integer({ min: 0, max: 1000 }),
    expired: fc.boolean(),
    leased: fc.boolean()
  }),
  { maxLength: 12 }
).map((specs) =>
  specs.map((spec, i): Candidate => ({
    session: {
      id: `s${i}` as SessionId,
      owner: spec.owner as OwnerId,
      status: "active",
      createdAt: 0 as EpochMillis,
      lastActiveAt: (spec.lastActiveAt * 100 + i) as EpochMillis,
      expiresAt: (spec.expired ? 500 : 2_000_000) as EpochMillis,
      idleTimeout: 1_000_000 as Millis,
      maxLifetime: 10_000_000 as Millis
    },
    lease: spec.leased ? { expiresAt: 1_500 } : null
  }))
)

describe("store rules: the plan of an insert", () => {
  const now = 1_000 as EpochMillis
  const expired = (c: Candidate) => c.session.expiresAt <= now && (c.lease === null || c.lease.expiresAt <= now)
  const unleased = (c: Candidate) => c.lease === null || c.lease.expiresAt <= now

  it.prop("frees exactly what each limit needs, expired first, evicting only unleased ones, or refuses", [
    candidates,
    fc.integer({ min: 1, max: 6 }),
    fc.integer({ min: 1, max: 12 }),
    fc.constantFrom("reject" as const, "evict-lru" as const)
  ], ([live, perOwner, max, policy]) => {
    const options = { maxSessions: max, maxSessionsPerOwner: perOwner, capacityPolicy: policy }
    const mine = live.filter((c) => c.session.owner === "alice")
    const byRecency = (list: ReadonlyArray<Candidate>) =>
      [...list].filter(unleased).sort((a, b) => a.session.lastActiveAt - b.session.lastActiveAt)
    const byExpiry = (list: ReadonlyArray<Candidate>) => list.filter(expired)
    const needs = capacityNeeds(mine.length, live.length, options)
    const plan = planInsert({
      session: { owner: "alice", name: null } as Session,
      options,
      now,
      nameHolder: undefined,
      ownerLive: mine.length,
      globalLive: live.length,
      ownerExpired: byExpiry(mine).slice(0, needs.owner),
      ownerRecency: byRecency(mine),
      globalExpired: byExpiry(live).slice(0, needs.global),
      globalRecency: byRecency(live)
    })
    // The oracle: which limits can be met at all, by removing what the policy allows to remove.
    const removable = (list: ReadonlyArray<Candidate>) =>
      list.filter((c) => expired(c) || (policy === "evict-lru" && unleased(c))).length
    if (Either.isLeft(plan)) {
      const ownerImpossible = mine.length + 1 - perOwner > removable(mine)
      expect(plan.left).toMatchObject({ _tag: "CapacityExceeded", scope: ownerImpossible ? "owner" : "global" })
      if (!ownerImpossible) expect(live.length + 1 - max).toBeGreaterThan(removable(live))
      return
    }
    const ended = [...plan.right.expire, ...plan.right.evict.map((e) => e.candidate)]
    expect(new Set(ended.map((c) => c.session.id)).size).toBe(ended.length)
    for (const c of plan.right.expire) expect(expired(c)).toBe(true)
    for (const { candidate } of plan.right.evict) {
      expect(policy).toBe("evict-lru")
      expect(unleased(candidate)).toBe(true)
    }
    const ownerLeft = mine.length - ended.filter((c) => c.session.owner === "alice").length
    const globalLeft = live.length - ended.length
    expect(ownerLeft + 1).toBeLessThanOrEqual(perOwner)
    expect(globalLeft + 1).toBeLessThanOrEqual(max)
    // Nothing more than needed: no plan ends a session when there was room.
    if (mine.length + 1 <= perOwner && live.length + 1 <= max) expect(ended).toEqual([])
    for (const ending of endingsOf(plan.right, now)) {
      expect(ending.endedAt).toBe(ending.status === "expired" ? 500 : now)
    }
  }, { fastCheck: { numRuns: 3000 } })

  it("a name held by a session that has expired is freed by expiring it; one still live refuses", () => {
    const holder: Candidate = {
      session: {
        id: "h" as SessionId,
        owner: "alice" as OwnerId,
        status: "waiting",
        createdAt: 0 as EpochMillis,
        lastActiveAt: 0 as EpochMillis,
        expiresAt: 1_000 as EpochMillis,
        idleTimeout: 1_000 as Millis,
        maxLifetime: 5_000 as Millis
      },
      lease: null
    }
    const situation = (at: number) => ({
      session: { owner: "alice", name: "chat" } as Session,
      options: { maxSessions: 10, maxSessionsPerOwner: 10, capacityPolicy: "reject" as const },
      now: at as EpochMillis,
      nameHolder: holder,
      ownerLive: 1,
      globalLive: 1,
      ownerExpired: [],
      ownerRecency: [],
      globalExpired: [],
      globalRecency: []
    })
    expect(planInsert(situation(999))).toMatchObject({ _tag: "Left", left: { _tag: "SessionNameTaken", name: "chat" } })
    expect(Either.getOrThrow(planInsert(situation(1_000))).expire).toEqual([holder])
  })
})

describe("store rules: cursors", () => {
  it.prop("a cursor gives back its position; anything else is refused", [fc.nat(2 ** 50), fc.string()], ([
    seq,
    text
  ]) => {
    expect(Either.getOrThrow(positionOf(cursorOf(seq)))).toBe(seq)
    const parsed = positionOf(text as Cursor)
    if (Either.isRight(parsed)) expect(cursorOf(parsed.right)).toBe(text.replace(/^c0+(?=.)/, "c"))
  })
})
