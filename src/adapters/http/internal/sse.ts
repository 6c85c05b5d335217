/**
 * Session events as a server-sent events stream: one `id`/`event`/`data` block per event, the manager's epoch and the
 * sequence number as the event id (so a client that reconnects with `Last-Event-ID` gets what it missed from the
 * manager's buffer, or, after a restart, `EventsMissed` and everything still kept), a
 * comment every `heartbeat` so proxies keep the connection open, and the end of the stream when the service stops.
 */
import { Effect, Either, Schedule, Stream } from "effect"
import type { Duration } from "effect"
import { InvalidInput } from "../../../domain/Errors.js"
import type { EventPosition, SubscriptionItem } from "../../../domain/Events.js"

/** The content type of an event stream. */
export const contentType = "text/event-stream"

/**
 * One item as an event block. Its id is `<epoch>-<seq>`: sequence numbers start again at 1 when the manager restarts,
 * so the epoch tells a reconnecting client's position from an earlier run apart. A gap marker carries the id of the
 * last event it stands for.
 */
export const encodeItem = (item: SubscriptionItem, epoch: string): string =>
  item._tag === "EventsMissed"
    ? `id: ${epoch}-${item.from + item.count - 1}\nevent: EventsMissed\ndata: ${JSON.stringify(item)}\n\n`
    : `id: ${epoch}-${item.seq}\nevent: ${item._tag}\ndata: ${JSON.stringify(item)}\n\n`

/**
 * The position a reconnecting client last saw, from its `Last-Event-ID` header: `<epoch>-<seq>` as `encodeItem`
 * writes it. A bare number (an id of no epoch) is a position of no run this service knows: it gets the full replay
 * with `EventsMissed`, never a silent gap.
 */
export const lastEventId = (header: string | undefined): Either.Either<EventPosition | undefined, InvalidInput> => {
  if (header === undefined || header === "") return Either.right(undefined)
  const match = /^(?:([0-9a-z]{1,32})-)?(\d{1,15})$/.exec(header)
  return match !== null && Number.isSafeInteger(Number(match[2]))
    ? Either.right({ epoch: match[1] ?? "", seq: Number(match[2]) })
    : Either.left(
      new InvalidInput({
        field: "last-event-id",
        reason: "is not an event id of this service",
        expected: "the id of an event received from this service"
      })
    )
}

/**
 * The bytes of an event stream: a first comment (so the client sees the response at once), the items that pass
 * `visible`, and a heartbeat comment every `heartbeat`, until `items` ends or `stop` completes.
 */
export const eventStream = (
  items: Stream.Stream<SubscriptionItem>,
  options: {
    /** The manager's `eventEpoch`, written into every event id. */
    readonly epoch: string
    readonly visible: (item: SubscriptionItem) => boolean
    readonly heartbeat: Duration.DurationInput
    readonly stop: Effect.Effect<void>
  }
): Stream.Stream<Uint8Array> =>
  Stream.make(": connected\nretry: 2000\n\n").pipe(
    Stream.concat(
      Stream.merge(
        items.pipe(Stream.filter(options.visible), Stream.map((item) => encodeItem(item, options.epoch))),
        Stream.fromSchedule(Schedule.spaced(options.heartbeat)).pipe(Stream.as(": keepalive\n\n")),
        { haltStrategy: "left" }
      )
    ),
    Stream.interruptWhen(options.stop),
    Stream.encodeText
  )
