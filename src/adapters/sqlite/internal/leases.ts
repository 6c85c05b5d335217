/**
 * Leases and active pointers on the SQLite store, each decided by the store rules inside one immediate transaction.
 */
import { type Duration, Either, Option } from "effect"
import type {
  CorruptRecord,
  LeaseHeld,
  SessionEnded,
  SessionNotFound,
  StaleFencingToken
} from "../../../domain/Errors.js"
import type { OwnerId, SessionId } from "../../../domain/Ids.js"
import { type EpochMillis, isEnded, type Session } from "../../../domain/Session.js"
import { decode, rowLease, rowOwner, type SessionRow } from "../../../domain/SqlRows.js"
import type * as Store from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import { Abort, orAbort, type SqliteState } from "./SqliteState.js"

/** `SessionStore.setActive` on the SQLite store (see the port for its contract). */
export const setActive = (
  state: SqliteState,
  owner: OwnerId,
  id: SessionId
): Either.Either<Option.Option<SessionId>, SessionNotFound | SessionEnded> => {
  return state.transaction(() => {
    const row = state.st.byIdWithLease.get(id) as SessionRow | undefined
    const decoded = row === undefined || rowOwner(row) !== owner ? undefined : decode(row)
    const held = decoded === undefined
      ? undefined
      : { session: state.view(orAbort(decoded)), lease: rowLease(row!) }
    const refusal = Rules.activationRefusal(held, id, owner, state.now())
    if (refusal !== undefined) throw new Abort(refusal)
    const previous = state.st.activeOf.get(owner) as { session_id: SessionId } | undefined
    state.st.setActive.run(owner, id)
    return previous === undefined ? Option.none() : Option.some(previous.session_id)
  })
}

/** `SessionStore.getActive` on the SQLite store (see the port for its contract). */
export const getActive = (state: SqliteState, owner: OwnerId): Either.Either<Option.Option<Session>, CorruptRecord> => {
  const row = state.st.activeSession.get(owner) as SessionRow | undefined
  if (row === undefined) return Either.right(Option.none())
  return Either.map(decode(row), (stored) => {
    const session = state.seen(stored, state.now())
    return isEnded(session.status) ? Option.none() : Option.some(session)
  })
}

/** `SessionStore.acquireLease` on the SQLite store (see the port for its contract). */
export const acquireLease = (
  state: SqliteState,
  id: SessionId,
  holder: string,
  ttl: Duration.Duration
): Either.Either<Store.Lease, SessionNotFound | SessionEnded | LeaseHeld> => {
  return state.transaction(() => {
    const now = state.now()
    const refusal = Rules.leaseRefusal(state.held(id), holder, now)
    if (refusal !== undefined) throw new Abort(refusal)
    const token = (state.st.nextToken.get() as { value: number }).value
    const lease = Rules.newLease(id, holder, token, ttl, now)
    state.st.putLease.run(id, holder, token, lease.expiresAt)
    return lease
  })
}

/** `SessionStore.renewLease` on the SQLite store (see the port for its contract). */
export const renewLease = (
  state: SqliteState,
  lease: Store.Lease,
  ttl: Duration.Duration
): Either.Either<Store.Lease, StaleFencingToken> => {
  return state.transaction(() => {
    const renewed = orAbort(Rules.renewLease(lease, state.leaseOf(lease.sessionId), ttl, state.now()))
    state.st.putLease.run(lease.sessionId, lease.holder, lease.token, renewed.expiresAt)
    return renewed
  })
}

/** `SessionStore.releaseLease` on the SQLite store (see the port for its contract). */
export const releaseLease = (state: SqliteState, lease: Store.Lease): void => {
  state.st.releaseLease.run(lease.sessionId, lease.token)
}

/** `SessionStore.leases` on the SQLite store (see the port for its contract). */
export const leases = (state: SqliteState): ReadonlyArray<Store.Lease> => {
  return (state.st.leases.all() as Array<
    { session_id: SessionId; holder: string; token: number; expires_at: EpochMillis }
  >)
    .map((row) => ({ sessionId: row.session_id, holder: row.holder, token: row.token, expiresAt: row.expires_at }))
}
