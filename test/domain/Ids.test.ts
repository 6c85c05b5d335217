import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Encoding, Schema } from "effect"
import * as fc from "fast-check"
import {
  generateSessionId,
  type InvalidInput,
  isSessionId,
  makeSessionId,
  OwnerId,
  SessionId,
  SessionName,
  validateOwnerId,
  validateSessionKind,
  validateSessionName
} from "../../src/index.js"

const nameChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
const isAllowedName = (s: string) => s.length >= 1 && s.length <= 64 && [...s].every((c) => nameChars.includes(c))

const invalid = (result: Either.Either<unknown, InvalidInput>) =>
  Either.match(result, { onLeft: (e): InvalidInput | undefined => e, onRight: () => undefined })

describe("SessionName validation", () => {
  it.prop("accepts every string of 1-64 allowed characters", [
    fc.stringOf(fc.constantFrom(...nameChars), { minLength: 1, maxLength: 64 })
  ], ([name]) => {
    expect(Either.isRight(validateSessionName(name))).toBe(true)
    expect(Schema.is(SessionName)(name)).toBe(true)
  })

  it.prop(
    "accepts exactly the allowed names among arbitrary strings",
    [fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.fullUnicodeString({ maxLength: 70 }),
      fc.stringOf(fc.constantFrom(...nameChars, " ", "/", "é"), { maxLength: 70 })
    )],
    ([name]) => {
      const result = validateSessionName(name)
      expect(Either.isRight(result)).toBe(isAllowedName(name))
      if (Either.isLeft(result)) {
        expect(result.left).toMatchObject({ _tag: "InvalidInput", field: "name" })
        expect(result.left.expected).toContain("1-64")
      }
    }
  )

  const rejected: ReadonlyArray<readonly [string, unknown, string]> = [
    ["empty", "", "is empty"],
    ["65 characters", "a".repeat(65), "65 characters long, longer than 64"],
    ["Cyrillic look-alike", "s\u0435ssion", "U+0435"],
    ["fullwidth look-alike", "\uFF41bc", "U+FF41"],
    ["space", "my session", "\" \" (U+0020) at position 2"],
    ["slash", "a/b", "\"/\" (U+002F)"],
    ["backslash", "a\\b", "\"\\\" (U+005C)"],
    ["dot dot", "..", "\".\" (U+002E)"],
    ["NUL", "a\u0000b", "U+0000 at position 1"],
    ["newline", "a\nb", "U+000A"],
    ["DEL", "a\u007f", "U+007F"],
    ["zero-width space", "ab\u200B", "U+200B"],
    ["emoji", "chat\u{1F600}", "U+D83D"],
    ["a number", 42, "got a number, not a string"],
    ["null", null, "got null, not a string"]
  ]
  for (const [label, input, reason] of rejected) {
    it(`rejects ${label} with InvalidInput saying what is wrong and what is allowed`, () => {
      const error = invalid(validateSessionName(input))
      expect(error).toMatchObject({ _tag: "InvalidInput", field: "name" })
      expect(error?.reason).toContain(reason)
      expect(error?.message).toContain("A-Z a-z 0-9 _ -")
    })
  }

  it("reports the schema failure in the same words when decoding", () => {
    const result = Schema.decodeUnknownEither(SessionName)("a b")
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left.message).toContain("character \" \" (U+0020) at position 1")
  })
})

describe("OwnerId and SessionKind validation", () => {
  it.prop("owners are 1-128 visible ASCII characters", [fc.string({ maxLength: 140 })], ([owner]) => {
    const allowed = owner.length >= 1 && owner.length <= 128 && /^[!-~]+$/.test(owner)
    expect(Either.isRight(validateOwnerId(owner))).toBe(allowed)
    expect(Schema.is(OwnerId)(owner)).toBe(allowed)
  })

  it("accepts typical owners and rejects spaces and control characters", () => {
    for (const owner of ["alice", "auth0|5f7c8ec7", "user@example.com", "tenant:42/user:7"]) {
      expect(Either.isRight(validateOwnerId(owner))).toBe(true)
    }
    expect(invalid(validateOwnerId("al ice"))).toMatchObject({ field: "owner" })
    expect(invalid(validateOwnerId("x".repeat(129)))).toMatchObject({ field: "owner" })
    expect(invalid(validateOwnerId("bob\r\n"))).toMatchObject({ field: "owner" })
  })

  it("kinds are printable ASCII labels without surrounding spaces", () => {
    expect(Either.isRight(validateSessionKind("agent run"))).toBe(true)
    expect(invalid(validateSessionKind(" chat"))).toMatchObject({ field: "kind" })
    expect(invalid(validateSessionKind("chat "))).toMatchObject({ field: "kind" })
    expect(invalid(validateSessionKind(""))).toMatchObject({ field: "kind", reason: "is empty" })
  })
})

describe("SessionId", () => {
  it("is 128 random bits in 22 base64url characters, valid by its own schema", () => {
    const ids = new Set<string>()
    for (let i = 0; i < 10_000; i++) {
      const id = makeSessionId()
      expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/)
      const bytes = Either.getOrThrow(Encoding.decodeBase64Url(id))
      expect(bytes.length).toBe(16)
      expect(Encoding.encodeBase64Url(bytes)).toBe(id)
      ids.add(id)
    }
    expect(ids.size).toBe(10_000)
    for (const id of ids) expect(Schema.is(SessionId)(id)).toBe(true)
    // Never one a command line would take for an option (1 in 64 would start with "-" otherwise).
    expect([...ids].filter((id) => id.startsWith("-"))).toEqual([])
  })

  it.effect("is generated as an effect too", () =>
    Effect.gen(function*() {
      const a = yield* generateSessionId
      const b = yield* generateSessionId
      expect(a).not.toBe(b)
      expect(isSessionId(a)).toBe(true)
    }))

  it.prop(
    "isSessionId accepts exactly what the id pattern accepts, and what the schema accepts",
    [
      fc.oneof(
        fc.stringMatching(/^[A-Za-z0-9_-]{21}[AQgw]$/),
        fc.string({ minLength: 20, maxLength: 24 }),
        fc.stringMatching(/^[A-Za-z0-9_+/=-]{21,23}$/),
        fc.string({ unit: "binary", minLength: 22, maxLength: 22 })
      )
    ],
    ([candidate]) => {
      expect(isSessionId(candidate)).toBe(/^[A-Za-z0-9_-]{21}[AQgw]$/.test(candidate))
      expect(isSessionId(candidate)).toBe(Schema.is(SessionId)(candidate))
    }
  )

  it("rejects anything that is not a canonical id", () => {
    for (const bad of ["", "short", "a".repeat(23), "AAAAAAAAAAAAAAAAAAAAA/", "AAAAAAAAAAAAAAAAAAAAAB", 7, undefined]) {
      expect(isSessionId(bad)).toBe(false)
    }
  })
})
