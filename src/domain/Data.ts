/**
 * Session data: any JSON value up to `maxDataBytes` of UTF-8, normalised to what JSON can carry so every store
 * returns exactly what any other would.
 */
import { Either } from "effect"
import { InvalidInput } from "./Errors.js"
import type { JsonValue } from "./Session.js"

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

/**
 * `value` as session data: a copy holding only what JSON carries (as `JSON.stringify` then `JSON.parse` would leave
 * it), no larger than `maxBytes` of UTF-8 JSON. Fails `InvalidInput{field: "data"}` for values JSON cannot hold
 * (undefined, functions, BigInt, cycles) and for data over the limit.
 */
export const validateData = (
  value: unknown,
  maxBytes: number,
  field = "data"
): Either.Either<JsonValue, InvalidInput> => {
  let json: string | undefined
  try {
    json = JSON.stringify(value)
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return Either.left(
      new InvalidInput({ field, reason: `cannot be written as JSON (${reason})`, expected: "a JSON value" })
    )
  }
  if (json === undefined) {
    return Either.left(new InvalidInput({ field, reason: `got ${typeof value}`, expected: "a JSON value" }))
  }
  const bytes = utf8Length(json)
  if (bytes > maxBytes) {
    return Either.left(
      new InvalidInput({
        field,
        reason: `is ${bytes} bytes of JSON`,
        expected: `at most ${maxBytes} bytes (maxDataBytes)`
      })
    )
  }
  return Either.right(JSON.parse(json) as JsonValue)
}
