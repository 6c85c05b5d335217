/**
 * The budgets of callers without a token and of event streams, and the docs served compressed and cacheable, against
 * the real process and in this process.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Http from "node:http"
import * as Zlib from "node:zlib"
import { call, type Service, type Start, startInProcess, startProcess } from "../support/service.js"

const modes: ReadonlyArray<readonly [string, Start]> = [["process", startProcess], ["in-process", startInProcess]]

/** A GET with exactly the given headers (no automatic compression), from `localAddress` if given. */
const get = (service: Service, path: string, headers: Record<string, string>, localAddress?: string) =>
  new Promise<{ status: number; headers: Http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const request = Http.request(`${service.url}${path}`, {
      headers,
      agent: false,
      ...(localAddress === undefined ? {} : { localAddress })
    }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on(
        "end",
        () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) })
      )
    })
    request.on("error", reject)
    request.end()
  })

/** The wait a `RateLimited` body asks for, whichever name its field has. */
const retryAfterOf = (body: Record<string, unknown>) => body["retryAfterMs"] ?? body["retryAfter"]

/** An open event stream (or the status that refused it); `close` drops the connection. */
const openStream = async (service: Service, path: string, token: string) => {
  const abort = new AbortController()
  const response = await fetch(`${service.url}${path}`, {
    headers: { authorization: `Bearer ${token}` },
    signal: abort.signal
  })
  const text = response.status === 200 ? "" : await response.text()
  return {
    status: response.status,
    headers: response.headers,
    json: (text === "" ? {} : JSON.parse(text)) as Record<string, unknown>,
    close: () => abort.abort()
  }
}

describe.each(modes)("limits (%s)", (_mode, start) => {
  describe("callers without a valid token", () => {
    let service: Service
    beforeAll(async () => {
      service = await start({ SESSIONS_ANONYMOUS_RATE_LIMIT: "6/1m" })
    })
    afterAll(() => service.stop())

    it("share a budget per address across failed authentication, unknown routes, docs, health and metrics", async () => {
      const alice = await service.token("alice")
      // Requests with a valid token never take from it.
      for (let i = 0; i < 10; i++) expect((await call(service, "GET", "/healthz", { token: alice })).status).toBe(200)
      const anonymous = [
        ["GET", "/sessions", "not.a.jwt"],
        ["GET", "/sessions", undefined],
        ["GET", "/no/such/route", undefined],
        ["GET", "/healthz", undefined],
        ["GET", "/openapi.json", undefined],
        ["GET", "/metrics", "not.a.jwt"]
      ] as const
      const statuses = []
      for (const [method, path, token] of anonymous) {
        statuses.push((await call(service, method, path, { token })).status)
      }
      expect(statuses).toEqual([401, 401, 404, 200, 200, 200])
      for (const path of ["/sessions", "/no/such/route", "/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"]) {
        const limited = await call(service, "GET", path)
        expect({ path, status: limited.status }).toEqual({ path, status: 429 })
        expect(limited.json["_tag"]).toBe("RateLimited")
        expect(retryAfterOf(limited.json)).toBeGreaterThan(0)
        const retryAfter = Number(limited.headers.get("retry-after"))
        expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true)
      }
      // A valid token still gets through, health and docs included; another address has its own budget.
      expect((await call(service, "GET", "/sessions", { token: alice })).status).toBe(200)
      expect((await call(service, "GET", "/healthz", { token: alice })).status).toBe(200)
      expect((await get(service, "/docs", { authorization: `Bearer ${alice}` })).status).toBe(200)
      expect((await get(service, "/healthz", {}, "127.0.0.2")).status).toBe(200)
    })
  })

  describe("the docs", () => {
    let service: Service
    beforeAll(async () => {
      service = await start()
    })
    afterAll(() => service.stop())

    it.each(["/docs", "/openapi.json"])(
      "serves %s compressed when asked, with an ETag, and 304 when unchanged",
      async (path) => {
        const plain = await get(service, path, {})
        expect(plain.status).toBe(200)
        expect(plain.headers["content-encoding"]).toBeUndefined()
        expect(plain.headers["cache-control"]).toMatch(/max-age=\d+/)
        expect(plain.headers["etag"]).toMatch(/^"[^"]+"$/)
        expect(plain.headers["vary"]?.toLowerCase()).toContain("accept-encoding")

        const gzipped = await get(service, path, { "accept-encoding": "br;q=1, gzip;q=0.8" })
        expect(gzipped.status).toBe(200)
        expect(gzipped.headers["content-encoding"]).toBe("gzip")
        expect(gzipped.body.length).toBeLessThan(plain.body.length / 3)
        expect(Zlib.gunzipSync(gzipped.body).equals(plain.body)).toBe(true)
        expect(gzipped.headers["etag"]).toMatch(/^"[^"]+"$/)
        expect(gzipped.headers["content-type"]).toBe(plain.headers["content-type"])

        const refused = await get(service, path, { "accept-encoding": "gzip;q=0" })
        expect(refused.headers["content-encoding"]).toBeUndefined()

        for (const [etag, encoding] of [[plain.headers["etag"]!, "identity"], [gzipped.headers["etag"]!, "gzip"]]) {
          const again = await get(service, path, { "if-none-match": `"other", ${etag}`, "accept-encoding": encoding })
          expect(again.status).toBe(304)
          expect(again.body.length).toBe(0)
          expect(again.headers["etag"]).toBe(etag)
        }
        const changed = await get(service, path, { "if-none-match": "\"stale\"" })
        expect(changed.status).toBe(200)
        expect(changed.body.equals(plain.body)).toBe(true)
      }
    )
  })

  describe("event streams", () => {
    let service: Service
    beforeAll(async () => {
      service = await start({ SESSIONS_MAX_STREAMS_PER_SUBJECT: "3", SESSIONS_ADMIN_RATE_LIMIT: "1000/1m" })
    })
    afterAll(() => service.stop())

    it("are capped per subject, and a stream's place is freed when its client goes away", async () => {
      const alice = await service.token("alice")
      const bob = await service.token("bob")
      const streams = [
        await openStream(service, "/events", alice),
        await openStream(service, "/events", alice),
        await openStream(service, "/events", alice)
      ]
      expect(streams.map((stream) => stream.status)).toEqual([200, 200, 200])
      const refused = await openStream(service, "/events", alice)
      refused.close()
      expect(refused.status).toBe(429)
      expect(refused.json["_tag"]).toBe("RateLimited")
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      // Another subject has its own streams.
      const bobs = await openStream(service, "/events", bob)
      expect(bobs.status).toBe(200)
      bobs.close()

      streams[0]!.close()
      let reopened = await openStream(service, "/events", alice)
      for (let attempt = 0; reopened.status !== 200 && attempt < 50; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        reopened = await openStream(service, "/events", alice)
      }
      expect(reopened.status).toBe(200)
      for (const stream of [...streams, reopened]) stream.close()
    })
  })
})
