/** Validation of the manager's inputs that are not ids or names: durations, page sizes, activity. */
import { Duration, Either } from "effect"
import { durationForms, parseDuration, parseWholeDuration } from "../../domain/Config.js"
import type { DurationInput, SessionsConfig } from "../../domain/Config.js"
import { InvalidInput } from "../../domain/Errors.js"
import type { ExpiryPolicy } from "../../domain/Expiry.js"
import type { Millis } from "../../domain/Session.js"
import type { ActivityInput, CreateSession } from "../SessionManager.js"
import type { ActivityRecord } from "../SessionStore.js"

/** An `InvalidInput` naming the field, what was wrong and what is allowed. */
export const invalid = (field: string, reason: string, expected: string) =>
  new InvalidInput({ field, reason, expected })

const show = (input: unknown) => JSON.stringify(input) ?? String(input)

/**
 * A caller's duration through the one parser of durations (`parseDuration`), or `fallback` when none was given.
 * `whole`: it must be whole milliseconds longer than zero, as a session's stored limits are.
 */
export const durationInput = (
  field: string,
  input: DurationInput | undefined,
  fallback: Duration.Duration,
  whole = true
): Either.Either<Duration.Duration, InvalidInput> => {
  if (input === undefined) return Either.right(fallback)
  const parsed = whole ? parseWholeDuration(input) : parseDuration(input)
  return Either.mapLeft(parsed, (reason) =>
    invalid(
      field,
      reason,
      whole ? `${durationForms}, in whole milliseconds, longer than zero` : durationForms
    ))
}

/** The expiry policy of a new session: its own limits where given, the configuration's otherwise. */
export const policyOf = (config: SessionsConfig, input: CreateSession): Either.Either<ExpiryPolicy, InvalidInput> => {
  const idleTimeout = durationInput("idleTimeout", input.idleTimeout, config.idleTimeout)
  if (Either.isLeft(idleTimeout)) return Either.left(idleTimeout.left)
  const maxLifetime = durationInput("maxLifetime", input.maxLifetime, config.maxLifetime)
  if (Either.isLeft(maxLifetime)) return Either.left(maxLifetime.left)
  return Either.right({ idleTimeout: idleTimeout.right, maxLifetime: maxLifetime.right })
}

/** A page size: 1 to 1000, 100 when not given. */
export const pageLimit = (limit: number | undefined): Either.Either<number, InvalidInput> =>
  limit === undefined
    ? Either.right(100)
    : Number.isInteger(limit) && limit >= 1 && limit <= 1000
    ? Either.right(limit)
    : Either.left(invalid("limit", `got ${show(limit)}`, "a whole number from 1 to 1000"))

/** Activity as the store records it: a message count and an optional response time. */
export const activityOf = (input: ActivityInput, window: number): Either.Either<ActivityRecord, InvalidInput> => {
  const messages = input.messages ?? 0
  if (!Number.isInteger(messages) || messages < 0 || messages > 1_000_000) {
    return Either.left(invalid("messages", `got ${show(messages)}`, "a whole number from 0 to 1000000"))
  }
  if (input.responseTime === undefined) return Either.right({ messages, responseTime: null, window })
  return Either.map(
    durationInput("responseTime", input.responseTime, Duration.zero, false),
    (duration) => ({ messages, responseTime: Duration.toMillis(duration) as Millis, window })
  )
}
