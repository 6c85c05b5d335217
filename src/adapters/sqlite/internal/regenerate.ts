/** `SessionStore.regenerate` on the SQLite store: a session moved to a new id in one immediate transaction. */
import { Option } from "effect"
import type { SessionId } from "../../../domain/Ids.js"
import { encode } from "../../../domain/SqlRows.js"
import * as Rules from "../../../domain/StoreRules.js"
import type { SessionStoreSyncShape } from "../../../services/SessionStore.js"
import { orAbort, type SqliteState } from "./SqliteState.js"

/**
 * Reads the session (with its buffered activity and lease) and whatever `newId` holds, applies
 * `StoreRules.applyRegenerate`, and persists it: the old row is deleted before the new one is inserted, so the live
 * name is free for it (the unique index of live names), and the active pointer, which the delete takes with it
 * (foreign keys cascade, leases too), is put back on the new id. The counts do not move: one live session of the same
 * status and owner leaves, one arrives.
 */
export const regenerate = (
  state: SqliteState,
  ...[id, newId, guard = {}]: Parameters<SessionStoreSyncShape["regenerate"]>
): ReturnType<SessionStoreSyncShape["regenerate"]> =>
  state.transaction(() => {
    const held = state.st.session.get(id) === undefined ? undefined : state.held(id)
    const landed = Option.getOrUndefined(orAbort(state.get(newId)))
    const r = orAbort(Rules.applyRegenerate(held, landed, id, newId, guard, state.now()))
    if (r._tag === "expired") state.writer.persist(r.expired)
    if (r._tag === "moved") {
      const owner = r.session.owner
      const pointer = state.st.activeOf.get(owner) as { session_id: SessionId } | undefined
      state.pending.forget(id)
      state.st.deleteById.run(id)
      state.st.insert.run(...encode(r.session))
      if (pointer?.session_id === id) state.st.setActive.run(owner, newId)
    }
    return Rules.regenerated(r)
  })
