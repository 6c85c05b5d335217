/** Shared helpers of the store contract suite: session factories and a default expiry policy. */
import { Clock, Duration, Effect } from "effect"
import type { ExpiryPolicy } from "../../src/domain/Expiry.js"
import { makeSessionId, type OwnerId, type SessionKind, type SessionName } from "../../src/domain/Ids.js"
import { newSession } from "../../src/domain/Lifecycle.js"
import type { EpochMillis, JsonValue, Session } from "../../src/domain/Session.js"
import type { InsertOptions } from "../../src/services/SessionStore.js"

export const policy: ExpiryPolicy = { idleTimeout: Duration.minutes(15), maxLifetime: Duration.hours(24) }

export const roomy: InsertOptions = { maxSessions: 1_000_000, maxSessionsPerOwner: 1_000_000, capacityPolicy: "reject" }

export const owner = (name: string) => name as OwnerId

export interface SessionSpec {
  readonly owner?: string
  readonly name?: string | null
  readonly kind?: string
  readonly data?: JsonValue
  readonly policy?: ExpiryPolicy
}

/** A new session created at the current (test) clock time. */
export const aSession = (spec: SessionSpec = {}): Effect.Effect<Session> =>
  Effect.map(Clock.currentTimeMillis, (now) =>
    newSession({
      id: makeSessionId(),
      owner: (spec.owner ?? "alice") as OwnerId,
      name: (spec.name ?? null) as SessionName | null,
      kind: (spec.kind ?? "chat") as SessionKind,
      data: spec.data ?? { messages: [] },
      now: now as EpochMillis,
      policy: spec.policy ?? policy
    }))
