/**
 * Session data: plain JSON of up to `maxDataBytes` of UTF-8 JSON, refused (never converted) when it holds anything
 * JSON cannot carry, so every store returns exactly what was written and what any other store would.
 */
import { Either } from "effect"
import { InvalidInput } from "./Errors.js"
import type { JsonValue } from "./Session.js"

/** The deepest nesting of arrays and objects that session data may have. */
export const maxDataDepth = 256

/**
 * Whether `value` is plain JSON as session data holds it: finite numbers, strings, booleans, null, arrays without
 * holes and objects with the plain prototype (or none) of them, nested at most `maxDataDepth` deep. Checks in place.
 */
export const isJsonValue = (value: unknown, depth = 0): value is JsonValue => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true
    case "number":
      return Number.isFinite(value)
    case "object": {
      if (value === null) return true
      if (depth >= maxDataDepth) return false
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!(i in value) || !isJsonValue(value[i], depth + 1)) return false
        return true
      }
      const prototype = Object.getPrototypeOf(value)
      if (prototype !== Object.prototype && prototype !== null) return false
      if (Object.getOwnPropertySymbols(value).length > 0) return false
      for (const key of Object.keys(value)) {
        if (!isJsonValue((value as Record<string, unknown>)[key], depth + 1)) return false
      }
      return true
    }
    default:
      return false
  }
}

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

/** Why a value cannot be session data, and where in it. */
class NotJson {
  /** `path` is `null` when the reason is said of the whole value. */
  constructor(readonly path: string | null, readonly reason: string) {}
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** The path of a member, as a reader would write it: `data.items[3]`, `data["a key"]`. */
const member = (path: string, name: string): string =>
  identifier.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`

/**
 * Where a part of the value is: the field of the whole value, or a step (a member's name or an index) down from a
 * part. Spelled out (`spell`) only when a part is refused, so checking valid data builds no path strings.
 */
type Path = string | { readonly parent: Path; readonly step: string | number }

/** The path of the part at `step` down from `parent` (`null`: the part at `parent` itself). */
const at = (parent: Path, step: string | number | null): Path => (step === null ? parent : { parent, step })

const spell = (path: Path): string =>
  typeof path === "string"
    ? path
    : typeof path.step === "number"
    ? `${spell(path.parent)}[${path.step}]`
    : member(spell(path.parent), path.step)

const plainJson = "plain JSON (objects, arrays, strings, finite numbers, booleans and null)"

/** What a value that JSON cannot carry as it is, is, in words ("a Date", "a function", "NaN"). */
const described = (value: unknown): string => {
  switch (typeof value) {
    case "undefined":
      return "undefined"
    case "function":
      return "a function"
    case "symbol":
      return "a symbol"
    case "bigint":
      return "a BigInt"
    case "number":
      return String(value)
    default: {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name
      return typeof name === "string" && name !== "" && name !== "Object" ? `a ${name}` : "an object that is not plain"
    }
  }
}

interface Size {
  bytes: number
  readonly limit: number
  /** Set when the copy stopped early because the limit was already passed. */
  over: boolean
}

/**
 * Copies `value`, which must already be plain JSON, adding the bytes of its JSON to `size` and stopping once the
 * limit is passed. Throws `NotJson` with the path of the first part that is not plain JSON: nothing is converted or
 * dropped (no `toJSON`, no `undefined` members skipped, no `NaN` turned into `null`), so what is stored is what was
 * given. The one exception is `-0`, stored as `0` (JSON has no negative zero).
 */
const copy = (
  value: unknown,
  parent: Path,
  step: string | number | null,
  size: Size,
  ancestors: Array<object>
): JsonValue => {
  switch (typeof value) {
    case "string":
      size.bytes += jsonStringLength(value)
      return value
    case "number":
      if (!Number.isFinite(value)) throw new NotJson(spell(at(parent, step)), `is ${value}, which JSON cannot hold`)
      size.bytes += String(value).length
      return value === 0 ? 0 : value
    case "boolean":
      size.bytes += value ? 4 : 5
      return value
    case "object":
      break
    default:
      throw new NotJson(spell(at(parent, step)), `is ${described(value)}, which JSON cannot hold`)
  }
  if (value === null) {
    size.bytes += 4
    return null
  }
  if (size.bytes > size.limit) {
    size.over = true
    return null
  }
  const path = at(parent, step)
  if (ancestors.includes(value)) throw new NotJson(spell(path), "contains a cycle")
  // Said of the whole value: the path down to the 257th level would only be a long run of the same steps.
  if (ancestors.length >= maxDataDepth) throw new NotJson(null, `is nested deeper than ${maxDataDepth} levels`)
  ancestors.push(value)
  let result: JsonValue
  if (Array.isArray(value)) {
    const out: Array<JsonValue> = new Array(value.length)
    size.bytes += value.length === 0 ? 2 : value.length + 1
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) {
        throw new NotJson(spell({ parent: path, step: i }), "is a hole in the array, which JSON cannot hold")
      }
      out[i] = copy(value[i], path, i, size, ancestors)
    }
    result = out
  } else {
    const prototype = Object.getPrototypeOf(value)
    if (prototype !== Object.prototype && prototype !== null) {
      throw new NotJson(spell(path), `is ${described(value)}; session data must be ${plainJson}`)
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new NotJson(spell(path), "has a symbol key, which JSON cannot hold")
    }
    // A spread copy has the shape of the original (its properties all in the object, where adding them one by one
    // to `{}` would put a fifth and later ones in a separate array): each member is then checked and replaced by its
    // own copy. The values are read once, by the spread.
    const out = { ...value } as Record<string, JsonValue>
    let members = 0
    for (const name of Object.keys(out)) {
      const copied = copy(out[name], path, name, size, ancestors)
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
 * `value` as session data: a copy of it, no larger than `maxBytes` of UTF-8 JSON. The value must be plain JSON
 * (objects with the plain prototype or none, arrays without holes, strings, finite numbers, booleans, null): anything
 * else fails `InvalidInput` whose field is the path of the first offending part (`data.items[3].when`), whether it is
 * `undefined`, a function, a symbol, a BigInt, `NaN` or an infinity, a `Date`, a `Map` or another class instance, a
 * cycle, or nesting deeper than `maxDataDepth`; so is data over the limit. Nothing is converted on the way in: what a
 * read returns is what was written. The copy means later changes to the caller's object never reach the session.
 */
export const validateData = (
  value: unknown,
  maxBytes: number,
  field = "data"
): Either.Either<JsonValue, InvalidInput> => {
  const size: Size = { bytes: 0, limit: maxBytes, over: false }
  try {
    const result = copy(value, field, null, size, [])
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
    if (error instanceof NotJson) {
      return Either.left(new InvalidInput({ field: error.path ?? field, reason: error.reason, expected: plainJson }))
    }
    // A getter that throws, or a proxy that refuses to be read: the caller's value cannot be read as data.
    const reason = `could not be read (${error instanceof Error ? error.message : String(error)})`
    return Either.left(new InvalidInput({ field, reason, expected: plainJson }))
  }
}
