/**
 * Postgres going away and coming back, through a TCP proxy the test controls (the real server behind it): every call
 * fails `StoreUnavailable` within the manager's `storeTimeout` while the database does not answer, and the same
 * manager serves again once it does, with no restart. Also how each kind of driver error is classified.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Net from "node:net"
import { isTransient, storeFailure } from "../../src/adapters/postgres/internal/errors.js"
import { SessionManager } from "../../src/index.js"
import { PostgresStore } from "../../src/postgres.js"
import { config } from "../support/manager.js"
import { freshSchema } from "../support/postgres.js"

/** A proxy to the local server that can cut every connection and refuse new ones, then let them through again. */
const proxy = Effect.acquireRelease(
  Effect.async<{ port: number; server: Net.Server; cut: (down: boolean) => void }>((resume) => {
    const sockets = new Set<Net.Socket>()
    let down = false
    const server = Net.createServer((client) => {
      if (down) {
        client.destroy()
        return
      }
      const upstream = Net.connect(5432, "127.0.0.1")
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      const close = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on("error", close).on("close", close)
      upstream.on("error", close).on("close", close)
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        port: (server.address() as Net.AddressInfo).port,
        server,
        cut: (value) => {
          down = value
          if (value) { for (const socket of sockets) socket.destroy() }
          sockets.clear()
        }
      })))
  }),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

describe("PostgresStore: the database goes away", () => {
  it.live(
    "calls fail StoreUnavailable within storeTimeout while it is down, and succeed again once it is back",
    () =>
      Effect.scoped(Effect.gen(function*() {
        const schema = yield* freshSchema
        const { cut, port } = yield* proxy
        const layer = SessionManager.layer(
          config({ storeTimeout: "1 second", retryMaxAttempts: 2, retryBase: "50 millis" }),
          { instance: "pg-outage", sweeper: false }
        ).pipe(Layer.provide(PostgresStore.layer({
          url: `postgres://postgres@127.0.0.1:${port}/test`,
          schema,
          connectTimeout: "500 millis",
          events: false
        })))
        const context = yield* Layer.build(layer)
        const m = context.unsafeMap.get(SessionManager.SessionManager.key) as SessionManager.SessionManager["Type"]
        const s = yield* m.create({ owner: "alice" })
        cut(true)
        const calls: ReadonlyArray<Effect.Effect<unknown, { readonly _tag: string }>> = [
          m.get(s.id),
          m.touch(s.id),
          m.update(s.id, { n: 1 }),
          m.create({ owner: "bob" })
        ]
        for (const call of calls) {
          const started = Date.now()
          const failure = yield* Effect.flip(call)
          expect(failure._tag).toBe("StoreUnavailable")
          // Two attempts of at most storeTimeout each, and the backoff between them.
          expect(Date.now() - started).toBeLessThan(3_500)
        }
        cut(false)
        const back = yield* Effect.retry(m.update(s.id, { n: 2 }), { times: 5 })
        expect(back).toMatchObject({ data: { n: 2 }, version: 2 })
        expect((yield* m.get(s.id)).version).toBe(2)
      })),
    { timeout: 60_000 }
  )

  it("classifies driver errors: transient conditions are StoreUnavailable, the rest StoreError", () => {
    const pg = (code: string, message = "x") => Object.assign(new Error(message), { code })
    const wrapped = (cause: unknown) => ({ _tag: "SqlError", message: "Failed to execute statement", cause })
    for (const code of ["40001", "40P01", "55P03", "57014", "57P01", "53300", "08006", "08001"]) {
      expect([code, isTransient(wrapped(pg(code)))]).toEqual([code, true])
      expect(storeFailure("update", wrapped(pg(code)))._tag).toBe("StoreUnavailable")
    }
    for (const code of ["23505", "23503", "42601", "42P01", "22P02", "42501"]) {
      expect([code, isTransient(wrapped(pg(code)))]).toEqual([code, false])
      expect(storeFailure("update", wrapped(pg(code)))._tag).toBe("StoreError")
    }
    expect(isTransient(new Error("Connection terminated unexpectedly"))).toBe(true)
    expect(isTransient(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })))
      .toBe(true)
    expect(storeFailure("get", wrapped(pg("40P01", "deadlock detected"))).reason).toBe("40P01: deadlock detected")
  })
})
