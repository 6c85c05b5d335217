/**
 * What must hold of a manager once its workload is over: every store invariant (test/contract/invariants.ts), the
 * manager's counts equal to the store's, no operation in flight, no lock entry and no lease left, nothing that
 * succeeded on a session after it ended, and nothing acknowledged lost.
 */
import { expect } from "@effect/vitest"
import { Effect, Option } from "effect"
import {
  isEnded,
  type Session,
  SessionId,
  SessionManager,
  SessionStore,
  type SessionStoreShape
} from "../../../src/index.js"
import { storeInvariants } from "../../contract/invariants.js"
import type { Stored } from "./ledger.js"
import type { Workload } from "./workload.js"

/** Reads every session of the ledger from `store` (unwrapped: no fault, no retry) as the ledger compares them. */
export const storedStates = (store: SessionStoreShape, ids: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const states = new Map<string, Stored>()
    for (const id of ids) {
      const found = yield* store.get(SessionId.make(id))
      if (Option.isSome(found)) states.set(id, found.value)
    }
    return states
  })

/**
 * Checks everything listed in the header, reading the store in context for the invariants and `unwrapped` for the
 * acknowledged writes. Returns the full scan and the figures worth reporting.
 */
export const checkAfterWorkload = (
  w: Workload,
  limits: { readonly maxSessions: number; readonly maxSessionsPerOwner: number },
  unwrapped?: SessionStoreShape
) =>
  Effect.gen(function*() {
    const m = yield* SessionManager.SessionManager
    const store = yield* SessionStore
    const all: ReadonlyArray<Session> = yield* storeInvariants(w.owners, limits)
    const stats = yield* m.stats
    expect(stats.counts).toEqual(yield* store.counts)
    expect(stats.inFlight).toBe(0)
    expect(stats.locksHeld).toBe(0)
    expect(yield* store.leases).toEqual([])
    // Nothing but a read or the close itself succeeded on a session after it ended.
    const endedAt = new Map(all.filter((s) => s.endedAt !== null).map((s) => [s.id, s.endedAt!]))
    const late = w.successes.filter((success) =>
      success.op !== "get" && success.op !== "close" &&
      (isEnded(success.session.status) || (endedAt.get(success.session.id) ?? Infinity) < Math.floor(success.at))
    )
    expect(late.map((s) => `${s.op} on ${s.session.id} at ${s.at}`)).toEqual([])
    const states = yield* storedStates(unwrapped ?? store, w.ledger.ids())
    expect(w.ledger.lost((id) => states.get(id))).toEqual([])
    return { all, stats }
  })
