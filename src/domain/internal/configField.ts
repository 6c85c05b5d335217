/** Building blocks of the config schema: one field kind each, read from code values or environment text alike. */
import { Duration, Either, ParseResult, Schema } from "effect"
import {
  durationForms,
  formatDuration,
  formatRate,
  parseRate,
  parseWholeDuration,
  type Rate,
  rateForms
} from "./parse.js"

/** One configuration field: its schema (decoding code values and env text alike), default and documentation. */
export interface ConfigField<A> {
  readonly schema: Schema.Schema<A, unknown>
  readonly default: A
  /** What the field controls, for the config reference. */
  readonly doc: string
  /** The default in the form an environment variable takes. */
  readonly defaultText: string
}

const fromUnknown = <A>(
  name: string,
  parse: (input: unknown) => Either.Either<A, string>,
  print: (value: A) => unknown,
  to: Schema.Schema<A>
): Schema.Schema<A, unknown> =>
  Schema.transformOrFail(Schema.Unknown, to, {
    strict: true,
    decode: (input, _, ast) =>
      Either.match(parse(input), {
        onLeft: (reason) => ParseResult.fail(new ParseResult.Type(ast, input, reason)),
        onRight: ParseResult.succeed
      }),
    encode: (value) => ParseResult.succeed(print(value))
  }).annotations({ identifier: name })

/** A duration in whole milliseconds of at least `min` (default: more than zero), written as in `durationForms`. */
export const duration = (
  options: { readonly default: Duration.Duration; readonly doc: string; readonly min?: Duration.Duration }
): ConfigField<Duration.Duration> => {
  const min = options.min
  const check = (value: Duration.Duration): Either.Either<Duration.Duration, string> =>
    min === undefined
      ? Duration.toMillis(value) > 0 ? Either.right(value) : Either.left("must be longer than zero")
      : Duration.greaterThanOrEqualTo(value, min)
      ? Either.right(value)
      : Either.left(`must be at least ${formatDuration(min)}, got ${formatDuration(value)}`)
  const parse = (input: unknown) =>
    Either.match(parseWholeDuration(input, true), {
      onLeft: (reason) => Either.left(`expected ${durationForms}; ${reason}`),
      onRight: check
    })
  return {
    schema: fromUnknown("Duration", parse, formatDuration, Schema.DurationFromSelf),
    default: options.default,
    doc: options.doc,
    defaultText: formatDuration(options.default)
  }
}

/** A whole number in `[min, max]`, given as a number or as decimal digits. */
export const integer = (
  options: { readonly default: number; readonly doc: string; readonly min: number; readonly max?: number }
): ConfigField<number> => {
  const max = options.max ?? Number.MAX_SAFE_INTEGER
  const range = max === Number.MAX_SAFE_INTEGER ? `at least ${options.min}` : `from ${options.min} to ${max}`
  const parse = (input: unknown): Either.Either<number, string> => {
    const value = typeof input === "string" && /^\s*\d+\s*$/.test(input) ? Number(input) : input
    if (typeof value !== "number" || !Number.isSafeInteger(value)) {
      return Either.left(`expected a whole number ${range}, got ${JSON.stringify(input) ?? String(input)}`)
    }
    return value < options.min || value > max
      ? Either.left(`expected a whole number ${range}, got ${value}`)
      : Either.right(value)
  }
  return {
    schema: fromUnknown("Integer", parse, (value) => value, Schema.Number),
    default: options.default,
    doc: options.doc,
    defaultText: String(options.default)
  }
}

/** A number in `[min, max]`, given as a number or as decimal text. */
export const decimal = (
  options: { readonly default: number; readonly doc: string; readonly min: number; readonly max: number }
): ConfigField<number> => {
  const parse = (input: unknown): Either.Either<number, string> => {
    const value = typeof input === "string" && /^\s*\d+(\.\d+)?\s*$/.test(input) ? Number(input) : input
    return typeof value === "number" && Number.isFinite(value) && value >= options.min && value <= options.max
      ? Either.right(value)
      : Either.left(`expected a number from ${options.min} to ${options.max}, got ${JSON.stringify(input)}`)
  }
  return {
    schema: fromUnknown("Decimal", parse, (value) => value, Schema.Number),
    default: options.default,
    doc: options.doc,
    defaultText: String(options.default)
  }
}

/** One of a fixed set of words. */
export const oneOf = <const L extends ReadonlyArray<string>>(
  options: { readonly literals: L; readonly default: L[number]; readonly doc: string }
): ConfigField<L[number]> => {
  const allowed = options.literals.join(" | ")
  const parse = (input: unknown): Either.Either<L[number], string> =>
    options.literals.includes(input as string)
      ? Either.right(input as L[number])
      : Either.left(`expected one of ${allowed}, got ${JSON.stringify(input) ?? String(input)}`)
  return {
    schema: fromUnknown("Literal", parse, (value) => value, Schema.String as Schema.Schema<L[number]>),
    default: options.default,
    doc: options.doc,
    defaultText: options.default
  }
}

const RateSchema = Schema.Struct({ limit: Schema.Number, window: Schema.DurationFromSelf })

/** A rate limit: `limit` events per `window`, given as `{ limit, window }` or text like `100/1s`. */
export const rate = (options: { readonly default: Rate; readonly doc: string }): ConfigField<Rate> => {
  const parse = (input: unknown) => Either.mapLeft(parseRate(input), (reason) => `expected ${rateForms}; ${reason}`)
  return {
    schema: fromUnknown("Rate", parse, formatRate, RateSchema),
    default: options.default,
    doc: options.doc,
    defaultText: formatRate(options.default)
  }
}

/** Text matching `pattern` (what it must look like is said by `expected`). */
export const text = (
  options: { readonly default: string; readonly doc: string; readonly pattern: RegExp; readonly expected: string }
): ConfigField<string> => {
  const parse = (input: unknown): Either.Either<string, string> =>
    typeof input === "string" && options.pattern.test(input)
      ? Either.right(input)
      : Either.left(`expected ${options.expected}, got ${JSON.stringify(input) ?? String(input)}`)
  return {
    schema: fromUnknown("Text", parse, (value) => value, Schema.String),
    default: options.default,
    doc: options.doc,
    defaultText: options.default
  }
}

/** Text matching `pattern`, or nothing (the default: `null`, or an empty value). */
export const optionalText = (
  options: { readonly doc: string; readonly pattern: RegExp; readonly expected: string }
): ConfigField<string | null> => {
  const parse = (input: unknown): Either.Either<string | null, string> =>
    input === null || input === ""
      ? Either.right(null)
      : typeof input === "string" && options.pattern.test(input)
      ? Either.right(input)
      : Either.left(`expected ${options.expected}, got ${JSON.stringify(input) ?? String(input)}`)
  return {
    schema: fromUnknown("OptionalText", parse, (value) => value ?? "", Schema.NullOr(Schema.String)),
    default: null,
    doc: options.doc,
    defaultText: "(none)"
  }
}

/** A list of items each matching `pattern`, given as an array or as comma-separated text. */
export const list = (
  options: {
    readonly default: ReadonlyArray<string>
    readonly doc: string
    readonly pattern: RegExp
    readonly expected: string
  }
): ConfigField<ReadonlyArray<string>> => {
  const parse = (input: unknown): Either.Either<ReadonlyArray<string>, string> => {
    const items = typeof input === "string"
      ? input.split(",").map((item) => item.trim()).filter((item) => item !== "")
      : input
    if (!Array.isArray(items)) return Either.left(`expected ${options.expected}, comma-separated`)
    const bad = items.find((item) => typeof item !== "string" || !options.pattern.test(item))
    return bad === undefined
      ? Either.right(items as ReadonlyArray<string>)
      : Either.left(`${JSON.stringify(bad)} is not ${options.expected}`)
  }
  return {
    schema: fromUnknown("List", parse, (value) => value.join(","), Schema.Array(Schema.String)),
    default: options.default,
    doc: options.doc,
    defaultText: options.default.length === 0 ? "(none)" : options.default.join(",")
  }
}
