/**
 * The HTTP service: the `SessionsApi` served by Node's HTTP server over a `SessionManager`, with interactive docs at
 * `/docs` and the OpenAPI document at `/openapi.json`.
 *
 * Connections. At most `maxConnections` are open; at the limit a new one is admitted by closing the connection that
 * has had no request in flight the longest (still sending its headers, or idle between keep-alive requests), and
 * refused only when every connection has a request in flight. A connection must send its request's headers within
 * `headersTimeout`; an idle keep-alive connection is closed after `keepAliveTimeout`.
 *
 * Shutdown. When the layer's scope closes (SIGTERM or SIGINT in `serve`), the service stops listening, answers
 * requests that arrive on open connections with 503 `ShuttingDown` and `Connection: close` (responses in flight say
 * `Connection: close` too), ends event streams, and lets requests in flight finish until `shutdownDeadline`. A
 * connection with no request in flight is closed once it has been so for `drainGrace` since the drain began (so a
 * request already on its way on it is answered, not reset); at the deadline every remaining connection is closed.
 * Only after that do the layers below it close (the manager stops its sweeper and flushes the store), so nothing
 * acknowledged is lost.
 */
import { HttpApiBuilder, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import type { ServeError } from "@effect/platform/HttpServerError"
import { Clock, Deferred, Duration, Effect, Either, Layer, Runtime } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import { configFields, type DurationInput } from "../../domain/Config.js"
import { OptionChecks } from "../../domain/Config.js"
import type { InvalidConfig } from "../../domain/Errors.js"
import * as SessionManager from "../../services/SessionManager.js"
import { SessionsApi } from "./Api.js"
import { type SigningKey } from "./Auth.js"
import { adminRoutes, systemRoutes } from "./internal/adminRoutes.js"
import { adminAuthentication, anonymousBudget, authentication } from "./internal/authentication.js"
import { Connections } from "./internal/Connections.js"
import * as Docs from "./internal/docs.js"
import { HttpService, type HttpServiceShape } from "./internal/HttpService.js"
import { requestGuard } from "./internal/requestGuard.js"
import { sessionRoutes } from "./internal/sessionRoutes.js"
import { makeServiceConfig, type ServiceConfig, type ServiceConfigInput } from "./ServiceConfig.js"

/** What the HTTP service is built from, besides the `SessionManager` it serves: its validated settings. */
export interface ServerOptions {
  readonly config: ServiceConfig
  readonly key: SigningKey
  /** How long requests in flight may take to finish once shutdown begins. */
  readonly shutdownDeadline: Duration.DurationInput
}

/** What the HTTP service is built from, written in code: the settings as `makeServiceConfig` takes them. */
export interface ServerInput {
  /** The settings: a validated `ServiceConfig`, or plain values (`{ port: 0 }`); fields left out take defaults. */
  readonly config?: ServiceConfig | ServiceConfigInput | undefined
  readonly key: SigningKey
  /** How long requests in flight may take to finish once shutdown begins (`"10s"`, the default). */
  readonly shutdownDeadline?: DurationInput | undefined
}

const deadline = OptionChecks.defineOptions<{ readonly shutdownDeadline: Duration.Duration }>({
  shutdownDeadline: configFields.shutdownDeadline
})

/** The options checked together: every bad field, `config.port` or `shutdownDeadline`, in one `InvalidConfig`. */
const checkOptions = (input: ServerInput) =>
  Either.map(
    OptionChecks.allChecked({
      config: Either.mapLeft(
        makeServiceConfig(input.config),
        (error) => OptionChecks.relabel(error, (field) => field === "config" ? field : `config.${field}`)
      ),
      deadline: deadline.check({ shutdownDeadline: input.shutdownDeadline })
    }),
    (checked) => ({ config: checked.config, key: input.key, shutdownDeadline: checked.deadline.shutdownDeadline })
  )

/** How often a drain looks for connections it may close. */
const drainPoll = Duration.millis(20)

/**
 * How long, during a drain, a connection must have had no request in flight before it is closed: time for a request
 * a client sent just before it learnt of the shutdown to arrive (and be answered 503 with `Connection: close`).
 */
const drainGrace = Duration.seconds(1)

/** How much later than the service's own deadlines Node's are (they only ever catch what ours missed). */
const nodeBackstop = Duration.seconds(1)

/**
 * Stops the service: no new connections, new requests refused, event streams ended, requests in flight given
 * until `deadline`, connections closed as described above.
 */
const drain = (
  service: HttpServiceShape,
  server: Http.Server,
  connections: Connections,
  deadline: Duration.DurationInput
) =>
  Effect.gen(function*() {
    service.requests.close()
    yield* Deferred.succeed(service.stopping, undefined)
    // Not `server.close()`: that would also close every idle keep-alive connection at once, while a client may be
    // sending a request on it (which it would see reset).
    if (server.listening) Net.Server.prototype.close.call(server)
    yield* Effect.logInfo("http service stopped accepting connections")
    const started = yield* Clock.currentTimeMillis
    const until = started + Duration.toMillis(deadline)
    const grace = Duration.toMillis(drainGrace)
    for (let now = started; connections.size > 0 && now < until; now = yield* Clock.currentTimeMillis) {
      if (now - grace >= started) connections.closeQuietSince(now - grace)
      yield* Effect.sleep(drainPoll)
    }
    const inFlight = service.requests.inFlight
    if (inFlight > 0) {
      yield* Effect.logWarning("shutdown deadline passed with requests in flight; closing their connections").pipe(
        Effect.annotateLogs("inFlight", inFlight)
      )
    }
    connections.closeAll()
    // Releases what `listen` set up (Node's timer that checks connection timeouts); no connection is left to close.
    server.close()
    yield* Effect.logInfo("http service stopped")
  })

/** Node's HTTP server for `config`: its own timeouts set to the service's, or just past them as a backstop. */
const nodeServer = (config: ServiceConfig) => {
  const headersTimeout = Duration.toMillis(config.headersTimeout)
  const server = Http.createServer({
    headersTimeout,
    // The service answers a request whose body is late with 504 at `requestTimeout` after its headers; Node's own
    // limit on the whole request (a bare 408 and a closed connection) only comes after that.
    requestTimeout: headersTimeout + Duration.toMillis(config.requestTimeout) + Duration.toMillis(nodeBackstop),
    keepAliveTimeout: Duration.toMillis(config.keepAliveTimeout),
    // Node checks the two timeouts above on this period (30 s by default, which lets a slow client stay longer).
    connectionsCheckingInterval: 1_000
  })
  server.keepAliveTimeout = Duration.toMillis(config.keepAliveTimeout)
  return server
}

/**
 * The HTTP service as a layer over a `SessionManager`: it listens on `config.host`/`config.port` while the layer is
 * in use and drains as described above when it is released. Gives the `HttpServer` (its bound address). Takes
 * validated settings (`makeServiceConfig`, `serviceConfigFromEnv`), or plain values (`{ config: { port: 0 },
 * shutdownDeadline: "5s" }`), which fail the layer with `InvalidConfig` listing every bad field before it listens.
 */
export function layer(
  options: ServerOptions
): Layer.Layer<HttpServer.HttpServer, ServeError, SessionManager.SessionManager>
export function layer(
  input: ServerInput
): Layer.Layer<HttpServer.HttpServer, ServeError | InvalidConfig, SessionManager.SessionManager>
export function layer(
  input: ServerInput
): Layer.Layer<HttpServer.HttpServer, ServeError | InvalidConfig, SessionManager.SessionManager> {
  return Layer.unwrapScoped(Effect.gen(function*() {
    const options = yield* checkOptions(input)
    const service = yield* HttpService.make(options)
    const server = nodeServer(options.config)
    const clock = yield* Effect.clock
    const log = Runtime.runFork(yield* Effect.runtime<never>())
    const connections = new Connections(
      server,
      options.config.maxConnections,
      () => clock.unsafeCurrentTimeMillis(),
      (shed) =>
        log(
          Effect.logWarning(
            `connection limit reached (${options.config.maxConnections} open): to admit new connections, closed ` +
              `${shed.evicted} without a request in flight and refused ${shed.refused} (all others busy) since the ` +
              "last report; http_connections_shed_total counts every one"
          )
        )
    )
    const api = HttpApiBuilder.api(SessionsApi).pipe(
      Layer.provide([sessionRoutes, adminRoutes, systemRoutes]),
      Layer.provide([authentication, adminAuthentication, anonymousBudget])
    )
    const serve = HttpApiBuilder.serve().pipe(
      Layer.provide(Docs.layer),
      Layer.provide(HttpApiBuilder.middleware(SessionsApi, requestGuard(service))),
      Layer.provide(api)
    )
    const draining = Layer.scopedDiscard(
      Effect.addFinalizer(() => drain(service, server, connections, options.shutdownDeadline))
    )
    return draining.pipe(
      Layer.provideMerge(serve),
      Layer.provideMerge(NodeHttpServer.layer(() => server, { port: options.config.port, host: options.config.host })),
      Layer.provide(Layer.succeed(HttpService, service))
    )
  }))
}
