/**
 * The `SessionEventBus` port: one sequence of session events shared by every node on the same store, a capability a
 * shared store offers beside `SessionStore` (Postgres: an events table and `LISTEN/NOTIFY`). When the manager finds
 * it as it is built, the events it publishes go to the bus instead of being numbered locally, and its subscribers
 * receive the bus's sequence: every node's events, numbered alike on every node, so a position (`epoch`, `seq`)
 * taken on one node resumes on any other. Without it, a manager's events are its own.
 */
import { Context, type Effect, type Stream } from "effect"
import type { StoreFailure } from "../domain/Errors.js"
import type { EventsMissed, SessionEvent } from "../domain/Events.js"

/** An event before the bus numbers it. */
export type UnnumberedEvent = SessionEvent extends infer E ? E extends SessionEvent ? Omit<E, "seq"> : never : never

/** The operations of an event bus. */
export interface SessionEventBusShape {
  /** Names the shared sequence: the same on every node of one store, different for another store. */
  readonly epoch: string
  /**
   * Hands an event to the bus, to be numbered and delivered to every node (this one included). Never waits: the bus
   * keeps a bounded backlog and says in its documentation what happens past it.
   */
  readonly publish: (event: UnnumberedEvent) => void
  /** The last events of the sequence (at most `max`), oldest first, and the sequence's last number. */
  readonly recent: (max: number) => Effect.Effect<
    { readonly events: ReadonlyArray<SessionEvent>; readonly lastSeq: number },
    StoreFailure
  >
  /**
   * Every event after `after`, in sequence order, as they come, for as long as it runs: a stretch the bus can no
   * longer deliver (purged while this node was cut off) arrives as one `EventsMissed` in its place. It never fails:
   * a lost connection is retried, and nothing in between is skipped without an `EventsMissed`.
   */
  readonly feed: (after: number) => Stream.Stream<SessionEvent | EventsMissed>
}

/** The event bus of the store a manager runs on, if it has one. */
export class SessionEventBus
  extends Context.Tag("effect-sessions/SessionEventBus")<SessionEventBus, SessionEventBusShape>()
{}
