/**
 * The manager's event log: a ring buffer of the last `capacity` events that subscribers read by sequence number.
 *
 * Publishing is O(1) and never waits for anyone. A subscriber is only a cursor: one that stops reading holds no
 * memory and slows nothing; when it reads again after the buffer moved past it, it receives `EventsMissed` for the
 * events it lost (counted through `onDropped`) and goes on from the oldest event still kept.
 */
import { Chunk, Deferred, Effect, Exit, FiberId, Option, Stream } from "effect"
import type { EventPosition, EventsMissed, SessionEvent, SubscriptionItem } from "../../domain/Events.js"

/** An event before the log numbers it. */
export type UnnumberedEvent = SessionEvent extends infer E ? E extends SessionEvent ? Omit<E, "seq"> : never : never

const readBatch = 512

/** A bounded log of session events with replay and live subscriptions. */
export class EventLog {
  private readonly ring: Array<SessionEvent | undefined>
  /** The sequence number the next event gets; events 1 .. lastSeq have been published. */
  private nextSeq = 1
  private wake: Deferred.Deferred<void> | null = null
  private closed = false

  constructor(
    private readonly capacity: number,
    private readonly onDropped: (count: number) => void,
    /** Names this run of the sequence: positions of another epoch are from before a restart, or another node. */
    readonly epoch: string
  ) {
    this.ring = new Array(capacity)
  }

  /** The sequence number of the last event published (0 before any). */
  get lastSeq(): number {
    return this.nextSeq - 1
  }

  /** How many events are kept for replay (at most the capacity). */
  get buffered(): number {
    return Math.min(this.nextSeq - 1, this.capacity)
  }

  /**
   * Numbers and stores an event, overwriting the oldest when full, and wakes waiting subscribers. The event object is
   * the log's from then on: it is numbered in place rather than copied.
   */
  publish(event: UnnumberedEvent): SessionEvent {
    const numbered = event as { seq?: number } & UnnumberedEvent
    numbered.seq = this.nextSeq
    this.ring[this.nextSeq % this.capacity] = numbered as SessionEvent
    this.nextSeq++
    if (this.wake !== null) {
      const wake = this.wake
      this.wake = null
      Deferred.unsafeDone(wake, Exit.void)
    }
    return numbered as SessionEvent
  }

  /**
   * Events after `after` (at most `max`), preceded by an `EventsMissed` when some were already dropped, and the
   * cursor to continue from.
   */
  read(after: number, max: number): { readonly items: Array<SubscriptionItem>; readonly cursor: number } {
    const oldest = Math.max(1, this.nextSeq - this.capacity)
    const items: Array<SubscriptionItem> = []
    let from = after + 1
    if (from < oldest) {
      const missed: EventsMissed = { _tag: "EventsMissed", from, count: oldest - from }
      items.push(missed)
      this.onDropped(missed.count)
      from = oldest
    }
    const to = Math.min(this.nextSeq, from + max)
    for (let seq = from; seq < to; seq++) items.push(this.ring[seq % this.capacity]!)
    return { items, cursor: to - 1 }
  }

  /** Ends every subscription once it has read what was published. */
  close(): void {
    this.closed = true
    if (this.wake !== null) Deferred.unsafeDone(this.wake, Exit.void)
    this.wake = null
  }

  /**
   * Events after `after` (default: the events published after this call), then live ones as they come, until the
   * log closes. Replay reaches back at most `capacity` events; older ones arrive as one `EventsMissed`. A position of
   * another epoch (before a restart) gets an `EventsMissed` with `restarted`, then every event still kept.
   */
  subscribe(after?: number | EventPosition): Stream.Stream<SubscriptionItem> {
    const foreign = typeof after === "object" && after.epoch !== this.epoch
    const start = after === undefined ? this.lastSeq : typeof after === "number" ? after : foreign ? 0 : after.seq
    return Stream.suspend(() => {
      let cursor = Math.max(0, Math.min(start, this.lastSeq))
      let restarted = foreign
      const pull: Effect.Effect<Chunk.Chunk<SubscriptionItem>, Option.Option<never>> = Effect.suspend(() => {
        if (restarted) {
          restarted = false
          const oldest = Math.max(1, this.nextSeq - this.capacity)
          cursor = oldest - 1
          if (cursor > 0) this.onDropped(cursor)
          return Effect.succeed(
            Chunk.of<SubscriptionItem>({ _tag: "EventsMissed", from: 1, count: cursor, restarted: true })
          )
        }
        if (cursor < this.lastSeq) {
          const batch = this.read(cursor, readBatch)
          cursor = batch.cursor
          return Effect.succeed(Chunk.unsafeFromArray(batch.items))
        }
        if (this.closed) return Effect.fail(Option.none())
        if (this.wake === null) this.wake = Deferred.unsafeMake(FiberId.none)
        return Effect.zipRight(Deferred.await(this.wake), pull)
      })
      return Stream.repeatEffectChunkOption(pull)
    })
  }
}
