/** Checks a caller's string against a length range and a character class, and says precisely what is wrong. */
import { Either } from "effect"
import { InvalidInput } from "../Errors.js"

/** The shape of a text field: its length range, the characters it may hold, and how to describe them. */
export interface TextRule {
  readonly min: number
  readonly max: number
  /** A regular expression matching exactly the valid values (anchored, whole string). */
  readonly pattern: RegExp
  /** Whether one UTF-16 code unit may appear in the value. */
  readonly allowed: (code: number) => boolean
  /** What is allowed, for the error message ("1-64 characters of A-Z a-z 0-9 _ -"). */
  readonly expected: string
}

const describe = (value: unknown): string => {
  if (value === null) return "null"
  if (Array.isArray(value)) return "an array"
  return `a ${typeof value}`
}

const codePoint = (code: number): string => `U+${code.toString(16).toUpperCase().padStart(4, "0")}`

const show = (code: number): string =>
  code >= 0x20 && code <= 0x7e ? `"${String.fromCharCode(code)}" (${codePoint(code)})` : codePoint(code)

/**
 * Why `value` breaks `rule`, in words: not a string, empty, too long (in characters), or the first character that is
 * not allowed and where it is. `undefined` when the value is valid.
 */
export const textProblem = (rule: TextRule, value: unknown): string | undefined => {
  if (typeof value !== "string") return `got ${describe(value)}, not a string`
  if (rule.pattern.test(value)) return undefined
  if (value.length === 0) return "is empty"
  if (value.length < rule.min) return `is ${value.length} characters long, shorter than ${rule.min}`
  if (value.length > rule.max) return `is ${value.length} characters long, longer than ${rule.max}`
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (!rule.allowed(code)) return `character ${show(code)} at position ${i} is not allowed`
  }
  return "does not have the allowed form"
}

/** Validates `value` against `rule`, failing with an `InvalidInput` that names `field`. */
export const checkText = <A extends string>(
  rule: TextRule,
  field: string,
  value: unknown
): Either.Either<A, InvalidInput> => {
  const problem = textProblem(rule, value)
  return problem === undefined
    ? Either.right(value as A)
    : Either.left(new InvalidInput({ field, reason: problem, expected: rule.expected }))
}
