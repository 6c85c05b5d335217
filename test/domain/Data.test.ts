import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as fc from "fast-check"
import { utf8Length, validateData } from "../../src/index.js"

describe("session data", () => {
  it.prop(
    "utf8Length agrees with the platform's UTF-8 encoder",
    [fc.fullUnicodeString({ maxLength: 200 })],
    ([text]) => {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, "utf8"))
    }
  )

  it("counts lone surrogates as the three bytes of U+FFFD", () => {
    for (const text of ["\uD800", "a\uDC00b", "\uD83D", "\uD83Dx"]) {
      expect(utf8Length(text)).toBe(Buffer.byteLength(text, "utf8"))
    }
  })

  it("refuses what JSON cannot hold, saying why", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const refused = (value: unknown) =>
      Either.getLeft(validateData(value, 1000)).pipe((e) => e._tag === "Some" ? e.value : undefined)
    expect(refused(cyclic)).toMatchObject({ _tag: "InvalidInput", field: "data", expected: "a JSON value" })
    expect(refused(cyclic)?.reason).toBe("contains a cycle")
    expect(refused(10n)?.reason).toBe("holds a BigInt, which JSON cannot hold")
    expect(
      refused({
        get boom() {
          throw new Error("getter failed")
        }
      })?.reason
    ).toBe("cannot be written as JSON (getter failed)")
    expect(refused(undefined)).toMatchObject({ reason: "got undefined" })
    expect(refused(() => 1)).toMatchObject({ reason: "got function" })
  })

  it("keeps exactly what JSON carries", () => {
    expect(Either.getOrThrow(validateData({ a: [1, "x", null, true], n: Number.NaN }, 1000))).toEqual({
      a: [1, "x", null, true],
      n: null
    })
  })
})

describe("validateData copies exactly what JSON carries", () => {
  const reference = (value: unknown) => {
    const json = JSON.stringify(value)
    return json === undefined ? undefined : { copy: JSON.parse(json), bytes: Buffer.byteLength(json, "utf8") }
  }
  const values = fc.oneof(
    fc.anything({
      withBigInt: false,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withBoxedValues: true,
      withSparseArray: true,
      withTypedArray: true,
      withUnicodeString: true
    }),
    fc.jsonValue(),
    fc.fullUnicodeString()
  )

  it.prop("the same value and the same size as JSON.parse(JSON.stringify(value))", [values], ([value]) => {
    const expected = reference(value)
    const result = validateData(value, 1_000_000)
    if (expected === undefined) {
      expect(Either.isLeft(result)).toBe(true)
      return
    }
    const copied = Either.getOrThrow(result)
    expect(copied).toStrictEqual(expected.copy)
    // The size limit is exact: one byte less refuses the same value.
    expect(Either.isRight(validateData(value, expected.bytes))).toBe(true)
    expect(Either.isLeft(validateData(value, expected.bytes - 1))).toBe(true)
  }, { fastCheck: { numRuns: 2000 } })

  it("writes an own __proto__ member as JSON.parse does, without changing the prototype", () => {
    const parsed = JSON.parse("{\"__proto__\": {\"polluted\": true}, \"a\": 1}")
    const copied = Either.getOrThrow(validateData(parsed, 1000)) as Record<string, unknown>
    expect(Object.getPrototypeOf(copied)).toBe(Object.prototype)
    expect(Object.keys(copied)).toEqual(["__proto__", "a"])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it("is a copy: later changes to the caller's object do not reach it", () => {
    const original = { list: [1, 2], nested: { x: "y" } }
    const copied = Either.getOrThrow(validateData(original, 1000)) as typeof original
    original.list.push(3)
    original.nested.x = "changed"
    expect(copied).toEqual({ list: [1, 2], nested: { x: "y" } })
  })

  it("refuses nesting deeper than the limit instead of overflowing the stack", () => {
    let deep: unknown = 1
    for (let i = 0; i < 100_000; i++) deep = [deep]
    const refused = validateData(deep, 10_000_000)
    expect(refused).toMatchObject({
      _tag: "Left",
      left: { _tag: "InvalidInput", reason: "is nested deeper than 256 levels" }
    })
  })

  it("stops early on data far over the limit", () => {
    const big = Array.from({ length: 100_000 }, (_, i) => ({ i, text: "x".repeat(20) }))
    expect(validateData(big, 1024)).toMatchObject({ _tag: "Left", left: { reason: "is more than 1024 bytes of JSON" } })
  })
})
