/**
 * What every request goes through before and after its route: a request id (in the logs and the `x-request-id`
 * header), refusal while the service drains, the origin allow-list and CORS, the body limits (see `body.ts`), the
 * request deadline, one access log line, and the answer to every failure as one of the API's typed errors with its
 * status, so no input ever gets a 500 (only a fault of the service does, logged with its cause under the request id).
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import type * as Headers from "@effect/platform/Headers"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import type * as HttpApp from "@effect/platform/HttpApp"
import { hasBody, type HttpMethod } from "@effect/platform/HttpMethod"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Cause, Duration, Effect, Metric, MetricBoundaries, Option, Ref, Schema } from "effect"
import * as Crypto from "node:crypto"
import { OperationTimeout, RateLimited, ShuttingDown } from "../../../domain/Errors.js"
import {
  allErrors,
  Forbidden,
  PayloadTooLarge,
  RequestTimeout,
  RouteNotFound,
  ServerFault,
  statusTable
} from "../HttpErrors.js"
import { bodyError, checkedBody } from "./body.js"
import { retryAfterSeconds } from "./budgets.js"
import { decodeFailure } from "./decodeFailure.js"
import type { HttpServiceShape } from "./HttpService.js"

const statusOfTag = new Map(statusTable())

/** Any error the API answers with. */
type ApiFailure = Schema.Schema.Type<(typeof allErrors)[keyof typeof allErrors]>

const apiErrors = Schema.Union(...Object.values(allErrors))

/** Encodes any of the API's errors to its JSON body (the same schemas a client decodes them with). */
const encodeError = Schema.encodeSync(apiErrors)

/** Whether a failure is one of the API's errors (an instance of one of their classes, valid). */
const isApiError: (error: unknown) => error is ApiFailure = Schema.is(apiErrors)

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
const requestIdOf = (given: string | undefined): string =>
  given !== undefined && requestIdPattern.test(given) ? given : Crypto.randomBytes(9).toString("base64url")

const allowedHeaders = "authorization, content-type, if-match, last-event-id, x-request-id"
const exposedHeaders = "etag, location, retry-after, x-request-id"
const allowedMethods = "GET, POST, PUT, PATCH, DELETE"

/** Whether `origin` names the host the request was sent to (a same-origin browser call, never refused). */
const sameOrigin = (origin: string, host: string | undefined): boolean => {
  if (host === undefined) return false
  const at = origin.indexOf("://")
  return at > 0 && origin.slice(at + 3) === host
}

/**
 * Whether a request may carry a body for its route to read: a method that takes one, and a content type or length
 * (or chunks). Only those are given the body checks of `body.ts`; a bare `POST` (a touch) costs nothing more.
 */
const mayHaveBody = (method: HttpMethod, headers: Headers.Headers): boolean =>
  hasBody(method) &&
  (headers["content-type"] !== undefined || (headers["content-length"] ?? "0") !== "0" ||
    headers["transfer-encoding"] !== undefined)

/** The CORS headers of an allowed cross-origin response. */
const corsHeaders = (origin: string): Record<string, string> => ({
  "access-control-allow-origin": origin,
  "access-control-expose-headers": exposedHeaders,
  vary: "Origin"
})

/**
 * The response of one of the API's errors: its JSON body and status, `Retry-After` on `RateLimited` and
 * `ShuttingDown`, and `Connection: close` when the service drains or the request's body was not read to its end (a
 * limit, a deadline, a refused media type), so the rest of that body is never waited for.
 */
const errorResponse = (
  error: ApiFailure,
  request: HttpServerRequest.HttpServerRequest
): HttpServerResponse.HttpServerResponse => {
  const headers: Record<string, string> = {}
  if (error instanceof RateLimited) headers["retry-after"] = String(retryAfterSeconds(error))
  if (error instanceof ShuttingDown) {
    headers["retry-after"] = "1"
    headers["connection"] = "close"
  } else if (!NodeHttpServerRequest.toIncomingMessage(request).complete) headers["connection"] = "close"
  return HttpServerResponse.unsafeJson(encodeError(error), { status: statusOfTag.get(error._tag)!, headers })
}

/**
 * The answer to a failed request: schema and body problems are `InvalidInput`, `PayloadTooLarge` or
 * `UnsupportedMediaType`, a missing route `RouteNotFound` (charged to the caller's anonymous budget unless it has a
 * valid token), the API's own errors themselves; a defect or an unknown failure is logged with its cause and answered
 * `ServerFault` (500), the only way to get one. Interruption (the client went away) stays interruption.
 */
const translate = (
  service: HttpServiceShape,
  cause: Cause.Cause<unknown>,
  request: HttpServerRequest.HttpServerRequest,
  requestId: string
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  if (Cause.isInterruptedOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
  const failure = Cause.failureOption(cause)
  const error = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (error instanceof HttpApiDecodeError) return Effect.succeed(errorResponse(decodeFailure(error), request))
  if (error instanceof HttpServerError.RouteNotFound) {
    const notFound = new RouteNotFound({ method: request.method })
    return Effect.match(service.unlessAuthenticated(request), {
      onFailure: (limited) => errorResponse(limited, request),
      onSuccess: () => errorResponse(notFound, request)
    })
  }
  const body = bodyError(error)
  if (body !== undefined) return Effect.succeed(errorResponse(body, request))
  if (Option.isSome(failure) && isApiError(error)) return Effect.succeed(errorResponse(error, request))
  return Effect.as(
    Effect.logError("request failed", cause),
    errorResponse(new ServerFault({ requestId }), request)
  )
}

/** The API-level middleware of the service. */
export const requestGuard = (service: HttpServiceShape) => (app: HttpApp.Default) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const clock = yield* Effect.clock
    const started = clock.unsafeCurrentTimeNanos()
    const headers = request.headers
    const requestId = requestIdOf(headers["x-request-id"])
    const path = request.url.split("?")[0] ?? "/"
    let cors: Record<string, string> | undefined
    const answer = Effect.gen(function*() {
      if (yield* service.gate.closing) return yield* Effect.fail(new ShuttingDown())
      const origin = headers["origin"]
      if (origin !== undefined && !sameOrigin(origin, headers["host"])) {
        const allowed = yield* Ref.get(service.origins)
        if (!allowed.has(origin)) {
          return yield* Effect.fail(new Forbidden({ reason: `origin ${origin} is not allowed` }))
        }
        if (request.method === "OPTIONS" && headers["access-control-request-method"] !== undefined) {
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
        cors = corsHeaders(origin)
      }
      const length = Number(headers["content-length"] ?? 0)
      if (length > service.config.maxBodyBytes) {
        return yield* Effect.fail(new PayloadTooLarge({ limit: service.config.maxBodyBytes }))
      }
      const routed = mayHaveBody(request.method, headers)
        ? Effect.provideService(
          app,
          HttpServerRequest.HttpServerRequest,
          checkedBody(request, service.config.maxBodyBytes)
        )
        : app
      const deadline = service.config.requestTimeout
      return yield* Effect.timeoutFail(routed, {
        duration: deadline,
        // A body still arriving is the client's stall (408); anything else is work past its deadline (504). Neither
        // repeats the request's path back.
        onTimeout: () =>
          mayHaveBody(request.method, headers) && !NodeHttpServerRequest.toIncomingMessage(request).complete
            ? new RequestTimeout({ afterMs: Duration.toMillis(deadline) })
            : new OperationTimeout({ operation: `${request.method} request`, after: deadline })
      })
    })
    const counted = Effect.acquireUseRelease(service.gate.enter, () => answer, () => service.gate.leave)
    return yield* counted.pipe(
      Effect.catchAllCause((cause) => translate(service, cause, request, requestId)),
      Effect.flatMap((response) =>
        Effect.map(service.gate.closing, (closing) => {
          let answered = HttpServerResponse.setHeader(response, "x-request-id", requestId)
          if (cors !== undefined) answered = HttpServerResponse.setHeaders(answered, cors)
          // Draining: the client is told to open no more requests on this connection, so none arrives as it closes.
          if (closing) answered = HttpServerResponse.setHeader(answered, "connection", "close")
          return answered
        })
      ),
      Effect.onExit((exit) => {
        const status = exit._tag === "Success" ? exit.value.status : 499
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
