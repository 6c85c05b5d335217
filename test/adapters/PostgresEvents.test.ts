/**
 * Events across nodes on Postgres: managers on two nodes of one database (each its own pool and listening
 * connection), on the real clock. An event published on one node reaches subscribers on both, numbered alike; a
 * position taken on one node resumes on the other; the listening connection killed mid-stream loses nothing.
 */
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Stream } from "effect"
import type { SessionEvent, SubscriptionItem } from "../../src/domain/Events.js"
import { SessionManager } from "../../src/index.js"
import { PostgresStore } from "../../src/postgres.js"
import { config } from "../support/manager.js"
import { freshSchema, psql, testUrl } from "../support/postgres.js"

let instances = 0

/** A manager on its own node of `schema`. */
const node = (schema: string) =>
  Effect.gen(function*() {
    const layer = SessionManager.layer(config({ sessionRateLimit: "1000000/1s", ownerRateLimit: "1000000/1s" }), {
      instance: `pg-events-${++instances}`,
      sweeper: false
    }).pipe(Layer.provide(PostgresStore.layer({ url: testUrl, schema, events: { heartbeat: "500 millis" } })))
    const context = yield* Layer.build(layer)
    return context.unsafeMap.get(SessionManager.SessionManager.key) as SessionManager.SessionManager["Type"]
  })

/** Takes items from `stream` until `count` events (gaps not counted) have come, within `seconds`. */
const take = (stream: Stream.Stream<SubscriptionItem>, count: number, seconds = 20) =>
  stream.pipe(
    Stream.filter((item): item is SessionEvent => item._tag !== "EventsMissed"),
    Stream.take(count),
    Stream.runCollect,
    Effect.map(Chunk.toArray),
    Effect.timeoutFail({ duration: `${seconds} seconds`, onTimeout: () => new Error(`fewer than ${count} events`) })
  )

describe("PostgresStore: events across nodes", () => {
  it.live("an event on one node reaches subscribers on every node, numbered alike", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = yield* freshSchema
      const a = yield* node(schema)
      const b = yield* node(schema)
      expect(a.eventEpoch).toBe(b.eventEpoch)
      const onA = yield* Effect.fork(take(a.events(), 3))
      const onB = yield* Effect.fork(take(b.events(), 3))
      yield* Effect.sleep("200 millis")
      const s = yield* a.create({ owner: "alice" })
      yield* b.update(s.id, { n: 1 })
      yield* a.close(s.id)
      const [seenA, seenB] = [yield* onA, yield* onB]
      expect(seenA.map((e) => e._tag)).toEqual(["Created", "Updated", "Closed"])
      expect(seenB).toEqual(seenA)
      const seqs = seenA.map((e) => e.seq)
      expect(seqs).toEqual([seqs[0], seqs[0]! + 1, seqs[0]! + 2])
    })))

  it.live("a position taken on one node resumes on another, and on a node started later", () =>
    Effect.scoped(Effect.gen(function*() {
      const schema = yield* freshSchema
      const a = yield* node(schema)
      const b = yield* node(schema)
      const first = yield* Effect.fork(take(a.events(), 1))
      yield* Effect.sleep("200 millis")
      const s = yield* a.create({ owner: "bob" })
      const [created] = yield* first
      for (let i = 0; i < 5; i++) yield* a.update(s.id, { i })
      const resumed = yield* take(b.events({ epoch: a.eventEpoch, seq: created!.seq }), 5)
      expect(resumed.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5].map((i) => created!.seq + i))
      const c = yield* node(schema)
      const later = yield* take(c.events({ epoch: a.eventEpoch, seq: created!.seq + 2 }), 3)
      expect(later.map((e) => (e as { version?: number }).version)).toEqual([4, 5, 6])
    })))

  it.live(
    "the listening connection killed during 100 writes: the subscriber still gets all 100 in order",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const schema = yield* freshSchema
        const a = yield* node(schema)
        const b = yield* node(schema)
        const received = yield* Effect.fork(take(b.events(), 101, 30))
        yield* Effect.sleep("200 millis")
        const s = yield* a.create({ owner: "carol" })
        for (let i = 0; i < 100; i++) {
          yield* a.update(s.id, { i })
          if (i === 30 || i === 70) {
            // Once the nodes listen again after the first kill, every listening connection goes; the pool's stay.
            if (i === 70) yield* Effect.sleep("1500 millis")
            const killed = yield* psql(
              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
              [`effect-sessions events ${schema}_events`]
            )
            expect(killed.length).toBeGreaterThanOrEqual(2)
          }
        }
        const events = yield* received
        expect(events.length).toBe(101)
        const seqs = events.map((e) => e.seq)
        expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i))
        expect(events.slice(1).map((e) => (e as { version: number }).version)).toEqual(
          Array.from({ length: 100 }, (_, i) => i + 2)
        )
      })),
    { timeout: 60_000 }
  )
})
