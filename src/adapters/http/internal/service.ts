/** The state the HTTP service's parts share: its settings, signing key, origin allow-list and request gate. */
import { Context, Deferred, Effect, Ref } from "effect"
import { cachedVerifier, type Principal, type SigningKey, type TokenRefusal } from "../Auth.js"
import type { ServiceConfig } from "../ServiceConfig.js"

/**
 * Requests in flight, and whether the service is draining (refusing new requests while those in flight finish).
 * Plain counters: requests enter and leave on the one JavaScript thread, and the count is read only to drain.
 */
export class RequestGate {
  inFlight = 0
  draining = false
  enter(): void {
    this.inFlight++
  }
  leave(): void {
    this.inFlight--
  }
}

/** What the HTTP service's middlewares and handlers share. */
export interface HttpServiceShape {
  readonly config: ServiceConfig
  readonly key: SigningKey
  /** Verifies a bearer token (remembering the ones it verified, see `cachedVerifier`). */
  readonly verify: (token: string) => Effect.Effect<Principal, TokenRefusal>
  /** The SQLite database file that `/admin/backup` copies, or `null` when the store is not a SQLite file. */
  readonly database: string | null
  /** The browser origins allowed to call the API; replaced as a whole when an operator sets it. */
  readonly origins: Ref.Ref<ReadonlySet<string>>
  readonly gate: RequestGate
  /** Completed when the service begins to stop: event streams end on it. */
  readonly stopping: Deferred.Deferred<void>
}

/** The HTTP service's shared state. */
export class HttpService extends Context.Tag("effect-sessions/http/HttpService")<HttpService, HttpServiceShape>() {
  static readonly make = (
    options: { readonly config: ServiceConfig; readonly key: SigningKey; readonly database: string | null }
  ): Effect.Effect<HttpServiceShape> =>
    Effect.gen(function*() {
      return {
        ...options,
        verify: cachedVerifier(options.key, options.config),
        origins: yield* Ref.make<ReadonlySet<string>>(new Set(options.config.corsOrigins)),
        gate: new RequestGate(),
        stopping: yield* Deferred.make<void>()
      }
    })
}
