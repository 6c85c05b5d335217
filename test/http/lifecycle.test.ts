/**
 * The service's life: a stop (SIGTERM) under load answers or refuses every request cleanly and loses nothing it
 * acknowledged; work past the request deadline is cancelled with 504; logs are JSON with request ids and no tokens;
 * a first start with no secret generates one (mode 0600).
 */
import { HttpServer } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Either, Exit, Layer, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import { layer as serverLayer } from "../../src/adapters/http/Server.js"
import { makeServiceConfig } from "../../src/adapters/http/ServiceConfig.js"
import * as FaultyStore from "../support/FaultyStore.js"
import { faultyManagerLayer } from "../support/manager.js"
import { call, removeDir, secret, sign, startProcess } from "../support/service.js"

/** Retries `check` for up to five seconds. */
const eventually = async (check: () => void) => {
  for (let attempt = 0;; attempt++) {
    try {
      return check()
    } catch (error) {
      if (attempt >= 50) throw error
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
}

describe("stopping the service", () => {
  it("on SIGTERM under load: every request answered or refused cleanly, nothing acknowledged lost, exit 0", async () => {
    const first = await startProcess({ SESSIONS_MAX_SESSIONS_PER_OWNER: "100000" })
    const token = await first.token("loader")
    const acknowledged: Array<string> = []
    const outcomes = new Map<string, number>()
    const count = (outcome: string) => outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    let stopping = false
    let streamEnded = false

    // An open event stream must end, not hold the shutdown up.
    const stream = fetch(`${first.url}/events`, { headers: { authorization: `Bearer ${token}` } }).then(
      async (response) => {
        const reader = response.body!.getReader()
        while (!(await reader.read()).done) { /* read until the service ends the stream */ }
        streamEnded = true
      },
      () => {}
    )

    const worker = async () => {
      while (true) {
        try {
          const response = await call(first, "POST", "/sessions", { token, body: { data: { n: acknowledged.length } } })
          if (response.status === 201) acknowledged.push(response.json["id"])
          else {
            expect(response.status).toBe(503)
            expect(response.json["_tag"]).toBe("ShuttingDown")
          }
          count(String(response.status))
          if (response.status !== 201) return
        } catch (error) {
          // Refused: the listener is closed (or the connection was closed between requests).
          expect(stopping).toBe(true)
          count(`refused: ${String((error as { cause?: { code?: string } }).cause?.code ?? error)}`)
          return
        }
      }
    }
    const workers = Array.from({ length: 8 }, worker)
    await new Promise((resolve) => setTimeout(resolve, 500))
    stopping = true
    first.child.kill("SIGTERM")
    await Promise.all(workers)
    expect(await first.exited).toBe(0)
    await stream
    expect(streamEnded).toBe(true)
    expect(acknowledged.length).toBeGreaterThan(10)
    expect(outcomes.get("201")).toBe(acknowledged.length)

    // Every acknowledged session is in the database the next start opens.
    const second = await startProcess({ SESSIONS_DATA_DIR: first.dataDir })
    try {
      const admin = await second.token("ops", { admin: true })
      const stored = new Set<string>()
      let after: string | null = null
      do {
        const query: string = after === null ? "" : `&after=${encodeURIComponent(after)}`
        const page = await call(second, "GET", `/admin/sessions?owner=loader&limit=1000${query}`, { token: admin })
        expect(page.status).toBe(200)
        for (const session of page.json["sessions"]) stored.add(session.id)
        after = page.json["next"]
      } while (after !== null)
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([])
    } finally {
      await second.stop()
    }

    // Logs: one JSON object per line, requests carry their id, no token anywhere.
    const lines = first.logs.filter((line) => line.trim() !== "")
    const entries = lines.map((line) => JSON.parse(line) as { message: unknown; annotations?: Record<string, unknown> })
    const requests = entries.filter((entry) => JSON.stringify(entry.message).includes("request"))
    expect(requests.length).toBeGreaterThan(0)
    expect(requests.every((entry) => typeof entry.annotations?.["requestId"] === "string")).toBe(true)
    expect(lines.some((line) => line.includes(token) || line.includes(secret))).toBe(false)
    removeDir(first.dataDir)
  })

  it("on SIGTERM with 12 keep-alive clients: every request written is answered or its connection refused", async () => {
    const first = await startProcess({
      SESSIONS_MAX_SESSIONS_PER_OWNER: "100000",
      SESSIONS_HTTP_RATE_LIMIT: "1000000/1m"
    })
    const token = await first.token("loader")
    const agent = new Http.Agent({ keepAlive: true, maxSockets: 12 })
    const acknowledged: Array<string> = []
    const outcomes: Array<string> = []
    const post = (n: number) =>
      new Promise<{ status: number; connection: string | undefined; body: Record<string, string> }>(
        (resolve, reject) => {
          const request = Http.request(`${first.url}/sessions`, {
            method: "POST",
            agent,
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }
          }, (response) => {
            let text = ""
            response.setEncoding("utf8")
            response.on("data", (chunk: string) => (text += chunk))
            response.on("end", () =>
              resolve({
                status: response.statusCode ?? 0,
                connection: response.headers["connection"],
                body: JSON.parse(text)
              }))
            response.on("error", reject)
          })
          request.on("error", reject)
          request.end(JSON.stringify({ data: { n } }))
        }
      )
    const client = async () => {
      for (let n = 0;; n++) {
        try {
          const response = await post(n)
          if (response.status === 201) {
            acknowledged.push(response.body["id"]!)
            continue
          }
          outcomes.push(`${response.status} ${response.body["_tag"]} connection: ${response.connection}`)
        } catch (error) {
          const code = (error as { code?: string }).code ?? String(error)
          outcomes.push(code)
          if (code === "ECONNREFUSED") return
        }
        if (outcomes.length > 10_000) return
      }
    }
    const clients = Array.from({ length: 12 }, client)
    await new Promise((resolve) => setTimeout(resolve, 700))
    first.child.kill("SIGTERM")
    await Promise.all(clients)
    agent.destroy()
    expect(await first.exited).toBe(0)
    expect(acknowledged.length).toBeGreaterThan(12)
    // Each client ends refused at connect (the listener is closed); before that, every request it wrote got a
    // response: a 201, or 503 ShuttingDown with Connection: close. Never a reset or a dropped connection.
    expect(outcomes.filter((outcome) => outcome !== "ECONNREFUSED" && !outcome.startsWith("503 "))).toEqual([])
    expect(outcomes.filter((outcome) => outcome === "ECONNREFUSED").length).toBe(12)
    const refusals = outcomes.filter((outcome) => outcome.startsWith("503 "))
    expect(refusals.length).toBeGreaterThan(0)
    expect(new Set(refusals)).toEqual(new Set(["503 ShuttingDown connection: close"]))

    const second = await startProcess({ SESSIONS_DATA_DIR: first.dataDir })
    try {
      const admin = await second.token("ops", { admin: true })
      const stored = new Set<string>()
      let after: string | null = null
      do {
        const query: string = after === null ? "" : `&after=${encodeURIComponent(after)}`
        const page = await call(second, "GET", `/admin/sessions?owner=loader&limit=1000${query}`, { token: admin })
        expect(page.status).toBe(200)
        for (const session of page.json["sessions"]) stored.add(session.id)
        after = page.json["next"]
      } while (after !== null)
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([])
    } finally {
      await second.stop()
    }
  })

  it("generates a secret on first start (mode 0600), says how to mint a token, and keeps using it", async () => {
    const first = await startProcess({ SESSIONS_JWT_SECRET: undefined })
    const file = Path.join(first.dataDir, "jwt-secret")
    try {
      await eventually(() => expect(first.logs.join("\n")).toContain("effect-sessions token --owner alice"))
      if (process.platform !== "win32") expect(Fs.statSync(file).mode & 0o777).toBe(0o600)
      const generated = Fs.readFileSync(file, "utf8").trim()
      const token = await sign(generated, "alice")
      expect((await call(first, "GET", "/sessions", { token })).status).toBe(200)
      expect((await call(first, "GET", "/sessions", { token: await sign(secret, "alice") })).status).toBe(401)
    } finally {
      first.child.kill("SIGTERM")
      await first.exited
    }
    const second = await startProcess({ SESSIONS_JWT_SECRET: undefined, SESSIONS_DATA_DIR: first.dataDir })
    try {
      expect(second.logs.join("\n")).not.toContain("generated a JWT signing secret")
      const token = await sign(Fs.readFileSync(file, "utf8").trim(), "alice")
      expect((await call(second, "GET", "/sessions", { token })).status).toBe(200)
    } finally {
      await second.stop()
    }
  })
})

describe("the request deadline", () => {
  it("cancels work that runs past it and answers 504; the session stays usable", async () => {
    const scope = await Effect.runPromise(Scope.make())
    try {
      const context = await Effect.runPromise(
        serverLayer({
          config: Either.getOrThrow(makeServiceConfig({ port: 0, requestTimeout: "300 millis" })),
          key: { key: Buffer.from(secret), source: { _tag: "Environment" } },
          shutdownDeadline: Duration.seconds(1)
        }).pipe(
          Layer.provideMerge(faultyManagerLayer({ storeTimeout: "30 seconds" })),
          Layer.buildWithScope(scope)
        )
      )
      const address = Context.get(context, HttpServer.HttpServer).address
      const service = { url: `http://127.0.0.1:${address._tag === "TcpAddress" ? address.port : 0}` }
      const faults = Context.get(context, FaultyStore.Faults)
      const token = await sign(secret, "alice")
      const created = await call(service, "POST", "/sessions", { token, body: { data: { a: 1 } } })
      expect(created.status).toBe(201)
      const path = `/sessions/${created.json["id"]}/data`

      faults.inject("update", "hang", 1)
      const started = Date.now()
      const late = await call(service, "PATCH", path, { token, body: { b: 2 } })
      expect(late.status).toBe(504)
      expect(late.json).toMatchObject({ _tag: "OperationTimeout" })
      expect(Date.now() - started).toBeLessThan(10_000)

      // The lock was released with the cancelled work: the next write goes through at once.
      const next = await call(service, "PATCH", path, { token, body: { c: 3 } })
      expect(next.status).toBe(200)
      expect(next.json["data"]).toEqual({ a: 1, c: 3 })

      const backup = await call(service, "POST", "/admin/backup", {
        token: await sign(secret, "ops", { admin: true }),
        body: {}
      })
      expect(backup.status).toBe(500)
      expect(backup.json).toMatchObject({ _tag: "StoreError", operation: "backup" })
    } finally {
      await Effect.runPromise(Scope.close(scope, Exit.void))
    }
  })
})
