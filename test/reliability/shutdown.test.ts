/**
 * Graceful shutdown under load: SIGTERM to the real service while 50 clients on keep-alive connections write. Every
 * request is answered (2xx, or 503 ShuttingDown) or cleanly refused before it was sent (ECONNREFUSED); none is reset
 * after it was written; the process exits 0 within `shutdownDeadline` and a margin; and a restart on the same data
 * directory serves every acknowledged write.
 */
import { describe, expect, it } from "@effect/vitest"
import { removeDir, secret, sign, startProcess, type Variables } from "../support/service.js"
import { report, Tally } from "./support/figures.js"
import { keepAlive, request } from "./support/http.js"
import { Ledger, type Stored } from "./support/ledger.js"
import { runClient, type Sent } from "./support/load.js"
import { fork, seeded } from "./support/random.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const shutdownDeadline = 3_000
const margin = 2_000

describe("graceful shutdown under load", () => {
  it("SIGTERM with 50 clients: every request answered or refused cleanly, exit 0 in time, nothing lost", async () => {
    const random = seeded("shutdown")
    const env: Variables = {
      SESSIONS_SHUTDOWN_DEADLINE: `${shutdownDeadline}ms`,
      SESSIONS_MAX_SESSIONS_PER_OWNER: "100000",
      SESSIONS_HTTP_RATE_LIMIT: "1000000/1m",
      SESSIONS_ADMIN_RATE_LIMIT: "1000000/1m",
      SESSIONS_SESSION_RATE_LIMIT: "1000000/1s",
      SESSIONS_OWNER_RATE_LIMIT: "1000000/1s"
    }
    const first = await startProcess(env)
    const ledger = new Ledger()
    const outcomes = new Tally()
    const sent: Array<Sent> = []
    let terminatedAt = Number.POSITIVE_INFINITY
    const clients = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
      let ended = false
      return {
        stop: () => ended,
        client: {
          url: () => first.url,
          token: await sign(secret, `owner-${i % 10}`),
          name: `client-${i}`,
          ledger,
          outcomes,
          random: fork(random),
          agent: keepAlive(),
          onSent: (s: Sent) => {
            sent.push(s)
            // Told to go away, or refused: a client stops there, as one that honours 503 and Connection: close.
            if (s.outcome._tag === "Failed" || s.outcome.status === 503) ended = true
          }
        }
      }
    }))
    const running = clients.map(({ client, stop }) => runClient(client, stop))
    await sleep(random.between(1000, 2000))
    first.child.kill("SIGTERM")
    terminatedAt = Date.now()
    const code = await first.exited
    const exitedAfter = Date.now() - terminatedAt
    await Promise.all(running)

    // What each request became: answered 2xx or 503 ShuttingDown, or refused before it was written.
    const bad = sent.filter((s) =>
      s.outcome._tag === "Answered"
        ? !(s.outcome.status < 300 || (s.outcome.status === 503 && s.outcome.json?.["_tag"] === "ShuttingDown"))
        : !(s.outcome.code === "ECONNREFUSED" && !s.outcome.written)
    ).map((s) =>
      `${s.op} ${s.started - terminatedAt}ms after SIGTERM: ${
        s.outcome._tag === "Answered" ? `${s.outcome.status} ${s.outcome.text.slice(0, 100)}` : s.outcome.code
      }${s.outcome._tag === "Failed" && s.outcome.written ? " (written)" : ""}`
    )
    report("shutdown", {
      seed: random.seed,
      clients: clients.length,
      requests: sent.length,
      exitCode: code,
      exitedAfterMs: exitedAfter,
      acknowledged: ledger.acknowledged,
      sessions: ledger.sessions,
      outcomes: outcomes.toJSON(),
      unclean: bad.length
    })

    // A restart on the same directory serves every acknowledged write.
    const second = await startProcess({ ...env, SESSIONS_DATA_DIR: first.dataDir })
    const stored = new Map<string, Stored>()
    try {
      const admin = await second.token("ops", { admin: true })
      let after: string | null = null
      do {
        const query: string = after === null ? "" : `&after=${encodeURIComponent(after)}`
        const page = await request(second.url, "GET", `/admin/sessions?limit=1000${query}`, { token: admin })
        expect(page).toMatchObject({ _tag: "Answered", status: 200 })
        const json = page._tag === "Answered" ? page.json! : {}
        for (const s of json["sessions"] as Array<Stored>) stored.set(s.id, s)
        after = json["next"] as string | null
      } while (after !== null)
    } finally {
      await second.stop()
      removeDir(first.dataDir)
    }
    expect(ledger.lost((id) => stored.get(id))).toEqual([])
    expect(ledger.acknowledged).toBeGreaterThan(100)
    expect(bad.slice(0, 20)).toEqual([])
    expect(code).toBe(0)
    expect(exitedAfter).toBeLessThanOrEqual(shutdownDeadline + margin)
  }, 120_000)
})
