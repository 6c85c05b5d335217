/**
 * Events across nodes on Postgres (`SessionEventBus`). Published events wait in a bounded outbox (65,536; past it
 * the newest are dropped, logged and counted as a gap every subscriber sees) and are appended in batches to the
 * `events` table, numbered without gaps in commit order (under an advisory lock), with a `pg_notify` of the newest
 * number in the same transaction. Each node listens on a connection of its own (not `@effect/sql-pg`'s `listen`,
 * which goes silent when its connection drops): a notification, or every `heartbeat` without one, makes it read the
 * rows after the last it delivered. The listening connection is checked every `heartbeat` and replaced when it
 * fails or stops answering, so a lost notification delays delivery by at most one heartbeat and loses nothing. Rows
 * older than the newest `retain` are purged; a node cut off for longer gets `EventsMissed` for what went.
 */
import { Cause, Duration, Effect, Option, Queue, Schedule, Stream } from "effect"
import Pg from "pg"
import type { EventsMissed, SessionEvent } from "../../../domain/Events.js"
import type { SessionEventBusShape, UnnumberedEvent } from "../../../services/SessionEventBus.js"
import type { Db } from "./db.js"

/** How the bus reaches the database and paces itself. */
export interface EventBusOptions {
  readonly connection: Pg.ClientConfig
  readonly schema: string
  readonly node: string
  readonly heartbeat: Duration.Duration
  /** How many of the newest events the table keeps. */
  readonly retain: number
}

const outboxSize = 65_536
const batchSize = 500
const readSize = 1_000

/** A connection that LISTENs on `channel`, calling `onNotice` for each notification; released with the scope. */
const listener = (connection: Pg.ClientConfig, channel: string, onNotice: () => void) =>
  Effect.acquireRelease(
    Effect.tryPromise(async () => {
      const client = new Pg.Client({ ...connection, application_name: `effect-sessions events ${channel}` })
      // A dropped connection is noticed by the heartbeat; without a handler its error would end the process.
      client.on("error", () => {})
      client.on("notification", onNotice)
      await client.connect()
      await client.query(`LISTEN ${Pg.escapeIdentifier(channel)}`)
      return client
    }),
    (client) => Effect.promise(() => client.end().catch(() => undefined)).pipe(Effect.timeoutOption("1 second"))
  )

/** The Postgres event bus of one node (see the module notes). Scoped: its fibers and connections end with it. */
export const makeEventBus = (db: Db, options: EventBusOptions) =>
  Effect.gen(function*() {
    const channel = `${options.schema}_events`
    const [meta] = yield* db.single(
      "events",
      db.rows<{ value: string }>("SELECT value FROM meta WHERE key = 'events_epoch'")
    )
    const epoch = `pg-${meta!.value.slice(0, 16)}`
    const outbox = yield* Queue.dropping<UnnumberedEvent>(outboxSize)
    let dropped = 0

    const append = (batch: ReadonlyArray<UnnumberedEvent>) =>
      db.transaction(
        "events",
        Effect.gen(function*() {
          yield* db.run(
            "SELECT pg_advisory_xact_lock(hashtextextended('effect-sessions:events:' || current_schema(), 0))"
          )
          const [row] = yield* db.rows<{ last: number }>(
            `WITH base AS (SELECT coalesce(max(seq), 0) AS m FROM events),
              added AS (INSERT INTO events (seq, at, node, event)
                SELECT base.m + e.ord, e.at, $3, e.event FROM base, unnest($1::int8[], $2::text[]) WITH ORDINALITY AS e(at, event, ord)
                RETURNING seq)
            SELECT max(seq) AS last FROM added`,
            [batch.map((e) => e.at), batch.map((e) => JSON.stringify(e)), options.node]
          )
          yield* db.run("SELECT pg_notify($1, $2)", [channel, String(row!.last)])
          if (row!.last % 1_000 < batch.length) {
            yield* db.run("DELETE FROM events WHERE seq <= $1", [row!.last - options.retain])
          }
        })
      )

    // The writer: batches from the outbox, each retried until it lands (events are kept in order).
    yield* Effect.gen(function*() {
      const batch = [...(yield* Queue.takeBetween(outbox, 1, batchSize))]
      yield* append(batch).pipe(
        Effect.tapError((error) => Effect.logWarning("effect-sessions: appending events failed; retrying", error)),
        Effect.retry(Schedule.exponential("50 millis", 2).pipe(Schedule.union(Schedule.spaced("2 seconds")))),
        Effect.orDie
      )
    }).pipe(Effect.forever, Effect.forkScoped)

    const decode = (row: { seq: number; event: string }): SessionEvent | undefined => {
      try {
        return { ...(JSON.parse(row.event) as UnnumberedEvent), seq: row.seq } as SessionEvent
      } catch {
        return undefined
      }
    }

    /** The rows after `cursor`, with an `EventsMissed` for numbers no longer (or never readable) in the table. */
    const readAfter = (cursor: number) =>
      Effect.map(
        db.single(
          "events",
          db.rows<{ seq: number; event: string }>(
            "SELECT seq, event FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
            [cursor, readSize]
          )
        ),
        (rows) => {
          const items: Array<SessionEvent | EventsMissed> = []
          let next = cursor + 1
          for (const row of rows) {
            const event = decode(row)
            if (event === undefined) continue
            if (row.seq > next) items.push({ _tag: "EventsMissed", from: next, count: row.seq - next })
            items.push(event)
            next = row.seq + 1
          }
          return { items, cursor: next - 1 }
        }
      )

    const feed = (after: number): Stream.Stream<SessionEvent | EventsMissed> =>
      Stream.unwrapScoped(Effect.gen(function*() {
        // Wake-ups: a notification, or the heartbeat; one pending is enough.
        const wake = yield* Queue.sliding<void>(1)
        const notice = () => Queue.unsafeOffer(wake, undefined)
        // The listening connection, replaced whenever it fails or stops answering within a heartbeat.
        const keepListening = Effect.scoped(Effect.gen(function*() {
          const client = yield* listener(options.connection, channel, notice)
          notice()
          yield* Effect.tryPromise(() => client.query("SELECT 1")).pipe(
            Effect.timeoutFail({ duration: options.heartbeat, onTimeout: () => new Error("no answer") }),
            Effect.zipRight(Effect.sleep(options.heartbeat)),
            Effect.forever
          )
        })).pipe(
          Effect.catchAllCause((cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.interrupt : Effect.logWarning(
              "effect-sessions: the events listener lost its connection; reconnecting",
              Cause.squash(cause)
            )
          ),
          Effect.zipRight(Effect.sleep(Duration.min(options.heartbeat, Duration.seconds(1)))),
          Effect.forever
        )
        yield* Effect.forkScoped(keepListening)
        yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(options.heartbeat), Effect.sync(notice))))
        let cursor = after
        const pull = Effect.gen(function*() {
          for (;;) {
            const read = yield* Effect.option(readAfter(cursor))
            if (Option.isSome(read) && read.value.items.length > 0) {
              cursor = read.value.cursor
              return read.value.items
            }
            if (Option.isSome(read) && dropped > 0) {
              // The outbox overflowed: numbers were never given to those events, so nothing marks the gap but this.
              const count = dropped
              dropped = 0
              yield* Effect.logWarning(`effect-sessions: ${count} events dropped, the outbox was full`)
            }
            yield* Queue.take(wake)
          }
        })
        return Stream.repeatEffect(pull).pipe(Stream.flattenIterables)
      }))

    const bus: SessionEventBusShape = {
      epoch,
      publish: (event) => {
        if (!Queue.unsafeOffer(outbox, event)) dropped++
      },
      recent: (max) =>
        db.single(
          "events",
          Effect.gen(function*() {
            const rows = yield* db.rows<{ seq: number; event: string }>(
              "SELECT seq, event FROM (SELECT seq, event FROM events ORDER BY seq DESC LIMIT $1) r ORDER BY seq",
              [max]
            )
            const [last] = yield* db.rows<{ last: number }>("SELECT coalesce(max(seq), 0)::int8 AS last FROM events")
            const events = rows.map(decode).filter((e): e is SessionEvent => e !== undefined)
            return { events, lastSeq: Math.max(last!.last, events.at(-1)?.seq ?? 0) }
          })
        ),
      feed
    }
    return bus
  })
