/**
 * The in-memory `SessionStore`: Maps and incrementally kept indexes in one process, for tests, development and
 * single-process services that accept losing sessions on restart.
 *
 * Costs: `get`, `touch`, `update`, `setActive` and leases O(1); `insert` O(log n) (plus O(k) per eviction);
 * `dueForExpiry` and `expire` O(k log n) for k due among n (an expiry min-heap with lazy deletion); `purge` O(k log n);
 * `leastRecentlyActive` O(k) (a recency list, O(1) per touch); `list` by owner O(sessions of the owner), otherwise
 * from the cursor onwards; `counts` O(1). Time is read only through `Clock`.
 */
import { Effect, Layer } from "effect"
import type { EpochMillis } from "../../domain/Session.js"
import { SessionStore, type SessionStoreShape } from "../../services/SessionStore.js"
import { MemoryState } from "./internal/MemoryState.js"

/** Builds an empty in-memory store that reads time from the current `Clock`. */
export const make: Effect.Effect<SessionStoreShape> = Effect.map(Effect.clock, (clock) => {
  const state = new MemoryState(() => clock.unsafeCurrentTimeMillis() as EpochMillis)
  return {
    direct: state,
    selfBounded: true,
    insert: (session, options) => Effect.suspend(() => state.insert(session, options)),
    get: (id) => Effect.sync(() => state.get(id)),
    update: (id, write) => Effect.suspend(() => state.update(id, write)),
    touch: (id, activity) => Effect.suspend(() => state.touch(id, activity)),
    list: (query) => Effect.suspend(() => state.list(query)),
    counts: Effect.sync(() => state.counts()),
    ownerCounts: (owner) => Effect.sync(() => state.ownerCounts(owner)),
    dueForExpiry: (limit) => Effect.sync(() => state.dueForExpiry(limit)),
    expire: (limit) => Effect.sync(() => state.expire(limit)),
    leastRecentlyActive: (limit, owner) => Effect.sync(() => state.leastRecentlyActive(limit, owner)),
    purge: (retention, limit) => Effect.sync(() => state.purge(retention, limit)),
    setActive: (owner, id) => Effect.suspend(() => state.setActive(owner, id)),
    getActive: (owner) => Effect.sync(() => state.getActive(owner)),
    acquireLease: (id, holder, ttl) => Effect.suspend(() => state.acquireLease(id, holder, ttl)),
    renewLease: (lease, ttl) => Effect.suspend(() => state.renewLease(lease, ttl)),
    releaseLease: (lease) => Effect.sync(() => state.releaseLease(lease)),
    leases: Effect.sync(() => state.leases()),
    remove: (id, reason) => Effect.sync(() => state.remove(id, reason)),
    flush: Effect.void
  }
})

/** A fresh in-memory store per build of the layer. */
export const layer: Layer.Layer<SessionStore> = Layer.effect(SessionStore, make)
