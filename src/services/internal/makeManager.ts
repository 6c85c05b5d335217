/**
 * Builds a `SessionManager`: its state, the guarded store, the sweeper fiber, the shutdown finalizer, and the
 * operations that need no exclusive permit.
 */
import { Deferred, Effect, Either, Exit, Fiber, Option, Stream } from "effect"
import type { SessionsConfig } from "../../domain/Config.js"
import { validateData } from "../../domain/Data.js"
import { type InvalidInput, SessionNotFound, type StoreFailure } from "../../domain/Errors.js"
import {
  defaultKind,
  makeSessionId,
  type SessionName,
  validateSessionKind,
  validateSessionName
} from "../../domain/Ids.js"
import { newSession } from "../../domain/Lifecycle.js"
import { liveCount, type Session, statuses } from "../../domain/Session.js"
import * as Gate from "../Gate.js"
import { SessionEventBus } from "../SessionEventBus.js"
import type { AsOwner, ManagerOptions, SessionManagerShape } from "../SessionManager.js"
import { type Cursor, type Inserted, SessionStore, SessionStoreSync } from "../SessionStore.js"
import { boundedStore } from "./BoundedStore.js"
import { withSession } from "./exclusive.js"
import { activityOf, invalid, pageLimit, policyOf } from "./input.js"
import { ManagerCore } from "./ManagerCore.js"
import { ManagerMetrics, metrics } from "./Metrics.js"
import { andThen } from "./outcome.js"
import { sweepLoop, sweepOnce } from "./sweeper.js"
import { writes } from "./writes.js"

type Op<K extends keyof SessionManagerShape> = SessionManagerShape[K] extends (...args: Array<never>) => infer R ? R
  : never

const randomNode = () => `node-${Math.random().toString(36).slice(2, 8)}`

/** See `SessionManager.make`. */
export const makeManager = (config: SessionsConfig, options: ManagerOptions) =>
  Effect.gen(function*() {
    const meter = new ManagerMetrics(options.instance ?? "default")
    const clock = yield* Effect.clock
    // Chosen once: a store that answers synchronously is called through that capability, any other with deadlines.
    const { direct, store } = boundedStore(yield* SessionStore, yield* Effect.serviceOption(SessionStoreSync), {
      config,
      meter,
      clock,
      tracing: options.tracing === true
    })
    const bus = Option.getOrUndefined(yield* Effect.serviceOption(SessionEventBus))
    const node = options.node ?? randomNode()
    const core = new ManagerCore(config, store, direct, clock, node, meter, yield* Gate.make, bus)
    meter.resync(yield* store.counts)
    if (bus !== undefined) {
      // The ring starts with the sequence's latest events, so a position taken on another node resumes here.
      const recent = yield* bus.recent(config.eventBuffer)
      core.log.ingest({ _tag: "EventsMissed", from: 1, count: recent.lastSeq - recent.events.length })
      for (const event of recent.events) core.log.ingest(event)
      yield* Effect.forkScoped(
        Stream.runForEach(bus.feed(core.log.lastSeq), (item) => Effect.sync(() => core.log.ingest(item)))
      )
    }

    const sweeper = options.sweeper === false ? undefined : yield* Effect.forkScoped(sweepLoop(core))
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* core.gate.close
        if (sweeper !== undefined) yield* Fiber.interrupt(sweeper)
        // Finalizers run uninterruptibly; the wait must be interruptible for its deadline to end it.
        const finished = yield* Effect.option(
          Effect.interruptible(Effect.timeout(core.gate.drained, config.shutdownDeadline))
        )
        if (Option.isNone(finished)) {
          yield* Deferred.succeed(core.abort, undefined)
          yield* core.gate.drained
        }
        core.log.close()
        yield* Effect.catchAllCause(
          store.flush,
          (cause) => Effect.logError("effect-sessions: flush on shutdown failed", cause)
        )
      })
    )

    const traced = options.tracing === true
      ? <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) => Effect.withSpan(effect, `SessionManager.${name}`)
      : <A, E, R>(_name: string, effect: Effect.Effect<A, E, R>) => effect

    /** Records a session the store inserted: evictions, metrics, the Created event. */
    const created = (inserted: Inserted): Session => {
      for (const t of inserted.ended) core.announceEnding(t)
      const s = inserted.session
      core.meter.count(metrics.created)
      core.meter.moved(undefined, "active")
      core.publish({
        _tag: "Created",
        at: s.createdAt,
        id: s.id,
        owner: s.owner,
        name: s.name,
        kind: s.kind,
        expiresAt: s.expiresAt
      })
      return s
    }

    const create = (input: Parameters<SessionManagerShape["create"]>[0]): Op<"create"> =>
      core.gated((): Op<"create"> => {
        const owner = core.admitOwner(input.owner)
        if (Either.isLeft(owner)) return Effect.fail(owner.left)
        const name = input.name === undefined || input.name === null
          ? Either.right<SessionName | null>(null)
          : validateSessionName(input.name)
        if (Either.isLeft(name)) return Effect.fail(name.left)
        const kind = input.kind === undefined ? Either.right(defaultKind) : validateSessionKind(input.kind)
        if (Either.isLeft(kind)) return Effect.fail(kind.left)
        const data = input.data === undefined ? Either.right({}) : validateData(input.data, config.maxDataBytes)
        if (Either.isLeft(data)) return Effect.fail(data.left)
        const policy = policyOf(config, input)
        if (Either.isLeft(policy)) return Effect.fail(policy.left)
        const session = newSession({
          id: makeSessionId(),
          owner: owner.right,
          name: name.right,
          kind: kind.right,
          data: data.right,
          now: core.now(),
          policy: policy.right
        })
        return andThen(direct.insert(session, config), (inserted) => Exit.succeed(created(inserted)))
      })

    const get = (raw: string, scope?: AsOwner): Op<"get"> =>
      core.admitted(raw, scope, (id, owner) =>
        andThen(direct.get(id), (session) =>
          Option.isSome(session) && (owner === undefined || session.value.owner === owner)
            ? Exit.succeed(session.value)
            : Exit.fail(new SessionNotFound({ id }))))

    const list = (query: Parameters<SessionManagerShape["list"]>[0] = {}): Op<"list"> =>
      core.gated((): Op<"list"> => {
        const owner = query.owner === undefined ? Either.right(undefined) : core.admitOwner(query.owner)
        if (Either.isLeft(owner)) {
          return Effect.fail(owner.left)
        }
        const kind = query.kind === undefined ? Either.right(undefined) : validateSessionKind(query.kind)
        if (Either.isLeft(kind)) {
          return Effect.fail(kind.left)
        }
        if (query.status !== undefined && !statuses.includes(query.status)) {
          return Effect.fail(invalid("status", `got ${JSON.stringify(query.status)}`, statuses.join(" | ")))
        }
        const limit = pageLimit(query.limit)
        if (Either.isLeft(limit)) {
          return Effect.fail(limit.left)
        }
        if (query.after !== undefined && (typeof query.after !== "string" || query.after.length > 64)) {
          return Effect.fail(invalid("cursor", "is not a cursor", "the `next` of a previous page"))
        }
        return store.list({
          owner: owner.right,
          kind: kind.right,
          status: query.status,
          after: query.after as Cursor | undefined,
          limit: limit.right
        })
      })

    const activity = (
      raw: string,
      input: Parameters<SessionManagerShape["recordActivity"]>[1] | undefined,
      scope: AsOwner | undefined
    ): Op<"touch"> =>
      core.admitted(raw, scope, (id, owner): Op<"touch"> => {
        const act = input === undefined ? Either.right(undefined) : activityOf(input, config.responseTimeWindow)
        if (Either.isLeft(act)) {
          return Effect.fail(act.left)
        }
        const recorded = input !== undefined
        return andThen(direct.touch(id, act.right, owner), (t) =>
          core.afterActivity(t, recorded))
      })

    const activate = (rawOwner: string, raw: string): Op<"activate"> =>
      // The touch is scoped to the owner, so it takes the owner's token (once) and checks the session is theirs.
      Effect.flatMap(activity(raw, undefined, { owner: rawOwner }), (session) =>
        Effect.map(store.setActive(session.owner, session.id), (previous) => {
          core.publish({
            _tag: "Activated",
            at: core.now(),
            id: session.id,
            owner: session.owner,
            previous: Option.getOrNull(previous)
          })
          return session
        }))

    const { close, move, regenerate, update } = writes(core)

    const shape: SessionManagerShape = {
      create: (input) =>
        traced("create", create(input)),
      get: (id, scope) =>
        traced("get", get(id, scope)),
      list: (query) => traced("list", list(query)),
      listWaiting: (query = {}) => traced("listWaiting", list({ ...query, status: "waiting" })),
      touch: (id, scope) => traced("touch", activity(id, undefined, scope)),
      recordActivity: (id, input, scope) => traced("recordActivity", activity(id, input, scope)),
      wait: (id, scope) => traced("wait", move(id, scope, "wait")),
      resume: (id, scope) => traced("resume", move(id, scope, "resume")),
      update: (id, data, options) => traced("update", update(id, data, options)),
      close: (id, options) => traced("close", close(id, options)),
      regenerate: (id, scope) => traced("regenerate", regenerate(id, scope)),
      activate: (owner, id) => traced("activate", activate(owner, id)),
      active: (rawOwner) =>
        traced(
          "active",
          core.gated((): Op<"active"> => {
            const owner = core.admitOwner(rawOwner)
            return Either.isLeft(owner) ? Effect.fail(owner.left) : store.getActive(owner.right)
          })
        ),
      withSession: (id, work, options) => withSession(core, id, work, options),
      remove: (raw, options) =>
        traced(
          "remove",
          core.admitted(raw, undefined, (id): Effect.Effect<boolean, InvalidInput | StoreFailure> => {
            const reason = options?.reason ?? "removed by an operator"
            if (typeof reason !== "string" || reason.length < 1 || reason.length > 256) {
              return Effect.fail(invalid("reason", `is ${String(reason).length} characters`, "1 to 256 characters"))
            }
            return Effect.flatMap(store.remove(id, reason), (removed) =>
              // The record may not have read, so its status is not known: the gauge follows the store's counts.
              Effect.as(
                Effect.map(store.counts, (counts) => core.meter.resync(counts)),
                removed
              ))
          })
        ),
      stats: Effect.zipWith(store.counts, core.gate.inFlight, (counts, inFlight) => ({
        counts,
        live: liveCount(counts),
        inFlight,
        locksHeld: core.locks.size,
        rateLimitKeys: core.sessionLimits.size + core.ownerLimits.size,
        events: { epoch: core.log.epoch, lastSeq: core.log.lastSeq, buffered: core.log.buffered },
        sweeps: core.sweepCounts
      })),
      ownerStats: (rawOwner) =>
        traced(
          "ownerStats",
          core.gated((): Op<"ownerStats"> => {
            const owner = core.admitOwner(rawOwner)
            return Either.isLeft(owner) ? Effect.fail(owner.left) : store.ownerCounts(owner.right)
          })
        ),
      events: (after) => core.log.subscribe(after),
      eventEpoch: core.log.epoch,
      sweep: core.gated(() => sweepOnce(core))
    }
    return shape
  })
