/**
 * The HTTP status of every failure the service can answer with, in one table: each domain error annotated once here
 * (the domain never imports the platform), and the errors only HTTP has (authentication, origins, bodies, routes).
 * Every error is sent as its JSON encoding, `_tag` first-class, so clients decode them with the same schemas.
 */
import { HttpApiSchema } from "@effect/platform"
import { Schema, SchemaAST } from "effect"
import {
  CapacityExceeded,
  CorruptRecord,
  InvalidInput,
  InvalidTransition,
  LeaseHeld,
  OperationTimeout,
  RateLimited,
  SessionBusy,
  SessionEnded,
  SessionNameTaken,
  SessionNotFound,
  ShuttingDown,
  StaleFencingToken,
  StoreError,
  StoreUnavailable,
  VersionConflict
} from "../../domain/Errors.js"

/** The request carries no valid bearer token (401). */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  reason: Schema.String
}, HttpApiSchema.annotations({ status: 401 })) {
  override get message() {
    return `not authenticated: ${this.reason}`
  }
}

/** The token is valid but may not do this (a non-admin on `/admin`), or the browser origin is not allowed (403). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  reason: Schema.String
}, HttpApiSchema.annotations({ status: 403 })) {
  override get message() {
    return `forbidden: ${this.reason}`
  }
}

/** The owner has no active session (404). */
export class NoActiveSession extends Schema.TaggedError<NoActiveSession>()("NoActiveSession", {
  owner: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/** The request body is larger than `maxBodyBytes` (413). */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limit: Schema.Number
}, HttpApiSchema.annotations({ status: 413 })) {}

/** The request's body is of a media type the route does not take (415): what it was, and what the route takes. */
export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()("UnsupportedMediaType", {
  contentType: Schema.String,
  expected: Schema.String
}, HttpApiSchema.annotations({ status: 415 })) {
  override get message() {
    return `a body of type ${this.contentType} is not accepted here; expected ${this.expected}`
  }
}

/** No route has this method and path (404). The path is not repeated back: the caller sent it. */
export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()("RouteNotFound", {
  method: Schema.String
}, HttpApiSchema.annotations({ status: 404 })) {}

/**
 * The request's body did not arrive within the request deadline (408): the client stalled. Work that runs past the
 * deadline once the request has arrived is `OperationTimeout` (504) instead.
 */
export class RequestTimeout extends Schema.TaggedError<RequestTimeout>()("RequestTimeout", {
  afterMs: Schema.Number
}, HttpApiSchema.annotations({ status: 408 })) {
  override get message() {
    return `the request's body did not arrive within ${this.afterMs}ms`
  }
}

/** A fault of the service itself, never of the input (500). Logged with its cause; the body says no more. */
export class ServerFault extends Schema.TaggedError<ServerFault>()("ServerFault", {
  requestId: Schema.String
}, HttpApiSchema.annotations({ status: 500 })) {}

const status = <S extends Schema.Schema.Any & { readonly identifier: string }>(schema: S, code: number) =>
  schema.annotations({
    ...HttpApiSchema.annotations({ status: code }),
    // Named in the OpenAPI document as a component of its own, also for errors whose encoding renames a field
    // (durations as `retryAfterMs`), which would otherwise be written out inline under each response.
    [SchemaAST.JSONIdentifierAnnotationId]: schema.identifier
  }) as unknown as S

/**
 * Each domain error with its status. `VersionConflict` (a stale `If-Match`, or a writer that lost a race) is 409 with
 * the other conflicts: the body's `_tag` tells them apart and carries the current version.
 */
export const statuses = {
  InvalidInput: status(InvalidInput, 400),
  SessionNotFound: status(SessionNotFound, 404),
  SessionEnded: status(SessionEnded, 410),
  SessionNameTaken: status(SessionNameTaken, 409),
  InvalidTransition: status(InvalidTransition, 409),
  StaleFencingToken: status(StaleFencingToken, 409),
  VersionConflict: status(VersionConflict, 409),
  SessionBusy: status(SessionBusy, 423),
  LeaseHeld: status(LeaseHeld, 423),
  RateLimited: status(RateLimited, 429),
  CapacityExceeded: status(CapacityExceeded, 503),
  StoreUnavailable: status(StoreUnavailable, 503),
  ShuttingDown: status(ShuttingDown, 503),
  OperationTimeout: status(OperationTimeout, 504),
  CorruptRecord: status(CorruptRecord, 500),
  StoreError: status(StoreError, 500)
} as const

/** Every error the service answers with, by tag: the domain's and HTTP's own. */
export const allErrors = {
  ...statuses,
  Unauthorized,
  Forbidden,
  NoActiveSession,
  PayloadTooLarge,
  UnsupportedMediaType,
  RouteNotFound,
  RequestTimeout,
  ServerFault
} as const

/** The status of each error, read from its annotation, ordered by status (the README's table). */
export const statusTable = (): ReadonlyArray<readonly [tag: string, status: number]> =>
  Object.entries(allErrors)
    .map(([tag, schema]) => [tag, HttpApiSchema.getStatusError(schema)] as const)
    .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))
