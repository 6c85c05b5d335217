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

  it("refuses what JSON cannot hold, naming the path and saying why", () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const refused = (value: unknown) =>
      Either.getLeft(validateData(value, 1000)).pipe((e) => e._tag === "Some" ? e.value : undefined)
    expect(refused(cyclic)).toMatchObject({ _tag: "InvalidInput", field: "data.self", reason: "contains a cycle" })
    expect(refused(10n)).toMatchObject({ field: "data", reason: "is a BigInt, which JSON cannot hold" })
    expect(
      refused({
        get boom() {
          throw new Error("getter failed")
        }
      })?.reason
    ).toBe("could not be read (getter failed)")
    expect(refused(undefined)).toMatchObject({ field: "data", reason: "is undefined, which JSON cannot hold" })
    expect(refused(() => 1)).toMatchObject({ reason: "is a function, which JSON cannot hold" })
    expect(refused({ a: [1, { b: Number.POSITIVE_INFINITY }] })).toMatchObject({
      field: "data.a[1].b",
      reason: "is Infinity, which JSON cannot hold"
    })
    expect(refused({ "a key": { x: Symbol("s") } })).toMatchObject({ field: "data[\"a key\"].x" })
    expect(refused({ when: new Date(0) })).toMatchObject({ field: "data.when", reason: /^is a Date; session data/ })
    expect(refused({ m: new Map(), s: new Set() })).toMatchObject({ field: "data.m", reason: /^is a Map/ })
    // eslint-disable-next-line no-sparse-arrays
    expect(refused([1, , 3])).toMatchObject({ field: "data[1]", reason: /hole/ })
    expect(refused({ [Symbol("k")]: 1 })).toMatchObject({ field: "data", reason: /symbol key/ })

    expect(refused({ boxed: new String("x") })).toMatchObject({ field: "data.boxed", reason: /a String/ })
    expect(refused({ n: Number.NaN })).toMatchObject({ field: "data.n", reason: "is NaN, which JSON cannot hold" })
  })

  it("keeps plain JSON exactly as given", () => {
    const value = { a: [1, "x", null, true, -2.5e-7], o: Object.assign(Object.create(null), { k: "v" }) }
    const copied = Either.getOrThrow(validateData(value, 1000))
    expect(copied).toEqual({ a: [1, "x", null, true, -2.5e-7], o: { k: "v" } })
  })
})

describe("validateData accepts plain JSON unchanged and refuses the rest", () => {
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

  /**
   * An independent oracle: `a` equals `b` as JSON (numbers by value, so -0 is 0), and every object of `a` is plain
   * (the plain prototype or none, no symbol keys), every array of `a` without holes.
   */
  const sameJson = (a: unknown, b: unknown): boolean => {
    if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return a === b
    if (Array.isArray(a)) {
      if (!Array.isArray(b) || a.length !== b.length) return false
      for (let i = 0; i < a.length; i++) if (!(i in a) || !sameJson(a[i], b[i])) return false
      return true
    }
    const prototype = Object.getPrototypeOf(a)
    if (Array.isArray(b) || (prototype !== Object.prototype && prototype !== null)) return false
    if (Object.getOwnPropertySymbols(a).length > 0) return false
    const keys = Object.keys(a)
    const other = Object.keys(b)
    return keys.length === other.length &&
      keys.every((key, i) =>
        key === other[i] && sameJson((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
      )
  }
  const plain = (value: unknown) => {
    const json = JSON.stringify(value)
    return json !== undefined && sameJson(value, JSON.parse(json))
  }

  it.prop("accepts exactly the plain JSON values, unchanged, and measures their size exactly", [values], ([value]) => {
    const result = validateData(value, 1_000_000)
    expect(Either.isRight(result)).toBe(plain(value))
    if (Either.isLeft(result)) {
      expect(result.left.field.startsWith("data")).toBe(true)
      return
    }
    expect(sameJson(value, result.right)).toBe(true)
    const bytes = Buffer.byteLength(JSON.stringify(value), "utf8")
    // The size limit is exact: one byte less refuses the same value.
    expect(Either.isRight(validateData(value, bytes))).toBe(true)
    expect(Either.isLeft(validateData(value, bytes - 1))).toBe(true)
  }, { fastCheck: { numRuns: 2000 } })

  it.prop("plain JSON is always accepted", [fc.jsonValue()], ([value]) => {
    expect(Either.getOrThrow(validateData(value, 10_000_000))).toStrictEqual(JSON.parse(JSON.stringify(value)))
  })

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
