/**
 * The floor of the stack the service is built on, for the HTTP benchmark: a bare `@effect/platform` `HttpApi`
 * (`HttpApiBuilder`, schemas for the path and the body) served by `@effect/platform-node`'s `NodeHttpServer`, no
 * middleware, no auth, the sessions in a `Map` (1,000 pre-filled at start, each create adds one). The same
 * versions of effect, @effect/platform and @effect/platform-node as the service (the repository's node_modules).
 * The same routes as the service's, the least each can do:
 *
 *   POST /sessions            body `{ data }` (schema), stores `{ id, data, createdAt, expiresAt }`, 201 with it
 *   GET  /sessions/:id        path schema, a Map lookup, the session (404 on a miss)
 *   POST /sessions/:id/touch  path schema, a Map lookup and write of a new `expiresAt`, the session (404 on a miss)
 *
 *   node bench/peers/httpapi-floor.mjs
 *
 * Listens on 127.0.0.1, any free port, and prints `listening on http://127.0.0.1:<port>` on stdout. Stops on SIGTERM.
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiEndpoint,
  HttpApiError,
  HttpApiGroup,
  HttpApiSchema,
  HttpServer
} from "@effect/platform"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"

const IDLE_TIMEOUT_MS = 30 * 60 * 1000
const PREFILL = 1000

const Session = Schema.Struct({
  id: Schema.String,
  data: Schema.Unknown,
  createdAt: Schema.Number,
  expiresAt: Schema.Number
})
const id = HttpApiSchema.param("id", Schema.String)

const Api = HttpApi.make("floor").add(
  HttpApiGroup.make("sessions")
    .add(
      HttpApiEndpoint.post("create", "/sessions")
        .setPayload(Schema.Struct({ data: Schema.Unknown }))
        .addSuccess(Session, { status: 201 })
    )
    .add(HttpApiEndpoint.get("get")`/sessions/${id}`.addSuccess(Session).addError(HttpApiError.NotFound))
    .add(HttpApiEndpoint.post("touch")`/sessions/${id}/touch`.addSuccess(Session).addError(HttpApiError.NotFound))
)

const sessions = new Map()
const newSession = (data) => {
  const now = Date.now()
  const session = { id: randomUUID(), data, createdAt: now, expiresAt: now + IDLE_TIMEOUT_MS }
  sessions.set(session.id, session)
  return session
}
for (let i = 0; i < PREFILL; i++) newSession({ user: `u-${i}`, turns: 0 })

const lookup = (sessionId) => {
  const session = sessions.get(sessionId)
  return session === undefined ? Effect.fail(new HttpApiError.NotFound()) : Effect.succeed(session)
}

const SessionsLive = HttpApiBuilder.group(Api, "sessions", (handlers) =>
  handlers
    .handle("create", ({ payload }) => Effect.sync(() => newSession(payload.data)))
    .handle("get", ({ path }) => lookup(path.id))
    .handle("touch", ({ path }) =>
      Effect.map(lookup(path.id), (session) => {
        session.expiresAt = Date.now() + IDLE_TIMEOUT_MS
        return session
      })))

const PrintAddress = Layer.effectDiscard(
  Effect.flatMap(
    HttpServer.HttpServer,
    (server) => Effect.sync(() => process.stdout.write(`listening on http://127.0.0.1:${server.address.port}\n`))
  )
)

const Main = HttpApiBuilder.serve().pipe(
  Layer.merge(PrintAddress),
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(SessionsLive))),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// NodeRuntime.runMain interrupts on SIGTERM/SIGINT, closing the server.
NodeRuntime.runMain(Layer.launch(Main))
