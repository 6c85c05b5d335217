/** `token`: a bearer token signed with the service's own secret, never with a new one. */
import { Command, Options } from "@effect/cli"
import { Console, Duration, Effect, Either, Option } from "effect"
import { formatDuration } from "../../../domain/Config.js"
import { validateOwnerId } from "../../../domain/Ids.js"
import { describeSource, existingSigningKey, mintToken } from "../../../startup/ServiceTools.js"
import { CliFailure, durationOption, settings, usageError } from "./common.js"

/** How long a token is valid when `--ttl` is not given (or the longest lifetime allowed, when that is shorter). */
const defaultTtl = Duration.hours(1)

/** `token --owner <id>`: mints a token; fails when the service has no secret yet, rather than making one. */
export const token = Command.make("token", {
  owner: Options.text("owner").pipe(Options.withDescription("The owner the token acts for (its sub)")),
  admin: Options.boolean("admin").pipe(Options.withDescription("Also open /admin")),
  ttl: durationOption(
    "ttl",
    `How long the token is valid, at most SESSIONS_JWT_MAX_LIFETIME (default ${formatDuration(defaultTtl)})`
  ).pipe(Options.optional)
}, ({ admin, owner, ttl }) =>
  Effect.gen(function*() {
    const current = yield* settings
    const longest = current.service.jwtMaxLifetime
    if (Option.isSome(ttl) && Duration.greaterThan(ttl.value, longest)) {
      return yield* usageError(
        `--ttl: ${formatDuration(ttl.value)} is longer than tokens may be valid; at most ${
          formatDuration(longest)
        } (SESSIONS_JWT_MAX_LIFETIME)`
      )
    }
    const subject = yield* Either.mapLeft(validateOwnerId(owner, "--owner"), (error) =>
      new CliFailure({ reason: error.message }))
    const key = yield* Effect.mapError(existingSigningKey(current.service), (error) =>
      new CliFailure({ reason: error.message }))
    const signed = yield* mintToken(key, current.service, {
      owner: subject,
      admin,
      ttl: Option.getOrElse(ttl, () =>
        Duration.min(defaultTtl, longest))
    })
    yield* Console.log(signed)
    yield* Console.error(`signed with ${describeSource(key.source)}`)
  })).pipe(
    Command.withDescription(
      "Mint a bearer token signed with the service's secret (SESSIONS_JWT_SECRET, or the jwt-secret file the " +
        "service generated in its data directory; never a new one), saying on stderr which one it used"
    )
  )
