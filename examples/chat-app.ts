/**
 * An Effect HttpApi app with sessions from the middleware, served on SQLite: a chat whose history lives in the
 * session (typed by `ChatData`), a login that rotates the session id, a logout, and an LLM-style reply streamed
 * token by token while the session is held with `withSession`. `test/browser/chatApp.test.ts` drives it in a real
 * browser; the README quotes it.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer, Option, Queue, Schema, Stream } from "effect"
import { SessionManager } from "effect-sessions"
import { SessionMiddleware } from "effect-sessions/middleware"
import { SqliteStore } from "effect-sessions/sqlite"
import * as Http from "node:http"
import { page } from "./chat-app-page.js"

// What the session holds, typed: who is logged in and the conversation so far.
const Turn = Schema.Struct({ role: Schema.Literal("user", "assistant"), text: Schema.String })
export const ChatData = Schema.Struct({
  user: Schema.NullOr(Schema.String),
  turns: Schema.Array(Turn).pipe(Schema.maxItems(200))
})
export type ChatData = typeof ChatData.Type

export const Sessions = SessionMiddleware.define("chat-app", ChatData)

const Message = Schema.Struct({ text: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(2000)) })

class Chat extends HttpApiGroup.make("chat")
  .add(HttpApiEndpoint.get("page", "/").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("me", "/api/me").addSuccess(ChatData))
  .add(HttpApiEndpoint.post("login", "/api/login").setPayload(Schema.Struct({ user: Schema.NonEmptyTrimmedString })))
  .add(HttpApiEndpoint.post("logout", "/api/logout"))
  .add(HttpApiEndpoint.post("chat", "/api/chat").setPayload(Message).addSuccess(Schema.String))
  .middleware(Sessions.Middleware)
{}

export class ChatApi extends HttpApi.make("chat-app").add(Chat) {}

const guest = (): ChatData => ({ user: null, turns: [] })

// A stand-in for a model: the reply, one token at a time.
const tokens = (text: string) => `You said: ${text}`.split(/(?<= )/)

const handlers = (tokenDelay: Duration.DurationInput) =>
  HttpApiBuilder.group(ChatApi, "chat", (handlers) =>
    handlers
      .handle("page", () => Effect.succeed(HttpServerResponse.html(page)))
      .handle("me", () =>
        Effect.flatMap(Sessions.CurrentSession, (session) =>
          Effect.map(
            session.get,
            Option.match({ onNone: guest, onSome: (current) => current.data })
          )))
      // Login: a new session id for the same data, so an id known before login is worth nothing after it.
      .handle("login", ({ payload }) =>
        Effect.gen(function*() {
          const session = yield* Sessions.CurrentSession
          yield* session.regenerate
          yield* session.modify((data) => ({ ...data, user: payload.user }))
        }))
      .handle("logout", () => Effect.flatMap(Sessions.CurrentSession, (session) => session.destroy))
      // The reply streams while the session is held: no other request writes it until the turn is saved.
      .handle("chat", ({ payload }) =>
        Effect.gen(function*() {
          const session = yield* Sessions.CurrentSession
          yield* session.getOrCreate // before the response starts, so its cookie goes with it
          const out = yield* Queue.bounded<string>(16)
          yield* session.withSession((held) =>
            Effect.gen(function*() {
              const reply: Array<string> = []
              for (const token of tokens(payload.text)) {
                yield* Effect.sleep(tokenDelay)
                reply.push(token)
                yield* Queue.offer(out, token)
              }
              const turns = [...held.data.turns, { role: "user", text: payload.text }, {
                role: "assistant",
                text: reply.join("")
              }] as const
              yield* session.set({ ...held.data, turns: turns.slice(-200) })
            }), { timeout: "60 seconds" }).pipe(Effect.ensuring(Queue.shutdown(out)), Effect.forkDaemon)
          return HttpServerResponse.stream(Stream.fromQueue(out).pipe(Stream.encodeText), {
            contentType: "text/plain; charset=utf-8"
          })
        })))

/** The app on `port`, its sessions in the SQLite file `filename`. */
export const ChatApp = (options: {
  readonly port: number
  readonly filename: string
  readonly tokenDelay?: Duration.DurationInput
}) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(ChatApi).pipe(Layer.provide(handlers(options.tokenDelay ?? "40 millis")))),
    Layer.provide(Sessions.layer({ initial: guest })),
    Layer.provide(SessionManager.layer({ idleTimeout: "30m" })),
    Layer.provide(SqliteStore.layer({ filename: options.filename })),
    Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { port: options.port, host: "127.0.0.1" }))
  )
