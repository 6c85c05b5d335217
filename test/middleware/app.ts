/**
 * A small shop served with the session middleware, for the middleware tests: a typed cart in the session, a login
 * that rotates the session id, a logout, and a route that never asks for its session. Served on a free loopback port
 * by Node's HTTP server and driven with `fetch`, over any store.
 */
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Option, Schema } from "effect"
import * as Http from "node:http"
import { SessionMiddleware } from "../../src/middleware.js"

export const Cart = Schema.Struct({
  user: Schema.NullOr(Schema.String),
  items: Schema.Array(Schema.String.pipe(Schema.maxLength(20)))
})
export type Cart = typeof Cart.Type

export const Sessions = SessionMiddleware.define("shop", Cart)

const item = HttpApiSchema.param("item", Schema.String)

class Shop extends HttpApiGroup.make("shop")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Schema.String))
  .add(HttpApiEndpoint.get("cart", "/cart").addSuccess(Cart))
  .add(HttpApiEndpoint.post("add")`/cart/${item}`.addSuccess(Cart))
  .add(HttpApiEndpoint.post("login")`/login/${HttpApiSchema.param("user", Schema.String)}`.addSuccess(Cart))
  .add(HttpApiEndpoint.post("logout", "/logout").addSuccess(Schema.String))
  .middleware(Sessions.Middleware)
{}

export class ShopApi extends HttpApi.make("shop").add(Shop) {}

const empty = (): Cart => ({ user: null, items: [] })

const handlers = HttpApiBuilder.group(ShopApi, "shop", (handlers) =>
  handlers
    .handle("health", () => Effect.succeed("ok"))
    .handle("cart", () =>
      Effect.flatMap(Sessions.CurrentSession, (session) =>
        Effect.map(
          session.get,
          Option.match({ onNone: empty, onSome: (s) => s.data })
        )))
    .handle("add", ({ path }) =>
      Effect.flatMap(Sessions.CurrentSession, (session) =>
        Effect.map(session.modify((cart) => ({ ...cart, items: [...cart.items, path.item] })), (s) =>
          s.data)))
    .handle("login", ({ path }) =>
      Effect.gen(function*() {
        const session = yield* Sessions.CurrentSession
        yield* session.regenerate
        return (yield* session.modify((cart) => ({ ...cart, user: path.user }))).data
      }))
    .handle("logout", () =>
      Effect.flatMap(Sessions.CurrentSession, (session) =>
        Effect.as(session.destroy, "bye"))))

/** The shop served with `options`, over the `SessionManager` in context; gives the server (its address). */
export const serveShop = (options: SessionMiddleware.SessionMiddlewareOptions<Cart> = { initial: empty }) =>
  HttpApiBuilder.serve().pipe(
    Layer.provide(HttpApiBuilder.api(ShopApi).pipe(Layer.provide(handlers))),
    Layer.provide(Sessions.layer(options)),
    Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" }))
  )

/** The base URL of the server in context. */
export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => {
  const address = server.address as HttpServer.TcpAddress
  return `http://127.0.0.1:${address.port}`
})

export { empty }
