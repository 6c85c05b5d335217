/** One stored session of the memory store, with its index links, and one owner's list of them. */
import type { OwnerId, SessionId, SessionKind, SessionName } from "../../../domain/Ids.js"
import type { EndReason, EpochMillis, JsonValue, Millis, Session, SessionStatus } from "../../../domain/Session.js"
import type { Lease } from "../../../domain/StoreRecords.js"
import type { RecencyNode } from "../../../internal/Recency.js"

/**
 * One stored session with its index links: the session's fields kept in place, in one object of one shape, so a
 * stored session costs one object and activity or an ending changes fields rather than making a new long-lived
 * record (which the young generation would copy and promote). It has the shape the store rules read (`Held`,
 * `Candidate`): `session` is the record as a `Session` value, made fresh for each reader, who may keep it.
 */
export class Entry implements RecencyNode {
  older: RecencyNode | null = null
  newer: RecencyNode | null = null
  linked = false
  lease: Lease | null = null
  removed = false
  /** The owner's entries before and after this one, in insertion order (`OwnerIndex`). */
  ownerPrev: Entry | null = null
  ownerNext: Entry | null = null
  readonly id: SessionId
  readonly owner: OwnerId
  readonly name: SessionName | null
  readonly kind: SessionKind
  status: SessionStatus
  readonly createdAt: EpochMillis
  lastActiveAt: EpochMillis
  expiresAt: EpochMillis
  readonly idleTimeout: Millis
  readonly maxLifetime: Millis
  endedAt: EpochMillis | null
  endReason: EndReason | null
  messageCount: number
  responseTimes: ReadonlyArray<Millis>
  data: JsonValue
  version: number

  constructor(session: Session, owner: OwnerId, readonly seq: number) {
    this.id = session.id
    this.owner = owner
    this.name = session.name
    this.kind = session.kind
    this.status = session.status
    this.createdAt = session.createdAt
    this.lastActiveAt = session.lastActiveAt
    this.expiresAt = session.expiresAt
    this.idleTimeout = session.idleTimeout
    this.maxLifetime = session.maxLifetime
    this.endedAt = session.endedAt
    this.endReason = session.endReason
    this.messageCount = session.messageCount
    this.responseTimes = session.responseTimes
    this.data = session.data
    this.version = session.version
  }

  /** The stored session, as a value of its own. */
  get session(): Session {
    return {
      id: this.id,
      owner: this.owner,
      name: this.name,
      kind: this.kind,
      status: this.status,
      createdAt: this.createdAt,
      lastActiveAt: this.lastActiveAt,
      expiresAt: this.expiresAt,
      idleTimeout: this.idleTimeout,
      maxLifetime: this.maxLifetime,
      endedAt: this.endedAt,
      endReason: this.endReason,
      messageCount: this.messageCount,
      responseTimes: this.responseTimes,
      data: this.data,
      version: this.version
    }
  }

  /** Stores what a write left of this session (its id, owner, name, kind, creation and limits never change). */
  store(next: Session): void {
    this.status = next.status
    this.lastActiveAt = next.lastActiveAt
    this.expiresAt = next.expiresAt
    this.endedAt = next.endedAt
    this.endReason = next.endReason
    this.messageCount = next.messageCount
    this.responseTimes = next.responseTimes
    this.data = next.data
    this.version = next.version
  }
}

/**
 * One owner's sessions (tombstones included) in insertion order, as a list linked through its entries (no table
 * per owner), and its live sessions by name.
 */
export class OwnerIndex {
  first: Entry | null = null
  last: Entry | null = null
  /** How many entries the owner has. */
  size = 0
  live = 0
  readonly names = new Map<string, Entry>()

  /** `owner`: the owner's id, one string shared by all of its entries. */
  constructor(readonly owner: OwnerId) {}

  /** The owner's entries, in insertion order. */
  entries(): Array<Entry> {
    const all: Array<Entry> = []
    for (let entry = this.first; entry !== null; entry = entry.ownerNext) all.push(entry)
    return all
  }

  /** Adds an entry, newest last. */
  append(entry: Entry): void {
    entry.ownerPrev = this.last
    if (this.last === null) this.first = entry
    else this.last.ownerNext = entry
    this.last = entry
    this.size++
  }

  /** Takes an entry out. */
  unlink(entry: Entry): void {
    if (entry.ownerPrev === null) this.first = entry.ownerNext
    else entry.ownerPrev.ownerNext = entry.ownerNext
    if (entry.ownerNext === null) this.last = entry.ownerPrev
    else entry.ownerNext.ownerPrev = entry.ownerPrev
    entry.ownerPrev = null
    entry.ownerNext = null
    this.size--
  }
}
