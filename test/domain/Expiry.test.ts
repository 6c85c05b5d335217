import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import * as fc from "fast-check"
import {
  type EpochMillis,
  expiresAt,
  expiryInstant,
  type ExpiryPolicy,
  expiryReason,
  hasExpired,
  limitsOf,
  type Millis,
  pushResponseTime
} from "../../src/index.js"

const at = (policy: ExpiryPolicy, createdAt: number, lastActiveAt: number) =>
  expiresAt({ createdAt: createdAt as EpochMillis, ...limitsOf(policy) }, lastActiveAt as EpochMillis)

const policyArb = fc.record({
  idleTimeout: fc.integer({ min: 1, max: 10 ** 9 }).map(Duration.millis),
  maxLifetime: fc.integer({ min: 1, max: 10 ** 10 }).map(Duration.millis)
})
const instant = fc.integer({ min: 0, max: 4 * 10 ** 12 })

describe("Expiry.expiresAt", () => {
  it("is the earlier of the idle deadline and the absolute one", () => {
    const policy = { idleTimeout: Duration.minutes(15), maxLifetime: Duration.hours(24) }
    expect(at(policy, 0, 0)).toBe(15 * 60_000)
    expect(at(policy, 0, 23 * 3_600_000 + 50 * 60_000)).toBe(24 * 3_600_000)
  })

  it.prop(
    "never passes createdAt + maxLifetime, and activity never moves it earlier",
    [policyArb, instant, fc.array(fc.integer({ min: 0, max: 10 ** 9 }), { maxLength: 20 })],
    ([policy, created, gaps]) => {
      const createdAt = created as EpochMillis
      let last = createdAt
      let previous = at(policy, createdAt, last)
      for (const gap of gaps) {
        last = (last + gap) as EpochMillis
        const next = at(policy, createdAt, last)
        expect(next).toBeLessThanOrEqual(createdAt + Duration.toMillis(policy.maxLifetime))
        expect(next).toBeLessThanOrEqual(last + Duration.toMillis(policy.idleTimeout))
        expect(next).toBeGreaterThanOrEqual(previous)
        previous = next
      }
    }
  )

  it("has expired exactly at expiresAt, or at the end of a lease that holds it past then", () => {
    const session = { expiresAt: 100 as EpochMillis }
    expect(hasExpired(session, null, 99)).toBe(false)
    expect(hasExpired(session, null, 100)).toBe(true)
    expect(hasExpired(session, 50, 100)).toBe(true)
    expect(hasExpired(session, 150, 149)).toBe(false)
    expect(hasExpired(session, 150, 150)).toBe(true)
    expect(expiryInstant(100 as EpochMillis, null)).toBe(100)
    expect(expiryInstant(100 as EpochMillis, 50)).toBe(100)
    expect(expiryInstant(100 as EpochMillis, 150)).toBe(150)
  })

  it.prop(
    "has expired at now exactly when due and no unexpired lease holds it",
    [instant, fc.option(instant, { nil: null }), instant],
    ([expires, lease, now]) => {
      const due = expires <= now
      const leased = lease !== null && lease > now
      expect(hasExpired({ expiresAt: expires as EpochMillis }, lease, now)).toBe(due && !leased)
    }
  )

  it.prop(
    "gives the reason that bound the expiry",
    [policyArb, instant, fc.integer({ min: 0, max: 10 ** 10 })],
    ([policy, created, gap]) => {
      const createdAt = created as EpochMillis
      const lastActiveAt = (created + gap) as EpochMillis
      const when = at(policy, createdAt, lastActiveAt)
      const reason = expiryReason({ createdAt, lastActiveAt, ...limitsOf(policy) })
      expect(when).toBe(
        reason === "max lifetime"
          ? createdAt + Duration.toMillis(policy.maxLifetime)
          : lastActiveAt + Duration.toMillis(policy.idleTimeout)
      )
    }
  )
})

describe("Activity.pushResponseTime", () => {
  it.prop(
    "keeps the newest responses, never more than the limit, without mutating its input",
    [fc.array(fc.nat(), { maxLength: 300 }), fc.integer({ min: 0, max: 120 })],
    ([times, limit]) => {
      let window: ReadonlyArray<Millis> = []
      for (const time of times) {
        const before = [...window]
        const next = pushResponseTime(window, time as Millis, limit)
        expect(window).toEqual(before)
        expect(next.length).toBeLessThanOrEqual(Math.max(limit, 0))
        window = next
      }
      expect(window).toEqual(limit === 0 ? [] : times.slice(-limit))
    }
  )
})
