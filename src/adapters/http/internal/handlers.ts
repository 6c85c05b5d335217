/**
 * The handlers of the API's routes and its two authentication middlewares. Each session route acts for the token's
 * subject through the manager's owner scope, so another owner's session answers 404 exactly like a missing one.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Clock, Deferred, Duration, Effect, Either, Layer, Option, Redacted, Ref } from "effect"
import * as Path from "node:path"
import { parseDuration } from "../../../domain/Config.js"
import type { Rate } from "../../../domain/Config.js"
import { isJsonValue } from "../../../domain/Data.js"
import { InvalidInput, StoreError } from "../../../domain/Errors.js"
import { RateLimited } from "../../../domain/Errors.js"
import type { SubscriptionItem } from "../../../domain/Events.js"
import type { Session } from "../../../domain/Session.js"
import type { JsonValue } from "../../../domain/Session.js"
import { TokenBuckets } from "../../../services/internal/RateLimiter.js"
import { SessionManager } from "../../../services/SessionManager.js"
import type { Page } from "../../../services/SessionStore.js"
import { backup } from "../../sqlite/Backup.js"
import { Authenticated, AuthenticatedAdmin, CurrentPrincipal, SessionsApi } from "../Api.js"
import type { Principal } from "../Auth.js"
import { Forbidden, NoActiveSession, Unauthorized } from "../HttpErrors.js"
import { originExpected, originPattern } from "../ServiceConfig.js"
import * as Prometheus from "./prometheus.js"
import { HttpService, type HttpServiceShape } from "./service.js"
import * as Sse from "./sse.js"

/** Most token subjects a rate limiter remembers (least recently seen forgotten first). */
const maxRateLimitKeys = 100_000

/** How often an idle event stream sends a comment to keep proxies from closing it. */
const heartbeat = "15 seconds"

const invalid = (field: string, reason: string, expected: string) => new InvalidInput({ field, reason, expected })

/** A rate limiter of token subjects, one per route family, so the families never share a budget. */
const limiter = (rate: Rate, family: string) =>
  Effect.map(Effect.clock, (clock) => {
    const buckets = new TokenBuckets(rate, maxRateLimitKeys, () => clock.unsafeCurrentTimeMillis())
    return (principal: Principal): Effect.Effect<Principal, RateLimited> => {
      const wait = buckets.take(principal.subject)
      return wait === 0
        ? Effect.succeed(principal)
        : Effect.fail(new RateLimited({ key: `${family}:${principal.subject}`, retryAfter: Duration.millis(wait) }))
    }
  })

/** The principal of a bearer token, or `Unauthorized` saying why not (never echoing the token). */
const authenticate = (service: HttpServiceShape, token: Redacted.Redacted): Effect.Effect<Principal, Unauthorized> => {
  const raw = Redacted.value(token)
  return raw === ""
    ? Effect.fail(new Unauthorized({ reason: "no bearer token in the Authorization header" }))
    : Effect.mapError(service.verify(raw), (reason) => new Unauthorized({ reason }))
}

/** The session routes' authentication: any valid token, then the per-subject rate limit. */
export const AuthenticatedLive = Layer.effect(
  Authenticated,
  Effect.gen(function*() {
    const service = yield* HttpService
    const limit = yield* limiter(service.config.httpRateLimit, "http")
    return Authenticated.of({ bearer: (token) => Effect.flatMap(authenticate(service, token), limit) })
  })
)

/** The admin routes' authentication: a token with the admin claim, then the admin rate limit. */
export const AuthenticatedAdminLive = Layer.effect(
  AuthenticatedAdmin,
  Effect.gen(function*() {
    const service = yield* HttpService
    const limit = yield* limiter(service.config.adminRateLimit, "admin")
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

/** A caller's duration (milliseconds or text like `15m`), or `InvalidInput` naming the field. */
const durationField = (field: string, input: string | number | undefined) =>
  input === undefined
    ? Either.right(undefined)
    : Either.mapLeft(parseDuration(input), (reason) => invalid(field, reason, "a duration like 15m, 1h30m or 90000"))

/** The expected version in an `If-Match` header: `"3"`, `3`, or `*` (any version). */
const expectedVersion = (header: string | undefined): Either.Either<number | undefined, InvalidInput> => {
  if (header === undefined || header.trim() === "*") return Either.right(undefined)
  const match = /^\s*"?(\d{1,15})"?\s*$/.exec(header)
  return match === null
    ? Either.left(invalid("if-match", `got ${JSON.stringify(header)}`, "a session version as an ETag, like \"3\""))
    : Either.right(Number(match[1]))
}

/**
 * A session as the response, with its version as the `ETag` (for a later `If-Match`). Written straight to JSON: a
 * `Session` is already its own encoding (checked data, plain fields), so the schema encoder has nothing to do.
 */
const sessionResponse = (session: Session, status = 200, headers: Record<string, string> = {}) =>
  HttpServerResponse.unsafeJson(session, { status, headers: { etag: `"${session.version}"`, ...headers } })

/**
 * `patch` applied to `target` as a JSON merge patch (RFC 7396): members of an object patch replace or (when `null`)
 * remove members, recursively; any other patch replaces the whole value. Builds new objects with own properties only.
 */
export const mergePatch = (target: JsonValue, patch: JsonValue): JsonValue => {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return patch
  const members = new Map<string, JsonValue>(
    target !== null && typeof target === "object" && !Array.isArray(target) ? Object.entries(target) : []
  )
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) members.delete(key)
    else members.set(key, mergePatch(members.get(key) ?? null, value))
  }
  return Object.fromEntries(members)
}

const page = (result: Page) => ({
  sessions: result.sessions,
  next: result.next,
  corrupt: result.corrupt.map((record) => record.id)
})

/** A backup file name: letters, digits, `.`, `_` and `-`, not starting with a dot. */
const backupName = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/

/** An event stream response of the manager's events that `visible` lets through. */
const events = (
  service: HttpServiceShape,
  lastEventIdHeader: string | undefined,
  visible: (item: SubscriptionItem) => boolean
) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    const after = yield* Sse.lastEventId(lastEventIdHeader)
    return HttpServerResponse.stream(
      Sse.eventStream(manager.events(after), {
        epoch: manager.eventEpoch,
        visible,
        heartbeat,
        stop: Deferred.await(service.stopping)
      }),
      { contentType: Sse.contentType, headers: { "cache-control": "no-cache", "x-accel-buffering": "no" } }
    )
  })

/** The session routes. */
export const SessionsLive = HttpApiBuilder.group(SessionsApi, "sessions", (handlers) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    const service = yield* HttpService
    const owner = Effect.map(CurrentPrincipal, (principal) => principal.subject)
    return handlers
      .handle("create", ({ payload, request }) =>
        Effect.gen(function*() {
          const idleTimeout = yield* durationField("idleTimeout", payload.idleTimeout)
          const maxLifetime = yield* durationField("maxLifetime", payload.maxLifetime)
          const session = yield* manager.create({
            owner: yield* owner,
            name: payload.name,
            kind: payload.kind,
            data: payload.data,
            idleTimeout,
            maxLifetime
          })
          return sessionResponse(session, 201, { location: `${request.url.split("?")[0]}/${session.id}` })
        }))
      .handle("list", ({ urlParams }) =>
        Effect.flatMap(owner, (subject) =>
          manager.list({ ...urlParams, owner: subject })).pipe(Effect.map(page)))
      .handle("get", ({ path }) =>
        Effect.flatMap(owner, (subject) =>
          manager.get(path.id, { owner: subject })).pipe(Effect.map((session) =>
            sessionResponse(session)
          )))
      .handle("touch", ({ path }) =>
        Effect.flatMap(owner, (subject) =>
          manager.touch(path.id, { owner: subject })).pipe(Effect.map((session) =>
            sessionResponse(session)
          )))
      .handle("activity", ({ path, payload }) =>
        Effect.flatMap(owner, (subject) =>
          manager.recordActivity(path.id, {
            messages: payload.messages,
            responseTime: payload.responseTimeMs
          }, { owner: subject })).pipe(Effect.map((session) =>
            sessionResponse(session)
          )))
      .handle("wait", ({ path }) =>
        Effect.flatMap(owner, (subject) =>
          manager.wait(path.id, { owner: subject })).pipe(Effect.map((session) =>
            sessionResponse(session)
          )))
      .handle("resume", ({ path }) =>
        Effect.flatMap(owner, (subject) =>
          manager.resume(path.id, { owner: subject })).pipe(Effect.map((session) =>
            sessionResponse(session)
          )))
      .handle("replaceData", ({ headers, path, payload }) =>
        Effect.gen(function*() {
          const version = yield* expectedVersion(headers["if-match"])
          const session = yield* manager.update(path.id, payload, {
            owner: yield* owner,
            expectedVersion: version
          })
          return sessionResponse(session)
        }))
      .handle("mergeData", ({ path, payload }) =>
        Effect.gen(function*() {
          if (!isJsonValue(payload)) {
            return yield* Effect.fail(invalid("body", "is not a JSON value", "a JSON merge patch"))
          }
          const subject = yield* owner
          const session = yield* manager.withSession(
            path.id,
            ({ session }) =>
              manager.update(path.id, mergePatch(session.data, payload), {
                owner: subject,
                expectedVersion: session.version
              }),
            { owner: subject, timeout: service.config.requestTimeout }
          )
          return sessionResponse(session)
        }))
      .handle("close", ({ path, urlParams }) =>
        Effect.flatMap(owner, (subject) =>
          manager.close(path.id, { owner: subject, reason: urlParams.reason })))
      .handle("activate", ({ payload }) =>
        Effect.flatMap(owner, (subject) =>
          manager.activate(subject, payload.id)).pipe(Effect.map((session) =>
            sessionResponse(session)
          )))
      .handle("active", () =>
        Effect.gen(function*() {
          const subject = yield* owner
          const active = yield* manager.active(subject)
          return yield* Option.match(active, {
            onNone: () =>
              Effect.fail(new NoActiveSession({ owner: subject })),
            onSome: (session) =>
              Effect.succeed(sessionResponse(session))
          })
        }))
      .handleRaw("events", ({ request }) =>
        Effect.flatMap(owner, (subject) =>
          events(
            service,
            request.headers["last-event-id"],
            (item) =>
              item._tag === "EventsMissed" || item.owner === subject
          )))
  }))

/** The operator routes. */
export const AdminLive = HttpApiBuilder.group(SessionsApi, "admin", (handlers) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    const service = yield* HttpService
    return handlers
      .handle("stats", () => manager.stats)
      .handle("sessions", ({ urlParams }) => Effect.map(manager.list(urlParams), page))
      .handle("close", ({ path, urlParams }) => manager.close(path.id, { reason: urlParams.reason }))
      .handle("sweep", () => manager.sweep)
      .handle("backup", ({ payload }) =>
        Effect.gen(function*() {
          if (service.database === null) {
            return yield* Effect.fail(
              new StoreError({ operation: "backup", reason: "backups need the SQLite store; this service has none" })
            )
          }
          const now = new Date(yield* Clock.currentTimeMillis)
          const name = payload.name ?? `sessions-${now.toISOString().replace(/[:.]/g, "-")}.backup`
          if (!backupName.test(name)) {
            return yield* Effect.fail(
              invalid("name", `got ${JSON.stringify(name)}`, "a file name of letters, digits, '.', '_' and '-'")
            )
          }
          const report = yield* backup({
            database: service.database,
            to: Path.join(service.config.dataDir, "backups", name)
          })
          return { ...report, skipped: report.skipped.length }
        }))
      .handle("origins", () => Effect.map(Ref.get(service.origins), (origins) => ({ origins: [...origins] })))
      .handle("setOrigins", ({ payload }) =>
        Effect.gen(function*() {
          const bad = payload.origins.findIndex((origin) => !originPattern.test(origin))
          if (bad >= 0) {
            return yield* Effect.fail(
              invalid(
                `origins.${bad}`,
                `got ${JSON.stringify(payload.origins[bad])}`,
                originExpected
              )
            )
          }
          yield* Ref.set(service.origins, new Set(payload.origins))
          yield* Effect.logInfo("allowed origins replaced").pipe(Effect.annotateLogs("origins", payload.origins))
          return { origins: payload.origins }
        }))
      .handleRaw("events", ({ request }) => events(service, request.headers["last-event-id"], () => true))
  }))

/** Health, readiness and metrics. */
export const SystemLive = HttpApiBuilder.group(SessionsApi, "system", (handlers) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "up" as const }))
      .handle("readyz", () => Effect.as(manager.stats, { status: "ready" as const }))
      .handleRaw("metrics", () =>
        Effect.map(Prometheus.scrape, (text) =>
          HttpServerResponse.text(text, { contentType: Prometheus.contentType })))
  }))
