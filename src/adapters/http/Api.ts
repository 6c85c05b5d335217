/**
 * The HTTP API of effect-sessions, as an `HttpApi` (the OpenAPI document is generated from it): session routes for
 * the token's owner, operator routes under `/admin`, and health and metrics routes that need no token.
 */
import {
  HttpApi,
  HttpApiEndpoint,
  HttpApiGroup,
  HttpApiMiddleware,
  HttpApiSchema,
  HttpApiSecurity,
  OpenApi
} from "@effect/platform"
import { Context, Schema } from "effect"
import { Session } from "../../domain/Session.js"
import { version } from "../../version.js"
import {
  ActivateBody,
  ActivityBody,
  BackupReport,
  CreateSessionBody,
  ListParams,
  Origins,
  Removed,
  SessionPage,
  Stats,
  SweepReport
} from "./ApiSchemas.js"
import type { Principal } from "./Auth.js"
import { allErrors, Forbidden, NoActiveSession, statuses, Unauthorized, UnsupportedMediaType } from "./HttpErrors.js"
import { withoutPlatformDecodeError } from "./internal/openapi.js"

/** The principal of the request: the token's subject (the owner it acts for) and whether it is an admin. */
export class CurrentPrincipal
  extends Context.Tag("effect-sessions/http/CurrentPrincipal")<CurrentPrincipal, Principal>()
{}

/** Bearer authentication for the session routes, with the per-subject rate limit. */
export class Authenticated extends HttpApiMiddleware.Tag<Authenticated>()("effect-sessions/http/Authenticated", {
  failure: Schema.Union(Unauthorized, statuses.RateLimited),
  provides: CurrentPrincipal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

/** Bearer authentication for `/admin`: an admin token, and a rate limit of its own (never shared with the routes). */
export class AuthenticatedAdmin extends HttpApiMiddleware.Tag<AuthenticatedAdmin>()(
  "effect-sessions/http/AuthenticatedAdmin",
  {
    failure: Schema.Union(Unauthorized, Forbidden, statuses.RateLimited),
    provides: CurrentPrincipal,
    security: { bearer: HttpApiSecurity.bearer }
  }
) {}

/** The budget of callers without a token (health, metrics), taken unless the request carries a valid one. */
export class Anonymous extends HttpApiMiddleware.Tag<Anonymous>()("effect-sessions/http/Anonymous", {
  failure: statuses.RateLimited
}) {}

const id = HttpApiSchema.param("id", Schema.String)

/** What any call of the manager may fail with besides shutting down and rate limits (its `CommonError`). */
const CommonErrors = Schema.Union(
  statuses.InvalidInput,
  statuses.StoreUnavailable,
  statuses.StoreError,
  statuses.CorruptRecord
)

/** The failures of a call on one existing session (the manager's `SessionCallError`). */
const SessionErrors = Schema.Union(CommonErrors, statuses.SessionNotFound, statuses.SessionEnded)

/** The failures of a call that takes the session's exclusive permit (the manager's `ExclusiveError`). */
const ExclusiveErrors = Schema.Union(SessionErrors, statuses.SessionBusy, statuses.StaleFencingToken)

/** What only a route that reads a body may answer: a bad or too deep body, a media type that is not JSON. */
const BodyErrors = Schema.Union(statuses.InvalidInput, UnsupportedMediaType)

export * from "./ApiSchemas.js"

const eventStream = HttpApiSchema.Text({ contentType: "text/event-stream" })

/** Closing a session, with an optional reason (the owner's own, or any one under `/admin`). */
const close = HttpApiEndpoint.del("close")`/sessions/${id}`
  .setUrlParams(Schema.Struct({ reason: Schema.optional(Schema.String) }))
  .addSuccess(Session)
  .addError(ExclusiveErrors)

/**
 * The event stream, resumed after `Last-Event-ID` (the owner's events, or every owner's under `/admin`). Past
 * `maxStreamsPerSubject` open streams of one subject, `RateLimited`.
 */
const events = HttpApiEndpoint.get("events", "/events")
  .setHeaders(Schema.Struct({ "last-event-id": Schema.optional(Schema.String) }))
  .addSuccess(eventStream)
  .addError(statuses.InvalidInput)
  .addError(statuses.RateLimited)

/** The session routes: everything acts for the token's subject, on its own sessions only. */
export class SessionsGroup extends HttpApiGroup.make("sessions")
  .add(
    HttpApiEndpoint.post("create", "/sessions")
      .setPayload(CreateSessionBody)
      .addSuccess(Session, { status: 201 })
      .addError(CommonErrors)
      .addError(BodyErrors)
      .addError(statuses.SessionNameTaken)
      .addError(statuses.CapacityExceeded)
  )
  .add(HttpApiEndpoint.get("list", "/sessions").setUrlParams(ListParams).addSuccess(SessionPage).addError(CommonErrors))
  .add(HttpApiEndpoint.get("get")`/sessions/${id}`.addSuccess(Session).addError(SessionErrors))
  .add(HttpApiEndpoint.post("touch")`/sessions/${id}/touch`.addSuccess(Session).addError(SessionErrors))
  .add(
    HttpApiEndpoint.post("activity")`/sessions/${id}/activity`
      .setPayload(ActivityBody)
      .addSuccess(Session)
      .addError(SessionErrors)
      .addError(BodyErrors)
  )
  .add(
    HttpApiEndpoint.post("wait")`/sessions/${id}/wait`
      .addSuccess(Session)
      .addError(ExclusiveErrors)
      .addError(statuses.InvalidTransition)
  )
  .add(
    HttpApiEndpoint.post("resume")`/sessions/${id}/resume`
      .addSuccess(Session)
      .addError(ExclusiveErrors)
      .addError(statuses.InvalidTransition)
  )
  .add(HttpApiEndpoint.post("regenerate")`/sessions/${id}/regenerate`.addSuccess(Session).addError(ExclusiveErrors))
  .add(
    HttpApiEndpoint.put("replaceData")`/sessions/${id}/data`
      .setHeaders(Schema.Struct({ "if-match": Schema.optional(Schema.String) }))
      .setPayload(Schema.Unknown)
      .addSuccess(Session)
      .addError(ExclusiveErrors)
      .addError(BodyErrors)
      .addError(statuses.VersionConflict)
  )
  .add(
    HttpApiEndpoint.patch("mergeData")`/sessions/${id}/data`
      .setPayload(Schema.Unknown)
      .addSuccess(Session)
      .addError(ExclusiveErrors)
      .addError(BodyErrors)
      .addError(statuses.VersionConflict)
      .addError(statuses.OperationTimeout)
  )
  .add(close)
  .add(
    HttpApiEndpoint.put("activate", "/active")
      .setPayload(ActivateBody)
      .addSuccess(Session)
      .addError(SessionErrors)
      .addError(BodyErrors)
  )
  .add(HttpApiEndpoint.get("active", "/active").addSuccess(Session).addError(CommonErrors).addError(NoActiveSession))
  .add(events)
  .middleware(Authenticated)
{}

/** What a backup is named; the body may be left out (a name from the time is chosen). */
const BackupBody = Schema.NullOr(Schema.Struct({ name: Schema.optional(Schema.String) }))

/** Operator routes: every owner's sessions, stats, sweeps, backups, the origin allow-list. */
export class AdminGroup extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.get("stats", "/stats")
      .addSuccess(Stats)
      .addError(statuses.StoreUnavailable)
      .addError(statuses.StoreError)
  )
  .add(
    HttpApiEndpoint.get("sessions", "/sessions")
      .setUrlParams(Schema.extend(ListParams, Schema.Struct({ owner: Schema.optional(Schema.String) })))
      .addSuccess(SessionPage)
      .addError(CommonErrors)
  )
  .add(close)
  .add(
    HttpApiEndpoint.del("remove")`/records/${id}`
      .setUrlParams(Schema.Struct({ reason: Schema.optional(Schema.String) }))
      .addSuccess(Removed)
      .addError(CommonErrors)
      .addError(statuses.SessionNotFound)
  )
  .add(
    HttpApiEndpoint.post("sweep", "/sweep")
      .addSuccess(SweepReport)
      .addError(statuses.StoreUnavailable)
      .addError(statuses.StoreError)
  )
  .add(
    HttpApiEndpoint.post("backup", "/backup")
      .setPayload(BackupBody)
      .annotate(OpenApi.Transform, (operation) => ({
        ...operation,
        requestBody: { ...operation["requestBody"], required: false }
      }))
      .addSuccess(BackupReport, { status: 201 })
      .addError(BodyErrors)
      .addError(statuses.StoreUnavailable)
      .addError(statuses.StoreError)
  )
  .add(HttpApiEndpoint.get("origins", "/origins").addSuccess(Origins))
  .add(HttpApiEndpoint.put("setOrigins", "/origins").setPayload(Origins).addSuccess(Origins).addError(BodyErrors))
  .add(events)
  .middleware(AuthenticatedAdmin)
  .prefix("/admin")
{}

/** Liveness, readiness and metrics: no token needed (without one, the anonymous budget applies). */
export class SystemGroup extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Schema.Struct({ status: Schema.Literal("up") })))
  .add(
    HttpApiEndpoint.get("readyz", "/readyz")
      .addSuccess(Schema.Struct({ status: Schema.Literal("ready") }))
      .addError(statuses.StoreUnavailable)
      .addError(statuses.StoreError)
  )
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(HttpApiSchema.Text({ contentType: "text/plain" })))
  .middleware(Anonymous)
{}

/** The whole API. Each endpoint lists the errors it can return; these the service may answer on any route. */
export class SessionsApi extends HttpApi.make("effect-sessions")
  .add(SessionsGroup)
  .add(AdminGroup)
  .add(SystemGroup)
  .addError(allErrors.Forbidden)
  .addError(allErrors.PayloadTooLarge)
  .addError(allErrors.ShuttingDown)
  .addError(allErrors.OperationTimeout)
  .addError(allErrors.RequestTimeout)
  .addError(allErrors.ServerFault)
  .annotate(OpenApi.Title, "effect-sessions")
  .annotate(OpenApi.Description, "A session service: long-lived sessions with expiry, capacity, locks, events.")
  .annotate(OpenApi.Version, version)
  .annotate(OpenApi.Transform, withoutPlatformDecodeError)
{}
