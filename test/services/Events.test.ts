import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Fiber, Layer, Metric, MetricLabel, Option, Stream } from "effect"
import { SessionManager } from "../../src/index.js"
import { metrics } from "../../src/services/internal/Metrics.js"
import { adjust } from "../support/settle.js"
import { forEachStore } from "../support/stores.js"

const Manager = SessionManager.SessionManager

forEachStore((store) => {
  describe("session events", () => {
    it.effect("every change is published once, numbered 1, 2, 3, ... with no gaps", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const seen = yield* Effect.fork(Stream.runCollect(Stream.take(m.events(), 8)))
        yield* Effect.yieldNow()
        const a = yield* m.create({ owner: "alice", name: "a" })
        const b = yield* m.create({ owner: "alice" })
        yield* m.touch(a.id) // a keepalive: no event
        yield* m.recordActivity(a.id, { messages: 2 })
        yield* m.wait(a.id)
        yield* m.resume(a.id)
        yield* m.update(a.id, { x: 1 })
        yield* m.activate("alice", b.id)
        yield* m.close(a.id, { reason: "done" })
        yield* adjust("16 minutes")
        const events = Chunk.toArray(yield* Fiber.join(seen))
        expect(events.map((e) => e._tag)).toEqual([
          "Created",
          "Created",
          "Activity",
          "StatusChanged",
          "StatusChanged",
          "Updated",
          "Activated",
          "Closed"
        ])
        expect(events.map((e) => (e as { seq: number }).seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
        expect(events[2]).toMatchObject({ _tag: "Activity", id: a.id, messageCount: 2 })
        expect(events[3]).toMatchObject({ id: a.id, owner: "alice", from: "active", to: "waiting" })
        expect(events[6]).toMatchObject({ id: b.id, previous: null })
        expect(events[7]).toMatchObject({ id: a.id, from: "active", reason: "done" })
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }))))

    it.effect("expiry and eviction are published too", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const a = yield* m.create({ owner: "a" })
        yield* adjust("1 second")
        yield* m.create({ owner: "b" })
        yield* adjust("1 second")
        yield* m.create({ owner: "c" }) // evicts a
        yield* adjust("20 minutes")
        yield* m.sweep
        const events = Chunk.toArray(yield* Stream.runCollect(Stream.take(m.events(0), 5)))
        expect(events.map((e) => e._tag)).toEqual(["Created", "Created", "Evicted", "Created", "Expired"])
        expect(events[2]).toMatchObject({ id: a.id, reason: "evicted: capacity" })
        const after = yield* m.events(3).pipe(Stream.take(1), Stream.runCollect)
        expect(Chunk.toArray(after).map((e) => e._tag)).toEqual(["Created"])
      }).pipe(
        Effect.provide(
          store.managerLayer({
            maxSessions: 2,
            maxSessionsPerOwner: 1,
            capacityPolicy: "evict-lru",
            sweepInterval: "1h"
          })
        )
      ))

    it.effect("replays from a sequence number; older than the buffer arrives as EventsMissed", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        for (let i = 0; i < 14; i++) yield* m.recordActivity(s.id, { messages: 1 })
        // 15 events published, 8 kept: events 8 to 15.
        const fromFive = Chunk.toArray(yield* Stream.runCollect(Stream.take(m.events(4), 9)))
        expect(fromFive[0]).toEqual({ _tag: "EventsMissed", from: 5, count: 3 })
        expect(fromFive.slice(1).map((e) => (e as { seq: number }).seq)).toEqual([8, 9, 10, 11, 12, 13, 14, 15])
        const fromTwelve = Chunk.toArray(yield* Stream.runCollect(Stream.take(m.events(12), 3)))
        expect(fromTwelve.map((e) => (e as { seq: number }).seq)).toEqual([13, 14, 15])
        expect((yield* m.stats).events).toMatchObject({ lastSeq: 15, buffered: 8 })
      }).pipe(Effect.provide(store.managerLayer({ eventBuffer: 8, sweepInterval: "1h" }))))

    it.effect("a position from an earlier run (a restart) gets EventsMissed and every event kept, never a silent gap", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        for (let i = 0; i < 9; i++) yield* m.recordActivity(s.id, { messages: 1 })
        // 10 events in this run, 8 kept (3 to 10). A client saw up to seq 5 of the run before.
        const earlier = { epoch: `not-${m.eventEpoch}`, seq: 5 }
        const resumed = Chunk.toArray(yield* Stream.runCollect(Stream.take(m.events(earlier), 9)))
        expect(resumed[0]).toEqual({ _tag: "EventsMissed", from: 1, count: 2, restarted: true })
        expect(resumed.slice(1).map((e) => (e as { seq: number }).seq)).toEqual([3, 4, 5, 6, 7, 8, 9, 10])
        // The same run's position resumes exactly.
        const same = Chunk.toArray(yield* Stream.runCollect(Stream.take(m.events({ epoch: m.eventEpoch, seq: 8 }), 2)))
        expect(same.map((e) => (e as { seq: number }).seq)).toEqual([9, 10])
        expect((yield* m.stats).events.epoch).toBe(m.eventEpoch)
      }).pipe(Effect.provide(store.managerLayer({ eventBuffer: 8, sweepInterval: "1h" }))))

    it.effect("every run of a manager has its own epoch", () =>
      Effect.gen(function*() {
        const epochs = new Set<string>()
        for (let i = 0; i < 20; i++) {
          epochs.add(
            yield* Effect.scoped(
              Effect.map(Layer.build(store.managerLayer()), (c) => Context.get(c, Manager).eventEpoch)
            )
          )
        }
        expect(epochs.size).toBe(20)
      }))

    it.effect("a subscriber that never reads neither slows the manager nor grows memory: it is told what it missed", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const s = yield* m.create({ owner: "a" })
        // 100,000 events in process; a share of that over the network, still far past the buffer of 1024.
        const n = Math.round(100_000 * store.volume)
        const stalled = yield* Stream.toPull(m.events())
        const label = [MetricLabel.make("instance", "stalled")]
        const droppedBefore = (yield* Metric.value(metrics.eventsDropped.pipe(Metric.taggedWithLabels(label)))).count
        for (let i = 0; i < n; i++) yield* m.recordActivity(s.id, { messages: 1 })
        const stats = yield* m.stats
        expect(stats.events).toMatchObject({ lastSeq: n + 1, buffered: 1024 })
        const first = Chunk.toArray(yield* stalled)
        expect(first[0]).toEqual({ _tag: "EventsMissed", from: 2, count: n - 1024 })
        expect((first[1] as { seq: number }).seq).toBe(n + 1 - 1024 + 1)
        const dropped = (yield* Metric.value(metrics.eventsDropped.pipe(Metric.taggedWithLabels(label)))).count
        expect(dropped - droppedBefore).toBe(n - 1024)
        // The subscription goes on with live events.
        let rest = first.length - 1
        while (rest < 1024) rest += Chunk.size(yield* stalled)
        yield* m.recordActivity(s.id, { messages: 1 })
        const live = Chunk.toArray(yield* stalled)
        expect(live.map((e) => (e as { seq: number }).seq)).toEqual([n + 2])
      }).pipe(
        Effect.scoped,
        Effect.provide(
          store.managerLayer({ sweepInterval: "1h", sessionRateLimit: "1000000/1s" }, { instance: "stalled" })
        )
      ))

    it.effect("subscriptions end when the manager shuts down", () =>
      Effect.gen(function*() {
        const ended = yield* Effect.scoped(
          Effect.gen(function*() {
            const m = yield* Manager
            const subscription = yield* Effect.fork(Stream.runCollect(m.events()))
            yield* m.create({ owner: "a" })
            return subscription
          }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" })))
        )
        const events = yield* Fiber.join(ended)
        expect(Chunk.toArray(events).map((e) => e._tag)).toEqual(["Created"])
        expect(Option.isNone(yield* Fiber.poll(ended))).toBe(false)
      }))
  })

  describe("live subscriptions", () => {
    it.effect("a subscriber waiting for events is woken by the next one", () =>
      Effect.gen(function*() {
        const m = yield* Manager
        const next = yield* Effect.fork(Stream.runCollect(Stream.take(m.events(), 2)))
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        expect(yield* Fiber.poll(next)).toMatchObject({ _tag: "None" })
        const s = yield* m.create({ owner: "a" })
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        yield* m.recordActivity(s.id, { messages: 1 })
        const events = Chunk.toArray(yield* Fiber.join(next))
        expect(events.map((e) => e._tag)).toEqual(["Created", "Activity"])
      }).pipe(Effect.provide(store.managerLayer({ sweepInterval: "1h" }))))
  })
})
