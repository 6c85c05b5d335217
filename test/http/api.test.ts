/**
 * Every route of the HTTP API, over loopback with `fetch`, against the real `effect-sessions serve` process and
 * against the same layers built in this process: happy paths, the statuses of failures, and what the headers say.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Path from "node:path"
import parsePrometheus from "parse-prometheus-text-format"
import { type Body, call, type Service, type Start, startInProcess, startProcess } from "../support/service.js"
import { readEvents } from "../support/sse.js"

/** A well-formed session id that no session has. */
const missingId = "AAAAAAAAAAAAAAAAAAAAAA"

const modes: ReadonlyArray<readonly [string, Start]> = [["process", startProcess], ["in-process", startInProcess]]

describe.each(modes)("HTTP API (%s)", (_mode, start) => {
  let service: Service
  let alice: string
  let bob: string
  let admin: string
  beforeAll(async () => {
    service = await start({ SESSIONS_MAX_BODY_BYTES: "2048", SESSIONS_ADMIN_RATE_LIMIT: "1000/1m" })
    alice = await service.token("alice")
    bob = await service.token("bob")
    admin = await service.token("ops", { admin: true })
  })
  afterAll(() => service.stop())

  const create = async (token: string, body: unknown = {}) => {
    const response = await call(service, "POST", "/sessions", { token, body })
    expect(response.status).toBe(201)
    return response.json
  }

  it("creates a session with Location and ETag, and reads it back", async () => {
    const created = await call(service, "POST", "/sessions", {
      token: alice,
      body: { kind: "chat", name: "first", data: { model: "m1" }, idleTimeout: "10m" }
    })
    expect(created.status).toBe(201)
    expect(created.json).toMatchObject({ owner: "alice", kind: "chat", name: "first", status: "active", version: 1 })
    expect(created.json["data"]).toEqual({ model: "m1" })
    expect(created.headers.get("location")).toBe(`/sessions/${created.json["id"]}`)
    expect(created.headers.get("etag")).toBe(`"1"`)
    expect(created.headers.get("x-request-id")).toMatch(/\S/)

    const read = await call(service, "GET", created.headers.get("location")!, { token: alice })
    expect(read.status).toBe(200)
    expect(read.json).toEqual(created.json)
  })

  it("touches, records activity, waits and resumes", async () => {
    const session = await create(alice)
    const path = `/sessions/${session.id}`
    const touched = await call(service, "POST", `${path}/touch`, { token: alice })
    expect(touched.status).toBe(200)
    expect(touched.json["lastActiveAt"]).toBeGreaterThanOrEqual(session.lastActiveAt)

    const activity = await call(service, "POST", `${path}/activity`, {
      token: alice,
      body: { messages: 3, responseTimeMs: 120 }
    })
    expect(activity.status).toBe(200)
    expect(activity.json).toMatchObject({ messageCount: 3, responseTimes: [120] })

    const waiting = await call(service, "POST", `${path}/wait`, { token: alice })
    expect(waiting.status).toBe(200)
    expect(waiting.json["status"]).toBe("waiting")
    const again = await call(service, "POST", `${path}/wait`, { token: alice })
    expect(again.status).toBe(409)
    expect(again.json["_tag"]).toBe("InvalidTransition")
    const resumed = await call(service, "POST", `${path}/resume`, { token: alice })
    expect(resumed.status).toBe(200)
    expect(resumed.json["status"]).toBe("active")
  })

  it("replaces data under If-Match, and refuses a stale or malformed one", async () => {
    const session = await create(alice, { data: { a: 1 } })
    const path = `/sessions/${session.id}/data`
    const replaced = await call(service, "PUT", path, { token: alice, body: { b: 2 }, headers: { "if-match": `"1"` } })
    expect(replaced.status).toBe(200)
    expect(replaced.json["data"]).toEqual({ b: 2 })
    expect(replaced.headers.get("etag")).toBe(`"2"`)

    const stale = await call(service, "PUT", path, { token: alice, body: { c: 3 }, headers: { "if-match": `"1"` } })
    expect(stale.status).toBe(409)
    expect(stale.json).toMatchObject({ _tag: "VersionConflict", expected: 1, actual: 2 })

    const malformed = await call(service, "PUT", path, { token: alice, body: {}, headers: { "if-match": "W/x" } })
    expect(malformed.status).toBe(400)
    expect(malformed.json).toMatchObject({ _tag: "InvalidInput", field: "if-match" })

    const unconditional = await call(service, "PUT", path, { token: alice, body: [1, 2] })
    expect(unconditional.status).toBe(200)
    expect(unconditional.json).toMatchObject({ version: 3, data: [1, 2] })
  })

  it("merges data as a JSON merge patch", async () => {
    const session = await create(alice, { data: { keep: 1, drop: 2, nested: { x: 1, y: 2 } } })
    const merged = await call(service, "PATCH", `/sessions/${session.id}/data`, {
      token: alice,
      body: { drop: null, nested: { y: null, z: 3 }, added: "new" }
    })
    expect(merged.status).toBe(200)
    expect(merged.json["data"]).toEqual({ keep: 1, nested: { x: 1, z: 3 }, added: "new" })
    expect(merged.json["version"]).toBe(2)
  })

  it("closes with a reason; the session then answers 410", async () => {
    const session = await create(alice)
    const closed = await call(service, "DELETE", `/sessions/${session.id}?reason=done`, { token: alice })
    expect(closed.status).toBe(200)
    expect(closed.json["status"]).toBe("closed")
    const after = await call(service, "POST", `/sessions/${session.id}/touch`, { token: alice })
    expect(after.status).toBe(410)
    expect(after.json["_tag"]).toBe("SessionEnded")
  })

  it("activates a session and reads the owner's active one", async () => {
    const none = await call(service, "GET", "/active", { token: await service.token("carol") })
    expect(none.status).toBe(404)
    expect(none.json).toMatchObject({ _tag: "NoActiveSession", owner: "carol" })

    const session = await create(alice)
    const activated = await call(service, "PUT", "/active", { token: alice, body: { id: session.id } })
    expect(activated.status).toBe(200)
    const active = await call(service, "GET", "/active", { token: alice })
    expect(active.status).toBe(200)
    expect(active.json["id"]).toBe(session.id)

    const foreign = await call(service, "PUT", "/active", { token: bob, body: { id: session.id } })
    expect(foreign.status).toBe(404)
  })

  it("lists the owner's sessions in pages, with filters", async () => {
    const owner = await service.token("dave")
    const ids: Array<string> = []
    for (let i = 0; i < 5; i++) ids.push((await create(owner, { kind: i % 2 === 0 ? "even" : "odd" })).id)
    await create(bob)

    const seen: Array<string> = []
    let after: string | null = null
    let pages = 0
    do {
      const query: string = after === null ? "?limit=2" : `?limit=2&after=${encodeURIComponent(after)}`
      const response = await call(service, "GET", `/sessions${query}`, { token: owner })
      expect(response.status).toBe(200)
      expect(response.json["sessions"].length).toBeLessThanOrEqual(2)
      seen.push(...response.json["sessions"].map((session: { id: string }) => session.id))
      after = response.json["next"]
      pages++
    } while (after !== null && pages < 10)
    expect([...seen].sort()).toEqual([...ids].sort())

    const even = await call(service, "GET", "/sessions?kind=even", { token: owner })
    expect(even.json["sessions"].map((session: { kind: string }) => session.kind)).toEqual(["even", "even", "even"])
    const closed = await call(service, "GET", "/sessions?status=closed", { token: owner })
    expect(closed.json["sessions"]).toEqual([])
    const badStatus = await call(service, "GET", "/sessions?status=sleeping", { token: owner })
    expect(badStatus.status).toBe(400)
    expect(badStatus.json).toMatchObject({ _tag: "InvalidInput", field: "status" })
  })

  it("streams the owner's events and resumes after Last-Event-ID", async () => {
    const owner = "erin"
    const token = await service.token(owner)
    let first: Body = {}
    const events = await readEvents(service, "/events", {
      token,
      until: (seen) => seen.some((event) => event.event === "Updated"),
      onOpen: async () => {
        await create(bob)
        first = await create(token)
        await call(service, "PUT", `/sessions/${first.id}/data`, { token, body: { step: 1 } })
      }
    })
    expect(events.map((event) => event.event)).toEqual(["Created", "Updated"])
    expect(events.every((event) => event.data.owner === owner)).toBe(true)
    expect(events[0]!.data.id).toBe(first.id)

    // Missed while disconnected: a touch is not an event, a close is.
    await call(service, "DELETE", `/sessions/${first.id}`, { token })
    const resumed = await readEvents(service, "/events", {
      token,
      lastEventId: events[1]!.id,
      until: (seen) => seen.some((event) => event.event === "Closed")
    })
    expect(resumed.map((event) => event.event)).toEqual(["Closed"])
    // Ids are <epoch>-<seq>: the same run, a later event.
    const [epoch, seq] = events[1]!.id.split("-")
    expect(resumed[0]!.id.split("-")[0]).toBe(epoch)
    expect(Number(resumed[0]!.id.split("-")[1])).toBeGreaterThan(Number(seq))

    const badId = await call(service, "GET", "/events", { token, headers: { "last-event-id": "yesterday" } })
    expect(badId.status).toBe(400)
    expect(badId.json).toMatchObject({ _tag: "InvalidInput", field: "last-event-id" })
  })

  it("streams every owner's events on /admin/events", async () => {
    const events = await readEvents(service, "/admin/events", {
      token: admin,
      until: (seen) => new Set(seen.map((event) => event.data.owner)).size >= 2,
      onOpen: async () => {
        await create(alice)
        await create(bob)
      }
    })
    expect(new Set(events.map((event) => event.data.owner))).toEqual(new Set(["alice", "bob"]))
  })

  it("answers the admin routes", async () => {
    const session = await create(bob, { kind: "admin-test" })
    const stats = await call(service, "GET", "/admin/stats", { token: admin })
    expect(stats.status).toBe(200)
    expect(stats.json["counts"]["active"]).toBeGreaterThan(0)
    expect(stats.json["live"]).toBeGreaterThan(0)

    const listed = await call(service, "GET", "/admin/sessions?owner=bob&kind=admin-test", { token: admin })
    expect(listed.status).toBe(200)
    expect(listed.json["sessions"].map((s: { id: string }) => s.id)).toEqual([session.id])

    const closed = await call(service, "DELETE", `/admin/sessions/${session.id}?reason=abuse`, { token: admin })
    expect(closed.status).toBe(200)
    expect(closed.json["status"]).toBe("closed")
    const missing = await call(service, "DELETE", `/admin/sessions/${missingId}`, { token: admin })
    expect(missing.status).toBe(404)
    expect(missing.json["_tag"]).toBe("SessionNotFound")

    const swept = await call(service, "POST", "/admin/sweep", { token: admin })
    expect(swept.status).toBe(200)
    expect(swept.json).toMatchObject({ expired: expect.any(Number), purged: expect.any(Number) })

    const backedUp = await call(service, "POST", "/admin/backup", { token: admin, body: { name: "nightly.backup" } })
    expect(backedUp.status).toBe(201)
    expect(backedUp.json["sessions"]).toBeGreaterThan(0)
    const file = Path.join(service.dataDir, "backups", "nightly.backup")
    expect(Fs.statSync(file).size).toBe(backedUp.json["bytes"])
    const escaping = await call(service, "POST", "/admin/backup", { token: admin, body: { name: "../outside" } })
    expect(escaping.status).toBe(400)
    expect(escaping.json).toMatchObject({ _tag: "InvalidInput", field: "name" })
    const named = await call(service, "POST", "/admin/backup", { token: admin, body: {} })
    expect(named.status).toBe(201)
    expect(Path.basename(named.json["file"])).toMatch(/^sessions-.*\.backup$/)
  })

  it("answers health, readiness, metrics, the OpenAPI document and the docs", async () => {
    expect((await call(service, "GET", "/healthz")).json).toEqual({ status: "up" })
    expect((await call(service, "GET", "/readyz")).json).toEqual({ status: "ready" })

    await call(service, "GET", `/sessions/${missingId}`, { token: alice })
    const metrics = await call(service, "GET", "/metrics")
    expect(metrics.status).toBe(200)
    expect(metrics.headers.get("content-type")).toContain("text/plain")
    const families = parsePrometheus(metrics.text)
    const byName = new Map(families.map((family) => [family.name, family]))
    const requests = byName.get("http_requests_total")
    expect(requests?.type).toBe("COUNTER")
    const notFound = requests!.metrics.find((metric) => "value" in metric && metric.labels?.["status"] === "404")
    expect(Number(notFound !== undefined && "value" in notFound ? notFound.value : 0)).toBeGreaterThanOrEqual(1)
    expect(byName.get("http_request_duration_ms")?.type).toBe("HISTOGRAM")
    expect([...byName.keys()].some((name) => name.startsWith("sessions_"))).toBe(true)

    const openapi = await call(service, "GET", "/openapi.json")
    expect(openapi.status).toBe(200)
    expect(openapi.json["openapi"]).toMatch(/^3\./)
    for (const path of ["/sessions", "/sessions/{id}", "/sessions/{id}/data", "/active", "/events", "/admin/stats"]) {
      expect(Object.keys(openapi.json["paths"])).toContain(path)
    }
    const docs = await fetch(`${service.url}/docs`)
    expect(docs.status).toBe(200)
    expect(await docs.text()).toContain("swagger")
  })

  it("answers bad input with typed 4xx errors naming the field", async () => {
    const malformed = await call(service, "POST", "/sessions", { token: alice, body: "{\"kind\": " })
    expect(malformed.status).toBe(400)
    expect(malformed.json["_tag"]).toBe("InvalidInput")

    const wrongType = await call(service, "POST", "/sessions", { token: alice, body: { kind: 5 } })
    expect(wrongType.status).toBe(400)
    expect(wrongType.json).toMatchObject({ _tag: "InvalidInput", field: "kind" })

    const badDuration = await call(service, "POST", "/sessions", { token: alice, body: { idleTimeout: "90x" } })
    expect(badDuration.status).toBe(400)
    expect(badDuration.json).toMatchObject({ _tag: "InvalidInput", field: "idleTimeout" })

    const badActivity = await call(service, "PUT", "/active", { token: alice, body: { id: 7 } })
    expect(badActivity.status).toBe(400)
    expect(badActivity.json).toMatchObject({ _tag: "InvalidInput", field: "id" })

    const tooLarge = await call(service, "POST", "/sessions", { token: alice, body: { data: "x".repeat(4096) } })
    expect(tooLarge.status).toBe(413)
    expect(tooLarge.json).toMatchObject({ _tag: "PayloadTooLarge", limit: 2048 })

    // Streamed with no Content-Length: the limit holds while reading. Reading stops at the limit and the connection
    // is closed (413 when the service could still answer first); never accepted, never a 500.
    const chunked = await new Promise<number | "closed">((resolve) => {
      const request = Http.request(`${service.url}/sessions`, {
        method: "POST",
        headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" }
      }, (response) => {
        resolve(response.statusCode ?? 0)
        response.resume()
      })
      request.on("error", () => resolve("closed"))
      request.write(`{"data":"`)
      for (let i = 0; i < 8; i++) request.write("y".repeat(1024))
      request.end(`"}`)
    })
    expect([413, "closed"]).toContain(chunked)
    expect((await call(service, "GET", "/sessions", { token: alice })).status).toBe(200)

    const badId = await call(service, "GET", "/sessions/not-an-id", { token: alice })
    expect(badId.status).toBe(400)
    expect(badId.json).toMatchObject({ _tag: "InvalidInput", field: "id" })

    const unknown = await call(service, "GET", "/no/such/route", { token: alice })
    expect(unknown.status).toBe(404)
    expect(unknown.json).toEqual({ _tag: "RouteNotFound", method: "GET" })

    const wrongMethod = await call(service, "PATCH", "/active", { token: alice, body: {} })
    expect(wrongMethod.status).toBe(404)
  })

  it("never answers 500 for arbitrary bodies, paths and headers", async () => {
    const routes = [
      ["POST", "/sessions"],
      ["PUT", "/active"],
      ["POST", "/sessions/x/activity"],
      ["POST", "/admin/backup"],
      ["PUT", "/admin/origins"]
    ] as const
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...routes),
        fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((value) => JSON.stringify(value))),
        fc.string({ maxLength: 20 }),
        async ([method, path], body, suffix) => {
          const token = path.startsWith("/admin") ? admin : alice
          const response = await call(service, method, `${path}${encodeURIComponent(suffix)}`, { token, body })
          expect(response.status).toBeLessThan(500)
          if (response.status >= 400) expect(response.json?.["_tag"]).toBeTypeOf("string")
        }
      ),
      { numRuns: 60 }
    )
  })
})
