/**
 * `SessionManager`: the public API of effect-sessions. It validates input, serialises work per session, enforces
 * capacity, rate limits and expiry, publishes events and metrics, and shuts down without dropping acknowledged work,
 * over any `SessionStore`.
 *
 * Concurrency: reads and activity (`get`, `list`, `touch`, `recordActivity`) never wait for a lock. Status and data
 * writes (`wait`, `resume`, `close`, `update`), `regenerate` and `withSession` hold the session's exclusive permit; a
 * caller waits at most `lockTimeout` for it (`SessionBusy`). No lock spans more than one session, and none is held
 * across the whole store. Calls made inside `withSession` on its own session reuse its permit and write with its fencing token.
 *
 * Time: every rule reads `Clock`, so `TestClock` drives expiry, rate limits, leases and deadlines.
 */
import { Context, Effect, Either, Layer, type Option, type Stream } from "effect"
import type { DurationInput, SessionsConfig, SessionsConfigInput } from "../domain/Config.js"
import { configFromEnv, defaultConfig, makeConfig } from "../domain/Config.js"
import type {
  CapacityExceeded,
  CorruptRecord,
  InvalidConfig,
  InvalidInput,
  InvalidTransition,
  OperationTimeout,
  RateLimited,
  SessionBusy,
  SessionEnded,
  SessionNameTaken,
  SessionNotFound,
  ShuttingDown,
  StaleFencingToken,
  StoreFailure,
  VersionConflict
} from "../domain/Errors.js"
import type { EventPosition, SubscriptionItem } from "../domain/Events.js"
import type { Session, SessionStatus, StatusCounts } from "../domain/Session.js"
import { makeManager } from "./internal/makeManager.js"
import type { Lease, Page, SessionStore } from "./SessionStore.js"

/** What a new session is made of; only the owner is required. Per-session limits override the configuration. */
export interface CreateSession {
  readonly owner: string
  readonly name?: string | null | undefined
  readonly kind?: string | undefined
  readonly data?: unknown
  readonly idleTimeout?: DurationInput | undefined
  readonly maxLifetime?: DurationInput | undefined
}

/**
 * Scopes a call to one owner, as the HTTP service does for each request: a session of another owner then answers
 * `SessionNotFound`, exactly like a missing one. Calls without it act on any session (operators, trusted code).
 */
export interface AsOwner {
  readonly owner?: string | undefined
}

/** A listing: some or none of the filters, a page size (1-1000, default 100) and the cursor of the previous page. */
export interface ListSessions {
  readonly owner?: string | undefined
  readonly status?: SessionStatus | undefined
  readonly kind?: string | undefined
  readonly after?: string | undefined
  readonly limit?: number | undefined
}

/** Activity to record: messages exchanged and how long the response took. */
export interface ActivityInput {
  readonly messages?: number | undefined
  readonly responseTime?: DurationInput | undefined
}

/** Options of `withSession`: its deadline (default `operationTimeout`) and an owner scope. */
export interface WithSessionOptions extends AsOwner {
  readonly timeout?: DurationInput | undefined
}

/** What `withSession` gives its work: the session as it was when the work started, and the lease it holds. */
export interface SessionContext {
  readonly session: Session
  readonly lease: Lease
}

/** What one sweep did. */
export interface SweepReport {
  readonly expired: number
  readonly purged: number
  readonly rateLimitKeysForgotten: number
}

/** A snapshot of the manager. `counts` are the store's, so they are exact across every node sharing it. */
export interface Stats {
  readonly counts: StatusCounts
  readonly live: number
  readonly inFlight: number
  readonly locksHeld: number
  readonly rateLimitKeys: number
  readonly events: { readonly epoch: string; readonly lastSeq: number; readonly buffered: number }
  readonly sweeps: { readonly runs: number; readonly failures: number }
}

/** The failures every call may have besides its own: bad input, limits, shutdown, and the store. */
export type CommonError = InvalidInput | RateLimited | ShuttingDown | StoreFailure | CorruptRecord

/** Failures of calls that act on one existing session. */
export type SessionCallError = CommonError | SessionNotFound | SessionEnded

/** Failures of calls that wait for the session's exclusive permit. */
export type ExclusiveError = SessionCallError | SessionBusy | StaleFencingToken

/** The manager's operations. Ids and names are taken as strings and validated (`InvalidInput`). */
export interface SessionManagerShape {
  /** Creates an `active` session. Capacity per `capacityPolicy`: `CapacityExceeded`, or evicts the least recently active idle sessions. */
  readonly create: (
    input: CreateSession
  ) => Effect.Effect<Session, CommonError | SessionNameTaken | CapacityExceeded>
  /** The session, tombstones included (an ended session shows why it ended). */
  readonly get: (id: string, scope?: AsOwner) => Effect.Effect<Session, SessionCallError>
  /** A page of sessions, filtered; follow `next` for the rest. */
  readonly list: (query?: ListSessions) => Effect.Effect<Page, CommonError>
  /** A page of sessions blocked on outside input (`waiting`). */
  readonly listWaiting: (query?: Omit<ListSessions, "status">) => Effect.Effect<Page, CommonError>
  /**
   * Marks activity now: `expiresAt` moves out, data and version stay. A session already past its `expiresAt` is
   * expired instead and the call fails `SessionEnded{expired}`.
   */
  readonly touch: (id: string, scope?: AsOwner) => Effect.Effect<Session, SessionCallError>
  /** A touch that also adds messages and a response time to the rolling window. */
  readonly recordActivity: (
    id: string,
    activity: ActivityInput,
    scope?: AsOwner
  ) => Effect.Effect<Session, SessionCallError>
  /** `active` to `waiting` (blocked on outside input); `InvalidTransition` from `waiting`. */
  readonly wait: (id: string, scope?: AsOwner) => Effect.Effect<Session, ExclusiveError | InvalidTransition>
  /** `waiting` to `active`; `InvalidTransition` from `active`. */
  readonly resume: (id: string, scope?: AsOwner) => Effect.Effect<Session, ExclusiveError | InvalidTransition>
  /**
   * Replaces the session's data (at most `maxDataBytes`). With `expectedVersion`, only if the session is still at that
   * version (`VersionConflict{expected, actual}` otherwise): optimistic concurrency for writers that read first.
   */
  readonly update: (
    id: string,
    data: unknown,
    options?: AsOwner & { readonly expectedVersion?: number | undefined }
  ) => Effect.Effect<Session, ExclusiveError | VersionConflict>
  /** Ends the session (`closed`, with `reason`); it stays as a tombstone for `retention`. */
  readonly close: (
    id: string,
    options?: AsOwner & { readonly reason?: string | undefined }
  ) => Effect.Effect<Session, ExclusiveError>
  /**
   * Gives the session a new id and returns it under that id (the session-fixation defence: rotate the id a client
   * holds after it logs in or gains privileges). Everything else stays: data, owner, name, kind, status, expiry,
   * activity and `version`; the owner's active session follows it. The old id is gone at once: every later call with
   * it fails `SessionNotFound`. Holds the session's exclusive permit like `close` (`SessionBusy` after `lockTimeout`)
   * and publishes `Regenerated`; a session already past its `expiresAt` is expired instead (`SessionEnded{expired}`).
   * A retried store call never makes a second id. Inside `withSession` on the same session it fails `InvalidInput`:
   * the work's lease would be lost with the old id.
   */
  readonly regenerate: (id: string, scope?: AsOwner) => Effect.Effect<Session, ExclusiveError>
  /** Makes the session its owner's active one (switching atomically from the previous one) and touches it. */
  readonly activate: (owner: string, id: string) => Effect.Effect<Session, SessionCallError>
  /** The owner's active session, if it has one. */
  readonly active: (owner: string) => Effect.Effect<Option.Option<Session>, CommonError>
  /**
   * Runs `work` with exclusive use of the session: its permit, a store lease renewed while the work runs, and a
   * deadline (`timeout`, default `operationTimeout`). At the deadline the work is interrupted (its finalizers run)
   * and the call fails `OperationTimeout`; interrupting the caller interrupts the work. If the lease is lost the
   * work is interrupted and the call fails `StaleFencingToken`. The session is not expired or evicted while the
   * work runs, and is touched when it ends. Calls on the same session inside `work` reuse the permit and carry the
   * lease's fencing token.
   */
  readonly withSession: <A, E, R>(
    id: string,
    work: (context: SessionContext) => Effect.Effect<A, E, R>,
    options?: WithSessionOptions
  ) => Effect.Effect<A, E | ExclusiveError | OperationTimeout, R>
  /**
   * For operators: removes the record stored under the id whatever its state, one that cannot be read
   * (`CorruptRecord`) included, keeping it aside where the store can (SQLite: its quarantine table). Returns whether
   * there was one. A live session removed this way leaves no tombstone and publishes no event; use `close` for that.
   */
  readonly remove: (
    id: string,
    options?: { readonly reason?: string | undefined }
  ) => Effect.Effect<boolean, InvalidInput | RateLimited | ShuttingDown | StoreFailure>
  /** Counts by status, and the manager's own bounded tables. */
  readonly stats: Effect.Effect<Stats, StoreFailure>
  /** One owner's sessions by status, tombstones included. */
  readonly ownerStats: (owner: string) => Effect.Effect<StatusCounts, CommonError>
  /**
   * Session events after `after` (replayed from the bounded buffer; default: from now on), then live ones, until the
   * manager shuts down. `after` is a sequence number of this run, or an `EventPosition` (`{ epoch, seq }`, with
   * `eventEpoch`) that survives restarts: a position from an earlier run gets `EventsMissed` with `restarted` and every
   * event still kept, never a silent gap. A subscriber that falls more than `eventBuffer` events behind receives
   * `EventsMissed` in place of what it lost; it never slows the manager.
   */
  readonly events: (after?: number | EventPosition) => Stream.Stream<SubscriptionItem>
  /** Names this run of the event sequence (sequence numbers start again at 1 in the next run); see `events`. */
  readonly eventEpoch: string
  /** One sweep now: expire due sessions, purge old tombstones, forget idle rate-limit keys, flush the store. */
  readonly sweep: Effect.Effect<SweepReport, StoreFailure | ShuttingDown>
}

/** Options of the manager besides its configuration. */
export interface ManagerOptions {
  /** Label of this manager's metrics (`instance`), to tell managers in one process apart. Default "default". */
  readonly instance?: string | undefined
  /** Name of this node in lease holders ("node-1/fiber#12"). Default: a random name per manager. */
  readonly node?: string | undefined
  /**
   * A span per public call. Off by default: a span costs several microseconds, more than an in-memory call (measured:
   * 34,000-39,000 calls/s with a span per call against 154,000-387,000 without, `bench/` "crud"). Calls to stores
   * that do I/O and `withSession` always have spans.
   */
  readonly tracing?: boolean | undefined
  /** Whether to run the background sweeper (default true). Tests that drive `sweep` by hand may turn it off. */
  readonly sweeper?: boolean | undefined
}

/** The session manager. */
export class SessionManager extends Context.Tag("effect-sessions/SessionManager")<
  SessionManager,
  SessionManagerShape
>() {}

/**
 * Builds a manager over the `SessionStore` in context. Forks the sweeper into the scope; closing the scope shuts the
 * manager down: new calls fail `ShuttingDown`, the sweeper stops, in-flight `withSession` work gets until
 * `shutdownDeadline` and is then interrupted, the event streams end, and the store is flushed.
 */
export const make = (config: SessionsConfig = defaultConfig, options: ManagerOptions = {}) =>
  makeManager(config, options)

/**
 * The manager as a layer, over the `SessionStore` it is given. Takes a validated `SessionsConfig` (from `makeConfig`,
 * `configFromEnv` or `defaultConfig`), or the same plain values `makeConfig` takes (`{ idleTimeout: "15m" }`, fields
 * left out keep their defaults), which fail the layer with `InvalidConfig` listing every bad field.
 */
export function layer(
  config?: SessionsConfig,
  options?: ManagerOptions
): Layer.Layer<SessionManager, StoreFailure, SessionStore>
export function layer(
  input: SessionsConfigInput,
  options?: ManagerOptions
): Layer.Layer<SessionManager, InvalidConfig | StoreFailure, SessionStore>
export function layer(
  input: SessionsConfig | SessionsConfigInput = defaultConfig,
  options: ManagerOptions = {}
): Layer.Layer<SessionManager, InvalidConfig | StoreFailure, SessionStore> {
  const config = input === defaultConfig ? Either.right(defaultConfig) : makeConfig(input)
  return Layer.scoped(SessionManager, Effect.flatMap(config, (valid) => make(valid, options)))
}

/** The manager as a layer, configured from `SESSIONS_*` variables (fails `InvalidConfig` listing every bad one). */
export const layerConfig = (
  options: ManagerOptions = {}
): Layer.Layer<SessionManager, InvalidConfig | StoreFailure, SessionStore> =>
  Layer.scoped(SessionManager, Effect.flatMap(configFromEnv, (config) => make(config, options)))
