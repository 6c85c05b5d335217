/**
 * The session lifecycle: how a session starts, the events that move it between statuses, and the one pure function
 * that applies the transition table.
 *
 * | from \ event | activity | wait | resume | close | expire | evict |
 * |---|---|---|---|---|---|---|
 * | active  | active  | waiting | InvalidTransition | closed | expired | evicted |
 * | waiting | waiting | InvalidTransition | active | closed | expired | evicted |
 * | closed / expired / evicted | SessionEnded | SessionEnded | SessionEnded | SessionEnded | no-op | no-op |
 */
import { Either, Schema } from "effect"
import { InvalidTransition, SessionEnded } from "./Errors.js"
import { expiresAt, type ExpiryPolicy, limitsOf } from "./Expiry.js"
import type { OwnerId, SessionId, SessionKind, SessionName } from "./Ids.js"
import {
  type EpochMillis,
  isEnded,
  type JsonValue,
  noResponseTimes,
  type Session,
  type SessionStatus
} from "./Session.js"

/**
 * What can happen to a session: `activity` (a touch or recorded activity), `wait` (blocked on outside input),
 * `resume`, `close` (by its owner or an operator), `expire` (by the sweeper) and `evict` (to make room).
 */
export const LifecycleEvent = Schema.Literal("activity", "wait", "resume", "close", "expire", "evict")
export type LifecycleEvent = typeof LifecycleEvent.Type

/** Every lifecycle event, in a fixed order. */
export const lifecycleEvents: ReadonlyArray<LifecycleEvent> = LifecycleEvent.literals

/** Why a transition was refused: the event is not allowed from that status, or the session has ended. */
export type TransitionError = InvalidTransition | SessionEnded

const live: Readonly<Record<"active" | "waiting", Readonly<Record<LifecycleEvent, SessionStatus | undefined>>>> = {
  active: {
    activity: "active",
    wait: "waiting",
    resume: undefined,
    close: "closed",
    expire: "expired",
    evict: "evicted"
  },
  waiting: {
    activity: "waiting",
    wait: undefined,
    resume: "active",
    close: "closed",
    expire: "expired",
    evict: "evicted"
  }
}

/**
 * The status a session moves to when `event` happens to it, or why it cannot.
 *
 * Ended statuses are absorbing: `expire` and `evict` on an ended session are no-ops (they return the same status, so
 * a sweeper racing a close does nothing), and every other event fails with `SessionEnded`. Pure and total.
 */
export const transition = (
  session: { readonly id: SessionId; readonly status: SessionStatus },
  event: LifecycleEvent
): Either.Either<SessionStatus, TransitionError> => {
  const from = session.status
  if (isEnded(from)) {
    return event === "expire" || event === "evict"
      ? Either.right(from)
      : Either.left(new SessionEnded({ id: session.id, status: from }))
  }
  const to = live[from][event]
  return to === undefined
    ? Either.left(new InvalidTransition({ id: session.id, from, event }))
    : Either.right(to)
}

/** What a new session is made of; everything else starts at its initial value. */
export interface NewSession {
  readonly id: SessionId
  readonly owner: OwnerId
  readonly name: SessionName | null
  readonly kind: SessionKind
  readonly data: JsonValue
  /** The instant of creation (from `Clock`). */
  readonly now: EpochMillis
  readonly policy: ExpiryPolicy
}

/** A session as it starts: `active`, version 1, no activity yet, expiring per `policy`. */
export const newSession = (input: NewSession): Session => {
  const limits = { createdAt: input.now, ...limitsOf(input.policy) }
  return {
    id: input.id,
    owner: input.owner,
    name: input.name,
    kind: input.kind,
    status: "active",
    createdAt: input.now,
    lastActiveAt: input.now,
    expiresAt: expiresAt(limits, input.now),
    idleTimeout: limits.idleTimeout,
    maxLifetime: limits.maxLifetime,
    endedAt: null,
    endReason: null,
    messageCount: 0,
    responseTimes: noResponseTimes,
    data: input.data,
    version: 1
  }
}
