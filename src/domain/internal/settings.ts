/**
 * A set of settings from a table of fields: its schema (every field optional, with its default), validation of code
 * values that reports every bad field at once, loading from `SESSIONS_*` variables through Effect's `Config`, and the
 * reference table for the docs.
 */
import { Config, Effect, Either, Option, ParseResult, Schema } from "effect"
import { InvalidConfig } from "../Errors.js"
import type { ConfigField } from "./configField.js"

/** One row of a config reference: the field, its environment variable, its default and what it controls. */
export interface ReferenceRow<K extends string = string> {
  readonly field: K
  readonly env: string
  readonly default: string
  readonly doc: string
}

/** The environment variable that sets a field: `idleTimeout` is `SESSIONS_IDLE_TIMEOUT`. */
export const envName = (field: string): string => `SESSIONS_${field.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`

/** A set of settings of type `A`. */
export interface Settings<A> {
  readonly schema: Schema.Schema<A, Partial<Record<keyof A, unknown>>>
  readonly defaults: A
  /** Validates code values; fields left out take their defaults. Fails naming every bad or unknown field. */
  readonly make: (input?: Partial<Record<keyof A, unknown>>) => Either.Either<A, InvalidConfig>
  /** Reads the `SESSIONS_*` variables of the fields; unset ones take their defaults. Fails naming every bad one. */
  readonly fromEnv: Effect.Effect<A, InvalidConfig>
  readonly reference: ReadonlyArray<ReferenceRow<Extract<keyof A, string>>>
}

const toInvalidConfig = (error: ParseResult.ParseError, label: (field: string) => string): InvalidConfig =>
  new InvalidConfig({
    issues: ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => ({
      field: issue.path.length === 0 ? "config" : label(String(issue.path[0])),
      reason: issue._tag === "Unexpected" ? "is not a setting of effect-sessions" : issue.message
    }))
  })

/** Settings from a table of fields, with an optional check across fields (run once every field is valid). */
export const defineSettings = <A>(
  fields: { readonly [K in keyof A]: ConfigField<A[K]> },
  check: (settings: A) => ReadonlyArray<Schema.FilterIssue> = () => []
): Settings<A> => {
  const names = Object.keys(fields) as Array<Extract<keyof A, string>>
  const field = (name: keyof A) => fields[name] as ConfigField<unknown>
  const schema = Schema.Struct(
    Object.fromEntries(
      names.map((
        name
      ) => [name, Schema.optionalWith(field(name).schema, { default: () => field(name).default, exact: true })])
    )
  ).pipe(Schema.filter((settings) => check(settings as A))) as unknown as Schema.Schema<
    A,
    Partial<Record<keyof A, unknown>>
  >
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })
  const fromEnv = Effect.gen(function*() {
    const raw = yield* Config.all(
      Object.fromEntries(names.map((name) => [name, Config.option(Config.string(envName(name)))]))
    ).pipe(Effect.mapError((error) => new InvalidConfig({ issues: [{ field: "environment", reason: String(error) }] })))
    const present: Record<string, string> = {}
    for (const name of names) {
      const value = raw[name]!
      if (Option.isSome(value)) present[name] = value.value
    }
    return yield* Either.mapLeft(decode(present), (error) => toInvalidConfig(error, envName))
  })
  return {
    schema,
    defaults: Object.fromEntries(names.map((name) => [name, field(name).default])) as A,
    make: (input = {}) => Either.mapLeft(decode(input), (error) => toInvalidConfig(error, (name) => name)),
    fromEnv,
    reference: names.map((name) => ({
      field: name,
      env: envName(name),
      default: field(name).defaultText,
      doc: field(name).doc
    }))
  }
}
