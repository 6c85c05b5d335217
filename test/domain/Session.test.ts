import { describe, expect, it } from "@effect/vitest"
import { Duration, Either, Schema } from "effect"
import * as fc from "fast-check"
import {
  CapacityExceeded,
  CorruptRecord,
  type EpochMillis,
  InvalidConfig,
  InvalidInput,
  InvalidTransition,
  JsonValue,
  LeaseHeld,
  makeSessionId,
  newSession,
  OperationTimeout,
  type OwnerId,
  RateLimited,
  Session,
  SessionBusy,
  SessionEnded,
  SessionError,
  type SessionKind,
  SessionNameTaken,
  SessionNotFound,
  ShuttingDown,
  StaleFencingToken,
  StoreError,
  StoreUnavailable,
  VersionConflict
} from "../../src/index.js"

const policy = { idleTimeout: Duration.minutes(15), maxLifetime: Duration.hours(24) }

const jsonValue: fc.Arbitrary<unknown> = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)))

describe("Session schema", () => {
  it.prop("a session survives encoding to JSON and back", [jsonValue, fc.nat({ max: 10 ** 12 })], ([data, now]) => {
    const session = newSession({
      id: makeSessionId(),
      owner: "alice" as OwnerId,
      name: null,
      kind: "chat" as SessionKind,
      data: data as never,
      now: now as EpochMillis,
      policy
    })
    const wire = JSON.stringify(Schema.encodeSync(Session)(session))
    expect(Schema.decodeUnknownSync(Session)(JSON.parse(wire))).toEqual(session)
  })

  it("rejects records that break the schema, naming the field", () => {
    const good = Schema.encodeSync(Session)(newSession({
      id: makeSessionId(),
      owner: "alice" as OwnerId,
      name: null,
      kind: "chat" as SessionKind,
      data: {},
      now: 0 as EpochMillis,
      policy
    }))
    for (
      const [field, value] of [
        ["version", 0],
        ["status", "paused"],
        ["expiresAt", -1],
        ["lastActiveAt", 1.5],
        ["name", "has space"],
        ["responseTimes", [1, -2]],
        ["data", { n: Number.NaN }]
      ] as const
    ) {
      const result = Schema.decodeUnknownEither(Session)({ ...good, [field]: value })
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left.message).toContain(field)
    }
  })
})

describe("SessionError", () => {
  const errors = [
    new SessionNotFound({ id: "x" }),
    new SessionEnded({ id: "x", status: "expired" }),
    new SessionNameTaken({ owner: "alice", name: "main" }),
    new CapacityExceeded({ scope: "owner", limit: 100 }),
    new InvalidInput({ field: "name", reason: "is empty", expected: "1-64 characters" }),
    new InvalidTransition({ id: "x", from: "waiting", event: "wait" }),
    new VersionConflict({ id: "x", expected: 3, actual: 4 }),
    new SessionBusy({ id: "x", holder: "worker-1", waited: Duration.seconds(5) }),
    new LeaseHeld({ id: "x", holder: "worker-1", expiresAt: 1000 }),
    new StaleFencingToken({ id: "x", token: 7 }),
    new RateLimited({ key: "session:x", retryAfter: Duration.millis(250) }),
    new OperationTimeout({ operation: "withSession", after: Duration.minutes(2) }),
    new StoreUnavailable({ operation: "get", reason: "database is locked" }),
    new StoreError({ operation: "insert", reason: "disk I/O error" }),
    new CorruptRecord({ id: "x", reason: "version: expected a positive integer" }),
    new ShuttingDown(),
    new InvalidConfig({ issues: [{ field: "a", reason: "b" }, { field: "c", reason: "d" }] })
  ]

  it("every error encodes to JSON and decodes back to an equal error with a readable message", () => {
    const tags = new Set<string>()
    for (const error of errors) {
      const wire = JSON.parse(JSON.stringify(Schema.encodeSync(SessionError)(error)))
      expect(wire._tag).toBe(error._tag)
      const back = Schema.decodeUnknownSync(SessionError)(wire)
      expect(back).toBeInstanceOf(error.constructor)
      expect(back).toEqual(error)
      expect(error.message.length).toBeGreaterThan(5)
      expect(error.message).not.toContain("[object")
      tags.add(error._tag)
    }
    expect(tags.size).toBe(SessionError.members.length)
  })

  it("encodes durations as milliseconds, with the unit in the field's name", () => {
    const wire = Schema.encodeSync(SessionError)(new RateLimited({ key: "k", retryAfter: Duration.seconds(2) }))
    expect(wire).toEqual({ _tag: "RateLimited", key: "k", retryAfterMs: 2000 })
    expect(Schema.encodeSync(SessionError)(new SessionBusy({ id: "x", holder: "h", waited: Duration.millis(5) })))
      .toMatchObject({ waitedMs: 5 })
    expect(
      Schema.encodeSync(SessionError)(new OperationTimeout({ operation: "op", after: Duration.seconds(1) }))
    ).toMatchObject({ afterMs: 1000 })
  })
})

describe("JsonValue", () => {
  it("keeps an own __proto__ member through decoding, as JSON.parse made it", () => {
    const data = JSON.parse("{\"__proto__\": {\"x\": 1}, \"a\": [1, {\"__proto__\": null}]}")
    const decoded = Schema.decodeUnknownSync(JsonValue)(data) as Record<string, unknown>
    expect(Object.keys(decoded)).toEqual(["__proto__", "a"])
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype)
    expect(decoded).toStrictEqual(data)
  })

  it("refuses what JSON cannot carry", () => {
    for (
      const bad of [Number.NaN, Infinity, undefined, () => 1, new Date(0), new Map(), [1, Number.NaN], { a: undefined }]
    ) {
      expect(Schema.is(JsonValue)(bad)).toBe(false)
    }
    let deep: unknown = 1
    for (let i = 0; i < 10_000; i++) deep = [deep]
    expect(Schema.is(JsonValue)(deep)).toBe(false)
  })
})
