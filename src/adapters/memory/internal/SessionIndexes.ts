/**
 * The memory store's indexes of its entries: by id, by owner (with live names), in insertion order, an expiry
 * min-heap with lazy deletion, the tombstones by end instant, active pointers, leases and counts by status. Each
 * method keeps all of them in step; none scans the whole store.
 */
import type { OwnerId } from "../../../domain/Ids.js"
import { isEnded, type Session, type SessionStatus } from "../../../domain/Session.js"
import type { Lease, ListQuery, Page } from "../../../domain/StoreRecords.js"
import * as Rules from "../../../domain/StoreRules.js"
import type { RecencyNode } from "../../../internal/Recency.js"
import { MinHeap } from "./MinHeap.js"

/**
 * One stored session with its index links. It has the shape the store rules read (`Held`, `Candidate`): the rules
 * decide on the entry itself, with no copy.
 */
export class Entry implements RecencyNode {
  older: RecencyNode | null = null
  newer: RecencyNode | null = null
  linked = false
  lease: Lease | null = null
  removed = false
  /** The key of this entry's current node in the expiry heap; never above `session.expiresAt` while live. */
  heapKey: number
  /** The tag of this entry's current node in the expiry heap: nodes with another tag are stale. */
  heapTag = 0
  constructor(public session: Session, readonly seq: number) {
    this.heapKey = session.expiresAt
  }
}

/** One owner's sessions (tombstones included) and its live sessions by name. */
export interface OwnerIndex {
  readonly entries: Set<Entry>
  readonly names: Map<string, Entry>
  live: number
}

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
    const entry = new Entry(session, this.nextSeq++)
    this.byId.set(session.id, entry)
    let owner = this.owners.get(session.owner)
    if (owner === undefined) {
      owner = { entries: new Set(), names: new Map(), live: 0 }
      this.owners.set(session.owner, owner)
    }
    owner.entries.add(entry)
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

  /** Gives the entry a new canonical node in the expiry heap; its older nodes become stale. */
  schedule(entry: Entry, key: number): void {
    entry.heapKey = key
    this.expiry.push(key, entry, ++entry.heapTag)
  }

  /** Sets or clears an entry's lease, and the table of leased entries. */
  setLease(entry: Entry, lease: Lease | null): void {
    entry.lease = lease
    if (lease === null) this.leased.delete(entry.session.id)
    else this.leased.set(entry.session.id, entry)
  }

  /** A live entry ended as `next`: its name, live counts, active pointer and lease go; it joins the tombstones. */
  ended(entry: Entry, next: Session): void {
    const current = entry.session
    const owner = this.owners.get(current.owner)!
    if (current.name !== null && owner.names.get(current.name) === entry) owner.names.delete(current.name)
    owner.live--
    this.live--
    this.moved(current.status, next.status)
    if (this.active.get(current.owner) === entry) this.active.delete(current.owner)
    if (entry.lease !== null) this.setLease(entry, null)
    entry.session = next
    this.tombstones.push(next.endedAt ?? 0, entry)
  }

  /** Deletes an entry (a tombstone, or one an operator removes) from every index. */
  drop(entry: Entry): void {
    const session = entry.session
    entry.removed = true
    this.byId.delete(session.id)
    this.statusCounts[session.status]--
    const owner = this.owners.get(session.owner)!
    owner.entries.delete(entry)
    if (owner.entries.size === 0) this.owners.delete(session.owner)
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
   * expiry moved and dropping nodes of ended or stale entries. The caller schedules again what it does not end.
   */
  popDue(limit: number, now: number, accept: (entry: Entry) => boolean): Array<Entry> {
    const due: Array<Entry> = []
    const heap = this.expiry
    while (due.length < limit && heap.peekKey() <= now) {
      const key = heap.peekKey()
      const entry = heap.pop()
      if (entry.removed || isEnded(entry.session.status) || heap.poppedTag !== entry.heapTag) continue
      if (key < entry.session.expiresAt) {
        this.schedule(entry, entry.session.expiresAt)
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
      for (const entry of this.owners.get(query.owner)?.entries ?? []) if (!visit(entry)) break
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
