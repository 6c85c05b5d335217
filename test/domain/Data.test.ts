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
    expect(refused(cyclic)?.reason).toContain("cannot be written as JSON")
    expect(refused(10n)?.reason).toContain("cannot be written as JSON")
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
