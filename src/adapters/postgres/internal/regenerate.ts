/** `SessionStore.regenerate` on the Postgres store: a session moved to a new id in one transaction. */
import { Effect, Option } from "effect"
import type { SessionId } from "../../../domain/Ids.js"
import { encode } from "../../../domain/SqlRows.js"
import * as Rules from "../../../domain/StoreRules.js"
import type { SessionStoreShape } from "../../../services/SessionStore.js"
import type { Db } from "./db.js"
import * as Reads from "./reads.js"
import { held, persist } from "./writes.js"

/**
 * Locks the session's row (`FOR UPDATE`: a concurrent regenerate, write or lease of it waits, then finds it gone),
 * reads what `newId` holds, applies `StoreRules.applyRegenerate`, and persists it: the old row is deleted before the
 * new one is inserted, so the live name is free for it (the unique index of live names), and the active pointer,
 * which the delete takes with it (foreign keys cascade, leases too), is put back on the new id. The counts do not
 * move: one live session of the same status leaves, one arrives.
 */
export const regenerate = (
  db: Db,
  ...[id, newId, guard = {}]: Parameters<SessionStoreShape["regenerate"]>
): ReturnType<SessionStoreShape["regenerate"]> =>
  db.transaction(
    "regenerate",
    Effect.gen(function*() {
      const current = yield* Effect.catchTag(held(db, id), "SessionNotFound", () => Effect.succeed(undefined))
      const landed = Option.getOrUndefined(yield* Reads.get(db, newId))
      const r = yield* Rules.applyRegenerate(current, landed, id, newId, guard, yield* db.now)
      if (r._tag === "expired") yield* persist(db, r.expired)
      if (r._tag === "moved") {
        const owner = r.session.owner
        const pointer = yield* db.rows<{ session_id: SessionId }>("activeOf", [owner])
        yield* db.run("deleteById", [id])
        yield* db.run("insert", encode(r.session))
        if (pointer[0]?.session_id === id) yield* db.run("setActive", [owner, newId])
      }
      return Rules.regenerated(r)
    })
  )
