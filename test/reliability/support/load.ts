/**
 * HTTP load for the scenarios that run the real service: clients that create sessions, write their data (PUT and
 * the `withSession`-backed PATCH), touch, read and close them, each recording every acknowledged write (a 2xx
 * answer carrying the session) in a shared ledger and tallying every outcome.
 */
import type * as Http from "node:http"
import type { Tally } from "./figures.js"
import { type Outcome, request } from "./http.js"
import type { Ledger } from "./ledger.js"
import type { Random } from "./random.js"

/** One request a client made: when it started and ended (ms since the epoch), what it was, and its outcome. */
export interface Sent {
  readonly op: string
  readonly started: number
  readonly ended: number
  readonly outcome: Outcome
}

/** What a client needs: where the service is (it may move, after a restart), who it is, and where to record. */
export interface Client {
  readonly url: () => string
  readonly token: string
  readonly name: string
  readonly ledger: Ledger
  readonly outcomes: Tally
  readonly random: Random
  readonly agent?: Http.Agent | undefined
  /** Called with every request once it ended. */
  readonly onSent?: ((sent: Sent) => void) | undefined
  /** Requests sent and not yet answered, by operation (shared by clients, to pick a moment with one in flight). */
  readonly inFlight?: Tally | undefined
}

const ops = ["create", "put", "patch", "patch", "touch", "get", "put", "close"] as const

/** Records the session an answer carries, if it is a 2xx with one. */
export const acknowledge = (ledger: Ledger, outcome: Outcome) => {
  if (outcome._tag !== "Answered" || outcome.status < 200 || outcome.status >= 300) return
  const session = outcome.json
  if (session !== undefined && typeof session["id"] === "string" && typeof session["version"] === "number") {
    ledger.record({ id: session["id"], version: session["version"], status: session["status"], data: session["data"] })
  }
}

/** The tally key of an outcome: `op status` or `op CODE` (with `written` when the request had been sent whole). */
export const outcomeKey = (op: string, outcome: Outcome) =>
  outcome._tag === "Answered"
    ? `${op} ${outcome.status}`
    : `${op} ${outcome.code}${outcome.written ? " (written)" : ""}`

/**
 * Runs one client until `stop()` says so: one request at a time, each chosen at random among the client's own
 * sessions (at most 20 live ones). A session the service says has ended (410) or is gone (404) leaves the pool.
 */
export const runClient = async (client: Client, stop: () => boolean): Promise<void> => {
  const mine: Array<string> = []
  let n = 0
  while (!stop()) {
    n++
    const op = mine.length === 0 || (mine.length < 20 && client.random.chance(0.15))
      ? "create"
      : client.random.pick(ops)
    const id = mine[client.random.int(mine.length)]
    const path = `/sessions/${id}`
    const started = Date.now()
    const send = (method: string, to: string, body?: unknown) =>
      request(client.url(), method, to, { token: client.token, agent: client.agent, body, timeout: 30_000 })
    client.inFlight?.add(op)
    const outcome: Outcome = await (() => {
      switch (op) {
        case "create":
          return send("POST", "/sessions", { kind: "load", data: { client: client.name, n } })
        case "put":
          return send("PUT", `${path}/data`, { client: client.name, n })
        case "patch":
          return send("PATCH", `${path}/data`, { [`p${n % 5}`]: n })
        case "touch":
          return send("POST", `${path}/touch`)
        case "get":
          return send("GET", path)
        case "close":
          return send("DELETE", `${path}?reason=done`)
      }
    })()
    client.inFlight?.add(op, -1)
    acknowledge(client.ledger, outcome)
    client.outcomes.add(outcomeKey(op, outcome))
    client.onSent?.({ op, started, ended: Date.now(), outcome })
    if (outcome._tag === "Answered") {
      if (op === "create" && outcome.status === 201) mine.push(String(outcome.json?.["id"]))
      const gone = (op === "close" && outcome.status === 200) || outcome.status === 410 || outcome.status === 404
      if (gone && op !== "create") mine.splice(mine.indexOf(id!), 1)
    }
  }
}
