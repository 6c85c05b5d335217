/**
 * `Server.layer` from plain values: settings as `makeServiceConfig` takes them and a shutdown deadline as text serve
 * over loopback; bad ones fail the layer with one `InvalidConfig` naming every bad field, before it listens. A
 * validated config keeps the narrower error type.
 */
import { HttpServer } from "@effect/platform"
import type { ServeError } from "@effect/platform/HttpServerError"
import { describe, expect, expectTypeOf, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, LogLevel } from "effect"
import * as Server from "../../src/adapters/http/Server.js"
import { defaultServiceConfig } from "../../src/adapters/http/ServiceConfig.js"
import { InvalidConfig, type SessionManager } from "../../src/index.js"
import { managerLayer } from "../support/manager.js"
import { call, secret, sign } from "../support/service.js"

const key = { key: Buffer.from(secret), source: { _tag: "Environment" } } as const

/** Builds the service over a manager on a fresh memory store, in the test's scope. */
const build = <E>(server: Layer.Layer<HttpServer.HttpServer, E, SessionManager.SessionManager>) =>
  Layer.build(server.pipe(Layer.provide(managerLayer())))

describe("Server.layer from plain values", () => {
  it.scopedLive("serves requests over loopback with plain settings and a deadline as text", () =>
    Effect.gen(function*() {
      const layer = Server.layer({
        config: { port: 0, host: "127.0.0.1", requestTimeout: "5s", httpRateLimit: "1000/1m", corsOrigins: "" },
        key,
        shutdownDeadline: "1s"
      })
      const context = yield* build(layer)
      const address = Context.get(context, HttpServer.HttpServer).address
      expect(address._tag).toBe("TcpAddress")
      const service = { url: `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}` }
      const health = yield* Effect.promise(() => call(service, "GET", "/healthz"))
      expect(health.status).toBe(200)
      const token = yield* Effect.promise(() => sign(secret, "alice"))
      const created = yield* Effect.promise(() => call(service, "POST", "/sessions", { token, body: { data: {} } }))
      expect(created.status).toBe(201)
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))

  it.scopedLive("bad plain values fail InvalidConfig naming every bad field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(build(Server.layer({
        config: { port: 70_000, host: "", maxBodyBytes: "lots", requestTimeout: "-1s" },
        key,
        shutdownDeadline: "whenever"
      })))
      expect(error).toBeInstanceOf(InvalidConfig)
      const fields = (error as InvalidConfig).issues.map((issue) => issue.field)
      expect(fields).toEqual([
        "config.host",
        "config.port",
        "config.maxBodyBytes",
        "config.requestTimeout",
        "shutdownDeadline"
      ])
      const unknown = yield* Effect.flip(build(Server.layer({
        config: { port: 0, prot: 8080 } as unknown as Server.ServerInput["config"],
        key
      })))
      expect(unknown).toMatchObject({
        _tag: "InvalidConfig",
        issues: [{ field: "config.prot", reason: "is not a setting of effect-sessions" }]
      })
    }))

  it("a validated config keeps the narrower error type; plain values add InvalidConfig", () => {
    const validated = Server.layer({ config: defaultServiceConfig, key, shutdownDeadline: Duration.seconds(1) })
    expectTypeOf(validated).toEqualTypeOf<
      Layer.Layer<HttpServer.HttpServer, ServeError, SessionManager.SessionManager>
    >()
    const plain = Server.layer({ config: { port: 0 }, key, shutdownDeadline: "1s" })
    expectTypeOf(plain).toEqualTypeOf<
      Layer.Layer<HttpServer.HttpServer, ServeError | InvalidConfig, SessionManager.SessionManager>
    >()
  })
})
