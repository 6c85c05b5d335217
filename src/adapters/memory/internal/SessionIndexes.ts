/**
 * The memory store's indexes of its entries: by id, by owner (with live names), in insertion order, an expiry
 * min-heap with lazy deletion, the tombstones by end instant, active pointers, leases and counts by status. Each
 * method keeps all of them in step; none scans the whole store.
 */
import type { OwnerId } from "../../../domain/Ids.js"
import { isEnded, type Session, type SessionStatus } from "../../../domain/Session.js"
import type { Ended, Lease, ListQuery, Page } from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import { Entry, OwnerIndex } from "./Entry.js"
import { MinHeap } from "./MinHeap.js"

export { Entry, OwnerIndex } from "./Entry.js"

/** Every index of one memory store. */
export class SessionIndexes {
  readonly byId = new Map<string, Entry>()
  readonly owners = new Map<OwnerId, OwnerIndex>()
  readonly active = new Map<OwnerId, Entry>()
  readonly leased = new Map<string, Entry>()
  live = 0
  readonly statusCounts: Record<SessionStatus, number> = { active: 0, waiting: 0, closed: 0, expired: 0, evicted: 0 }
  /** Entries in insertion order (by `seq`), with removed ones compacted away once they are half the array. */
  private order: Array<Entry> = []
  private orderGarbage = 0
  private nextSeq = 1
  private readonly expiry = new MinHeap<Entry>()
  private readonly tombstones = new MinHeap<Entry>()

  /** Stores a new session in every index it belongs to. */
  add(session: Session): Entry {
    let owner = this.owners.get(session.owner)
    if (owner === undefined) {
      owner = new OwnerIndex(session.owner)
      this.owners.set(session.owner, owner)
    }
    const entry = new Entry(session, owner.owner, this.nextSeq++)
    this.byId.set(session.id, entry)
    owner.append(entry)
    this.order.push(entry)
    this.statusCounts[session.status]++
    if (isEnded(session.status)) {
      this.tombstones.push(session.endedAt ?? 0, entry)
      return entry
    }
    owner.live++
    this.live++
    if (session.name !== null) owner.names.set(session.name, entry)
    this.schedule(entry, session.expiresAt)
    return entry
  }

  /** A live status moved (or not): the counts follow. */
  moved(from: SessionStatus, to: SessionStatus): void {
    if (from === to) return
    this.statusCounts[from]--
    this.statusCounts[to]++
  }

  /**
   * Gives the entry a node in the expiry heap keyed at most its `expiresAt`. A live entry always has one: its
   * `expiresAt` only moves later (activity), and a node that surfaces before it is re-keyed then (`popDue`).
   */
  schedule(entry: Entry, key: number): void {
    this.expiry.push(key, entry)
  }

  /** Sets or clears an entry's lease, and the table of leased entries. */
  setLease(entry: Entry, lease: Lease | null): void {
    entry.lease = lease
    if (lease === null) this.leased.delete(entry.id)
    else this.leased.set(entry.id, entry)
  }

  /** A live entry ended as `next`: its name, live counts, active pointer and lease go; it joins the tombstones. */
  ended(entry: Entry, next: Session): void {
    this.retire(entry, next.status)
    entry.store(next)
    this.tombstones.push(next.endedAt ?? 0, entry)
  }

  /**
   * A live entry expired as `ending` (`StoreRules.expiryEnding`) says, recorded in place: `ended` with the expired
   * session, made of the entry's own fields rather than a new copy of the session.
   */
  expired(entry: Entry, ending: Ended): void {
    this.retire(entry, "expired")
    entry.status = "expired"
    entry.endedAt = ending.endedAt
    entry.endReason = ending.endReason
    entry.version++
    this.tombstones.push(ending.endedAt, entry)
  }

  /** A live entry ending as `status`: out of the names, live counts, active pointers and leases. */
  private retire(entry: Entry, status: SessionStatus): void {
    const owner = this.owners.get(entry.owner)!
    if (entry.name !== null && owner.names.get(entry.name) === entry) owner.names.delete(entry.name)
    owner.live--
    this.live--
    this.moved(entry.status, status)
    if (this.active.get(entry.owner) === entry) this.active.delete(entry.owner)
    if (entry.lease !== null) this.setLease(entry, null)
  }

  /**
   * Moves a live entry's session to a new entry under another id (`StoreRules.applyRegenerate`): the old entry leaves
   * every index with its lease, the new one joins them with the same status, name and expiry, and takes the owner's
   * active pointer if the old one had it. Returns the new entry.
   */
  moveTo(entry: Entry, session: Session): Entry {
    const active = this.active.get(entry.owner) === entry
    this.retire(entry, entry.status)
    this.drop(entry)
    const moved = this.add(session)
    if (active) this.active.set(moved.owner, moved)
    return moved
  }

  /** Deletes an entry (a tombstone, or one an operator removes) from every index. */
  drop(entry: Entry): void {
    entry.removed = true
    this.byId.delete(entry.id)
    this.statusCounts[entry.status]--
    const owner = this.owners.get(entry.owner)!
    owner.unlink(entry)
    if (owner.size === 0) this.owners.delete(entry.owner)
    if (++this.orderGarbage * 2 > this.order.length) {
      // Amortised O(1) per removal: the array is rebuilt once half of it is garbage.
      this.order = this.order.filter((e) => !e.removed)
      this.orderGarbage = 0
    }
  }

  /** Deletes up to `limit` tombstones that ended at or before `cutoff`, oldest first. */
  purge(cutoff: number, limit: number): number {
    let purged = 0
    while (purged < limit && this.tombstones.peekKey() <= cutoff) {
      const entry = this.tombstones.pop()
      if (entry.removed) continue
      this.drop(entry)
      purged++
    }
    return purged
  }

  /**
   * Pops up to `limit` live entries due at `now` that `accept` takes, earliest expiry first, re-keying entries whose
   * expiry moved later and dropping nodes of ended entries. The caller schedules again what it does not end.
   */
  popDue(limit: number, now: number, accept: (entry: Entry) => boolean): Array<Entry> {
    const due: Array<Entry> = []
    const heap = this.expiry
    while (due.length < limit && heap.peekKey() <= now) {
      const key = heap.peekKey()
      const entry = heap.pop()
      // Nodes of ended or removed entries are dropped as they surface, and so is one keyed after the entry's
      // expiry: a write that brought the expiry earlier gave the entry another node, at its new expiry.
      if (entry.removed || isEnded(entry.status) || key > entry.expiresAt) continue
      if (key < entry.expiresAt) {
        this.schedule(entry, entry.expiresAt)
        continue
      }
      if (accept(entry)) due.push(entry)
    }
    return due
  }

  /** One page of a listing after position `after`, each session as seen at `now`, filtered as seen. */
  page(query: ListQuery, after: number, now: number): Page {
    const limit = Math.max(1, Math.floor(query.limit))
    const sessions: Array<Session> = []
    let last = 0
    let more = false
    const visit = (entry: Entry): boolean => {
      if (entry.removed || entry.seq <= after) return true
      const session = Rules.seenAt(entry, now)
      if (!Rules.matchesQuery(query, session)) return true
      if (sessions.length === limit) {
        more = true
        return false
      }
      sessions.push(session)
      last = entry.seq
      return true
    }
    if (query.owner !== undefined) {
      const owner = this.owners.get(query.owner)
      for (let entry = owner?.first ?? null; entry !== null; entry = entry.ownerNext) if (!visit(entry)) break
    } else {
      for (let i = this.firstAfter(after); i < this.order.length; i++) if (!visit(this.order[i]!)) break
    }
    return { sessions, next: more ? Rules.cursorOf(last) : null, corrupt: [] }
  }

  /** The index in `order` of the first entry with a seq above `seq` (binary search). */
  private firstAfter(seq: number): number {
    let low = 0
    let high = this.order.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.order[mid]!.seq <= seq) low = mid + 1
      else high = mid
    }
    return low
  }
}
