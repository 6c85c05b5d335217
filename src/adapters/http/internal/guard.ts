/**
 * What every request goes through before and after its route: a request id (in the logs and the `x-request-id`
 * header), refusal while the service drains, the origin allow-list and CORS, the body size limit, the request
 * deadline, one access log line, and the translation of every failure into one of the API's typed errors, so no
 * input ever gets a 500 (only a fault of the service does, logged with its cause under the request id).
 */
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Duration, Effect, Metric, MetricBoundaries, Option, Ref, type Schema } from "effect"
import * as Crypto from "node:crypto"
import { InvalidInput, OperationTimeout, RateLimited, ShuttingDown } from "../../../domain/Errors.js"
import { type allErrors, Forbidden, PayloadTooLarge, RouteNotFound, ServerFault, statusTable } from "../HttpErrors.js"
import type { HttpServiceShape } from "./service.js"

const statusOfTag = new Map(statusTable())

const requests = Metric.counter("http_requests_total", { description: "HTTP requests answered", incremental: true })
const latency = Metric.histogram(
  "http_request_duration_ms",
  MetricBoundaries.exponential({ start: 0.25, factor: 2, count: 16 }),
  "Time to answer an HTTP request (until the response starts), in milliseconds"
)

/** The request counter of each method and status, made once (tagging a metric hashes its labels every time). */
const counters = new Map<string, Metric.Metric.Counter<number>>()
const counterOf = (method: string, status: number) => {
  const key = `${method} ${status}`
  let counter = counters.get(key)
  if (counter === undefined) {
    counter = Metric.tagged(Metric.tagged(requests, "method", method), "status", String(status))
    counters.set(key, counter)
  }
  return counter
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/

/** The caller's request id when it sent a sensible one, a new random one otherwise. */
const requestIdOf = (request: HttpServerRequest.HttpServerRequest): string => {
  const given = request.headers["x-request-id"]
  return given !== undefined && requestIdPattern.test(given) ? given : Crypto.randomBytes(9).toString("base64url")
}

const allowedHeaders = "authorization, content-type, if-match, last-event-id, x-request-id"
const exposedHeaders = "etag, location, retry-after, x-request-id"
const allowedMethods = "GET, POST, PUT, PATCH, DELETE"

/** Whether `origin` names the host the request was sent to (a same-origin browser call, never refused). */
const sameOrigin = (origin: string, host: string | undefined): boolean => {
  if (host === undefined) return false
  const at = origin.indexOf("://")
  return at > 0 && origin.slice(at + 3) === host
}

/** Any error the API answers with. */
type ApiFailure = Schema.Schema.Type<(typeof allErrors)[keyof typeof allErrors]>

const isKnownError = (error: unknown): error is ApiFailure =>
  typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string" &&
  statusOfTag.has(error._tag)

/** A request body that could not be read: too large, or not what its content type says. */
const bodyFailure = (error: HttpServerError.RequestError, limit: number) =>
  error.cause instanceof Error && error.cause.message === "maxBytes exceeded"
    ? new PayloadTooLarge({ limit })
    : new InvalidInput({
      field: "body",
      reason: error.cause instanceof Error ? `could not be read: ${error.cause.message}` : "could not be read",
      expected: "a JSON document"
    })

/** The first problem of a request that did not match its schema, as `InvalidInput` naming the field. */
const decodeFailure = (error: HttpApiDecodeError): InvalidInput => {
  const issue = error.issues[0]
  if (issue === undefined) {
    return new InvalidInput({ field: "request", reason: error.message, expected: "a valid request" })
  }
  const field = issue.path.length === 0 ? "body" : issue.path.map(String).join(".")
  return new InvalidInput({ field, reason: issue.message, expected: "see the OpenAPI document at /openapi.json" })
}

const setHeaders = (headers: Record<string, string>) =>
  HttpApp.appendPreResponseHandler((_request, response) =>
    Effect.succeed(HttpServerResponse.setHeaders(response, headers))
  )

/**
 * The failure a request ends with, as one of the API's errors: schema and body problems become `InvalidInput` or
 * `PayloadTooLarge`, a missing route `RouteNotFound`, a rate limit gets `Retry-After`; a defect or an unknown failure
 * is logged with its cause and answered `ServerFault` (500), the only way to get one.
 */
const translate = (
  cause: Cause.Cause<unknown>,
  requestId: string,
  maxBodyBytes: number
): Effect.Effect<never, ApiFailure> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
  const failure = Cause.failureOption(cause)
  const error = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (error instanceof HttpApiDecodeError) return Effect.fail(decodeFailure(error))
  if (error instanceof HttpServerError.RouteNotFound) {
    return Effect.fail(
      new RouteNotFound({ method: error.request.method, path: error.request.url.split("?")[0] ?? "/" })
    )
  }
  if (error instanceof HttpServerError.RequestError) return Effect.fail(bodyFailure(error, maxBodyBytes))
  if (error instanceof RateLimited) {
    return Effect.zipRight(
      setHeaders({ "retry-after": String(Math.max(1, Math.ceil(Duration.toSeconds(error.retryAfter)))) }),
      Effect.fail(error)
    )
  }
  if (error instanceof ShuttingDown) {
    return Effect.zipRight(setHeaders({ "retry-after": "1", connection: "close" }), Effect.fail(error))
  }
  if (Option.isSome(failure) && isKnownError(error)) return Effect.fail(error)
  return Effect.zipRight(
    Effect.logError("request failed", cause),
    Effect.fail(new ServerFault({ requestId }))
  )
}

/** The CORS headers of an allowed cross-origin response. */
const corsHeaders = (origin: string): Record<string, string> => ({
  "access-control-allow-origin": origin,
  "access-control-expose-headers": exposedHeaders,
  vary: "Origin"
})

/** The API-level middleware of the service. */
export const guard = (service: HttpServiceShape) => (app: HttpApp.Default) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const clock = yield* Effect.clock
    const started = clock.unsafeCurrentTimeNanos()
    const requestId = requestIdOf(request)
    const path = request.url.split("?")[0] ?? "/"
    yield* setHeaders({ "x-request-id": requestId })
    const answer = Effect.gen(function*() {
      if (service.gate.draining) return yield* Effect.fail(new ShuttingDown())
      const origin = request.headers["origin"]
      if (origin !== undefined && !sameOrigin(origin, request.headers["host"])) {
        const allowed = yield* Ref.get(service.origins)
        if (!allowed.has(origin)) {
          return yield* Effect.fail(new Forbidden({ reason: `origin ${origin} is not allowed` }))
        }
        if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
          return HttpServerResponse.empty({
            status: 204,
            headers: {
              ...corsHeaders(origin),
              "access-control-allow-methods": allowedMethods,
              "access-control-allow-headers": allowedHeaders,
              "access-control-max-age": "600"
            }
          })
        }
        yield* setHeaders(corsHeaders(origin))
      }
      const length = Number(request.headers["content-length"] ?? 0)
      if (length > service.config.maxBodyBytes) {
        return yield* Effect.fail(new PayloadTooLarge({ limit: service.config.maxBodyBytes }))
      }
      return yield* app.pipe(
        HttpIncomingMessage.withMaxBodySize(Option.some(service.config.maxBodyBytes)),
        Effect.timeoutFail({
          duration: service.config.requestTimeout,
          onTimeout: () =>
            new OperationTimeout({
              operation: `${request.method} ${path}`,
              after: service.config.requestTimeout
            })
        })
      )
    })
    service.gate.enter()
    return yield* answer.pipe(
      Effect.catchAllCause((cause) => translate(cause, requestId, service.config.maxBodyBytes)),
      Effect.onExit((exit) => {
        service.gate.leave()
        const status = exit._tag === "Success"
          ? exit.value.status
          : Option.match(Cause.failureOption(exit.cause), {
            onNone: () => 499,
            onSome: (error) => isKnownError(error) ? statusOfTag.get(error._tag)! : 500
          })
        const millis = Number(clock.unsafeCurrentTimeNanos() - started) / 1e6
        return Effect.zipRight(
          Effect.all([Metric.increment(counterOf(request.method, status)), Metric.update(latency, millis)], {
            discard: true
          }),
          Effect.logInfo("request").pipe(
            Effect.annotateLogs({ method: request.method, path, status, ms: Math.round(millis * 100) / 100 })
          )
        )
      }),
      Effect.annotateLogs("requestId", requestId)
    )
  })
