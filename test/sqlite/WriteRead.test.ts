import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Option } from "effect"
import * as fc from "fast-check"
import { SessionManager, SessionStore } from "../../src/index.js"
import { managerOver } from "../support/manager.js"
import { sqliteLayer } from "../support/sqlite.js"

const Manager = SessionManager.SessionManager

/** Durations as callers write them, valid or not: numbers of every kind, text with units, `Duration`s. */
const durations = fc.oneof(
  fc.constantFrom(
    1.5,
    "1.5ms",
    1e308,
    "99999999999d",
    9007199254740992,
    -1,
    0,
    "0ms",
    Number.NaN,
    "1h",
    "1h30m",
    "15 minutes",
    "36500d",
    "36501d"
  ),
  fc.double({ noNaN: false }),
  fc.integer({ min: -10, max: 4e12 }),
  fc.tuple(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom("ms", "s", "m", "h", "d", "w"))
    .map(([n, unit]) => `${n}${unit}`),
  fc.bigInt({ min: 0n, max: 10n ** 16n }).map((nanos) => Duration.nanos(nanos)),
  fc.constant(Duration.infinity)
)

/** Mostly undefined or valid, sometimes anything: so both acceptance and refusal are exercised often. */
const sometimes = <A, B>(valid: fc.Arbitrary<A>, wild: fc.Arbitrary<B>) =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: valid, weight: 3 }, {
    arbitrary: wild,
    weight: 1
  })

const validName = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/)
const validDuration = fc.oneof(fc.integer({ min: 1, max: 1e9 }), fc.constantFrom("1h", "90m", "2d", "15 minutes"))

const inputs = fc.record({
  idleTimeout: sometimes(validDuration, durations),
  maxLifetime: sometimes(validDuration, durations),
  data: sometimes(fc.jsonValue(), fc.anything({ withDate: true, withMap: true, withBoxedValues: true })),
  name: sometimes(validName, fc.string({ maxLength: 70 })),
  kind: sometimes(validName, fc.string({ maxLength: 70 }))
})

describe("what a write accepts, a read decodes (SQLite, the strictest decoder)", () => {
  it.effect(
    "every accepted create reads back, touches, lists and closes; every refusal is InvalidInput",
    () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const store = yield* SessionStore
        let accepted = 0
        let refused = 0
        for (const input of fc.sample(inputs, { numRuns: 600, seed: 10 })) {
          const created = yield* Effect.either(m.create({ owner: "writer", ...input }))
          if (Either.isLeft(created)) {
            expect(created.left._tag).toBe("InvalidInput")
            refused++
            continue
          }
          accepted++
          const session = created.right
          expect(Number.isInteger(session.idleTimeout) && Number.isInteger(session.maxLifetime)).toBe(true)
          // Read through the store itself: the row decodes (no CorruptRecord) and is what the create returned.
          expect(Option.getOrThrow(yield* store.get(session.id))).toStrictEqual(session)
          expect((yield* m.touch(session.id)).id).toBe(session.id)
          expect((yield* m.close(session.id)).status).toBe("closed")
        }
        const page = yield* m.list({ owner: "writer", limit: 1000 })
        expect(page.corrupt).toEqual([])
        expect(page.sessions.length).toBe(accepted)
        // Both kinds of outcome happened: the sample exercises the rule, not only one side of it.
        expect(accepted).toBeGreaterThan(50)
        expect(refused).toBeGreaterThan(50)
      }).pipe(
        Effect.provide(managerOver(sqliteLayer(), { maxSessionsPerOwner: 1000, sessionRateLimit: "100000/1s" }, {
          sweeper: false
        }))
      ),
    60_000
  )

  it.effect("durations that once made sessions unreadable are refused with InvalidInput naming the field", () =>
    Effect.gen(function*() {
      const m = yield* Manager
      for (const bad of [1.5, "1.5ms", 1e308, "99999999999d", 9007199254740992, "36501d", Duration.nanos(1500n)]) {
        expect(yield* Effect.flip(m.create({ owner: "a", idleTimeout: bad }))).toMatchObject({
          _tag: "InvalidInput",
          field: "idleTimeout"
        })
        expect(yield* Effect.flip(m.create({ owner: "a", maxLifetime: bad }))).toMatchObject({ field: "maxLifetime" })
      }
      const s = yield* m.create({ owner: "a", idleTimeout: "1h", maxLifetime: "36500d" })
      expect(s).toMatchObject({ idleTimeout: 3_600_000, maxLifetime: 36_500 * 86_400_000 })
      expect(yield* m.get(s.id)).toStrictEqual(s)
    }).pipe(Effect.provide(managerOver(sqliteLayer(), {}, { sweeper: false }))))
})
