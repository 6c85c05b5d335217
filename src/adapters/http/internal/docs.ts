/**
 * The interactive docs (`/docs`, the platform's Swagger UI page) and the OpenAPI document (`/openapi.json`): each
 * rendered and gzipped once when the service starts, then served with an ETag and `Cache-Control`, 304 when the
 * client's copy is current, gzip when the client accepts it. Without a valid token they spend the anonymous budget.
 */
import {
  HttpApi,
  HttpApiBuilder,
  HttpApiSwagger,
  HttpRouter,
  HttpServerRequest,
  HttpServerResponse,
  OpenApi
} from "@effect/platform"
import { Effect, Layer } from "effect"
import * as Crypto from "node:crypto"
import * as Zlib from "node:zlib"
import { HttpService } from "./HttpService.js"

/** How long a client may use its copy before asking again (with its ETag, so usually a 304). */
const cacheControl = "public, max-age=300"

/** One document as it is served: its bytes, gzipped once, and the entity tag of each encoding. */
interface Asset {
  readonly contentType: string
  readonly identity: Uint8Array
  readonly gzip: Uint8Array
  readonly etag: string
  readonly gzipEtag: string
}

const asset = (contentType: string, body: Uint8Array): Asset => {
  const hash = Crypto.createHash("sha256").update(body).digest("base64url").slice(0, 27)
  return {
    contentType,
    identity: body,
    gzip: Zlib.gzipSync(body, { level: 9 }),
    etag: `"${hash}"`,
    gzipEtag: `"${hash}-gzip"`
  }
}

/** Whether an `Accept-Encoding` header admits gzip: named (or `*`) with a quality above zero. */
export const acceptsGzip = (header: string | undefined): boolean => {
  if (header === undefined) return false
  let gzip: number | undefined
  let any: number | undefined
  for (const part of header.split(",")) {
    const [name = "", ...parameters] = part.split(";").map((piece) => piece.trim().toLowerCase())
    const q = parameters.find((parameter) => parameter.startsWith("q="))
    const quality = q === undefined ? 1 : Number(q.slice(2))
    if (name === "gzip" || name === "x-gzip") gzip = quality
    else if (name === "*") any = quality
  }
  const quality = gzip ?? any ?? 0
  return Number.isFinite(quality) && quality > 0
}

/** Whether an `If-None-Match` header names `etag` (weakly compared, as for GET), or is `*`. */
const matches = (header: string | undefined, etag: string): boolean =>
  header !== undefined &&
  (header.trim() === "*" || header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag))

/** The response to a GET of `document`: 304, gzip or plain, by the request's headers. */
const respond = (document: Asset, request: HttpServerRequest.HttpServerRequest) => {
  const gzip = acceptsGzip(request.headers["accept-encoding"])
  const etag = gzip ? document.gzipEtag : document.etag
  const headers: Record<string, string> = { etag, "cache-control": cacheControl, vary: "Accept-Encoding" }
  if (matches(request.headers["if-none-match"], etag)) return HttpServerResponse.empty({ status: 304, headers })
  if (gzip) headers["content-encoding"] = "gzip"
  return HttpServerResponse.uint8Array(gzip ? document.gzip : document.identity, {
    contentType: document.contentType,
    headers
  })
}

/** The platform's Swagger UI page of the API, rendered once by its own route on a router of its own. */
const swaggerPage = Effect.gen(function*() {
  const app = yield* HttpRouter.toHttpApp(yield* HttpApiBuilder.Router.router)
  const response = yield* app.pipe(
    Effect.provideService(
      HttpServerRequest.HttpServerRequest,
      HttpServerRequest.fromWeb(new Request("http://docs/docs"))
    ),
    Effect.scoped
  )
  return response.body._tag === "Uint8Array" ? response.body.body : new TextEncoder().encode(String(response.body))
}).pipe(
  Effect.orDie,
  Effect.provide(Layer.merge(HttpApiSwagger.layer({ path: "/docs" }), HttpApiBuilder.Router.Live))
)

/** The `/docs` and `/openapi.json` routes, their documents made once when the layer is built. */
export const layer = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function*() {
    const service = yield* HttpService
    const { api } = yield* HttpApi.Api
    const documents = {
      "/docs": asset("text/html; charset=utf-8", yield* swaggerPage),
      "/openapi.json": asset("application/json", new TextEncoder().encode(JSON.stringify(OpenApi.fromApi(api))))
    }
    for (const [path, document] of Object.entries(documents)) {
      yield* router.get(
        path as "/docs",
        Effect.flatMap(
          HttpServerRequest.HttpServerRequest,
          (request) => Effect.as(service.unlessAuthenticated(request), respond(document, request))
        )
      )
    }
  })
)
