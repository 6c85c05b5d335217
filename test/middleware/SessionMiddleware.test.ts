import { HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as Http from "node:http"
import { MemoryStore, SessionManager } from "../../src/index.js"
import { SessionMiddleware } from "../../src/middleware.js"
import { Faults, type Operation } from "../support/FaultyStore.js"
import { stores } from "../support/stores.js"
import { baseUrl, empty, serveShop } from "./app.js"

/** One `Set-Cookie` header: the cookie's value and its attributes, by lower-case name. */
export const parseSetCookie = (header: string) => {
  const [pair, ...attributes] = header.split(";").map((part) => part.trim())
  const [name, value] = pair!.split("=") as [string, string]
  return {
    name,
    value,
    attributes: Object.fromEntries(attributes.map((attribute) => {
      const [key, val] = attribute.split("=")
      return [key!.toLowerCase(), val ?? true]
    }))
  }
}

const call = (url: string, init: { method?: string; cookie?: string; headers?: Record<string, string> } = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: init.method ?? "GET",
      headers: { ...(init.cookie === undefined ? {} : { cookie: init.cookie }), ...init.headers }
    })
    const body = await response.json() as unknown
    const cookies = response.headers.getSetCookie().map(parseSetCookie)
    return { status: response.status, body, cookies, headers: response.headers }
  })

const storeCalls = (faults: Faults["Type"]) => {
  const operations: ReadonlyArray<Operation> = ["get", "touch", "insert", "update", "list", "acquireLease"]
  return operations.reduce((sum, op) => sum + faults.calls(op).length, 0)
}

for (const store of stores) {
  describe(`session middleware (${store.name})`, () => {
    const served = (options?: Parameters<typeof serveShop>[0]) =>
      serveShop(options).pipe(Layer.provideMerge(store.faultyManagerLayer({}, { sweeper: false })))

    it.scopedLive("a request that never asks for its session makes no store call, cookie or not", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const faults = yield* Faults
        const before = storeCalls(faults)
        const plain = yield* call(`${url}/health`)
        const withCookie = yield* call(`${url}/health`, { cookie: "session=anything" })
        expect([plain.status, withCookie.status]).toEqual([200, 200])
        expect([plain.cookies, withCookie.cookies]).toEqual([[], []])
        expect(storeCalls(faults)).toBe(before)
        // Reading the cart without a session asks nothing of the store either (there is no id to look up).
        const cart = yield* call(`${url}/cart`)
        expect(cart).toMatchObject({ status: 200, body: empty(), cookies: [] })
        expect(storeCalls(faults)).toBe(before)
      }).pipe(Effect.provide(served())))

    it.scopedLive("a write creates the session and sets a cookie with its attributes, used across requests", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const added = yield* call(`${url}/cart/apple`, { method: "POST" })
        expect(added).toMatchObject({ status: 200, body: { user: null, items: ["apple"] } })
        expect(added.cookies).toHaveLength(1)
        const cookie = added.cookies[0]!
        expect(cookie.name).toBe("session")
        expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{20,}$/)
        expect(cookie.attributes).toMatchObject({ httponly: true, secure: true, samesite: "Lax", path: "/" })
        expect(cookie.attributes.domain).toBeUndefined()
        // Max-Age follows the session's expiry: the default idle timeout of 15 minutes.
        const maxAge = Number(cookie.attributes["max-age"])
        expect(maxAge).toBeGreaterThan(890)
        expect(maxAge).toBeLessThanOrEqual(900)
        const again = yield* call(`${url}/cart/pear`, { method: "POST", cookie: `session=${cookie.value}` })
        expect(again.body).toEqual({ user: null, items: ["apple", "pear"] })
        const read = yield* call(`${url}/cart`, { cookie: `session=${cookie.value}` })
        expect(read.body).toEqual({ user: null, items: ["apple", "pear"] })
        // A read touches the session, so the cookie is sent again with the moved expiry.
        expect(read.cookies.map((c) => c.value)).toEqual([cookie.value])
        const sessions = yield* SessionManager.SessionManager
        const stored = yield* sessions.get(cookie.value)
        expect(stored).toMatchObject({ kind: "shop", status: "active", data: { items: ["apple", "pear"] } })
        expect(stored.owner).toMatch(/^visitor-/)
      }).pipe(Effect.provide(served())))

    it.scopedLive("a cookie naming no session of this app is no session, cleared, never an error", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const sessions = yield* SessionManager.SessionManager
        const foreign = yield* sessions.create({ owner: "someone", kind: "other-app", data: { user: "x", items: [] } })
        const closed = yield* sessions.create({ owner: "someone", kind: "shop", data: { user: null, items: ["old"] } })
        yield* sessions.close(closed.id)
        const misfit = yield* sessions.create({ owner: "someone", kind: "shop", data: { items: "not a list" } })
        const values = ["not-an-id", "A".repeat(5000), "x".repeat(22), foreign.id, closed.id, misfit.id, "%00%ff"]
        for (const value of values) {
          const response = yield* call(`${url}/cart`, { cookie: `session=${value}` })
          expect(response, value.slice(0, 40)).toMatchObject({ status: 200, body: empty() })
          expect(response.cookies.map((c) => [c.name, c.value, c.attributes["max-age"]])).toEqual([[
            "session",
            "",
            "0"
          ]])
        }
        // The foreign app's session was not changed by being named.
        expect((yield* sessions.get(foreign.id)).data).toEqual({ user: "x", items: [] })
        // A write under such a cookie creates a fresh session of this app.
        const added = yield* call(`${url}/cart/apple`, { method: "POST", cookie: `session=${foreign.id}` })
        expect(added.body).toEqual({ user: null, items: ["apple"] })
        expect(added.cookies[0]!.value).not.toBe(foreign.id)
      }).pipe(Effect.provide(served())))

    it.scopedLive("login rotates the id keeping the data; the old id is refused; logout ends the session", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const first = (yield* call(`${url}/cart/apple`, { method: "POST" })).cookies[0]!.value
        const login = yield* call(`${url}/login/alice`, { method: "POST", cookie: `session=${first}` })
        expect(login.body).toEqual({ user: "alice", items: ["apple"] })
        const rotated = login.cookies.map((c) => c.value)
        expect(rotated).toHaveLength(1)
        expect(rotated[0]).not.toBe(first)
        const old = yield* call(`${url}/cart`, { cookie: `session=${first}` })
        expect(old.body).toEqual(empty())
        const fresh = yield* call(`${url}/cart`, { cookie: `session=${rotated[0]}` })
        expect(fresh.body).toEqual({ user: "alice", items: ["apple"] })
        const logout = yield* call(`${url}/logout`, { method: "POST", cookie: `session=${rotated[0]}` })
        expect(logout.cookies.map((c) => [c.value, c.attributes["max-age"]])).toEqual([["", "0"]])
        const after = yield* call(`${url}/cart`, { cookie: `session=${rotated[0]}` })
        expect(after.body).toEqual(empty())
        const sessions = yield* SessionManager.SessionManager
        expect(yield* sessions.get(rotated[0]!)).toMatchObject({ status: "closed", endReason: "logout" })
      }).pipe(Effect.provide(served())))

    it.scopedLive("data that does not fit the schema is refused with 422 and nothing is written", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const first = (yield* call(`${url}/cart/apple`, { method: "POST" })).cookies[0]!.value
        const refused = yield* call(`${url}/cart/${"x".repeat(21)}`, { method: "POST", cookie: `session=${first}` })
        expect(refused).toMatchObject({ status: 422, body: { _tag: "SessionDataRejected" } })
        expect((yield* call(`${url}/cart`, { cookie: `session=${first}` })).body).toEqual({
          user: null,
          items: ["apple"]
        })
      }).pipe(Effect.provide(served())))

    it.scopedLive("a store that fails answers 503, not 500, and the next request is served", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const first = (yield* call(`${url}/cart/apple`, { method: "POST" })).cookies[0]!.value
        const faults = yield* Faults
        faults.inject("touch", "error", 1)
        const failed = yield* call(`${url}/cart`, { cookie: `session=${first}` })
        expect(failed).toMatchObject({ status: 503, body: { _tag: "SessionUnavailable" } })
        expect((yield* call(`${url}/cart`, { cookie: `session=${first}` })).body).toEqual({
          user: null,
          items: ["apple"]
        })
      }).pipe(Effect.provide(served())))

    it.scopedLive("takes the id from a header when so configured, and answers new ids in it", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const added = yield* call(`${url}/cart/apple`, { method: "POST" })
        expect(added.cookies).toEqual([])
        const id = added.headers.get("x-session-id")
        expect(id).toMatch(/^[A-Za-z0-9_-]{20,}$/)
        const read = yield* call(`${url}/cart`, { headers: { "x-session-id": id! } })
        expect(read.body).toEqual({ user: null, items: ["apple"] })
      }).pipe(Effect.provide(served({ initial: empty, cookie: false, header: "X-Session-Id" }))))

    it.scopedLive("cookie settings: name, Secure off for local development, SameSite, Path and Domain", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const added = yield* call(`${url}/cart/apple`, { method: "POST" })
        const cookie = added.cookies[0]!
        expect(cookie.name).toBe("sid")
        expect(cookie.attributes).toMatchObject({
          httponly: true,
          samesite: "Strict",
          path: "/shop",
          domain: "example.test"
        })
        expect(cookie.attributes.secure).toBeUndefined()
        const maxAge = Number(cookie.attributes["max-age"])
        expect(maxAge).toBeGreaterThan(50)
        expect(maxAge).toBeLessThanOrEqual(60)
      }).pipe(Effect.provide(served({
        initial: empty,
        idleTimeout: "1m",
        cookie: { name: "sid", secure: false, sameSite: "strict", path: "/shop", domain: "example.test" }
      }))))
  })
}

describe("session middleware for HttpRouter apps", () => {
  const Visits = SessionMiddleware.define("visits", Schema.Number)
  const router = HttpRouter.empty.pipe(
    HttpRouter.post(
      "/visit",
      Effect.gen(function*() {
        const session = yield* Visits.CurrentSession
        const visited = yield* session.modify((count) => count + 1)
        return yield* HttpServerResponse.json({ visits: visited.data })
      })
    )
  )
  const served = Layer.unwrapEffect(
    Effect.map(
      Visits.http({ initial: () => 0, cookie: { secure: false } }),
      (sessions) => HttpServer.serve(sessions(router))
    )
  ).pipe(
    Layer.provideMerge(NodeHttpServer.layer(() => Http.createServer(), { port: 0, host: "127.0.0.1" })),
    Layer.provideMerge(stores[0]!.faultyManagerLayer({}, { sweeper: false }))
  )

  it.scopedLive("provides the same CurrentSession to a router's handlers, cookie and errors included", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const first = yield* call(`${url}/visit`, { method: "POST" })
      expect(first.body).toEqual({ visits: 1 })
      const cookie = first.cookies[0]!
      expect(cookie.attributes).toMatchObject({ httponly: true, samesite: "Lax", path: "/" })
      expect(cookie.attributes.secure).toBeUndefined()
      const second = yield* call(`${url}/visit`, { method: "POST", cookie: `session=${cookie.value}` })
      expect(second.body).toEqual({ visits: 2 })
      const faults = yield* Faults
      faults.inject("touch", "error", 1)
      const failed = yield* call(`${url}/visit`, { method: "POST", cookie: `session=${cookie.value}` })
      expect(failed).toMatchObject({ status: 503, body: { _tag: "SessionUnavailable" } })
    }).pipe(Effect.provide(served)))

  it.effect("refuses bad settings with InvalidConfig naming every one", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Visits.http({
          initial: () => 0,
          cookie: { name: "bad name", sameSite: "none", secure: false },
          header: "not a header",
          owner: "",
          idleTimeout: "soon"
        })
      )
      expect(error._tag).toBe("InvalidConfig")
      expect(error.issues.map((issue) => issue.field).sort()).toEqual(
        ["cookie.name", "cookie.sameSite", "header", "idleTimeout", "owner"]
      )
    }).pipe(Effect.provide(SessionManager.layer().pipe(Layer.provide(MemoryStore.layer)))))
})
