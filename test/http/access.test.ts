/**
 * Who may call what: the full matrix of routes by caller, the token checks, both rate limiters, and the browser
 * origin allow-list (with a reload while requests are in flight), against the real process and in this process.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { SignJWT } from "jose"
import { call, secret, type Service, sign, type Start, startInProcess, startProcess } from "../support/service.js"

interface Route {
  readonly name: string
  readonly method: string
  readonly path: (id: string) => string
  readonly body?: (id: string) => unknown
  readonly family: "sessions" | "admin" | "system"
  /** The status for the right owner (session routes) or an admin (admin routes). */
  readonly ok: number
  /** The status for another owner (or an admin acting as an owner) on the session routes. */
  readonly foreign?: number
}

const routes: ReadonlyArray<Route> = [
  {
    name: "create",
    method: "POST",
    path: () => "/sessions",
    body: () => ({}),
    family: "sessions",
    ok: 201,
    foreign: 201
  },
  { name: "list", method: "GET", path: () => "/sessions", family: "sessions", ok: 200, foreign: 200 },
  { name: "get", method: "GET", path: (id) => `/sessions/${id}`, family: "sessions", ok: 200, foreign: 404 },
  { name: "touch", method: "POST", path: (id) => `/sessions/${id}/touch`, family: "sessions", ok: 200, foreign: 404 },
  {
    name: "activity",
    method: "POST",
    path: (id) => `/sessions/${id}/activity`,
    body: () => ({ messages: 1 }),
    family: "sessions",
    ok: 200,
    foreign: 404
  },
  { name: "wait", method: "POST", path: (id) => `/sessions/${id}/wait`, family: "sessions", ok: 200, foreign: 404 },
  { name: "resume", method: "POST", path: (id) => `/sessions/${id}/resume`, family: "sessions", ok: 409, foreign: 404 },
  {
    name: "regenerate",
    method: "POST",
    path: (id) => `/sessions/${id}/regenerate`,
    family: "sessions",
    ok: 200,
    foreign: 404
  },
  {
    name: "replaceData",
    method: "PUT",
    path: (id) => `/sessions/${id}/data`,
    body: () => ({ x: 1 }),
    family: "sessions",
    ok: 200,
    foreign: 404
  },
  {
    name: "mergeData",
    method: "PATCH",
    path: (id) => `/sessions/${id}/data`,
    body: () => ({ x: 2 }),
    family: "sessions",
    ok: 200,
    foreign: 404
  },
  { name: "close", method: "DELETE", path: (id) => `/sessions/${id}`, family: "sessions", ok: 200, foreign: 404 },
  {
    name: "activate",
    method: "PUT",
    path: () => "/active",
    body: (id) => ({ id }),
    family: "sessions",
    ok: 200,
    foreign: 404
  },
  // The owner made a session its active one just above; the others never did.
  { name: "active", method: "GET", path: () => "/active", family: "sessions", ok: 200, foreign: 404 },
  { name: "events", method: "GET", path: () => "/events", family: "sessions", ok: 200, foreign: 200 },
  { name: "admin stats", method: "GET", path: () => "/admin/stats", family: "admin", ok: 200 },
  { name: "admin sessions", method: "GET", path: () => "/admin/sessions", family: "admin", ok: 200 },
  { name: "admin close", method: "DELETE", path: (id) => `/admin/sessions/${id}`, family: "admin", ok: 200 },
  { name: "admin sweep", method: "POST", path: () => "/admin/sweep", family: "admin", ok: 200 },
  { name: "admin backup", method: "POST", path: () => "/admin/backup", body: () => ({}), family: "admin", ok: 201 },
  { name: "admin origins", method: "GET", path: () => "/admin/origins", family: "admin", ok: 200 },
  {
    name: "admin set origins",
    method: "PUT",
    path: () => "/admin/origins",
    body: () => ({ origins: [] }),
    family: "admin",
    ok: 200
  },
  { name: "admin events", method: "GET", path: () => "/admin/events", family: "admin", ok: 200 },
  { name: "healthz", method: "GET", path: () => "/healthz", family: "system", ok: 200 },
  { name: "readyz", method: "GET", path: () => "/readyz", family: "system", ok: 200 },
  { name: "metrics", method: "GET", path: () => "/metrics", family: "system", ok: 200 }
]

type Caller = "none" | "garbage" | "expired" | "wrong key" | "no exp" | "other owner" | "right owner" | "admin"
const callers: ReadonlyArray<Caller> = [
  "none",
  "garbage",
  "expired",
  "wrong key",
  "no exp",
  "other owner",
  "admin",
  "right owner"
]

const expected = (route: Route, caller: Caller): number => {
  if (route.family === "system") return 200
  switch (caller) {
    case "none":
    case "garbage":
    case "expired":
    case "wrong key":
    case "no exp":
      return 401
    case "other owner":
      return route.family === "admin" ? 403 : route.foreign!
    case "admin":
      return route.family === "admin" ? route.ok : route.foreign!
    case "right owner":
      return route.family === "admin" ? 403 : route.ok
  }
}

/** The status of one request; an event stream is read only up to its headers. */
const statusOf = async (service: Service, method: string, path: string, token: string | undefined, body?: unknown) => {
  if (!path.endsWith("/events")) return (await call(service, method, path, { token, body })).status
  const abort = new AbortController()
  const response = await fetch(`${service.url}${path}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    signal: abort.signal
  })
  abort.abort()
  return response.status
}

const modes: ReadonlyArray<readonly [string, Start]> = [["process", startProcess], ["in-process", startInProcess]]

describe.each(modes)("access (%s)", (_mode, start) => {
  describe("the matrix of route by caller", () => {
    let service: Service
    const tokens = new Map<Caller, string | undefined>()
    beforeAll(async () => {
      service = await start({ SESSIONS_ADMIN_RATE_LIMIT: "10000/1m", SESSIONS_MAX_SESSIONS_PER_OWNER: "1000" })
      const now = Math.floor(Date.now() / 1000)
      tokens.set("none", undefined)
      tokens.set("garbage", "not.a.jwt")
      tokens.set("expired", await service.token("owner", { expiresIn: -60 }))
      tokens.set("wrong key", await sign("another-secret-that-is-long-enough-0123456789", "owner"))
      tokens.set(
        "no exp",
        await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("owner").setIssuedAt(now).sign(
          Buffer.from(secret)
        )
      )
      tokens.set("other owner", await service.token("intruder"))
      tokens.set("admin", await service.token("ops", { admin: true }))
      tokens.set("right owner", await service.token("owner"))
    })
    afterAll(() => service.stop())

    it("answers every route for every caller with its documented status", async () => {
      const seen: Array<string> = []
      const wanted: Array<string> = []
      for (const route of routes) {
        for (const caller of callers) {
          const created = await call(service, "POST", "/sessions", { token: tokens.get("right owner"), body: {} })
          expect(created.status).toBe(201)
          const id = created.json["id"] as string
          const status = await statusOf(service, route.method, route.path(id), tokens.get(caller), route.body?.(id))
          seen.push(`${route.name} by ${caller}: ${status}`)
          wanted.push(`${route.name} by ${caller}: ${expected(route, caller)}`)
        }
      }
      expect(seen).toEqual(wanted)
    })
  })

  it("checks the issuer and the audience when they are configured", async () => {
    const service = await start({ SESSIONS_JWT_ISSUER: "https://id.example.com", SESSIONS_JWT_AUDIENCE: "sessions" })
    try {
      const plain = await sign(secret, "alice")
      const wrongIssuer = await sign(secret, "alice", { claims: { iss: "https://evil.example.com", aud: "sessions" } })
      const wrongAudience = await sign(secret, "alice", { claims: { iss: "https://id.example.com", aud: "other" } })
      const right = await sign(secret, "alice", { claims: { iss: "https://id.example.com", aud: "sessions" } })
      for (const token of [plain, wrongIssuer, wrongAudience]) {
        const response = await call(service, "GET", "/sessions", { token })
        expect(response.status).toBe(401)
        expect(response.json["_tag"]).toBe("Unauthorized")
        expect(response.text).not.toContain(token)
      }
      expect((await call(service, "GET", "/sessions", { token: right })).status).toBe(200)
    } finally {
      await service.stop()
    }
  })

  it("limits each subject on the session routes and, separately and stricter, on /admin", async () => {
    const service = await start({ SESSIONS_HTTP_RATE_LIMIT: "5/1m", SESSIONS_ADMIN_RATE_LIMIT: "3/1m" })
    try {
      const alice = await service.token("alice")
      const bob = await service.token("bob")
      const ops = await service.token("ops", { admin: true })
      for (let i = 0; i < 5; i++) expect((await call(service, "GET", "/sessions", { token: alice })).status).toBe(200)
      const limited = await call(service, "GET", "/sessions", { token: alice })
      expect(limited.status).toBe(429)
      expect(limited.json["_tag"]).toBe("RateLimited")
      const retryAfter = Number(limited.headers.get("retry-after"))
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true)
      // Another subject has its own budget.
      expect((await call(service, "GET", "/sessions", { token: bob })).status).toBe(200)

      for (let i = 0; i < 3; i++) expect((await call(service, "GET", "/admin/stats", { token: ops })).status).toBe(200)
      const adminLimited = await call(service, "GET", "/admin/stats", { token: ops })
      expect(adminLimited.status).toBe(429)
      expect(Number(adminLimited.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      // The admin budget is spent, the same subject's session-route budget is not: they never share.
      for (let i = 0; i < 5; i++) expect((await call(service, "GET", "/sessions", { token: ops })).status).toBe(200)
      expect((await call(service, "GET", "/sessions", { token: ops })).status).toBe(429)
      // Health and metrics spend no subject's budget.
      expect((await call(service, "GET", "/healthz")).status).toBe(200)
    } finally {
      await service.stop()
    }
  })

  describe("browser origins", () => {
    let service: Service
    let alice: string
    let ops: string
    const app = "https://app.example.com"
    const next = "https://next.example.com"
    beforeAll(async () => {
      service = await start({ SESSIONS_CORS_ORIGINS: app, SESSIONS_ADMIN_RATE_LIMIT: "1000/1m" })
      alice = await service.token("alice")
      ops = await service.token("ops", { admin: true })
    })
    afterAll(() => service.stop())

    it("gives CORS headers to allowed origins, answers their preflight, and refuses other origins", async () => {
      const allowed = await call(service, "GET", "/sessions", { token: alice, headers: { origin: app } })
      expect(allowed.status).toBe(200)
      expect(allowed.headers.get("access-control-allow-origin")).toBe(app)
      expect(allowed.headers.get("access-control-expose-headers")).toMatch(/etag/i)

      const preflight = await fetch(`${service.url}/sessions`, {
        method: "OPTIONS",
        headers: {
          origin: app,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization"
        }
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get("access-control-allow-origin")).toBe(app)
      expect(preflight.headers.get("access-control-allow-methods")).toContain("POST")
      expect(preflight.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("authorization")

      const refused = await call(service, "GET", "/sessions", {
        token: alice,
        headers: { origin: "https://evil.example.com" }
      })
      expect(refused.status).toBe(403)
      expect(refused.json["_tag"]).toBe("Forbidden")
      expect(refused.headers.get("access-control-allow-origin")).toBeNull()
      const refusedPreflight = await fetch(`${service.url}/sessions`, {
        method: "OPTIONS",
        headers: { origin: "https://evil.example.com", "access-control-request-method": "POST" }
      })
      expect(refusedPreflight.status).toBe(403)

      // Not a browser (no Origin): no CORS headers, and no refusal.
      const plain = await call(service, "GET", "/sessions", { token: alice })
      expect(plain.status).toBe(200)
      expect(plain.headers.get("access-control-allow-origin")).toBeNull()
    })

    it("reloads the allow-list while requests are in flight, each seeing the old list or the new one", async () => {
      const inFlight = Array.from(
        { length: 60 },
        (_, i) =>
          call(service, "POST", "/sessions", { token: alice, body: {}, headers: { origin: i % 2 === 0 ? app : next } })
      )
      const reload = call(service, "PUT", "/admin/origins", { token: ops, body: { origins: [next] } })
      const [responses, reloaded] = await Promise.all([Promise.all(inFlight), reload])
      expect(reloaded.status).toBe(200)
      expect(reloaded.json).toEqual({ origins: [next] })
      for (const response of responses) {
        expect([201, 403]).toContain(response.status)
        if (response.status === 201) expect(response.headers.get("access-control-allow-origin")).not.toBeNull()
      }
      expect((await call(service, "GET", "/admin/origins", { token: ops })).json).toEqual({ origins: [next] })
      expect((await call(service, "GET", "/sessions", { token: alice, headers: { origin: app } })).status).toBe(403)
      const now = await call(service, "GET", "/sessions", { token: alice, headers: { origin: next } })
      expect(now.status).toBe(200)
      expect(now.headers.get("access-control-allow-origin")).toBe(next)

      const bad = await call(service, "PUT", "/admin/origins", {
        token: ops,
        body: { origins: [next, "javascript:x"] }
      })
      expect(bad.status).toBe(400)
      expect(bad.json).toMatchObject({ _tag: "InvalidInput", field: "origins.1" })
      expect((await call(service, "GET", "/admin/origins", { token: ops })).json).toEqual({ origins: [next] })
    })
  })
})

describe("a weak secret", () => {
  it.each([["short", "too-short"], ["low entropy", "a".repeat(48)], ["well known", "changeme".repeat(5)]])(
    "stops the service from starting (%s), saying how to make a strong one",
    async (_name, weak) => {
      const error: Error = await startProcess({ SESSIONS_JWT_SECRET: weak }).then(
        () => new Error("started"),
        (failure: Error) => failure
      )
      expect(error.message).toMatch(/exited with [1-9]/)
      expect(error.message).toMatch(/openssl rand|randomBytes/)
      expect(error.message).not.toContain(weak)
    }
  )
})
