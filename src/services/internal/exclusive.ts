/**
 * Work that holds a session exclusively: status and data writes under the session's permit, and `withSession` with
 * its store lease, renewal, fencing token, deadline and shutdown abort.
 */
import { Deferred, Duration, Effect, Either, FiberId, FiberRef } from "effect"
import {
  type InvalidTransition,
  OperationTimeout,
  SessionBusy,
  type SessionEnded,
  type SessionNotFound,
  ShuttingDown,
  type StaleFencingToken,
  type StoreFailure,
  type VersionConflict
} from "../../domain/Errors.js"
import type { SessionId } from "../../domain/Ids.js"
import type { Session } from "../../domain/Session.js"
import type { AsOwner, ExclusiveError, SessionContext, WithSessionOptions } from "../SessionManager.js"
import type { Lease, SessionWrite, Transitioned } from "../SessionStore.js"
import { durationInput } from "./input.js"
import { heldLeases, type ManagerCore } from "./ManagerCore.js"

/**
 * Writes to one session under its exclusive permit (or under the `withSession` that already holds it, with its
 * fencing token), then records what happened.
 */
export const exclusiveWrite = (
  core: ManagerCore,
  raw: unknown,
  scope: AsOwner | undefined,
  operation: string,
  write: SessionWrite
): Effect.Effect<Session, ExclusiveError | InvalidTransition | VersionConflict> =>
  core.admitted(raw, scope, (id) => {
    const after = (t: Transitioned) => core.afterWrite(t, write.data !== undefined)
    const direct = core.direct
    if (direct !== undefined && !core.locks.isHeld(id)) {
      // Nobody holds the session's permit and the store answers at once: in this one synchronous step the write
      // cannot interleave with any other work on the session, so it needs no permit.
      const owned = core.ownedNow(id, scope)
      if (Either.isLeft(owned)) return Effect.fail(owned.left)
      const written = direct.update(id, write)
      return Either.isLeft(written) ? Effect.fail(written.left) : after(written.right)
    }
    const run = (fence: number | undefined) =>
      Effect.zipRight(
        core.owned(id, scope),
        Effect.flatMap(core.store.update(id, fence === undefined ? write : { ...write, fence }), after)
      )
    return Effect.flatMap(core.held(id), (lease) =>
      lease !== undefined
        ? run(lease.token)
        : core.locks.withPermit(id, operation, core.config.lockTimeout, run(undefined)))
  })

/** Takes a store lease, retrying while another holder has it, for at most `lockTimeout` (`SessionBusy` after). */
const acquireLease = (core: ManagerCore, id: SessionId, holder: string) => {
  const poll = Duration.min(Duration.millis(50), core.config.lockTimeout)
  const limit = Duration.toMillis(core.config.lockTimeout)
  const start = core.now()
  const attempt = (): Effect.Effect<Lease, SessionBusy | SessionNotFound | SessionEnded | StoreFailure> =>
    Effect.catchTag(core.store.acquireLease(id, holder, core.config.leaseTtl), "LeaseHeld", (held) => {
      const waited = core.now() - start
      return waited >= limit
        ? Effect.fail(new SessionBusy({ id, holder: held.holder, waited: Duration.millis(waited) }))
        : Effect.zipRight(Effect.sleep(poll), Effect.suspend(attempt))
    })
  return attempt()
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
  core.admitted(raw, options, (id): Effect.Effect<A, E | ExclusiveError | OperationTimeout, R> => {
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
        core.enter()
        return core.locks.withPermit(
          id,
          holder,
          core.config.lockTimeout,
          leased(core, id, holder, work, timeout, options, held)
        ).pipe(
          Effect.ensuring(Effect.sync(() => core.leave()))
        )
      })
    })
  }).pipe(Effect.withSpan("SessionManager.withSession"))

const leased = <A, E, R>(
  core: ManagerCore,
  id: SessionId,
  holder: string,
  work: (context: SessionContext) => Effect.Effect<A, E, R>,
  timeout: Duration.Duration,
  scope: AsOwner | undefined,
  held: ReadonlyMap<string, Lease>
) =>
  Effect.gen(function*() {
    yield* core.owned(id, scope)
    // Touching first expires a session already past its expiresAt, and starts the work from fresh activity.
    const session: Session = yield* Effect.flatMap(core.store.touch(id), (t) => core.afterActivity(t, false))
    const lease = yield* acquireLease(core, id, holder)
    const inner = new Map(held).set(id, lease)
    const watchdog = Effect.raceFirst(
      keepLease(core, lease),
      Effect.zipRight(Deferred.await(core.abort), Effect.fail(new ShuttingDown()))
    )
    const run = Effect.raceFirst(Effect.locally(work({ session, lease }), heldLeases, inner), watchdog).pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () => new OperationTimeout({ operation: "withSession", after: timeout })
      })
    )
    // Activity is recorded while the lease still protects the session from expiry, then the lease goes.
    const finish = Effect.flatMap(core.store.touch(id), (t) => core.afterActivity(t, false)).pipe(
      Effect.ignore,
      Effect.zipRight(Effect.ignore(core.store.releaseLease(lease)))
    )
    return yield* Effect.ensuring(run, finish)
  })
