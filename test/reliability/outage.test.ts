/**
 * A store that stops answering in the middle of a run, under the real HTTP service built in this process
 * (`Server.layer` over the manager over the fault-injecting wrapper over a SQLite file), on the real clock with short
 * deadlines: the session routes answer 503 StoreUnavailable, `/healthz` keeps answering 200 and `/readyz` says not
 * ready; once the store answers again the service recovers by itself, and nothing acknowledged was lost.
 */
import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import * as Path from "node:path"
import { layer as serverLayer } from "../../src/adapters/http/Server.js"
import { makeServiceConfig } from "../../src/adapters/http/ServiceConfig.js"
import { SessionManager } from "../../src/index.js"
import { SqliteStore } from "../../src/sqlite.js"
import * as FaultyStore from "../support/FaultyStore.js"
import { config } from "../support/manager.js"
import { makeDir, removeDir, secret, sign } from "../support/service.js"
import { lostIn } from "./support/database.js"
import { report, Tally } from "./support/figures.js"
import { keepAlive, type Outcome, request } from "./support/http.js"
import { Ledger } from "./support/ledger.js"
import { runClient, type Sent } from "./support/load.js"
import { fork, seeded } from "./support/random.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The service in this process over a faulty SQLite store, with deadlines short enough to see an outage quickly. */
const start = async (filename: string) => {
  const manager = SessionManager.layer(
    config({
      storeTimeout: "200 millis",
      retryBase: "20 millis",
      retryMaxAttempts: 3,
      sweepInterval: "1 second",
      sessionRateLimit: "1000000/1s",
      ownerRateLimit: "1000000/1s"
    }),
    { instance: "reliability-outage" }
  ).pipe(Layer.provideMerge(FaultyStore.layer(SqliteStore.layer({ filename }))))
  const service = serverLayer({
    config: Either.getOrThrow(
      makeServiceConfig({
        port: 0,
        requestTimeout: "5 seconds",
        httpRateLimit: { limit: 1_000_000, window: Duration.minutes(1) }
      })
    ),
    key: { key: Buffer.from(secret), source: { _tag: "Environment" } },
    shutdownDeadline: Duration.seconds(2)
  }).pipe(Layer.provideMerge(manager))
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(
    Layer.buildWithScope(service, scope).pipe(Logger.withMinimumLogLevel(LogLevel.None))
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return {
    url: `http://127.0.0.1:${address.port}`,
    faults: Context.get(context, FaultyStore.Faults),
    stop: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const tagOf = (outcome: Outcome) => outcome._tag === "Answered" ? outcome.json?.["_tag"] : outcome.code

describe("a store that stops answering, behind the HTTP service", () => {
  it(
    "503 StoreUnavailable on session routes, /healthz 200, /readyz not ready, recovery without a restart",
    async () => {
      const random = seeded("outage")
      const dir = makeDir()
      const filename = Path.join(dir, "sessions.db")
      const service = await start(filename)
      const ledger = new Ledger()
      const outcomes = new Tally()
      const sent: Array<Sent> = []
      let stopping = false
      try {
        const clients = await Promise.all(
          Array.from({ length: 6 }, async (_, i) => ({
            url: () => service.url,
            token: await sign(secret, `client-${i % 3}`),
            name: `client-${i}`,
            ledger,
            outcomes,
            random: fork(random),
            agent: keepAlive(),
            onSent: (s: Sent) => sent.push(s)
          }))
        )
        const running = clients.map((client) => runClient(client, () => stopping))
        await sleep(1500)

        const down = Date.now()
        service.faults.random({ fault: "hang", probability: 1, next: random.next })
        await sleep(600)
        const health = await request(service.url, "GET", "/healthz", { timeout: 5_000 })
        const ready = await request(service.url, "GET", "/readyz", { timeout: 5_000 })
        await sleep(1400)
        const up = Date.now()
        service.faults.clear()

        // The service comes back by itself: readiness within a few seconds, then session routes answer again.
        let readyAgain: Outcome | undefined
        for (let i = 0; i < 50; i++) {
          readyAgain = await request(service.url, "GET", "/readyz", { timeout: 5_000 })
          if (readyAgain._tag === "Answered" && readyAgain.status === 200) break
          await sleep(100)
        }
        const recovered = Date.now()
        await sleep(1500)
        stopping = true
        await Promise.all(running)

        expect(health).toMatchObject({ _tag: "Answered", status: 200 })
        expect(ready).toMatchObject({ _tag: "Answered", status: 503 })
        expect(tagOf(ready)).toBe("StoreUnavailable")
        expect(readyAgain).toMatchObject({ _tag: "Answered", status: 200 })
        // Requests that began and ended while the store was down answered 503 StoreUnavailable, nothing else.
        const during = sent.filter((s) => s.started >= down && s.ended <= up)
        expect(during.length).toBeGreaterThan(5)
        expect(
          during.filter((s) =>
            !(s.outcome._tag === "Answered" && s.outcome.status === 503 && tagOf(s.outcome) === "StoreUnavailable")
          )
        ).toEqual([])
        // Before the outage and after the recovery, nothing answered 5xx or failed to answer.
        const healthy = sent.filter((s) => s.ended < down || s.started > recovered)
        expect(healthy.filter((s) => s.outcome._tag !== "Answered" || s.outcome.status >= 500)).toEqual([])
        expect(
          healthy.filter((s) => s.started > recovered && s.outcome._tag === "Answered" && s.outcome.status < 300).length
        )
          .toBeGreaterThan(5)
        report("outage", {
          seed: random.seed,
          requests: sent.length,
          duringOutage: during.length,
          recoveryMs: recovered - up,
          acknowledged: ledger.acknowledged,
          sessions: ledger.sessions,
          outcomes: outcomes.toJSON()
        })
      } finally {
        stopping = true
        await service.stop()
      }
      // Every acknowledged write is in the file, read directly.
      expect(lostIn(filename, ledger)).toEqual([])
      removeDir(dir)
    },
    60_000
  )
})
