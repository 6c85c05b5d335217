/**
 * The state the HTTP service's parts share: its settings, signing key, clock, origin allow-list, requests in flight,
 * request deadlines and ids, the budget of callers without a valid token, and the event streams each subject holds.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { type Clock, Context, Deferred, Effect, Option, Ref, type Scope } from "effect"
import * as Crypto from "node:crypto"
import type { RateLimited } from "../../../domain/Errors.js"
import type { Principal, SigningKey } from "../Auth.js"
import type { ServiceConfig } from "../ServiceConfig.js"
import { budget } from "./budgets.js"
import * as Deadlines from "./deadlines.js"
import { type TokenRefusal, verifiedTokens } from "./tokens.js"

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

/**
 * The requests in flight, and whether the service is draining (refusing new ones while those finish). Plain fields
 * changed synchronously: a request counts itself in and out within its own fiber's steps, and JavaScript runs one
 * at a time, so nothing interleaves.
 */
export class Requests {
  private open = 0
  private draining = false
  /** Whether the service has begun to drain. */
  get closing(): boolean {
    return this.draining
  }
  /** How many requests are in flight. */
  get inFlight(): number {
    return this.open
  }
  /** Counts a request in. */
  enter(): void {
    this.open++
  }
  /** Counts a request out. */
  leave(): void {
    this.open--
  }
  /** Begins the drain (once; later calls change nothing). */
  close(): void {
    this.draining = true
  }
}

/** What the HTTP service's middlewares and handlers share. */
export interface HttpServiceShape {
  readonly config: ServiceConfig
  readonly key: SigningKey
  /** The clock of the service (the one its layer was built with): time of deadlines, budgets and tokens. */
  readonly clock: Clock.Clock
  /** Verifies a bearer token (remembering the ones it verified, see `verifiedTokens`). */
  readonly verify: (token: string) => Effect.Effect<Principal, TokenRefusal>
  /** The principal of a token verified before and still valid now, without an effect; `undefined` otherwise. */
  readonly known: (token: string) => Principal | undefined
  /** The browser origins allowed to call the API; replaced as a whole when an operator sets it. */
  readonly origins: Ref.Ref<ReadonlySet<string>>
  /** Requests in flight, and whether the service is draining. */
  readonly requests: Requests
  /** The request deadline, `requestTimeout` for each. */
  readonly deadlines: Deadlines.Deadlines
  /**
   * A new request id, unique in the process: a random prefix drawn at start and a counter (ids are never secrets,
   * so they need no randomness of their own).
   */
  readonly requestId: () => string
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
  /** The shared state, its deadline watcher running in the current scope. */
  static readonly make = (
    options: { readonly config: ServiceConfig; readonly key: SigningKey }
  ): Effect.Effect<HttpServiceShape, never, Scope.Scope> =>
    Effect.gen(function*() {
      const clock = yield* Effect.clock
      const tokens = verifiedTokens(options.key, options.config, 10_000)
      const verify = (token: string) => tokens.verify(token, clock.unsafeCurrentTimeMillis())
      const prefix = `${Crypto.randomBytes(6).toString("hex")}-`
      let requests = 0
      const anonymous = budget(options.config.anonymousRateLimit, "anonymous", () => clock.unsafeCurrentTimeMillis())
      const takeAnonymous = (request: HttpServerRequest.HttpServerRequest) =>
        anonymous(Option.getOrElse(request.remoteAddress, () => "unknown"), undefined)
      return {
        ...options,
        clock,
        verify,
        known: (token) => tokens.known(token, clock.unsafeCurrentTimeMillis()),
        origins: yield* Ref.make<ReadonlySet<string>>(new Set(options.config.corsOrigins)),
        requests: new Requests(),
        deadlines: yield* Deadlines.make(clock, options.config.requestTimeout),
        requestId: () => prefix + (requests++).toString(36),
        stopping: yield* Deferred.make<void>(),
        takeAnonymous,
        unlessAuthenticated: (request) => {
          const token = bearer.exec(request.headers["authorization"] ?? "")?.[1]
          if (token === undefined) return takeAnonymous(request)
          if (tokens.known(token, clock.unsafeCurrentTimeMillis()) !== undefined) return Effect.void
          return Effect.catchAll(Effect.asVoid(verify(token)), () => takeAnonymous(request))
        },
        streams: new StreamSlots(options.config.maxStreamsPerSubject)
      }
    })
}
