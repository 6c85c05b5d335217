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
import {
  Cause,
  Duration,
  Effect,
  type Exit,
  type Fiber,
  FiberRef,
  HashMap,
  LogLevel,
  Metric,
  MetricBoundaries,
  MetricKey,
  Option,
  Ref,
  Schema
} from "effect"
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

const requests = MetricKey.counter("http_requests_total", { description: "HTTP requests answered", incremental: true })
const latency = Metric.histogram(
  "http_request_duration_ms",
  MetricBoundaries.exponential({ start: 0.25, factor: 2, count: 16 }),
  "Time to answer an HTTP request (until the response starts), in milliseconds"
)

/**
 * The request counter of each method and status, made once, with its labels in its key: a metric tagged with
 * `Metric.tagged` builds and looks up a new key at every update (its labels are a new array each time), this one
 * finds its state at once. Methods are the few Node's parser accepts, so this stays small.
 */
const counters = new Map<string, Metric.Metric.Counter<number>>()
const counterOf = (method: string, status: number) => {
  const key = `${method} ${status}`
  let counter = counters.get(key)
  if (counter === undefined) {
    counter = Metric.fromMetricKey(
      MetricKey.tagged(MetricKey.tagged(requests, "method", method), "status", String(status))
    )
    counters.set(key, counter)
  }
  return counter
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/

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

/** What a request's checks and route give: a response, or any failure (`translate` answers it). */
type Guarded = Effect.Effect<HttpServerResponse.HttpServerResponse, unknown, HttpServerRequest.HttpServerRequest>

/** Whether the fiber's minimum log level lets an `Info` line through (the access log is built only then). */
const infoEnabled = (fiber: Fiber.RuntimeFiber<unknown, unknown>) =>
  LogLevel.greaterThanEqual(LogLevel.Info, fiber.getFiberRef(FiberRef.currentMinimumLogLevel))

/**
 * The API-level middleware of the service. Per request it takes a handful of steps of its own: the checks before the
 * route run synchronously, the request id is a counter, the deadline is watched by the service's one watcher (no
 * timer per request), metrics are updated in place, and the access log line, built only when `Info` lines are
 * logged, is annotated in one write of the fiber's log annotations, left in place: the fiber is the request's own,
 * and only the writing of its response runs in it afterwards. The request id annotates every log line of the
 * request.
 */
export const requestGuard = (service: HttpServiceShape) => {
  const { clock, config, deadlines, requests } = service
  const deadline = config.requestTimeout
  const deadlineMillis = Duration.toMillis(deadline)
  return (app: HttpApp.Default) =>
    Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const started = clock.unsafeCurrentTimeNanos()
      const headers = request.headers
      const given = headers["x-request-id"]
      const requestId = given !== undefined && requestIdPattern.test(given) ? given : service.requestId()
      let cors: Record<string, string> | undefined

      /** The checks before the route, then the route under the deadline. */
      const answer = (): Guarded => {
        if (requests.closing) return Effect.fail(new ShuttingDown())
        const origin = headers["origin"]
        if (origin !== undefined && !sameOrigin(origin, headers["host"])) {
          return Effect.flatMap(Ref.get(service.origins), (allowed) => {
            if (!allowed.has(origin)) return Effect.fail(new Forbidden({ reason: `origin ${origin} is not allowed` }))
            if (request.method === "OPTIONS" && headers["access-control-request-method"] !== undefined) {
              return Effect.succeed(HttpServerResponse.empty({
                status: 204,
                headers: {
                  ...corsHeaders(origin),
                  "access-control-allow-methods": allowedMethods,
                  "access-control-allow-headers": allowedHeaders,
                  "access-control-max-age": "600"
                }
              }))
            }
            cors = corsHeaders(origin)
            return routed()
          })
        }
        return routed()
      }
      const routed = (): Guarded => {
        const length = Number(headers["content-length"] ?? 0)
        if (length > config.maxBodyBytes) return Effect.fail(new PayloadTooLarge({ limit: config.maxBodyBytes }))
        const withBody = mayHaveBody(request.method, headers)
        const work = withBody
          ? Effect.provideService(app, HttpServerRequest.HttpServerRequest, checkedBody(request, config.maxBodyBytes))
          : app
        // A body still arriving is the client's stall (408); anything else is work past its deadline (504). Neither
        // repeats the request's path back.
        return deadlines.within(work, () =>
          withBody && !NodeHttpServerRequest.toIncomingMessage(request).complete
            ? new RequestTimeout({ afterMs: deadlineMillis })
            : new OperationTimeout({ operation: `${request.method} request`, after: deadline }))
      }
      const answered = (response: HttpServerResponse.HttpServerResponse) => {
        let out = HttpServerResponse.setHeader(response, "x-request-id", requestId)
        if (cors !== undefined) out = HttpServerResponse.setHeaders(out, cors)
        // Draining: the client is told to open no more requests on this connection, so none arrives as it closes.
        if (requests.closing) out = HttpServerResponse.setHeader(out, "connection", "close")
        return out
      }
      /** Counts the request out, updates the metrics, and writes the access log line. */
      const finish = (exit: Exit.Exit<HttpServerResponse.HttpServerResponse>) =>
        Effect.withFiberRuntime<void>((fiber) => {
          requests.leave()
          const status = exit._tag === "Success" ? exit.value.status : 499
          const millis = Number(clock.unsafeCurrentTimeNanos() - started) / 1e6
          const labels = fiber.getFiberRef(FiberRef.currentMetricLabels)
          counterOf(request.method, status).unsafeUpdate(1, labels)
          latency.unsafeUpdate(millis, labels)
          if (!infoEnabled(fiber)) return Effect.void
          const path = request.url.split("?")[0] ?? "/"
          return Effect.zipRight(
            FiberRef.update(FiberRef.currentLogAnnotations, (annotations) =>
              HashMap.mutate(annotations, (map) => {
                HashMap.set(map, "method", request.method)
                HashMap.set(map, "path", path)
                HashMap.set(map, "status", status)
                HashMap.set(map, "ms", Math.round(millis * 100) / 100)
              })),
            accessLine
          )
        })
      return Effect.zipRight(
        FiberRef.update(FiberRef.currentLogAnnotations, HashMap.set<string, unknown>("requestId", requestId)),
        // Counted in and out with nothing interruptible between the two, so a request cut off still leaves.
        Effect.uninterruptibleMask((restore) => {
          requests.enter()
          return Effect.onExit(
            Effect.matchCauseEffect(restore(Effect.suspend(answer)), {
              onFailure: (cause) => Effect.map(translate(service, cause, request, requestId), answered),
              onSuccess: (response) => Effect.succeed(answered(response))
            }),
            finish
          )
        })
      )
    })
}

const accessLine = Effect.logInfo("request")
