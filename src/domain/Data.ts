/**
 * Session data: a JSON value of up to `maxDataBytes` of UTF-8 JSON, copied to exactly what JSON carries so every store
 * returns what any other would, and so a caller's later changes to its object never reach the stored session.
 */
import { Either } from "effect"
import { InvalidInput } from "./Errors.js"
import type { JsonValue } from "./Session.js"

/** The deepest nesting of arrays and objects that session data may have. */
export const maxDataDepth = 256

/** The number of bytes `text` takes in UTF-8 (lone surrogates count as the 3 bytes of U+FFFD). */
export const utf8Length = (text: string): number => {
  let bytes = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) bytes += 1
    else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 3
    } else bytes += 3
  }
  return bytes
}

/** The UTF-8 length of `text` written as a JSON string, quotes and escapes included (as `JSON.stringify` writes it). */
const jsonStringLength = (text: string): number => {
  let bytes = 2
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) {
      if (code >= 0x20) bytes += code === 0x22 || code === 0x5c ? 2 : 1
      else bytes += code === 8 || code === 9 || code === 10 || code === 12 || code === 13 ? 2 : 6
    } else if (code < 0x800) bytes += 2
    else if (code >= 0xd800 && code <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4
        i++
      } else bytes += 6 // a lone surrogate is written as \\uXXXX
    } else bytes += 3
  }
  return bytes
}

/** Why a value cannot be session data. */
class NotJson {
  constructor(readonly reason: string) {}
}

const omitted = (value: unknown) => value === undefined || typeof value === "function" || typeof value === "symbol"

/** What `JSON.stringify` writes for `value` under `key`: the result of its `toJSON`, or itself. */
const resolve = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && typeof (value as { toJSON?: unknown }).toJSON === "function"
    ? (value as { toJSON: (key: string) => unknown }).toJSON(key)
    : value

interface Size {
  bytes: number
  readonly limit: number
  /** Set when the copy stopped early because the limit was already passed. */
  over: boolean
}

/**
 * Copies a resolved, non-omitted `value` as `JSON.parse(JSON.stringify(value))` would, adding the bytes of its JSON
 * to `size` and stopping once the limit is passed. Throws `NotJson` for what JSON cannot hold.
 */
const copy = (value: unknown, size: Size, ancestors: Array<object>): JsonValue => {
  switch (typeof value) {
    case "string":
      size.bytes += jsonStringLength(value)
      return value
    case "number":
      if (!Number.isFinite(value)) {
        size.bytes += 4
        return null
      }
      size.bytes += String(value).length
      return value === 0 ? 0 : value
    case "boolean":
      size.bytes += value ? 4 : 5
      return value
    case "bigint":
      throw new NotJson("holds a BigInt, which JSON cannot hold")
    case "object":
      break
    default:
      throw new NotJson(`got ${typeof value}`)
  }
  if (value === null) {
    size.bytes += 4
    return null
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    return copy(value.valueOf(), size, ancestors)
  }
  if (size.bytes > size.limit) {
    size.over = true
    return null
  }
  if (ancestors.includes(value)) throw new NotJson("contains a cycle")
  if (ancestors.length >= maxDataDepth) throw new NotJson(`is nested deeper than ${maxDataDepth} levels`)
  ancestors.push(value)
  let result: JsonValue
  if (Array.isArray(value)) {
    const out: Array<JsonValue> = new Array(value.length)
    size.bytes += value.length === 0 ? 2 : value.length + 1
    for (let i = 0; i < value.length; i++) {
      const item = resolve(value[i], String(i))
      if (omitted(item)) {
        size.bytes += 4
        out[i] = null
      } else out[i] = copy(item, size, ancestors)
    }
    result = out
  } else {
    const out: Record<string, JsonValue> = {}
    let members = 0
    for (const name of Object.keys(value)) {
      const item = resolve((value as Record<string, unknown>)[name], name)
      if (omitted(item)) continue
      const copied = copy(item, size, ancestors)
      // An own "__proto__" member, as JSON.parse makes it, not a change of prototype.
      if (name === "__proto__") {
        Object.defineProperty(out, name, { value: copied, enumerable: true, writable: true, configurable: true })
      } else out[name] = copied
      size.bytes += jsonStringLength(name) + 1
      members++
    }
    size.bytes += members === 0 ? 2 : members + 1
    result = out
  }
  ancestors.pop()
  return result
}

/**
 * `value` as session data: a copy holding only what JSON carries (as `JSON.stringify` then `JSON.parse` would leave
 * it), no larger than `maxBytes` of UTF-8 JSON. Fails `InvalidInput{field: "data"}` for values JSON cannot hold
 * (undefined, functions, BigInt, cycles, nesting deeper than `maxDataDepth`) and for data over the limit.
 */
export const validateData = (
  value: unknown,
  maxBytes: number,
  field = "data"
): Either.Either<JsonValue, InvalidInput> => {
  const size: Size = { bytes: 0, limit: maxBytes, over: false }
  try {
    const root = resolve(value, "")
    if (omitted(root)) {
      return Either.left(new InvalidInput({ field, reason: `got ${typeof root}`, expected: "a JSON value" }))
    }
    const result = copy(root, size, [])
    if (size.bytes > maxBytes) {
      return Either.left(
        new InvalidInput({
          field,
          reason: size.over ? `is more than ${maxBytes} bytes of JSON` : `is ${size.bytes} bytes of JSON`,
          expected: `at most ${maxBytes} bytes (maxDataBytes)`
        })
      )
    }
    return Either.right(result)
  } catch (error) {
    const reason = error instanceof NotJson
      ? error.reason
      : `cannot be written as JSON (${error instanceof Error ? error.message : String(error)})`
    return Either.left(new InvalidInput({ field, reason, expected: "a JSON value" }))
  }
}
