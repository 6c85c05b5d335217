/**
 * The session middleware in an app's own HttpApi, for the HTTP benchmark: the same routes as express-session's peer
 * (`bench/peers/express-server.mjs`), the session named by its cookie, kept on SQLite (a file, `synchronous=NORMAL`,
 * like the peer's better-sqlite3 store). Built from `dist/` (npm run bench builds it).
 *
 *   POST /sessions            body `{ data }`: a new session holding it, 201 with it and its cookie
 *   GET  /sessions/:id        the cookie's session (touched, as every read of the middleware is), 404 unless it is :id
 *   POST /sessions/:id/touch  the same: the middleware's read is the touch
 *
 *   node bench/workloads/middleware-app.mjs <dbfile>
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
import { Effect, Layer, Option, Schema } from "effect"
import { createServer } from "node:http"
import { SessionManager } from "../../dist/index.js"
import { SessionMiddleware } from "../../dist/middleware.js"
import { SqliteStore } from "../../dist/sqlite.js"

const filename = process.argv[2]
if (filename === undefined) throw new Error("usage: middleware-app.mjs <dbfile>")

const Sessions = SessionMiddleware.define("bench", Schema.Struct({ data: Schema.Unknown }))
const Session = Schema.Struct({
  id: Schema.String,
  data: Schema.Unknown,
  createdAt: Schema.Number,
  expiresAt: Schema.Number
})
const id = HttpApiSchema.param("id", Schema.String)

const Api = HttpApi.make("middleware").add(
  HttpApiGroup.make("sessions")
    .add(
      HttpApiEndpoint.post("create", "/sessions")
        .setPayload(Schema.Struct({ data: Schema.Unknown }))
        .addSuccess(Session, { status: 201 })
    )
    .add(HttpApiEndpoint.get("get")`/sessions/${id}`.addSuccess(Session).addError(HttpApiError.NotFound))
    .add(HttpApiEndpoint.post("touch")`/sessions/${id}/touch`.addSuccess(Session).addError(HttpApiError.NotFound))
    .middleware(Sessions.Middleware)
)

const shown = (session) => ({
  id: session.id,
  data: session.data.data,
  createdAt: session.createdAt,
  expiresAt: session.expiresAt
})

const read = (pathId) =>
  Effect.flatMap(
    Sessions.CurrentSession,
    (session) =>
      Effect.flatMap(session.get, (current) =>
        Option.isSome(current) && current.value.id === pathId
          ? Effect.succeed(shown(current.value))
          : Effect.fail(new HttpApiError.NotFound()))
  )

const Handlers = HttpApiBuilder.group(Api, "sessions", (handlers) =>
  handlers
    .handle("create", ({ payload }) =>
      Effect.flatMap(Sessions.CurrentSession, (session) =>
        Effect.map(session.set({ data: payload.data }), shown)))
    .handle("get", ({ path }) =>
      read(path.id))
    .handle("touch", ({ path }) => read(path.id)))

const PrintAddress = Layer.effectDiscard(
  Effect.flatMap(
    HttpServer.HttpServer,
    (server) => Effect.sync(() => process.stdout.write(`listening on http://127.0.0.1:${server.address.port}\n`))
  )
)

const limits = { sessionRateLimit: "100000/1s", ownerRateLimit: "100000000/1s", maxSessions: 10_000_000 }

const Main = HttpApiBuilder.serve().pipe(
  Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(Handlers))),
  Layer.provide(Sessions.layer({ initial: () => ({ data: null }), cookie: { secure: false } })),
  Layer.provide(SessionManager.layer({ idleTimeout: "30m", ...limits })),
  Layer.provide(SqliteStore.layer({ filename })),
  Layer.provideMerge(PrintAddress),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

NodeRuntime.runMain(Layer.launch(Main))
