/**
 * Request bodies as the service reads them: JSON media types only (any other is `UnsupportedMediaType` before a byte
 * is read), at most `maxBodyBytes` read without ever destroying the connection (so a deadline or a limit is still
 * answered), and nesting bounded by a scan of the raw text before anything parses or decodes it.
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import * as Headers from "@effect/platform/Headers"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Multipart from "@effect/platform/Multipart"
import type * as UrlParams from "@effect/platform/UrlParams"
import { Effect, Inspectable, Stream } from "effect"
import type * as Http from "node:http"
import { maxDataDepth } from "../../../domain/Data.js"
import { InvalidInput } from "../../../domain/Errors.js"
import { PayloadTooLarge, UnsupportedMediaType } from "../HttpErrors.js"

/**
 * The deepest nesting of arrays and objects a request body may have: session data as deep as the domain takes
 * (`maxDataDepth`) inside the one object around it in `POST /sessions`. Deeper bodies are refused unparsed.
 */
export const maxBodyDepth = maxDataDepth + 1

/** The media types the JSON routes take, for errors and docs. */
export const jsonMediaTypes = "application/json or another */*+json type"

const structuredJson = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+\+json$/

/** The media type of a `Content-Type` header, lower case and without parameters; `undefined` when there is none. */
export const mediaTypeOf = (header: string | undefined): string | undefined => {
  if (header === undefined) return undefined
  const semicolon = header.indexOf(";")
  const type = (semicolon < 0 ? header : header.slice(0, semicolon)).trim().toLowerCase()
  return type === "" ? undefined : type
}

/** Whether a body of this media type is read as JSON: `application/json`, `*\/*+json`, or none given at all. */
export const isJsonMediaType = (type: string | undefined): boolean =>
  type === undefined || type === "application/json" || structuredJson.test(type)

/**
 * Whether `text` nests arrays and objects deeper than `limit`. One pass over the characters, counting brackets
 * outside strings (a string's escapes skipped), so it costs the same whatever the text holds; it does not check that
 * the text is JSON (parsing does that next).
 */
export const nestedDeeperThan = (text: string, limit: number): boolean => {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (inString) {
      if (code === 0x5c) i++
      else if (code === 0x22) inString = false
    } else if (code === 0x22) inString = true
    else if (code === 0x5b || code === 0x7b) {
      if (++depth > limit) return true
    } else if (code === 0x5d || code === 0x7d) depth--
  }
  return false
}

/**
 * The body of `incoming` as text, failing `PayloadTooLarge` past `maxBytes`. Reading stops, and the connection is
 * left alone, when it fails or is interrupted (a deadline), so the service can still answer on it; the caller closes
 * the connection after answering when the body was not read to its end.
 */
export const readBody = (
  incoming: Http.IncomingMessage,
  maxBytes: number
): Effect.Effect<string, PayloadTooLarge | InvalidInput> =>
  Effect.async((resume) => {
    const chunks: Array<Buffer> = []
    let bytes = 0
    const stop = () => {
      incoming.off("data", onData)
      incoming.off("end", onEnd)
      incoming.off("error", onError)
      incoming.pause()
    }
    const onData = (chunk: Buffer) => {
      bytes += chunk.length
      if (bytes <= maxBytes) return void chunks.push(chunk)
      stop()
      resume(Effect.fail(new PayloadTooLarge({ limit: maxBytes })))
    }
    const onEnd = () => {
      stop()
      resume(Effect.succeed(Buffer.concat(chunks, bytes).toString("utf8")))
    }
    const onError = () => {
      stop()
      resume(Effect.fail(new InvalidInput({ field: "body", reason: "was cut off", expected: "a complete body" })))
    }
    incoming.on("data", onData)
    incoming.on("end", onEnd)
    incoming.on("error", onError)
    incoming.resume()
    return Effect.sync(stop)
  })

/**
 * `text` as JSON: empty is `null` (no body), deeper than `maxBodyDepth` is refused before parsing, and a syntax error
 * says where it is, never what is there.
 */
export const parseBody = (text: string): Effect.Effect<unknown, InvalidInput> => {
  if (text === "") return Effect.succeed(null)
  if (nestedDeeperThan(text, maxBodyDepth)) {
    return Effect.fail(
      new InvalidInput({
        field: "body",
        reason: `is nested deeper than ${maxBodyDepth} levels`,
        expected: `JSON with at most ${maxBodyDepth} levels of nested arrays and objects`
      })
    )
  }
  try {
    return Effect.succeed(JSON.parse(text))
  } catch (error) {
    const position = /at position (\d+)/.exec(error instanceof Error ? error.message : "")
    return Effect.fail(
      new InvalidInput({
        field: "body",
        reason: position === null ? "is not valid JSON" : `is not valid JSON (at character ${position[1]})`,
        expected: "a JSON document"
      })
    )
  }
}

type BodyError = InvalidInput | PayloadTooLarge | UnsupportedMediaType

/**
 * The request as a route sees it, with its body read by the rules above: `json` and `text` read and check it, every
 * other way of reading a body fails `UnsupportedMediaType`, and a JSON type the platform would not read as JSON
 * (`*\/*+json`) is presented to it as `application/json`. Failures are `RequestError`s whose cause is the typed
 * error to answer with.
 */
class CheckedBodyRequest extends Inspectable.Class implements HttpServerRequest.HttpServerRequest {
  readonly [HttpServerRequest.TypeId]: HttpServerRequest.TypeId = HttpServerRequest.TypeId
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  private body: Effect.Effect<string, HttpServerError.RequestError> | undefined

  constructor(
    private readonly request: HttpServerRequest.HttpServerRequest,
    private readonly mediaType: string | undefined,
    private readonly maxBytes: number,
    readonly headers: Headers.Headers
  ) {
    super()
  }

  get source() {
    return this.request.source
  }
  get url() {
    return this.request.url
  }
  get originalUrl() {
    return this.request.originalUrl
  }
  get method() {
    return this.request.method
  }
  get cookies() {
    return this.request.cookies
  }
  get remoteAddress() {
    return this.request.remoteAddress
  }
  get upgrade() {
    return this.request.upgrade
  }
  modify(options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]): HttpServerRequest.HttpServerRequest {
    return new CheckedBodyRequest(
      this.request.modify(options),
      this.mediaType,
      this.maxBytes,
      options.headers ?? this.headers
    )
  }

  private refuse(error: BodyError) {
    return new HttpServerError.RequestError({ request: this, reason: "Decode", cause: error })
  }
  private get unsupported(): UnsupportedMediaType {
    return new UnsupportedMediaType({ contentType: (this.mediaType ?? "").slice(0, 100), expected: jsonMediaTypes })
  }

  get text(): Effect.Effect<string, HttpServerError.RequestError> {
    if (!isJsonMediaType(this.mediaType)) return Effect.fail(this.refuse(this.unsupported))
    this.body ??= Effect.runSync(Effect.cached(
      Effect.mapError(
        readBody(NodeHttpServerRequest.toIncomingMessage(this.request), this.maxBytes),
        (error) => this.refuse(error)
      )
    ))
    return this.body
  }
  get json(): Effect.Effect<unknown, HttpServerError.RequestError> {
    return Effect.flatMap(this.text, (text) => Effect.mapError(parseBody(text), (error) => this.refuse(error)))
  }
  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpServerError.RequestError> {
    return Effect.fail(this.refuse(this.unsupported))
  }
  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpServerError.RequestError> {
    return Effect.fail(this.refuse(this.unsupported))
  }
  get stream(): Stream.Stream<Uint8Array, HttpServerError.RequestError> {
    return Stream.fail(this.refuse(this.unsupported))
  }
  get multipart(): Effect.Effect<Multipart.Persisted, Multipart.MultipartError> {
    return Effect.fail(new Multipart.MultipartError({ reason: "Parse", cause: this.unsupported }))
  }
  get multipartStream(): Stream.Stream<Multipart.Part, Multipart.MultipartError> {
    return Stream.fail(new Multipart.MultipartError({ reason: "Parse", cause: this.unsupported }))
  }

  toJSON(): unknown {
    return this.request.toJSON()
  }
}

/**
 * `request` with its body read by the rules of this module, for a route to decode. Routes that take no body never
 * read it, so it is ignored there; nothing is read before a route asks.
 */
export const checkedBody = (
  request: HttpServerRequest.HttpServerRequest,
  maxBytes: number
): HttpServerRequest.HttpServerRequest => {
  const mediaType = mediaTypeOf(request.headers["content-type"])
  const headers = mediaType !== undefined && mediaType !== "application/json" && isJsonMediaType(mediaType)
    ? Headers.set(request.headers, "content-type", "application/json")
    : request.headers
  return new CheckedBodyRequest(request, mediaType, maxBytes, headers)
}

/** The typed error a failure to read a body stands for, if it is one of this module's. */
export const bodyError = (error: unknown): BodyError | undefined => {
  const cause = error instanceof HttpServerError.RequestError || error instanceof Multipart.MultipartError
    ? error.cause
    : undefined
  return cause instanceof InvalidInput || cause instanceof PayloadTooLarge || cause instanceof UnsupportedMediaType
    ? cause
    : undefined
}
