/**
 * The options of an adapter (a store's, the HTTP layer's) checked by a table of config fields: the field kinds and
 * `defineSettings` of the main configuration, applied to code values or to the adapter's own environment variables,
 * every bad field reported at once under the name its caller wrote (an option's key, or a variable's name).
 */
import { Config, Effect, Either, Option, ParseResult, Record as Records, Redacted, Schema } from "effect"
import { InvalidConfig } from "../Errors.js"
import type { ConfigField } from "./configField.js"
import { defineSettings } from "./settings.js"

/** What each field is called in issues, when not its own name: `"events.heartbeat"`, `"SESSIONS_PG_URL"`. */
export type Labels<A> = { readonly [K in keyof A]?: string }

/** Options as a caller gives them: any subset of the fields, any values (checked), `undefined` for "the default". */
export type Unchecked<A> = { readonly [K in keyof A]?: unknown }

/** The checks of one adapter's options. */
export interface OptionChecks<A> {
  /** The fields, with their docs (for a config reference). */
  readonly fields: { readonly [K in keyof A]: ConfigField<A[K]> }
  /** The variable each field is read from (those left out are set in code only). */
  readonly env: Labels<A>
  /**
   * Checks code values: a field left out or `undefined` takes its default, unless it is `required`. Fails with
   * `InvalidConfig` listing every bad field, each under its label (default: its name).
   */
  readonly check: (input: Unchecked<A>, labels?: Labels<A>) => Either.Either<A, InvalidConfig>
  /**
   * Reads the fields' variables (`env`) through Effect's `Config`, over `fallback` for those unset, and checks them.
   * Fails with `InvalidConfig` listing every bad one under its variable's name.
   */
  readonly fromEnv: (fallback?: Unchecked<A>) => Effect.Effect<A, InvalidConfig>
}

/** `error` with each issue's field renamed by `label`. */
export const relabel = (error: InvalidConfig, label: (field: string) => string): InvalidConfig =>
  new InvalidConfig({ issues: error.issues.map((issue) => ({ field: label(issue.field), reason: issue.reason })) })

/** The values of every check when all pass; otherwise one `InvalidConfig` with the issues of all that failed. */
export const allChecked = <R extends Readonly<Record<string, Either.Either<unknown, InvalidConfig>>>>(
  checks: R
): Either.Either<{ readonly [K in keyof R]: Either.Either.Right<R[K]> }, InvalidConfig> => {
  const issues = Object.values(checks).flatMap((checked) => Either.isLeft(checked) ? checked.left.issues : [])
  return issues.length > 0
    ? Either.left(new InvalidConfig({ issues }))
    : Either.right(Records.map(checks, Either.getOrThrow) as { readonly [K in keyof R]: Either.Either.Right<R[K]> })
}

/** Checks for options with the given fields; `env` names the variables the fields are read from. */
export const defineOptions = <A>(
  fields: { readonly [K in keyof A]: ConfigField<A[K]> },
  options: { readonly required?: ReadonlyArray<keyof A>; readonly env?: Labels<A> } = {}
): OptionChecks<A> => {
  const settings = defineSettings<A>(fields)
  const names = Object.keys(fields) as Array<keyof A & string>
  const required = new Set(options.required ?? [])
  const check = (input: Unchecked<A>, labels: Labels<A> = {}) => {
    // Given fields only, so `undefined` means the default; a required one is checked even when missing.
    const given = Object.fromEntries(
      names.filter((name) => input[name] !== undefined || required.has(name)).map((name) => [name, input[name]])
    ) as Unchecked<A>
    return Either.mapLeft(settings.make(given), (error) => relabel(error, (field) => labels[field as keyof A] ?? field))
  }
  const env = options.env ?? {}
  const variables = Records.filterMap(env as Record<string, string | undefined>, Option.fromNullable)
  return {
    fields,
    env,
    check,
    fromEnv: (fallback = {}) =>
      Config.all(Records.map(variables, (variable) => Config.option(Config.string(variable)))).pipe(
        Effect.mapError((error) => new InvalidConfig({ issues: [{ field: "environment", reason: String(error) }] })),
        Effect.flatMap((raw) => check({ ...fallback, ...Records.getSomes(raw) }, env))
      )
  }
}

/** A field's schema from its check; the value is not kept in an issue (it may be a secret). */
const fromCheck = <A>(to: Schema.Schema<A>, parse: (input: unknown) => Either.Either<A, string>) =>
  Schema.transformOrFail(Schema.Unknown, to, {
    strict: true,
    decode: (input, _, ast) => Either.mapLeft(parse(input), (reason) => new ParseResult.Type(ast, undefined, reason)),
    encode: ParseResult.succeed
  })

/** Text that `valid` accepts (a non-empty file path, a schema name), shown in errors as it was given. */
export const checkedText = (
  options: {
    readonly default: string
    readonly doc: string
    readonly expected: string
    readonly valid: (text: string) => boolean
  }
): ConfigField<string> => ({
  schema: fromCheck(Schema.String, (input) =>
    typeof input === "string" && options.valid(input)
      ? Either.right(input)
      : Either.left(`expected ${options.expected}, got ${JSON.stringify(input) ?? String(input)}`)),
  default: options.default,
  doc: options.doc,
  defaultText: options.default
})

/**
 * Text that may hold a secret (a URL with its password), given as a string or `Redacted`: kept `Redacted`, and never
 * shown in an error. Its default is empty (make it `required`).
 */
export const secretText = (
  options: { readonly doc: string; readonly expected: string; readonly valid: (text: string) => boolean }
): ConfigField<Redacted.Redacted<string>> => ({
  schema: fromCheck(Schema.RedactedFromSelf(Schema.String), (input) => {
    const text = Redacted.isRedacted(input) ? Redacted.value(input) : input
    return typeof text === "string" && options.valid(text)
      ? Either.right(Redacted.make(text))
      : Either.left(`expected ${options.expected}`)
  }),
  default: Redacted.make(""),
  doc: options.doc,
  defaultText: "(none)"
})
