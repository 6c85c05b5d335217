/**
 * Sessions inside an app's own Effect HTTP server: a middleware that gives each request its session, from a cookie
 * (or a header) naming it, typed by the app's data schema.
 *
 * ```ts
 * const Sessions = SessionMiddleware.define("shop", Cart)
 * // HttpApi: `.middleware(Sessions.Middleware)` on a group, `Sessions.layer({ initial: () => emptyCart })` to serve it;
 * // handlers: `const session = yield* Sessions.CurrentSession`.
 * // HttpRouter / HttpApp: `Sessions.http({ ... })` gives an `HttpMiddleware` providing the same `CurrentSession`.
 * ```
 *
 * The cookie is `HttpOnly`, `Secure` (unless turned off for local development), `SameSite=Lax` by default, with the
 * configured `Path` and `Domain`, and a `Max-Age` that follows the session's `expiresAt`: it is sent again whenever a
 * request reads the session (which touches it), so an active visitor's cookie lives as long as the session does.
 * A request whose handler never asks for its session makes no store call.
 */
import { HttpApiMiddleware, HttpApp, HttpServerRequest } from "@effect/platform"
import { Context, Effect, Either, Layer, Schema } from "effect"
import { type DurationInput, parseDuration } from "../../domain/Config.js"
import { InvalidConfig } from "../../domain/Errors.js"
import { validateOwnerId, validateSessionKind } from "../../domain/Ids.js"
import { SessionManager } from "../../services/SessionManager.js"
import { type CookieOptions, cookieSettings } from "./internal/cookie.js"
import { type CurrentSessionShape, RequestSession, type Shared } from "./internal/RequestSession.js"
import { SessionMiddlewareError } from "./MiddlewareErrors.js"

export type { CookieOptions } from "./internal/cookie.js"
export type { CurrentSessionShape } from "./internal/RequestSession.js"
export * from "./MiddlewareErrors.js"

/** How the middleware finds, creates and presents the sessions of one app. */
export interface SessionMiddlewareOptions<A> {
  /** The data of a new session. */
  readonly initial: () => A
  /** The session cookie (see `CookieOptions` for the defaults), or `false` to take the id from `header` only. */
  readonly cookie?: CookieOptions | false | undefined
  /**
   * A request header that may carry the session id (for clients that keep no cookies); responses that give the
   * client a session (new, rotated or touched) carry its id in the same header. Default: none.
   */
  readonly header?: string | undefined
  /**
   * The owner of new sessions. Default: each new session is owned by a visitor of its own (`visitor-<random>`), so
   * `maxSessionsPerOwner` does not bind anonymous visitors together.
   */
  readonly owner?: string | undefined
  /** The idle timeout of new sessions (the manager's `idleTimeout` if absent). */
  readonly idleTimeout?: DurationInput | undefined
}

/** The settings shared by every request, or `InvalidConfig` naming every bad option. */
const sharedSettings = <A, I>(kind: string, schema: Schema.Schema<A, I>, options: SessionMiddlewareOptions<A>) =>
  Effect.gen(function*() {
    const manager = yield* SessionManager
    const clock = yield* Effect.clock
    const issues: Array<{ field: string; reason: string }> = []
    const cookie = options.cookie === false ? Either.right(undefined) : cookieSettings(options.cookie)
    if (Either.isLeft(cookie)) issues.push(...cookie.left.issues)
    const header = options.header?.toLowerCase()
    if (header !== undefined && !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(header)) {
      issues.push({ field: "header", reason: `is not a header name: ${JSON.stringify(options.header)}` })
    }
    if (options.cookie === false && header === undefined) {
      issues.push({ field: "header", reason: "is required when cookie is false (the id must come from somewhere)" })
    }
    const validKind = validateSessionKind(kind)
    if (Either.isLeft(validKind)) issues.push({ field: "name", reason: validKind.left.message })
    const validOwner = options.owner === undefined ? Either.right(undefined) : validateOwnerId(options.owner)
    if (Either.isLeft(validOwner)) issues.push({ field: "owner", reason: validOwner.left.message })
    const idleTimeout = options.idleTimeout === undefined ? Either.right(undefined) : parseDuration(options.idleTimeout)
    if (Either.isLeft(idleTimeout)) issues.push({ field: "idleTimeout", reason: idleTimeout.left })
    if (issues.length > 0) return yield* new InvalidConfig({ issues })
    const shared: Shared<A> = {
      manager,
      clock,
      decode: Schema.decodeUnknownEither(schema),
      encode: Schema.encodeEither(schema),
      initial: options.initial,
      kind,
      owner: options.owner,
      cookie: Either.getOrUndefined(cookie),
      header,
      idleTimeout: Either.getOrUndefined(idleTimeout)
    }
    return shared
  })

/** The request's session: the id it carries (cookie first, then header), hooked to tell the response its changes. */
const sessionOf = <A>(shared: Shared<A>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const fromCookie = shared.cookie === undefined ? undefined : request.cookies[shared.cookie.name]
    const fromHeader = shared.header === undefined ? undefined : request.headers[shared.header]
    const id = fromCookie !== undefined && fromCookie !== "" ? fromCookie : fromHeader
    const session = new RequestSession(shared, id === "" ? undefined : id)
    return Effect.as(
      HttpApp.appendPreResponseHandler((_request, response) => Effect.succeed(session.respond(response))),
      session
    )
  })

/** The identity of one app's `CurrentSession` service (its name and data type). */
export interface CurrentSession<Name extends string, A> {
  readonly "effect-sessions/CurrentSession": Name
  readonly data: A
}

/** The identity of one app's session middleware. */
export interface SessionMiddlewareId<Name extends string, A> {
  readonly "effect-sessions/SessionMiddleware": Name
  readonly [HttpApiMiddleware.TypeId]: {
    readonly provides: CurrentSession<Name, A>
    readonly failure: SessionMiddlewareError
    readonly failureContext: never
  }
}

/** The tag of the request's session, in handlers behind the middleware. */
export type CurrentSessionTag<Name extends string, A> = Context.Tag<CurrentSession<Name, A>, CurrentSessionShape<A>>

/** The `HttpApiMiddleware` tag of one app's sessions. */
export type MiddlewareTag<Name extends string, A> = HttpApiMiddleware.TagClass<
  SessionMiddlewareId<Name, A>,
  `effect-sessions/SessionMiddleware/${Name}`,
  { readonly provides: CurrentSessionTag<Name, A>; readonly failure: typeof SessionMiddlewareError }
>

/** One app's session middleware: its tags, and their implementations. */
export interface SessionMiddlewareOf<Name extends string, A> {
  /** The request's session, in handlers behind the middleware: `yield* Sessions.CurrentSession`. */
  readonly CurrentSession: CurrentSessionTag<Name, A>
  /** The `HttpApiMiddleware` to add to an `HttpApiGroup` or endpoint (`.middleware(Sessions.Middleware)`). */
  readonly Middleware: MiddlewareTag<Name, A>
  /** The middleware's implementation for `HttpApiBuilder`, over the `SessionManager` in context. */
  readonly layer: (
    options: SessionMiddlewareOptions<A>
  ) => Layer.Layer<SessionMiddlewareId<Name, A>, InvalidConfig, SessionManager>
  /** The same for `HttpRouter`/`HttpApp` users: an `HttpMiddleware` that provides `CurrentSession` to the app. */
  readonly http: (
    options: SessionMiddlewareOptions<A>
  ) => Effect.Effect<
    <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E, Exclude<R, CurrentSession<Name, A>>>,
    InvalidConfig,
    SessionManager
  >
}

/**
 * The session middleware of one app, its sessions' data described by `schema` (whose encoded form is JSON). `name`
 * names the app: it keys the tags and is the `kind` of the sessions the middleware creates; a cookie naming a
 * session of another kind is treated as no session.
 */
export const define = <const Name extends string, A, I>(
  name: Name,
  schema: Schema.Schema<A, I>
): SessionMiddlewareOf<Name, A> => {
  const CurrentSession: CurrentSessionTag<Name, A> = Context.GenericTag(`effect-sessions/CurrentSession/${name}`)
  const Middleware: MiddlewareTag<Name, A> = HttpApiMiddleware.Tag<SessionMiddlewareId<Name, A>>()(
    `effect-sessions/SessionMiddleware/${name}`,
    { provides: CurrentSession, failure: SessionMiddlewareError }
  )
  return {
    CurrentSession,
    Middleware,
    layer: (options) => Layer.effect(Middleware, Effect.map(sharedSettings(name, schema, options), sessionOf)),
    http: (options) =>
      Effect.map(
        sharedSettings(name, schema, options),
        (shared) => <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, Exclude<R, CurrentSession<Name, A>>> =>
          Effect.flatMap(sessionOf(shared), (session) => Effect.provideService(app, CurrentSession, session))
      )
  }
}
