/**
 * Typed session data: a view of the `SessionManager` in which `data` has the caller's `Schema`. Data is encoded and
 * validated on every write and decoded on every read; data that does not fit the schema fails `InvalidInput` on the
 * `data` field (a write is then not made), never a defect.
 */
import { Effect, Either, ParseResult, Schema } from "effect"
import { InvalidInput } from "../domain/Errors.js"
import type { Session } from "../domain/Session.js"
import {
  type AsOwner,
  type CreateSession,
  type ExclusiveError,
  type SessionCallError,
  type SessionContext,
  SessionManager,
  type WithSessionOptions
} from "./SessionManager.js"

/** A session whose data has type `A`. */
export interface TypedSession<A> extends Omit<Session, "data"> {
  readonly data: A
}

/** The manager's calls that carry data, with data of type `A`. */
export interface TypedSessions<A> {
  readonly create: (
    input: Omit<CreateSession, "data"> & { readonly data: A }
  ) => Effect.Effect<TypedSession<A>, Effect.Effect.Error<ReturnType<SessionManager["Type"]["create"]>>>
  readonly get: (id: string, scope?: AsOwner) => Effect.Effect<TypedSession<A>, SessionCallError>
  readonly update: (
    id: string,
    data: A,
    options?: AsOwner & { readonly expectedVersion?: number | undefined }
  ) => Effect.Effect<TypedSession<A>, Effect.Effect.Error<ReturnType<SessionManager["Type"]["update"]>>>
  readonly withSession: <B, E, R>(
    id: string,
    work: (
      context: { readonly session: TypedSession<A>; readonly lease: SessionContext["lease"] }
    ) => Effect.Effect<B, E, R>,
    options?: WithSessionOptions
  ) => Effect.Effect<B, E | ExclusiveError | Effect.Effect.Error<ReturnType<SessionManager["Type"]["withSession"]>>, R>
}

const dataError = (error: ParseResult.ParseError) =>
  new InvalidInput({
    field: "data",
    reason: ParseResult.TreeFormatter.formatErrorSync(error),
    expected: "data matching the session data schema"
  })

/**
 * The typed view of the manager in context, for data of `schema`. The schema's encoded form must be JSON (it is what
 * the store keeps).
 */
export const typed = <A, I>(schema: Schema.Schema<A, I>) =>
  Effect.map(SessionManager, (manager): TypedSessions<A> => {
    const decode = Schema.decodeUnknownEither(schema)
    const encode = Schema.encodeEither(schema)
    const read = (session: Session): Either.Either<TypedSession<A>, InvalidInput> =>
      Either.match(decode(session.data), {
        onLeft: (error) => Either.left(dataError(error)),
        onRight: (data) => Either.right({ ...session, data })
      })
    const write = (data: A): Either.Either<unknown, InvalidInput> => Either.mapLeft(encode(data), dataError)
    return {
      create: (input) =>
        Either.match(write(input.data), {
          onLeft: Effect.fail,
          onRight: (data) => Effect.flatMap(manager.create({ ...input, data }), read)
        }),
      get: (id, scope) => Effect.flatMap(manager.get(id, scope), read),
      update: (id, data, options) =>
        Either.match(write(data), {
          onLeft: Effect.fail,
          onRight: (encoded) => Effect.flatMap(manager.update(id, encoded, options), read)
        }),
      withSession: <B, E, R>(
        id: string,
        work: (
          context: { readonly session: TypedSession<A>; readonly lease: SessionContext["lease"] }
        ) => Effect.Effect<B, E, R>,
        options?: WithSessionOptions
      ) =>
        manager.withSession(
          id,
          ({ lease, session }): Effect.Effect<B, E | InvalidInput, R> =>
            Either.match(read(session), {
              onLeft: (error) => Effect.fail(error),
              onRight: (typedSession) => work({ session: typedSession, lease })
            }),
          options
        )
    }
  })
