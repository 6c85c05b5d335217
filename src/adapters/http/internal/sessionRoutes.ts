/**
 * The handlers of the session routes, and what the operator routes share with them (pages, event streams). Each
 * session route acts for the token's subject through the manager's owner scope, so another owner's session answers
 * 404 exactly like a missing one.
 */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Deferred, Effect, Either, Option } from "effect"
import { parseDuration } from "../../../domain/Config.js"
import { isJsonValue } from "../../../domain/Data.js"
import { InvalidInput } from "../../../domain/Errors.js"
import type { SubscriptionItem } from "../../../domain/Events.js"
import type { JsonValue, Session } from "../../../domain/Session.js"
import { SessionManager } from "../../../services/SessionManager.js"
import type { Page } from "../../../services/SessionStore.js"
import { CurrentPrincipal, SessionsApi } from "../Api.js"
import { NoActiveSession } from "../HttpErrors.js"
import { rateLimited } from "./budgets.js"
import { HttpService, type HttpServiceShape } from "./HttpService.js"
import * as Sse from "./sse.js"

/** How often an idle event stream sends a comment to keep proxies from closing it. */
const heartbeat = "15 seconds"

/** What a client refused a stream (it holds `maxStreamsPerSubject`) is told to wait before trying again. */
const streamRetry = 5_000

/** An `InvalidInput` of a route. */
export const invalid = (field: string, reason: string, expected: string) =>
  new InvalidInput({ field, reason, expected })

/** A caller's duration (milliseconds or text like `15m`), or `InvalidInput` naming the field (never quoting it). */
const durationField = (field: string, input: string | number | undefined) =>
  input === undefined
    ? Either.right(undefined)
    : Either.mapLeft(
      parseDuration(input),
      () => invalid(field, "is not a duration", "a duration like 15m, 1h30m or 90000 (milliseconds)")
    )

/** The expected version in an `If-Match` header: `"3"`, `3`, or `*` (any version). */
const expectedVersion = (header: string | undefined): Either.Either<number | undefined, InvalidInput> => {
  if (header === undefined || header.trim() === "*") return Either.right(undefined)
  const match = /^\s*"?(\d{1,15})"?\s*$/.exec(header)
  return match === null
    ? Either.left(invalid("if-match", "is not a version", "a session version as an ETag, like \"3\""))
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

/** A page of sessions as the routes answer it: corrupt records by id only. */
export const page = (result: Page) => ({
  sessions: result.sessions,
  next: result.next,
  corrupt: result.corrupt.map((record) => record.id)
})

/**
 * An event stream response of the manager's events that `visible` lets through, for `subject`: it holds one of the
 * subject's `maxStreamsPerSubject` slots until its request is over (the stream ended, the client left, the service
 * stopped), and is refused `RateLimited` when the subject has none left.
 */
export const events = (
  service: HttpServiceShape,
  subject: string,
  lastEventIdHeader: string | undefined,
  visible: (item: SubscriptionItem) => boolean
) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    const after = yield* Sse.lastEventId(lastEventIdHeader)
    if (!service.streams.take(subject)) return yield* Effect.fail(rateLimited(`streams:${subject}`, streamRetry))
    yield* Effect.addFinalizer(() => Effect.sync(() => service.streams.release(subject)))
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
export const sessionRoutes = HttpApiBuilder.group(SessionsApi, "sessions", (handlers) =>
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
        Effect.flatMap(CurrentPrincipal, ({ subject }) =>
          Effect.map(manager.get(path.id, { owner: subject }), (session) =>
            sessionResponse(session))))
      .handle("touch", ({ path }) =>
        Effect.flatMap(CurrentPrincipal, ({ subject }) =>
          Effect.map(manager.touch(path.id, { owner: subject }), (session) =>
            sessionResponse(session))))
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
      .handle("regenerate", ({ path, request }) =>
        Effect.flatMap(owner, (subject) =>
          manager.regenerate(path.id, { owner: subject })).pipe(Effect.map((session) =>
            // The session's new address: the old one answers 404 from now on.
            sessionResponse(session, 200, {
              location: request.url.split("?")[0]!.replace(/\/[^/]*\/regenerate$/, `/${session.id}`)
            })
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
            subject,
            request.headers["last-event-id"],
            (item) =>
              item._tag === "EventsMissed" || item.owner === subject
          )))
  }))
