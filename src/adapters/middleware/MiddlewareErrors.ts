/**
 * What a handler's session calls may fail with, as `HttpApi` errors with their HTTP status. The session middleware
 * declares them as its failure, so every endpoint behind it encodes them (never a 500), and a handler may let them
 * through. Outside `HttpApi` (an `HttpRouter` or `HttpApp`) each answers as its JSON encoding with the same status.
 * A cookie naming a missing, ended or foreign session is not among them: that is simply no session.
 */
import { HttpApiSchema, HttpServerRespondable, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Schema } from "effect"
import type { CapacityExceeded, OperationTimeout, SessionNameTaken, VersionConflict } from "../../domain/Errors.js"
import type { ExclusiveError } from "../../services/SessionManager.js"

/** The session store or manager cannot serve the request now (503): the client may retry. */
export class SessionUnavailable extends Schema.TaggedError<SessionUnavailable>()("SessionUnavailable", {
  reason: Schema.String
}, HttpApiSchema.annotations({ status: 503 })) {
  [HttpServerRespondable.symbol]() {
    return HttpServerResponse.json(this, { status: 503 })
  }

  override get message() {
    return `the session is unavailable: ${this.reason}`
  }
}

/** The session (or its owner) made more calls than its rate limit allows (429); retry after `retryAfterMs`. */
export class SessionRateLimited extends Schema.TaggedError<SessionRateLimited>()("SessionRateLimited", {
  retryAfterMs: Schema.Number
}, HttpApiSchema.annotations({ status: 429 })) {
  [HttpServerRespondable.symbol]() {
    return HttpServerResponse.json(this, { status: 429 })
  }

  override get message() {
    return `too many session calls; retry after ${this.retryAfterMs}ms`
  }
}

/** Data the handler tried to store does not fit the session's schema or its size limit (422); nothing was written. */
export class SessionDataRejected extends Schema.TaggedError<SessionDataRejected>()("SessionDataRejected", {
  reason: Schema.String
}, HttpApiSchema.annotations({ status: 422 })) {
  [HttpServerRespondable.symbol]() {
    return HttpServerResponse.json(this, { status: 422 })
  }

  override get message() {
    return `session data rejected: ${this.reason}`
  }
}

/** Every failure of the middleware's session calls, as a schema and a type. */
export const SessionMiddlewareError = Schema.Union(SessionUnavailable, SessionRateLimited, SessionDataRejected)
export type SessionMiddlewareError = typeof SessionMiddlewareError.Type

/** The manager's failures a request may meet, besides those that mean "no session". */
type ManagerFailure = ExclusiveError | OperationTimeout | VersionConflict | CapacityExceeded | SessionNameTaken

/** The middleware's failure for one of the manager's. */
export const fromManager = (error: ManagerFailure | SessionMiddlewareError): SessionMiddlewareError => {
  switch (error._tag) {
    case "SessionUnavailable":
    case "SessionRateLimited":
    case "SessionDataRejected":
      return error
    case "RateLimited":
      return new SessionRateLimited({ retryAfterMs: Math.ceil(Duration.toMillis(error.retryAfter)) })
    case "InvalidInput":
      return new SessionDataRejected({ reason: error.message })
    default:
      return new SessionUnavailable({ reason: error.message })
  }
}

/** `effect` with the manager's failures turned into the middleware's. */
export const mapFailure = <A, E extends ManagerFailure | SessionMiddlewareError, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, SessionMiddlewareError, R> => Effect.mapError(effect, fromManager)
