/**
 * Work that holds a session exclusively: status and data writes under the session's permit, and `withSession` with
 * its store lease, renewal, fencing token, deadline and shutdown abort.
 */
import { Deferred, Duration, Effect, Either, Fiber, FiberId, FiberRef } from "effect"
import {
  type InvalidInput,
  OperationTimeout,
  type RateLimited,
  SessionBusy,
  type SessionEnded,
  type SessionNotFound,
  ShuttingDown,
  type StaleFencingToken,
  type StoreFailure
} from "../../domain/Errors.js"
import type { OwnerId, SessionId } from "../../domain/Ids.js"
import type { Session } from "../../domain/Session.js"
import type { AsOwner, ExclusiveError, SessionContext, WithSessionOptions } from "../SessionManager.js"
import type { Lease, SessionStoreShape, SessionWrite, Transitioned } from "../SessionStore.js"
import { durationInput } from "./input.js"
import { heldLeases, type ManagerCore } from "./ManagerCore.js"
import { settle } from "./outcome.js"

/** How a store write can fail. */
export type WriteError = Effect.Effect.Error<ReturnType<SessionStoreShape["update"]>>

/**
 * Writes to one session under its exclusive permit (or under the `withSession` that already holds it, with its
 * fencing token), then records what happened; `refused` says what each refusal of the store becomes.
 *
 * A write to a session whose permit nobody holds is made at once: on a synchronous store it has then run to its end
 * within this one step, when no other fiber could run, so taking the permit around it and handing it back would
 * serialise it against nothing. On any other store the call waits on I/O and runs under the permit.
 */
export const exclusiveWrite = <E>(
  core: ManagerCore,
  raw: unknown,
  scope: AsOwner | undefined,
  operation: string,
  write: SessionWrite,
  refused: (error: WriteError) => Effect.Effect<never, E>
): Effect.Effect<Session, E | SessionBusy | InvalidInput | RateLimited | ShuttingDown | SessionEnded> =>
  core.admitted(raw, scope, (id, owner, fiber) => {
    const after = (t: Transitioned) => core.afterWrite(t, write.data !== undefined)
    const scoped: SessionWrite = owner === undefined ? write : { ...write, owner }
    const lease = fiber.getFiberRef(heldLeases).get(id)
    if (lease !== undefined) return settle(core.direct.update(id, { ...scoped, fence: lease.token }), refused, after)
    const timeout = core.config.lockTimeout
    if (core.locks.isHeld(id)) {
      return core.locks.withPermit(
        id,
        operation,
        timeout,
        Effect.suspend(() => settle(core.direct.update(id, scoped), refused, after))
      )
    }
    const outcome = core.direct.update(id, scoped)
    return Either.isEither(outcome)
      ? settle(outcome, refused, after)
      : core.locks.withPermit(id, operation, timeout, settle(outcome, refused, after))
  })

/** Takes a store lease, retrying while another holder has it, for at most `lockTimeout` (`SessionBusy` after). */
const acquireLease = (core: ManagerCore, id: SessionId, holder: string) => {
  const poll = Duration.min(Duration.millis(50), core.config.lockTimeout)
  const limit = Duration.toMillis(core.config.lockTimeout)
  const start = core.now()
  const tryAcquire = (): Effect.Effect<Lease, SessionBusy | SessionNotFound | SessionEnded | StoreFailure> =>
    Effect.catchTag(core.store.acquireLease(id, holder, core.config.leaseTtl), "LeaseHeld", (held) => {
      const waited = core.now() - start
      return waited >= limit
        ? Effect.fail(new SessionBusy({ id, holder: held.holder, waited: Duration.millis(waited) }))
        : Effect.zipRight(Effect.sleep(poll), Effect.suspend(tryAcquire))
    })
  return tryAcquire()
}

/** Renews the lease every third of `leaseTtl` until interrupted; fails when the lease is lost. */
const keepLease = (core: ManagerCore, lease: Lease): Effect.Effect<never, StaleFencingToken | StoreFailure> => {
  const every = Duration.millis(Math.max(1, Duration.toMillis(core.config.leaseTtl) / 3))
  return Effect.forever(Effect.zipRight(Effect.sleep(every), core.store.renewLease(lease, core.config.leaseTtl)))
}

/** `SessionManager.withSession`: see its contract there. */
export const withSession = <A, E, R>(
  core: ManagerCore,
  raw: unknown,
  work: (context: SessionContext) => Effect.Effect<A, E, R>,
  options: WithSessionOptions | undefined
): Effect.Effect<A, E | ExclusiveError | OperationTimeout, R> =>
  core.admitted(raw, options, (id, owner): Effect.Effect<A, E | ExclusiveError | OperationTimeout, R> => {
    const deadline = durationInput("timeout", options?.timeout, core.config.operationTimeout)
    if (Either.isLeft(deadline)) return Effect.fail(deadline.left)
    const timeout = deadline.right
    return Effect.flatMap(FiberRef.get(heldLeases), (held) => {
      const nested = held.get(id)
      if (nested !== undefined) {
        // Already inside withSession on this session: the work joins it.
        return Effect.flatMap(
          core.store.get(id),
          (found) =>
            found._tag === "Some" ? work({ session: found.value, lease: nested }) : Effect.die("held session vanished")
        )
      }
      return Effect.fiberIdWith((fiber) => {
        const holder = `${core.node}/${FiberId.threadName(fiber)}`
        // Counted in before anything can fail, out on every exit: shutdown waits for the last one out.
        return Effect.acquireUseRelease(
          core.gate.enter,
          () =>
            core.locks.withPermit(
              id,
              holder,
              core.config.lockTimeout,
              leased(core, id, owner, holder, work, timeout, held)
            ),
          () => core.gate.leave
        )
      })
    })
  }).pipe(Effect.withSpan("SessionManager.withSession"))

const leased = <A, E, R>(
  core: ManagerCore,
  id: SessionId,
  owner: OwnerId | undefined,
  holder: string,
  work: (context: SessionContext) => Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  held: ReadonlyMap<string, Lease>
) =>
  Effect.gen(function*() {
    // Touching first (scoped to the caller's owner) expires a session that has expired, refuses another owner's as
    // missing, and starts the work from fresh activity.
    const session: Session = yield* Effect.flatMap(core.store.touch(id, undefined, owner), (t) =>
      core.afterActivity(t, false))
    const lease = yield* acquireLease(core, id, holder)
    const inner = new Map(held).set(id, lease)
    const watchdog = Effect.raceFirst(
      keepLease(core, lease),
      Effect.zipRight(Deferred.await(core.abort), Effect.fail(new ShuttingDown()))
    )
    const run = Effect.raceFirst(Effect.locally(work({ session, lease }), heldLeases, inner), watchdog).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new OperationTimeout({ operation: "withSession", after: timeout })
      })
    )
    // Activity is recorded while the lease still protects the session from expiry, then the lease goes.
    // In a fiber of its own, interruptible: a finalizer runs uninterruptibly, so a store call made there could not be
    // ended by its own deadline (`storeTimeout`), and a store that stops answering would hold the work open forever.
    // The caller's own interruption does not reach it: the lease is still released.
    const finish = Effect.flatMap(core.store.touch(id), (t) => core.afterActivity(t, false)).pipe(
      Effect.ignore,
      Effect.zipRight(Effect.ignore(core.store.releaseLease(lease))),
      Effect.interruptible,
      Effect.forkDaemon,
      Effect.flatMap(Fiber.join)
    )
    return yield* Effect.ensuring(run, finish)
  })
