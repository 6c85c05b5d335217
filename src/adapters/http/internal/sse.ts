/**
 * Session events as a server-sent events stream: one `id`/`event`/`data` block per event, the sequence number as the
 * event id (so a client that reconnects with `Last-Event-ID` gets what it missed from the manager's buffer), a
 * comment every `heartbeat` so proxies keep the connection open, and the end of the stream when the service stops.
 */
import { Effect, Either, Schedule, Stream } from "effect"
import type { Duration } from "effect"
import { InvalidInput } from "../../../domain/Errors.js"
import type { SubscriptionItem } from "../../../domain/Events.js"

/** The content type of an event stream. */
export const contentType = "text/event-stream"

/** One item as an event block; a gap marker carries the id of the last event it stands for. */
export const encodeItem = (item: SubscriptionItem): string =>
  item._tag === "EventsMissed"
    ? `id: ${item.from + item.count - 1}\nevent: EventsMissed\ndata: ${JSON.stringify(item)}\n\n`
    : `id: ${item.seq}\nevent: ${item._tag}\ndata: ${JSON.stringify(item)}\n\n`

/** The sequence number a reconnecting client last saw, from its `Last-Event-ID` header. */
export const lastEventId = (header: string | undefined): Either.Either<number | undefined, InvalidInput> => {
  if (header === undefined || header === "") return Either.right(undefined)
  const seq = Number(header)
  return /^\d{1,15}$/.test(header) && Number.isSafeInteger(seq)
    ? Either.right(seq)
    : Either.left(
      new InvalidInput({ field: "last-event-id", reason: `got ${JSON.stringify(header)}`, expected: "an event id" })
    )
}

/**
 * The bytes of an event stream: a first comment (so the client sees the response at once), the items that pass
 * `visible`, and a heartbeat comment every `heartbeat`, until `items` ends or `stop` completes.
 */
export const eventStream = (
  items: Stream.Stream<SubscriptionItem>,
  options: {
    readonly visible: (item: SubscriptionItem) => boolean
    readonly heartbeat: Duration.DurationInput
    readonly stop: Effect.Effect<void>
  }
): Stream.Stream<Uint8Array> =>
  Stream.make(": connected\nretry: 2000\n\n").pipe(
    Stream.concat(
      Stream.merge(
        items.pipe(Stream.filter(options.visible), Stream.map(encodeItem)),
        Stream.fromSchedule(Schedule.spaced(options.heartbeat)).pipe(Stream.as(": keepalive\n\n")),
        { haltStrategy: "left" }
      )
    ),
    Stream.interruptWhen(options.stop),
    Stream.encodeText
  )
