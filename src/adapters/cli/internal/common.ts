/** What the CLI's commands share: their failure, options, usage errors, settings, store and manager. */
import { HelpDoc, Options, ValidationError } from "@effect/cli"
import { Console, Duration, Effect, Either, Layer, Option, Schema } from "effect"
import * as Fs from "node:fs"
import { parseDuration } from "../../../domain/Config.js"
import type { StoreFailure } from "../../../domain/Errors.js"
import * as SessionManager from "../../../services/SessionManager.js"
import type { SessionStore } from "../../../services/SessionStore.js"
import { type Settings, settingsFromEnv, type Store, storeOfSettings } from "../../../startup/Startup.js"

/** A command that could not do what it was asked; `message` is the one line printed. */
export class CliFailure extends Schema.TaggedError<CliFailure>()("CliFailure", { reason: Schema.String }) {
  override get message() {
    return this.reason
  }
}

/** `--json`, taken by every read command. */
export const json = Options.boolean("json").pipe(Options.withDescription("Print the result as JSON"))

/** A usage error found while parsing an option: the CLI prints it, and the binary exits 2. */
export const invalidOption = (message: string) => ValidationError.invalidValue(HelpDoc.p(message))

/**
 * A usage error found by a command itself (once it has read the settings, say): printed on stderr as the CLI prints
 * its own, and failed as a `ValidationError`, so the binary exits 2.
 */
export const usageError = (message: string): Effect.Effect<never, ValidationError.ValidationError> => {
  const error = invalidOption(message)
  return Effect.zipRight(Console.error(HelpDoc.toAnsiText(error.error)), Effect.fail(error))
}

/** A duration option: `15m`, `1h30m`, `2d`...; anything else, or zero, is a usage error naming the option. */
export const durationOption = (name: string, description: string) =>
  Options.text(name).pipe(
    Options.withDescription(`${description} (a duration like 15m, 1h or 2d)`),
    Options.mapEffect((text) =>
      Either.match(parseDuration(text), {
        onLeft: (reason) => Effect.fail(invalidOption(`--${name}: ${reason}; expected a duration like 15m, 1h or 2d`)),
        onRight: (duration) =>
          Duration.toMillis(duration) > 0
            ? Effect.succeed(duration)
            : Effect.fail(invalidOption(`--${name}: must be longer than zero`))
      })
    )
  )

/** A whole-number option in `[min, max]`; out of range is a usage error naming the option and the range. */
export const integerOption = (
  name: string,
  range: { readonly min: number; readonly max: number; readonly fallback: number; readonly description: string }
) =>
  Options.integer(name).pipe(
    Options.withDescription(`${range.description}, ${range.min}-${range.max} (default ${range.fallback})`),
    Options.mapEffect((value) =>
      value >= range.min && value <= range.max
        ? Effect.succeed(value)
        : Effect.fail(invalidOption(`--${name}: must be from ${range.min} to ${range.max}, got ${value}`))
    ),
    Options.withDefault(range.fallback)
  )

/** The settings, or a failure listing every bad variable. */
export const settings = Effect.mapError(settingsFromEnv, (error) => new CliFailure({ reason: error.message }))

/**
 * The store of the settings, which must exist for every command but `serve` and `restore`: the SQLite file, or the
 * Postgres schema (a server that does not answer fails `StoreUnavailable`).
 */
export const existingStore = (current: Settings): Effect.Effect<Store, CliFailure | StoreFailure> => {
  const store = storeOfSettings(current)
  const missing = new CliFailure({ reason: store.missing })
  if (store.kind === "sqlite") return Fs.existsSync(store.location) ? Effect.succeed(store) : Effect.fail(missing)
  return Effect.flatMap(
    store.schemaStatus,
    (status) => Option.isSome(status) ? Effect.succeed(store) : Effect.fail(missing)
  )
}

/** Where the store of the settings is (see `existingStore`). */
export const existingDatabase = (current: Settings) => Effect.map(existingStore(current), (store) => store.location)

/** Runs `use` with a manager over the configured database (no sweeper: the CLI only does what it is asked). */
export const withManager = <A, E>(
  use: (manager: SessionManager.SessionManagerShape, current: Settings) => Effect.Effect<A, E, SessionStore>
) =>
  Effect.gen(function*() {
    const current = yield* settings
    const store = yield* existingStore(current)
    return yield* Effect.flatMap(SessionManager.SessionManager, (service) => use(service, current)).pipe(
      Effect.provide(
        SessionManager.layer(current.sessions, { instance: "cli", node: "cli", sweeper: false }).pipe(
          Layer.provideMerge(store.layer)
        )
      )
    )
  })

/** Whether the configured service answers, and where. */
export interface ServerStatus {
  readonly url: string
  readonly reachable: boolean
  readonly ready: boolean
}

/** Asks the configured service whether it is up and ready, within two seconds. */
export const askServer = (current: Settings): Effect.Effect<ServerStatus> => {
  const host = current.service.host === "0.0.0.0" || current.service.host === "::" ? "127.0.0.1" : current.service.host
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${current.service.port}`
  return Effect.tryPromise((signal) => fetch(`${url}/readyz`, { signal })).pipe(
    Effect.timeout("2 seconds"),
    Effect.map((response) => ({ url, reachable: true, ready: response.ok })),
    Effect.orElseSucceed(() => ({ url, reachable: false, ready: false }))
  )
}
