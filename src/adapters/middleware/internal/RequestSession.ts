/**
 * One request's session, as the middleware gives it to handlers. Lazy: nothing is asked of the store until a handler
 * reads or writes; the first read touches the session (an activity mark the store coalesces, never a data write) and
 * is remembered for the rest of the request. A request id that names no session of this app (missing, ended, of
 * another kind, unreadable, or not an id at all) is no session; the cookie is then cleared. Whatever changed the
 * session (created, touched, rotated, ended) is told to the client once, as the response is sent.
 */
import { HttpServerResponse } from "@effect/platform"
import { type Clock, type Duration, Effect, Either, Option, ParseResult } from "effect"
import type { VersionConflict } from "../../../domain/Errors.js"
import { generateSessionId } from "../../../domain/Ids.js"
import type { Session } from "../../../domain/Session.js"
import type { SessionManagerShape } from "../../../services/SessionManager.js"
import type { TypedSession } from "../../../services/TypedSessions.js"
import {
  fromManager,
  mapFailure,
  SessionDataRejected,
  type SessionMiddlewareError,
  SessionUnavailable
} from "../MiddlewareErrors.js"
import { type CookieSettings, withoutSessionCookie, withSessionCookie } from "./cookie.js"

/** What every request's session shares: the manager, the data schema, the app's settings. */
export interface Shared<A> {
  readonly manager: SessionManagerShape
  readonly clock: Clock.Clock
  readonly decode: (data: unknown) => Either.Either<A, ParseResult.ParseError>
  readonly encode: (data: A) => Either.Either<unknown, ParseResult.ParseError>
  readonly initial: () => A
  readonly kind: string
  readonly owner: string | undefined
  readonly cookie: CookieSettings | undefined
  readonly header: string | undefined
  readonly idleTimeout: Duration.Duration | undefined
}

/** The session of the request in hand, typed by the app's data schema. */
export interface CurrentSessionShape<A> {
  /** The id of the request's session now (after any change this request made), if it has one it has looked up. */
  readonly id: () => Option.Option<string>
  /** The request's session, touched; `None` if the request names none of this app's live sessions. */
  readonly get: Effect.Effect<Option.Option<TypedSession<A>>, SessionMiddlewareError>
  /** The request's session, created with the initial data when it has none. */
  readonly getOrCreate: Effect.Effect<TypedSession<A>, SessionMiddlewareError>
  /** Replaces the session's data (creating the session if the request has none). */
  readonly set: (data: A) => Effect.Effect<TypedSession<A>, SessionMiddlewareError>
  /** Applies `f` to the data and writes the result, re-reading and retrying if another writer came first. */
  readonly modify: (f: (data: A) => A) => Effect.Effect<TypedSession<A>, SessionMiddlewareError>
  /**
   * Moves the session to a new id (same data, owner and expiry; the old id then names no session) and sends the new
   * id to the client: call it at login and on any change of privilege. A request without a session gets a new one.
   */
  readonly regenerate: Effect.Effect<TypedSession<A>, SessionMiddlewareError>
  /** Ends the session (logout) and clears the cookie. */
  readonly destroy: Effect.Effect<void, SessionMiddlewareError>
  /** `SessionManager.withSession` on the request's session (created if it has none): exclusive, with a deadline. */
  readonly withSession: <B, E, R>(
    work: (session: TypedSession<A>) => Effect.Effect<B, E, R>,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ) => Effect.Effect<B, E | SessionMiddlewareError, R>
}

const maxConflictRetries = 5

const noSession = Effect.succeed(Option.none())

const dataRejected = (error: ParseResult.ParseError) =>
  new SessionDataRejected({ reason: ParseResult.TreeFormatter.formatErrorSync(error) })

/** The session of one request. */
export class RequestSession<A> implements CurrentSessionShape<A> {
  private loaded: Option.Option<TypedSession<A>> | undefined = undefined
  private told: "nothing" | "set" | "clear" = "nothing"

  constructor(private readonly shared: Shared<A>, private requested: string | undefined) {}

  id = () => Option.map(this.loaded ?? Option.none(), (session) => session.id)

  get: Effect.Effect<Option.Option<TypedSession<A>>, SessionMiddlewareError> = Effect.suspend(() => {
    if (this.loaded !== undefined) return Effect.succeed(this.loaded)
    const id = this.requested
    if (id === undefined) return Effect.sync(() => (this.loaded = Option.none()))
    return this.shared.manager.touch(id).pipe(
      Effect.map((session) => this.accept(session)),
      Effect.catchTags({
        SessionNotFound: () => this.forget(),
        SessionEnded: () => this.forget(),
        InvalidInput: () => this.forget(),
        CorruptRecord: (error) =>
          Effect.zipRight(
            Effect.logWarning(`session cookie names an unreadable session: ${error.message}`),
            this.forget()
          )
      }),
      mapFailure
    )
  })

  getOrCreate: Effect.Effect<TypedSession<A>, SessionMiddlewareError> = Effect.flatMap(
    this.get,
    Option.match({ onNone: () => this.create(this.shared.initial()), onSome: Effect.succeed })
  )

  set = (data: A): Effect.Effect<TypedSession<A>, SessionMiddlewareError> =>
    Effect.flatMap(
      this.get,
      (current) => Option.isNone(current) ? this.create(data) : mapFailure(this.write(current.value, data, undefined))
    )

  modify = (f: (data: A) => A): Effect.Effect<TypedSession<A>, SessionMiddlewareError> => {
    const attempt = (
      session: TypedSession<A>,
      left: number
    ): Effect.Effect<TypedSession<A>, SessionMiddlewareError | VersionConflict> =>
      Effect.catchTag(
        this.write(session, f(session.data), session.version),
        "VersionConflict",
        (conflict) =>
          left === 0 ?
            Effect.fail(conflict) :
            Effect.flatMap(
              this.reread(session.id),
              (fresh) => Option.isNone(fresh) ? this.create(f(this.shared.initial())) : attempt(fresh.value, left - 1)
            )
      )
    return Effect.flatMap(this.getOrCreate, (session) => mapFailure(attempt(session, maxConflictRetries)))
  }

  regenerate: Effect.Effect<TypedSession<A>, SessionMiddlewareError> = Effect.flatMap(
    this.get,
    (current) =>
      Option.isNone(current)
        ? this.create(this.shared.initial())
        : this.shared.manager.regenerate(current.value.id).pipe(
          Effect.map((session) => this.accept(session)),
          Effect.flatMap(this.present),
          Effect.catchTags({
            SessionNotFound: () => this.create(this.shared.initial()),
            SessionEnded: () => this.create(this.shared.initial())
          }),
          mapFailure
        )
  )

  destroy: Effect.Effect<void, SessionMiddlewareError> = Effect.flatMap(
    this.get,
    (current) =>
      Option.isNone(current) ? Effect.void : this.shared.manager.close(current.value.id, { reason: "logout" }).pipe(
        Effect.catchTags({ SessionNotFound: () => Effect.void, SessionEnded: () => Effect.void }),
        Effect.zipRight(this.forget()),
        Effect.asVoid,
        mapFailure
      )
  )

  withSession = <B, E, R>(
    work: (session: TypedSession<A>) => Effect.Effect<B, E, R>,
    options?: { readonly timeout?: Duration.DurationInput | undefined }
  ): Effect.Effect<B, E | SessionMiddlewareError, R> =>
    Effect.flatMap(this.getOrCreate, (current) =>
      this.shared.manager.withSession(
        current.id,
        ({ session }): Effect.Effect<Either.Either<B, E | SessionDataRejected>, never, R> => {
          const data = this.shared.decode(session.data)
          return Either.isLeft(data)
            ? Effect.succeed(Either.left(dataRejected(data.left)))
            : Effect.either(work({ ...session, data: data.right }))
        },
        options
      ).pipe(mapFailure, Effect.flatMap((result) => result)))

  /** A session the manager returned, as this request's, or no session if it is another app's or unreadable. */
  private accept(session: Session): Option.Option<TypedSession<A>> {
    const data = session.kind === this.shared.kind ? this.shared.decode(session.data) : undefined
    if (data === undefined || Either.isLeft(data)) {
      this.loaded = Option.none()
      this.tell("clear")
      return this.loaded
    }
    this.loaded = Option.some({ ...session, data: data.right })
    this.tell("set")
    return this.loaded
  }

  /** No session for this request: a cookie that named one is cleared. */
  private forget() {
    return Effect.sync(() => {
      this.loaded = Option.none()
      if (this.requested !== undefined) this.tell("clear")
      this.requested = undefined
      return this.loaded
    })
  }

  private present = (session: Option.Option<TypedSession<A>>) =>
    Option.isSome(session)
      ? Effect.succeed(session.value)
      : Effect.fail(new SessionUnavailable({ reason: "the session's data no longer fits its schema" }))

  private create(data: A): Effect.Effect<TypedSession<A>, SessionMiddlewareError> {
    const encoded = this.shared.encode(data)
    if (Either.isLeft(encoded)) return Effect.fail(dataRejected(encoded.left))
    return Effect.flatMap(
      this.shared.owner === undefined
        ? Effect.map(generateSessionId, (id) => `visitor-${id}`)
        : Effect.succeed(this.shared.owner),
      (owner) =>
        this.shared.manager.create({
          owner,
          kind: this.shared.kind,
          data: encoded.right,
          idleTimeout: this.shared.idleTimeout
        }).pipe(Effect.map((session) => this.accept(session)), Effect.flatMap(this.present), mapFailure)
    )
  }

  private write(
    session: TypedSession<A>,
    data: A,
    expectedVersion: number | undefined
  ): Effect.Effect<TypedSession<A>, SessionMiddlewareError | VersionConflict> {
    const encoded = this.shared.encode(data)
    if (Either.isLeft(encoded)) return Effect.fail(dataRejected(encoded.left))
    return this.shared.manager.update(session.id, encoded.right, { expectedVersion }).pipe(
      Effect.map((updated) => this.accept(updated)),
      Effect.flatMap(this.present),
      Effect.catchTags({ SessionNotFound: () => this.create(data), SessionEnded: () => this.create(data) }),
      Effect.catchIf((error) => error._tag !== "VersionConflict", (error) => Effect.fail(fromManager(error)))
    )
  }

  private reread(id: string) {
    return this.shared.manager.get(id).pipe(
      Effect.map((session) =>
        session.status === "active" || session.status === "waiting" ? this.accept(session) : Option.none()
      ),
      Effect.catchTags({ SessionNotFound: () => noSession, SessionEnded: () => noSession }),
      mapFailure
    )
  }

  /** Records what the response must tell the client. */
  private tell(what: "set" | "clear") {
    this.told = what
  }

  /** The response with the session's cookie (and header) as this request left it. */
  respond(response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse {
    if (this.told === "nothing") return response
    const { clock, cookie, header } = this.shared
    const session = this.loaded !== undefined && Option.isSome(this.loaded) ? this.loaded.value : undefined
    if (this.told === "set" && session !== undefined) {
      const withCookie = cookie === undefined
        ? response
        : withSessionCookie(response, cookie, session.id, session.expiresAt - clock.unsafeCurrentTimeMillis())
      return header === undefined ? withCookie : HttpServerResponse.setHeader(withCookie, header, session.id)
    }
    return cookie === undefined ? response : withoutSessionCookie(response, cookie)
  }
}
