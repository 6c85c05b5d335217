/**
 * The manager's state and the bookkeeping every operation shares: admission (shutdown, validation, rate limits,
 * owner scope), and turning what the store did into events, metrics and results.
 */
import {
  type Clock,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  type Fiber,
  FiberId,
  FiberRef,
  GlobalValue,
  Option
} from "effect"
import type { SessionsConfig } from "../../domain/Config.js"
import { type InvalidInput, RateLimited, SessionEnded, ShuttingDown } from "../../domain/Errors.js"
import { isSessionId, type OwnerId, type SessionId, validateOwnerId, validateSessionId } from "../../domain/Ids.js"
import { type EndReason, type EpochMillis, epochMillisOf, isEnded, type Session } from "../../domain/Session.js"
import { TokenBuckets } from "../../domain/TokenBuckets.js"
import type { Gate } from "../Gate.js"
import type { SessionEventBusShape } from "../SessionEventBus.js"
import type { AsOwner } from "../SessionManager.js"
import type { Ended, Lease, SessionStoreShape, Transitioned } from "../SessionStore.js"
import type { DirectCalls } from "./BoundedStore.js"
import { EventLog, type UnnumberedEvent } from "./EventLog.js"
import { KeyedLocks } from "./KeyedLocks.js"
import { ManagerMetrics, metrics } from "./Metrics.js"

/** The leases the current fiber holds through `withSession`, by session id (inherited by the fibers it forks). */
export const heldLeases = GlobalValue.globalValue(
  Symbol.for("effect-sessions/heldLeases"),
  () => FiberRef.unsafeMake<ReadonlyMap<string, Lease>>(new Map())
)

const invalidSessionId = (raw: unknown): InvalidInput => Option.getOrThrow(Either.getLeft(validateSessionId(raw)))

/** A failed admission, or the validated id. */
type Admitted<A> = Either.Either<A, InvalidInput | ShuttingDown | RateLimited>

/** The fiber running an admitted call, for what it holds (`heldLeases`). */
export type RunningFiber = Pick<Fiber.RuntimeFiber<unknown, unknown>, "getFiberRef">

/** The event that tells a session ended, one object of one shape per ending. */
const endingEvent = (e: Ended | (Omit<Ended, "status"> & { readonly status: "closed" })): UnnumberedEvent => ({
  _tag: e.status === "expired" ? "Expired" : e.status === "evicted" ? "Evicted" : "Closed",
  at: e.endedAt,
  id: e.id,
  owner: e.owner,
  from: e.from,
  reason: e.endReason
})

/** Shared state and helpers of one manager. */
export class ManagerCore {
  readonly locks = new KeyedLocks()
  readonly sessionLimits: TokenBuckets
  readonly ownerLimits: TokenBuckets
  readonly log: EventLog
  readonly meter: ManagerMetrics
  private sweeps = { runs: 0, failures: 0 }
  /** Completed at the shutdown deadline: in-flight work still running is interrupted. */
  readonly abort = Deferred.unsafeMake<void>(FiberId.none)

  constructor(
    readonly config: SessionsConfig,
    readonly store: SessionStoreShape,
    /** The hot-path calls of the same store, made at once (see `BoundedStore.direct`). */
    readonly direct: DirectCalls,
    readonly clock: Clock.Clock,
    readonly node: string,
    meter: ManagerMetrics,
    /** Shutdown and the `withSession` work in flight: owned here, changed only through `Gate`'s functions. */
    readonly gate: Gate,
    /** The store's shared event sequence, when it has one: events go there, and come back numbered by it. */
    private readonly bus?: SessionEventBusShape | undefined
  ) {
    this.meter = meter
    const now = () => clock.unsafeCurrentTimeMillis()
    this.sessionLimits = new TokenBuckets(config.sessionRateLimit, config.rateLimitKeys, now)
    this.ownerLimits = new TokenBuckets(config.ownerRateLimit, config.rateLimitKeys, now)
    this.log = new EventLog(
      config.eventBuffer,
      (count) => meter.count(metrics.eventsDropped, count),
      // Unique per run: the start instant and random bits, so a restart within the same millisecond differs too.
      bus?.epoch ?? `${now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
    )
  }

  now(): EpochMillis {
    return epochMillisOf(this.clock)
  }

  /**
   * Runs `f` with the validated id if the call on this session is admitted: a well-formed id, a token from the
   * session's bucket and, for a call scoped to an owner, one from the owner's bucket too (so an owner's calls by id
   * across its sessions share the owner's budget), and not shutting down, unless the call comes from work already in
   * flight on this session (inside its `withSession`), which may finish what it is doing. Checked each time the
   * effect runs, all in its first step: `f` gets the fiber running it, to read what that fiber holds.
   */
  admitted<A, E, R>(
    raw: unknown,
    scope: AsOwner | undefined,
    f: (id: SessionId, owner: OwnerId | undefined, fiber: RunningFiber) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | InvalidInput | ShuttingDown | RateLimited, R> {
    return Effect.withFiberRuntime((fiber) => this.admit(raw, scope, fiber, f))
  }

  private admit<A, E, R>(
    raw: unknown,
    scope: AsOwner | undefined,
    fiber: RunningFiber,
    f: (id: SessionId, owner: OwnerId | undefined, fiber: RunningFiber) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | InvalidInput | ShuttingDown | RateLimited, R> {
    const closing = this.gate.isClosing()
    if (!isSessionId(raw)) return Exit.fail(invalidSessionId(raw))
    if (closing) {
      if (!fiber.getFiberRef(heldLeases).has(raw)) return Exit.fail(new ShuttingDown())
      const owner = scope?.owner === undefined ? Either.right(undefined) : validateOwnerId(scope.owner)
      return Either.isLeft(owner) ? Exit.fail(owner.left) : f(raw, owner.right, fiber)
    }
    let owner: OwnerId | undefined
    if (scope?.owner !== undefined) {
      const admitted = this.admitOwner(scope.owner)
      if (Either.isLeft(admitted)) return Exit.fail(admitted.left)
      owner = admitted.right
    }
    const limited = this.refusal(this.sessionLimits, "session", raw)
    return limited === undefined ? f(raw, owner, fiber) : Exit.fail(limited)
  }

  /**
   * Runs `f` unless shutdown has begun (`ShuttingDown`), for calls not on one session. Checked each time the effect
   * runs.
   */
  gated<A, E, R>(f: () => Effect.Effect<A, E, R>): Effect.Effect<A, E | ShuttingDown, R> {
    return Effect.suspend((): Effect.Effect<A, E | ShuttingDown, R> =>
      this.gate.isClosing() ? Exit.fail(new ShuttingDown()) : f()
    )
  }

  /** Admits a call on behalf of an owner: a well-formed owner id and a token from the owner's bucket. */
  admitOwner(raw: unknown): Admitted<OwnerId> {
    const owner = validateOwnerId(raw)
    if (Either.isLeft(owner)) return owner
    const limited = this.refusal(this.ownerLimits, "owner", owner.right)
    return limited === undefined ? owner : Either.left(limited)
  }

  /** Takes a token for `key`, or says why not (`RateLimited`, counted). */
  private refusal(buckets: TokenBuckets, kind: string, key: string): RateLimited | undefined {
    const wait = buckets.take(key)
    if (wait === 0) return undefined
    this.meter.count(metrics.rateLimited)
    return new RateLimited({ key: `${kind}:${key}`, retryAfter: Duration.millis(wait) })
  }

  publish(event: UnnumberedEvent): void {
    if (this.bus === undefined) this.log.publish(event)
    else this.bus.publish(event)
  }

  /** Records a session that a store call ended: metrics, gauge and its event. */
  announceEnding(e: Ended | (Omit<Ended, "status"> & { readonly status: "closed" })): void {
    this.meter.moved(e.from, e.status)
    this.meter.count(
      e.status === "expired" ? metrics.expired : e.status === "evicted" ? metrics.evicted : metrics.closed
    )
    this.publish(endingEvent(e))
  }

  /**
   * `announceEnding` for many sessions at once (a sweep's batch): an event each, and each metric moved once by the
   * batch's total rather than once per session.
   */
  announceEndings(endings: ReadonlyArray<Ended>): void {
    // By status before and after: from active or waiting, to expired or evicted.
    let activeExpired = 0
    let waitingExpired = 0
    let activeEvicted = 0
    let waitingEvicted = 0
    for (const e of endings) {
      if (e.status === "expired") {
        if (e.from === "active") activeExpired++
        else waitingExpired++
      } else if (e.from === "active") activeEvicted++
      else waitingEvicted++
      this.publish(endingEvent(e))
    }
    this.meter.moved("active", "expired", activeExpired)
    this.meter.moved("waiting", "expired", waitingExpired)
    this.meter.moved("active", "evicted", activeEvicted)
    this.meter.moved("waiting", "evicted", waitingEvicted)
    this.meter.count(metrics.expired, activeExpired + waitingExpired)
    this.meter.count(metrics.evicted, activeEvicted + waitingEvicted)
  }

  /** `announceEnding` for a single write that ended a session (a close, or a lazy expiry). */
  announceEndingOf(t: Transitioned): void {
    if (!isEnded(t.session.status) || isEnded(t.from)) return
    this.announceEnding({
      id: t.session.id,
      owner: t.session.owner,
      from: t.from,
      status: t.session.status,
      endReason: t.session.endReason ?? (t.session.status as EndReason),
      endedAt: t.session.endedAt ?? this.now()
    })
  }

  /**
   * The result of activity: the session, or `SessionEnded{expired}` when the store found it past its `expiresAt` and
   * expired it instead. Recorded activity (messages, response times) is published as an `Activity` event; a bare
   * touch is a keepalive and publishes nothing, so keepalives never push real changes out of the replay buffer.
   */
  afterActivity(t: Transitioned, recorded: boolean): Effect.Effect<Session, SessionEnded> {
    const s = t.session
    if (isEnded(s.status)) {
      this.announceEndingOf(t)
      return Exit.fail(new SessionEnded({ id: s.id, status: s.status }))
    }
    if (recorded) {
      this.publish({
        _tag: "Activity",
        at: s.lastActiveAt,
        id: s.id,
        owner: s.owner,
        messageCount: s.messageCount,
        expiresAt: s.expiresAt
      })
    }
    return Exit.succeed(s)
  }

  /** The result of a status or data write, with its event. A write that found the session due fails `SessionEnded`. */
  afterWrite(t: Transitioned, dataWritten: boolean): Effect.Effect<Session, SessionEnded> {
    const s = t.session
    if (s.status === "expired") {
      this.announceEndingOf(t)
      return Exit.fail(new SessionEnded({ id: s.id, status: s.status }))
    }
    if (isEnded(s.status)) {
      this.announceEndingOf(t)
      return Exit.succeed(s)
    }
    const at = this.now()
    if (s.status !== t.from && !isEnded(t.from)) {
      this.meter.moved(t.from, s.status)
      this.publish({ _tag: "StatusChanged", at, id: s.id, owner: s.owner, from: t.from, to: s.status })
    }
    if (dataWritten) {
      this.publish({ _tag: "Updated", at, id: s.id, owner: s.owner, version: s.version })
    }
    return Exit.succeed(s)
  }

  /** The sweeps run and failed so far. */
  get sweepCounts(): { readonly runs: number; readonly failures: number } {
    return { ...this.sweeps }
  }

  /** Counts one sweep that ran to its end, or one that failed or died. */
  sweepEnded(failed: boolean): void {
    if (failed) this.sweeps.failures++
    else this.sweeps.runs++
  }
}
