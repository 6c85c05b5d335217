/**
 * The in-memory `SessionStore`: Maps and incrementally kept indexes in one process, for tests, development and
 * single-process services that accept losing sessions on restart. It also offers `SessionStoreSync`: every operation
 * answered synchronously, since none of them waits on anything.
 *
 * Costs: `get`, `touch`, `update`, `setActive` and leases O(1); `insert` O(log n) (plus O(k) per eviction);
 * `expire` O(k log n) for k due among n (an expiry min-heap with lazy deletion); `purge` O(k log n); eviction O(k)
 * (a recency list, O(1) per touch); `list` by owner O(sessions of the owner), otherwise from the cursor onwards;
 * `counts` O(1). Time is read only through `Clock`.
 */
import { Context, Effect, Either, Layer } from "effect"
import { epochMillisOf } from "../../domain/Session.js"
import {
  fromSync,
  SessionStore,
  type SessionStoreShape,
  SessionStoreSync,
  type SessionStoreSyncShape
} from "../../services/SessionStore.js"
import { MemoryState } from "./internal/MemoryState.js"

/** The store's synchronous operations over one state (`SessionStoreSync`); the `SessionStore` is made from them. */
const syncOver = (state: MemoryState): SessionStoreSyncShape => ({
  insert: (session, options) => state.insert(session, options),
  get: (id) => Either.right(state.get(id)),
  update: (id, write) => state.update(id, write),
  touch: (id, activity, owner) => state.touch(id, activity, owner),
  regenerate: (id, newId, guard) => state.regenerate(id, newId, guard),
  list: (query) => state.list(query),
  counts: () => Either.right(state.counts()),
  ownerCounts: (owner) => Either.right(state.ownerCounts(owner)),
  expire: (limit) => Either.right(state.expire(limit)),
  purge: (retention, limit) => Either.right(state.purge(retention, limit)),
  setActive: (owner, id) => state.setActive(owner, id),
  getActive: (owner) => Either.right(state.getActive(owner)),
  acquireLease: (id, holder, ttl) => state.acquireLease(id, holder, ttl),
  renewLease: (lease, ttl) => state.renewLease(lease, ttl),
  releaseLease: (lease) => Either.right(state.releaseLease(lease)),
  leases: () => Either.right(state.leases()),
  remove: (id, reason) => Either.right(state.remove(id, reason)),
  flush: () => Either.void
})

const fresh = Effect.map(
  Effect.clock,
  (clock) => syncOver(new MemoryState(() => epochMillisOf(clock)))
)

/** Builds an empty in-memory store that reads time from the current `Clock`. */
export const make: Effect.Effect<SessionStoreShape> = Effect.map(fresh, fromSync)

/** A fresh in-memory store per build of the layer, with its synchronous capability (`SessionStoreSync`). */
export const layer: Layer.Layer<SessionStore | SessionStoreSync> = Layer.effectContext(
  Effect.map(fresh, (sync) => Context.make(SessionStore, fromSync(sync)).pipe(Context.add(SessionStoreSync, sync)))
)
