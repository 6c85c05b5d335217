/**
 * Crashes: the real service (`dist/bin.js serve`) on a SQLite file under HTTP load, killed with SIGKILL at random
 * (seeded) moments with a `withSession`-backed PATCH in flight, and restarted on the same data directory each time.
 * After every crash the file is intact and holds every acknowledged write at its acknowledged version or later; a
 * lease the killed process left behind is recovered after `leaseTtl` (a PATCH on its session then succeeds).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Path from "node:path"
import { makeDir, removeDir, secret, sign, startProcess, type Variables } from "../support/service.js"
import { integrity, liveLeases, lostIn, type StoredLease } from "./support/database.js"
import { report, Tally } from "./support/figures.js"
import { keepAlive, request } from "./support/http.js"
import { type Ack, Ledger } from "./support/ledger.js"
import { acknowledge, outcomeKey, runClient } from "./support/load.js"
import { scaled } from "./support/profile.js"
import { fork, seeded } from "./support/random.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** At least this many crashes; more (up to `maxKills`) until one of them has left a lease behind. */
const minKills = scaled(6)
// A kill leaves a lease in about 1 of 3 to 1 of 12 tries on these machines (a PATCH holds its lease for a few
// milliseconds): 36 tries miss every time with a chance of about 2% at the worst of that.
const maxKills = minKills + 30
const leaseTtl = 2_000
const clients = 8

describe("crashes of the service under load", () => {
  it(
    "SIGKILL at random points loses nothing acknowledged, keeps the file intact, and leaves no lease stuck",
    async () => {
      const random = seeded("crashes")
      const dataDir = makeDir()
      const database = Path.join(dataDir, "sessions.db")
      const env: Variables = {
        SESSIONS_DATA_DIR: dataDir,
        SESSIONS_LEASE_TTL: `${leaseTtl}ms`,
        SESSIONS_MAX_SESSIONS_PER_OWNER: "100000",
        SESSIONS_HTTP_RATE_LIMIT: "1000000/1m",
        SESSIONS_SESSION_RATE_LIMIT: "1000000/1s",
        SESSIONS_OWNER_RATE_LIMIT: "1000000/1s"
      }
      const ledger = new Ledger()
      const outcomes = new Tally()
      const inFlight = new Tally()
      const tokens = new Map<string, string>()
      const tokenOf = async (owner: string) =>
        tokens.get(owner) ?? tokens.set(owner, await sign(secret, owner)).get(owner)!
      const kills: Array<Record<string, unknown>> = []
      let leasesLeft = 0
      /** Milliseconds from each crash to the PATCH that took over a lease it left. */
      const recoveries: Array<number> = []
      let leftBehind: Array<StoredLease> = []
      let killedAt = 0
      try {
        for (let kill = 0; kill < maxKills && (kill < minKills || leasesLeft === 0); kill++) {
          const service = await startProcess(env)
          // Work the previous process left in flight: its session takes a PATCH again once the lease has lapsed.
          for (const lease of leftBehind) {
            const patched = await request(service.url, "PATCH", `/sessions/${lease.sessionId}/data`, {
              token: await tokenOf(lease.owner),
              body: { recovered: kill },
              timeout: 30_000
            })
            expect(patched, `lease on ${lease.sessionId} left by the killed process`).toMatchObject({
              _tag: "Answered",
              status: 200
            })
            recoveries.push(Date.now() - killedAt)
          }
          let stopping = false
          const running = await Promise.all(
            Array.from({ length: clients }, async (_, i) => ({
              url: () => service.url,
              token: await tokenOf(`owner-${i % 4}`),
              name: `client-${kill}-${i}`,
              ledger,
              outcomes,
              inFlight,
              random: fork(random),
              agent: keepAlive()
            }))
          ).then((all) => all.map((client) => runClient(client, () => stopping)))
          // Sessions for a burst of PATCHes (withSession) sent just before the kill, so some are in flight at it.
          const burstToken = await tokenOf("burst")
          const burst: Array<string> = []
          for (let i = 0; i < 32; i++) {
            const created = await request(service.url, "POST", "/sessions", {
              token: burstToken,
              body: { data: { i } }
            })
            if (created._tag === "Answered" && created.status === 201) {
              burst.push(String(created.json?.["id"]))
              ledger.record(created.json as Ack)
            }
          }
          await sleep(random.between(300, 1500))
          const patches = burst.map((id) =>
            request(service.url, "PATCH", `/sessions/${id}/data`, { token: burstToken, body: { burst: kill } }).then(
              (outcome) => {
                acknowledge(ledger, outcome)
                outcomes.add(outcomeKey("burst patch", outcome))
              }
            )
          )
          // Soon after: a PATCH holds its lease for a few milliseconds only.
          await sleep(random.between(2, 30))
          const patchesInFlight = inFlight.get("patch")
          service.child.kill("SIGKILL")
          killedAt = Date.now()
          stopping = true
          expect(await service.exited).toBeNull()
          await Promise.all([...running, ...patches])
          expect(integrity(database)).toBe("ok")
          expect(lostIn(database, ledger)).toEqual([])
          leftBehind = liveLeases(database, killedAt)
          leasesLeft += leftBehind.length
          kills.push({ patchesInFlight, leasesLeft: leftBehind.length, acknowledged: ledger.acknowledged })
        }
        // A last start: it recovers the last crash's leases, then stops cleanly; the file holds everything.
        const last = await startProcess(env)
        for (const lease of leftBehind) {
          const patched = await request(last.url, "PATCH", `/sessions/${lease.sessionId}/data`, {
            token: await tokenOf(lease.owner),
            body: { recovered: "last" },
            timeout: 30_000
          })
          expect(patched).toMatchObject({ _tag: "Answered", status: 200 })
          recoveries.push(Date.now() - killedAt)
        }
        last.child.kill("SIGTERM")
        expect(await last.exited).toBe(0)
        expect(integrity(database)).toBe("ok")
        expect(lostIn(database, ledger)).toEqual([])
        expect(liveLeases(database, Date.now() + leaseTtl)).toEqual([])
        expect(kills.length).toBeGreaterThanOrEqual(5)
        expect(leasesLeft).toBeGreaterThan(0)
        report("crashes", {
          seed: random.seed,
          kills: kills.length,
          leasesLeft,
          leaseRecoveryMs: recoveries,
          acknowledged: ledger.acknowledged,
          sessions: ledger.sessions,
          perKill: kills,
          outcomes: outcomes.toJSON(),
          lost: 0
        })
      } finally {
        removeDir(dataDir)
      }
    },
    180_000
  )
})
