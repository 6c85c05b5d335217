/**
 * The state the HTTP service's parts share: its settings, signing key, origin allow-list, request gate, the budget
 * of callers without a valid token, and the event streams each subject holds.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Context, Deferred, Effect, Option, Ref } from "effect"
import type { RateLimited } from "../../../domain/Errors.js"
import * as Gate from "../../../services/Gate.js"
import { cachedVerifier, type Principal, type SigningKey, type TokenRefusal } from "../Auth.js"
import type { ServiceConfig } from "../ServiceConfig.js"
import { budget } from "./budgets.js"

/** The event streams each token subject holds open, at most `max` each. */
export class StreamSlots {
  private readonly open = new Map<string, number>()
  constructor(readonly max: number) {}
  /** Takes a slot for `subject`; `false` (and nothing taken) when it holds `max` already. */
  take(subject: string): boolean {
    const held = this.open.get(subject) ?? 0
    if (held >= this.max) return false
    this.open.set(subject, held + 1)
    return true
  }
  /** Gives back one of `subject`'s slots. */
  release(subject: string): void {
    const held = this.open.get(subject) ?? 0
    if (held <= 1) this.open.delete(subject)
    else this.open.set(subject, held - 1)
  }
}

/** What the HTTP service's middlewares and handlers share. */
export interface HttpServiceShape {
  readonly config: ServiceConfig
  readonly key: SigningKey
  /** Verifies a bearer token (remembering the ones it verified, see `cachedVerifier`). */
  readonly verify: (token: string) => Effect.Effect<Principal, TokenRefusal>
  /** The browser origins allowed to call the API; replaced as a whole when an operator sets it. */
  readonly origins: Ref.Ref<ReadonlySet<string>>
  /** Requests in flight, and whether the service is draining (refusing new ones while those finish). */
  readonly gate: Gate.Gate
  /** Completed when the service begins to stop: event streams end on it. */
  readonly stopping: Deferred.Deferred<void>
  /** Takes one request from the budget of the client's address (`anonymousRateLimit`), `RateLimited` past it. */
  readonly takeAnonymous: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<void, RateLimited>
  /**
   * `takeAnonymous` unless the request carries a valid bearer token: what routes that need no token call, so a
   * caller with one never spends the anonymous budget.
   */
  readonly unlessAuthenticated: (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<void, RateLimited>
  readonly streams: StreamSlots
}

const bearer = /^bearer\s+(\S+)\s*$/i

/** The HTTP service's shared state. */
export class HttpService extends Context.Tag("effect-sessions/http/HttpService")<HttpService, HttpServiceShape>() {
  static readonly make = (
    options: { readonly config: ServiceConfig; readonly key: SigningKey }
  ): Effect.Effect<HttpServiceShape> =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const verify = cachedVerifier(options.key, options.config)
      const anonymous = budget(options.config.anonymousRateLimit, "anonymous", () => clock.unsafeCurrentTimeMillis())
      const takeAnonymous = (request: HttpServerRequest.HttpServerRequest) =>
        anonymous(Option.getOrElse(request.remoteAddress, () => "unknown"), undefined)
      return {
        ...options,
        verify,
        origins: yield* Ref.make<ReadonlySet<string>>(new Set(options.config.corsOrigins)),
        gate: yield* Gate.make,
        stopping: yield* Deferred.make<void>(),
        takeAnonymous,
        unlessAuthenticated: (request) => {
          const token = bearer.exec(request.headers["authorization"] ?? "")?.[1]
          return token === undefined
            ? takeAnonymous(request)
            : Effect.catchAll(Effect.asVoid(verify(token)), () => takeAnonymous(request))
        },
        streams: new StreamSlots(options.config.maxStreamsPerSubject)
      }
    })
}
