import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Ref, Scope } from "effect"
import { SessionManager, type SessionsConfigInput } from "../../src/index.js"
import { Faults } from "../support/FaultyStore.js"
import { adjust } from "../support/settle.js"
import { forEachStore, type StoreUnderTest } from "../support/stores.js"

const build = (store: StoreUnderTest, input: SessionsConfigInput = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(store.faultyManagerLayer({ sweepInterval: "30s", ...input }), scope)
    return {
      scope,
      manager: context.unsafeMap.get(SessionManager.SessionManager.key) as SessionManager.SessionManagerShape,
      faults: context.unsafeMap.get(Faults.key) as Faults["Type"]
    }
  })

/** Lets forked fibers run until they block (on the test clock or elsewhere). */
const settle = Effect.repeatN(Effect.yieldNow(), 50)

forEachStore((store) => {
  describe("shutdown", () => {
    it.effect("new calls fail ShuttingDown once the scope is closing, and the store is flushed", () =>
      Effect.gen(function*() {
        const { faults, manager: m, scope } = yield* build(store)
        const s = yield* m.create({ owner: "a" })
        const flushesBefore = faults.calls("flush").length
        yield* Scope.close(scope, Exit.void)
        expect(faults.calls("flush").length).toBe(flushesBefore + 1)
        for (
          const call of [
            m.create({ owner: "a" }),
            m.get(s.id),
            m.touch(s.id),
            m.close(s.id),
            m.list(),
            m.sweep
          ] as ReadonlyArray<Effect.Effect<unknown, { _tag: string }>>
        ) {
          expect((yield* Effect.flip(call))._tag).toBe("ShuttingDown")
        }
        // The sweeper has stopped.
        const ticks = faults.calls("expire").length
        yield* adjust("10 minutes")
        expect(faults.calls("expire").length).toBe(ticks)
      }))

    it.effect("in-flight work finishes if it can before shutdownDeadline, and its result reaches the caller", () =>
      Effect.gen(function*() {
        const { manager: m, scope } = yield* build(store, { shutdownDeadline: "10s" })
        const s = yield* m.create({ owner: "a" })
        const work = yield* Effect.fork(
          m.withSession(
            s.id,
            ({ session }) => Effect.zipRight(Effect.sleep("4 seconds"), m.update(session.id, { saved: true }))
          )
        )
        yield* adjust("1 second")
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* settle
        yield* adjust("1 second")
        expect(yield* Fiber.poll(closing)).toMatchObject({ _tag: "None" })
        yield* adjust("2 seconds")
        yield* Fiber.join(closing)
        expect((yield* Fiber.join(work)).data).toEqual({ saved: true })
      }))

    it.effect("work still running at shutdownDeadline is interrupted: finalizers run, the caller gets ShuttingDown", () =>
      Effect.gen(function*() {
        const { manager: m, scope } = yield* build(store, { shutdownDeadline: "3s" })
        const s = yield* m.create({ owner: "a" })
        const finalized = yield* Ref.make(false)
        const work = yield* Effect.fork(
          m.withSession(s.id, () => Effect.never.pipe(Effect.ensuring(Ref.set(finalized, true))))
        )
        yield* adjust("1 second")
        const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
        yield* settle
        yield* adjust("2999 millis")
        expect(yield* Ref.get(finalized)).toBe(false)
        yield* adjust("1 milli")
        yield* Fiber.join(closing)
        expect(yield* Ref.get(finalized)).toBe(true)
        expect(yield* Effect.flip(Fiber.join(work))).toMatchObject({ _tag: "ShuttingDown" })
      }))

    it.effect("a flush that fails on shutdown is logged, and shutdown still completes", () =>
      Effect.gen(function*() {
        const { faults, scope } = yield* build(store, { retryMaxAttempts: 1 })
        faults.inject("flush", "error")
        yield* Scope.close(scope, Exit.void)
        expect(faults.calls("flush").length).toBeGreaterThan(0)
      }))
  })
})
