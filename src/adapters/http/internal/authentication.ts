/**
 * The API's three authentication middlewares: a valid bearer token for the session routes, an admin one for
 * `/admin`, each followed by its per-subject budget (never shared), and the anonymous budget of the routes that need
 * no token. A refused token is charged to the anonymous budget of the client's address.
 */
import { HttpServerRequest } from "@effect/platform"
import { Effect, Layer, Redacted } from "effect"
import type { RateLimited } from "../../../domain/Errors.js"
import { Anonymous, Authenticated, AuthenticatedAdmin } from "../Api.js"
import type { Principal } from "../Auth.js"
import { Forbidden, Unauthorized } from "../HttpErrors.js"
import { budget } from "./budgets.js"
import { HttpService, type HttpServiceShape } from "./HttpService.js"

/**
 * The principal of a bearer token, or `Unauthorized` saying why not (never echoing the token); a refusal first takes
 * from the anonymous budget of the client's address (`RateLimited` once it is spent). A token verified before and
 * still valid is answered at once (see `verifiedTokens`); any other is verified in full.
 */
const authenticate = (
  service: HttpServiceShape,
  token: Redacted.Redacted
): Effect.Effect<Principal, Unauthorized | RateLimited, HttpServerRequest.HttpServerRequest> => {
  const raw = Redacted.value(token)
  const known = raw === "" ? undefined : service.known(raw)
  if (known !== undefined) return Effect.succeed(known)
  const verified = raw === ""
    ? Effect.fail("no bearer token in the Authorization header")
    : service.verify(raw)
  return Effect.catchAll(verified, (reason) =>
    Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request) => Effect.zipRight(service.takeAnonymous(request), Effect.fail(new Unauthorized({ reason })))
    ))
}

/** A budget of token subjects, one per route family, so the families never share one. */
const subjectBudget = (service: HttpServiceShape, family: "http" | "admin") =>
  Effect.map(Effect.clock, (clock) => {
    const take = budget(
      family === "http" ? service.config.httpRateLimit : service.config.adminRateLimit,
      family,
      () => clock.unsafeCurrentTimeMillis()
    )
    return (principal: Principal) => take(principal.subject, principal)
  })

/** The session routes' authentication: any valid token, then the per-subject rate limit. */
export const authentication = Layer.effect(
  Authenticated,
  Effect.gen(function*() {
    const service = yield* HttpService
    const limit = yield* subjectBudget(service, "http")
    return Authenticated.of({ bearer: (token) => Effect.flatMap(authenticate(service, token), limit) })
  })
)

/** The admin routes' authentication: a token with the admin claim, then the admin rate limit. */
export const adminAuthentication = Layer.effect(
  AuthenticatedAdmin,
  Effect.gen(function*() {
    const service = yield* HttpService
    const limit = yield* subjectBudget(service, "admin")
    return AuthenticatedAdmin.of({
      bearer: (token) =>
        authenticate(service, token).pipe(
          Effect.filterOrFail(
            (principal) => principal.admin,
            () => new Forbidden({ reason: "this route needs a token with the admin claim" })
          ),
          Effect.flatMap(limit)
        )
    })
  })
)

/** The routes that need no token: the anonymous budget, unless the request carries a valid token. */
export const anonymousBudget = Layer.effect(
  Anonymous,
  Effect.map(
    HttpService,
    (service) => Anonymous.of(Effect.flatMap(HttpServerRequest.HttpServerRequest, service.unlessAuthenticated))
  )
)
