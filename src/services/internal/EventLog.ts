/**
 * The manager's event log: a ring of the last `capacity` events, for replay after a sequence number, and live
 * delivery to each subscriber through a bounded queue of its own.
 *
 * Publishing is O(subscribers) and never waits for anyone: each subscriber's queue is a sliding `Queue` of `capacity`
 * events, so a subscriber that stops reading keeps at most that many (references to events the ring holds anyway)
 * and, once its queue is full, the oldest are dropped for it. When it reads again, the gap in sequence numbers is
 * reported as `EventsMissed` (counted through `onDropped`) in place of what it lost. Closing ends every subscription
 * once it has read what was published.
 */
import { Chunk, Effect, Option, Queue, Stream } from "effect"
import type { EventPosition, EventsMissed, SessionEvent, SubscriptionItem } from "../../domain/Events.js"
import type { UnnumberedEvent } from "../SessionEventBus.js"

export type { UnnumberedEvent } from "../SessionEventBus.js"

/** What a subscriber's queue carries: events, and the end of the log. */
type Delivery = SessionEvent | typeof ended

const ended = Symbol.for("effect-sessions/EventLog/ended")

/** Most items a subscriber takes from its queue at once. */
const readBatch = 512

/** A bounded log of session events with replay and live subscriptions. */
export class EventLog {
  private readonly ring: Array<SessionEvent | undefined>
  /** The sequence number the next event gets; events 1 .. lastSeq have been published. */
  private nextSeq = 1
  private readonly subscribers = new Set<Queue.Queue<Delivery>>()
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
   * Numbers and stores an event, overwriting the oldest when full, and offers it to every subscriber's queue. The
   * event object is the log's from then on: it is numbered in place rather than copied.
   */
  publish(event: UnnumberedEvent): SessionEvent {
    const numbered = event as { seq?: number } & UnnumberedEvent
    numbered.seq = this.nextSeq
    this.ring[this.nextSeq % this.capacity] = numbered as SessionEvent
    this.nextSeq++
    for (const queue of this.subscribers) Queue.unsafeOffer(queue, numbered as SessionEvent)
    return numbered as SessionEvent
  }

  /**
   * Takes an event numbered elsewhere (a shared bus), in sequence order: stored and offered like a published one. A
   * gap in the numbers (an `EventsMissed` of the bus, or a number past the next one) is left empty in the ring, so
   * replay and live subscribers report it as missed.
   */
  ingest(item: SessionEvent | EventsMissed): void {
    if (item._tag === "EventsMissed") {
      this.skipTo(item.from + item.count)
      return
    }
    if (item.seq < this.nextSeq) return
    this.skipTo(item.seq)
    this.ring[item.seq % this.capacity] = item
    this.nextSeq = item.seq + 1
    for (const queue of this.subscribers) Queue.unsafeOffer(queue, item)
  }

  /** Moves the next number to `seq`, emptying the ring's slots of the numbers skipped. */
  private skipTo(seq: number): void {
    for (let s = Math.max(this.nextSeq, seq - this.capacity); s < seq; s++) this.ring[s % this.capacity] = undefined
    if (seq > this.nextSeq) this.nextSeq = seq
  }

  /**
   * Events after `after` still in the ring (at most `max`), preceded by an `EventsMissed` when some were already
   * dropped, and the cursor to continue from.
   */
  private replay(after: number, max: number): { readonly items: Array<SubscriptionItem>; readonly cursor: number } {
    const oldest = Math.max(1, this.nextSeq - this.capacity)
    const items: Array<SubscriptionItem> = []
    let from = after + 1
    if (from < oldest) {
      items.push(this.missed(from, oldest - from))
      from = oldest
    }
    const to = Math.min(this.nextSeq, from + max)
    let missing = 0
    for (let seq = from; seq < to; seq++) {
      const event = this.ring[seq % this.capacity]
      // Empty for numbers a shared bus skipped: reported as missed, as a gap of its own.
      if (event === undefined || event.seq !== seq) missing++
      else {
        if (missing > 0) items.push(this.missed(seq - missing, missing))
        missing = 0
        items.push(event)
      }
    }
    if (missing > 0) items.push(this.missed(to - missing, missing))
    return { items, cursor: to - 1 }
  }

  private missed(from: number, count: number, restarted?: true): EventsMissed {
    if (count > 0) this.onDropped(count)
    return restarted === undefined ? { _tag: "EventsMissed", from, count } : {
      _tag: "EventsMissed",
      from,
      count,
      restarted
    }
  }

  /** Ends every subscription once it has read what was published. */
  close(): void {
    this.closed = true
    for (const queue of this.subscribers) Queue.unsafeOffer(queue, ended)
  }

  /**
   * Events after `after` (default: the events published after this call), then live ones as they come, until the
   * log closes. Replay reaches back at most `capacity` events; older ones arrive as one `EventsMissed`. A position of
   * another epoch (before a restart) gets an `EventsMissed` with `restarted`, then every event still kept.
   */
  subscribe(after?: number | EventPosition): Stream.Stream<SubscriptionItem> {
    // Where it starts is fixed now, when the subscription is made, not when the stream first runs.
    const foreign = typeof after === "object" && after.epoch !== this.epoch
    const start = after === undefined ? this.lastSeq : typeof after === "number" ? after : foreign ? 0 : after.seq
    return Stream.unwrapScoped(Effect.gen(this, function*() {
      // Sliding: a subscriber that stops reading keeps the newest `capacity` events; the gap tells it what it lost.
      const queue = yield* Effect.acquireRelease(
        Effect.tap(Queue.sliding<Delivery>(this.capacity + 1), (queue) =>
          Effect.sync(() => {
            this.subscribers.add(queue)
            if (this.closed) Queue.unsafeOffer(queue, ended)
          })),
        (queue) => Effect.zipRight(Effect.sync(() => this.subscribers.delete(queue)), Queue.shutdown(queue))
      )
      // Registered before the replay is read, so nothing published in between is lost (the cursor skips repeats).
      let cursor = Math.max(0, Math.min(start, this.lastSeq))
      const head: Array<SubscriptionItem> = []
      if (foreign) {
        const oldest = Math.max(1, this.nextSeq - this.capacity)
        head.push(this.missed(1, oldest - 1, true))
        cursor = oldest - 1
      }
      const backlog: Array<Chunk.Chunk<SubscriptionItem>> = []
      while (cursor < this.lastSeq) {
        const batch = this.replay(cursor, readBatch)
        backlog.push(Chunk.unsafeFromArray(batch.items))
        cursor = batch.cursor
      }
      let done = false
      const live = Effect.flatMap(Queue.takeBetween(queue, 1, readBatch), (taken) => {
        const items: Array<SubscriptionItem> = []
        for (const item of taken) {
          if (item === ended) {
            done = true
            break
          }
          if (item.seq <= cursor) continue
          if (item.seq > cursor + 1) items.push(this.missed(cursor + 1, item.seq - cursor - 1))
          items.push(item)
          cursor = item.seq
        }
        return Effect.succeed(Chunk.unsafeFromArray(items))
      })
      const pull: Effect.Effect<Chunk.Chunk<SubscriptionItem>, Option.Option<never>> = Effect.suspend(() =>
        done ? Effect.fail(Option.none()) : live
      )
      return Stream.concat(
        Stream.fromChunks(Chunk.unsafeFromArray(head), ...backlog),
        Stream.repeatEffectChunkOption(pull)
      )
    }))
  }
}
