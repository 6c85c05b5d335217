/**
 * The SQLite store's operations, in both forms it offers: synchronous (`SessionStoreSync`), where a write runs at
 * once (with any writes queued before it), and as the `SessionStore` port, where concurrent writes are queued and
 * committed together (group commit). Reads run at once in both, on what has been committed.
 */
import { Effect, Either } from "effect"
import type { StoreFailure } from "../../../domain/Errors.js"
import type { SessionStoreShape, SessionStoreSyncShape } from "../../../services/SessionStore.js"
import { storeFailure } from "./errors.js"
import type { GroupCommit } from "./GroupCommit.js"
import * as Leases from "./leases.js"
import * as Listing from "./listing.js"
import { regenerate } from "./regenerate.js"
import type { SqliteState } from "./SqliteState.js"
import * as Upkeep from "./upkeep.js"

const ok = <A>(value: A): Either.Either<A, never> => Either.right(value)

/** A read on the calling thread, its exceptions (busy, locked, I/O) turned into store failures. */
const read = <A, E>(operation: string, f: () => Either.Either<A, E>): Either.Either<A, E | StoreFailure> => {
  try {
    return f()
  } catch (error) {
    return Either.left(storeFailure(operation, error))
  }
}

/** The bodies of the writes that may share a transaction: each returns its outcome and runs atomically. */
const writesOver = (state: SqliteState) => ({
  insert: (...[session, options]: Parameters<SessionStoreSyncShape["insert"]>) => () => state.insert(session, options),
  update: (...[id, write]: Parameters<SessionStoreSyncShape["update"]>) => () => state.update(id, write),
  touch: (...[id, activity, owner]: Parameters<SessionStoreSyncShape["touch"]>) => () =>
    state.touch(id, activity, owner),
  regenerate: (...[id, newId, guard]: Parameters<SessionStoreSyncShape["regenerate"]>) => () =>
    regenerate(state, id, newId, guard),
  expire: (limit: number) => () => ok(Upkeep.expire(state, limit)),
  setActive: (...[owner, id]: Parameters<SessionStoreSyncShape["setActive"]>) => () =>
    Leases.setActive(state, owner, id),
  acquireLease: (...[id, holder, ttl]: Parameters<SessionStoreSyncShape["acquireLease"]>) => () =>
    Leases.acquireLease(state, id, holder, ttl),
  renewLease: (...[lease, ttl]: Parameters<SessionStoreSyncShape["renewLease"]>) => () =>
    Leases.renewLease(state, lease, ttl),
  releaseLease: (...[lease]: Parameters<SessionStoreSyncShape["releaseLease"]>) => () =>
    ok(Leases.releaseLease(state, lease)),
  remove: (...[id, reason]: Parameters<SessionStoreSyncShape["remove"]>) => () => ok(Upkeep.remove(state, id, reason))
})

/**
 * The synchronous operations. A write runs alone when nothing is queued; otherwise it joins the writes queued before
 * it and commits them with it, so writes stay in arrival order whichever form made them. `purge` and `flush` never
 * share a transaction (purge may give pages back to the file system after its own).
 */
export const syncOver = (state: SqliteState, commits: GroupCommit): SessionStoreSyncShape => {
  const w = writesOver(state)
  return {
    insert: (session, options) => commits.now("insert", w.insert(session, options)),
    get: (id) => {
      try {
        return state.get(id)
      } catch (error) {
        return Either.left(storeFailure("get", error))
      }
    },
    update: (id, write) => commits.now("update", w.update(id, write)),
    touch: (id, activity, owner) => commits.now("touch", w.touch(id, activity, owner)),
    regenerate: (id, newId, guard) => commits.now("regenerate", w.regenerate(id, newId, guard)),
    list: (query) => read("list", () => Listing.list(state, query)),
    counts: () => read("counts", () => ok(Listing.counts(state))),
    ownerCounts: (owner) => read("ownerCounts", () => ok(Listing.ownerCounts(state, owner))),
    expire: (limit) => commits.now("expire", w.expire(limit)),
    purge: (retention, limit) => commits.alone("purge", () => ok(Upkeep.purge(state, retention, limit))),
    setActive: (owner, id) => commits.now("setActive", w.setActive(owner, id)),
    getActive: (owner) => read("getActive", () => Leases.getActive(state, owner)),
    acquireLease: (id, holder, ttl) => commits.now("acquireLease", w.acquireLease(id, holder, ttl)),
    renewLease: (lease, ttl) => commits.now("renewLease", w.renewLease(lease, ttl)),
    releaseLease: (lease) => commits.now("releaseLease", w.releaseLease(lease)),
    leases: () => read("leases", () => ok(Leases.leases(state))),
    remove: (id, reason) => commits.now("remove", w.remove(id, reason)),
    flush: () => commits.alone("flush", () => ok(state.flush())),
    grouped
  }
}

/**
 * The writes whose `SessionStore` form joins the writes of concurrent callers in one transaction. Touch is not among
 * them: it changes buffered activity (written behind, `touchCoalesce`), so a transaction of its own costs it nothing
 * that sharing would save.
 */
const grouped: ReadonlySet<keyof SessionStoreShape> = new Set<keyof SessionStoreShape>([
  "insert",
  "update",
  "regenerate",
  "expire",
  "setActive",
  "acquireLease",
  "renewLease",
  "releaseLease",
  "remove"
])

/**
 * The `SessionStore` port: writes queued and committed in groups (each answered after its commit), reads and the
 * operations that never share a transaction made through `sync` when the effect runs.
 */
export const storeOver = (state: SqliteState, commits: GroupCommit, sync: SessionStoreSyncShape): SessionStoreShape => {
  const w = writesOver(state)
  return {
    insert: (session, options) => commits.submit("insert", w.insert(session, options)),
    get: (id) => Effect.suspend(() => sync.get(id)),
    update: (id, write) => commits.submit("update", w.update(id, write)),
    touch: (id, activity, owner) => commits.submit("touch", w.touch(id, activity, owner)),
    regenerate: (id, newId, guard) => commits.submit("regenerate", w.regenerate(id, newId, guard)),
    list: (query) => Effect.suspend(() => sync.list(query)),
    counts: Effect.suspend(() => sync.counts()),
    ownerCounts: (owner) => Effect.suspend(() => sync.ownerCounts(owner)),
    expire: (limit) => commits.submit("expire", w.expire(limit)),
    purge: (retention, limit) => Effect.suspend(() => sync.purge(retention, limit)),
    setActive: (owner, id) => commits.submit("setActive", w.setActive(owner, id)),
    getActive: (owner) => Effect.suspend(() => sync.getActive(owner)),
    acquireLease: (id, holder, ttl) => commits.submit("acquireLease", w.acquireLease(id, holder, ttl)),
    renewLease: (lease, ttl) => commits.submit("renewLease", w.renewLease(lease, ttl)),
    releaseLease: (lease) => commits.submit("releaseLease", w.releaseLease(lease)),
    leases: Effect.suspend(() => sync.leases()),
    remove: (id, reason) => commits.submit("remove", w.remove(id, reason)),
    flush: Effect.suspend(() => sync.flush())
  }
}
