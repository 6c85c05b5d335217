/**
 * Connections against the real process: many slow connections in a process limited to 1,024 open files do not lock
 * out real clients, and connections that send no complete request, or sit idle, are closed after their timeouts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Http from "node:http"
import parsePrometheus from "parse-prometheus-text-format"
import { call, connect, type RawConnection, type Service, startInProcess, startProcess } from "../support/service.js"

/** `promise`'s value, or `undefined` once `ms` have passed. */
const within = <A>(promise: Promise<A>, ms: number) =>
  Promise.race([promise, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))])

/** A GET on a connection of its own (no keep-alive pool), as a new client would send it. */
const fresh = (service: Service, path: string, token: string) =>
  new Promise<number>((resolve, reject) => {
    const request = Http.request(`${service.url}${path}`, {
      headers: { authorization: `Bearer ${token}` },
      agent: false,
      timeout: 10_000
    }, (response) => {
      response.resume()
      response.on("end", () => resolve(response.statusCode ?? 0))
    })
    request.on("timeout", () => request.destroy(new Error("timed out")))
    request.on("error", reject)
    request.end()
  })

/** The value of a metric family's sample with these labels (0 when absent). */
const sample = (text: string, name: string, labels: Record<string, string> = {}) => {
  const family = parsePrometheus(text).find((candidate) => candidate.name === name)
  const found = family?.metrics.find((metric) =>
    Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value)
  )
  return found !== undefined && "value" in found ? Number(found.value) : 0
}

describe("connections", () => {
  it("answers real clients while 1,100 slow connections are open, in a process limited to 1,024 files", async () => {
    const service = await startProcess({ SESSIONS_MAX_CONNECTIONS: "512" }, { openFiles: 1024 })
    const slow: Array<RawConnection> = []
    try {
      const token = await service.token("alice")
      // Half a request line each, then nothing: each holds a connection (and a descriptor) until its timeout.
      for (let batch = 0; batch < 11; batch++) {
        const opened = await Promise.all(
          Array.from({ length: 100 }, () => within(connect(service, "GET /sessi"), 5_000))
        )
        for (const connection of opened) if (connection !== undefined) slow.push(connection)
      }
      expect(slow.length).toBe(1100)

      // Every request of a real client is answered: on connections of their own, one after another and at once,
      // and on fetch's pooled connections.
      const answered: Array<number | string> = []
      for (let i = 0; i < 20; i++) answered.push(await fresh(service, "/sessions", token).catch(String))
      answered.push(
        ...await Promise.all(Array.from({ length: 20 }, () => fresh(service, "/sessions", token).catch(String)))
      )
      for (let i = 0; i < 20; i++) {
        answered.push(
          await call(service, "GET", "/sessions", { token }).then((response) => response.status, String)
        )
      }
      expect(answered).toEqual(Array.from({ length: 60 }, () => 200))

      // The slow connections are still there (most of them): the service answered beside them, not after them.
      expect(slow.filter((connection) => !connection.isClosed()).length).toBeGreaterThan(400)

      const metrics = await call(service, "GET", "/metrics", { token })
      expect(metrics.status).toBe(200)
      expect(sample(metrics.text, "http_connections_open")).toBeLessThanOrEqual(512)
      // At least every slow connection past the limit made room for a later one.
      expect(sample(metrics.text, "http_connections_shed_total", { reason: "evicted" })).toBeGreaterThanOrEqual(
        1100 - 512
      )
      expect(sample(metrics.text, "http_connections_shed_total", { reason: "refused" })).toBe(0)

      // The logs say so, in a few lines, not one per connection, and nothing failed.
      const lines = service.logs.filter((line) => line.trim() !== "")
      const entries = lines.map((line) => JSON.parse(line) as { message: unknown; logLevel: string })
      const shedding = entries.filter((entry) => String(entry.message).includes("connections"))
      expect(shedding.length).toBeGreaterThan(0)
      expect(shedding.length).toBeLessThan(20)
      expect(entries.filter((entry) => entry.logLevel === "ERROR" || entry.logLevel === "FATAL")).toEqual([])
    } finally {
      for (const connection of slow) connection.socket.destroy()
      await service.stop()
    }
  })

  it("at the limit, closes the connection quiet the longest, and refuses a newcomer only when all are busy", async () => {
    const service = await startInProcess({ SESSIONS_MAX_CONNECTIONS: "3" })
    const held: Array<RawConnection> = []
    try {
      const token = await service.token("alice")
      // A request whose body never comes: its connection is busy until the request deadline (30s here).
      const busy = () =>
        connect(
          service,
          `POST /sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n` +
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
      const oldest = await connect(service, "GET /heal")
      const newer = await connect(service, "GET /heal")
      held.push(oldest, newer, await busy())
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(await fresh(service, "/sessions", token)).toBe(200)
      await within(oldest.closed, 2_000)
      expect([oldest.isClosed(), newer.isClosed()]).toEqual([true, false])

      // Every connection busy: a newcomer is refused, and admitted again once one is free.
      held.push(await busy(), await busy())
      await within(newer.closed, 2_000)
      expect(newer.isClosed()).toBe(true)
      // (The service parses the busy requests' headers on its own time; no client-side signal says when.)
      await new Promise((resolve) => setTimeout(resolve, 100))
      await expect(fresh(service, "/sessions", token)).rejects.toThrow()
      held[2]!.socket.destroy()
      await held[2]!.closed
      let status: number | string = "refused"
      for (let attempt = 0; status !== 200 && attempt < 20; attempt++) {
        status = await fresh(service, "/sessions", token).catch(String)
      }
      expect(status).toBe(200)
    } finally {
      for (const connection of held) connection.socket.destroy()
      await service.stop()
    }
  })

  it("closes a connection that sends no complete request within SESSIONS_HEADERS_TIMEOUT", async () => {
    const service = await startProcess({ SESSIONS_HEADERS_TIMEOUT: "1s" })
    try {
      const connection = await connect(service, "GET /sessions HTTP/1.1\r\nHost: loc")
      expect(await within(connection.closed, 8_000)).toBeDefined()
    } finally {
      await service.stop()
    }
  })

  it("closes a keep-alive connection idle for SESSIONS_KEEP_ALIVE_TIMEOUT", async () => {
    const service = await startProcess({ SESSIONS_KEEP_ALIVE_TIMEOUT: "1s" })
    try {
      const connection = await connect(service, "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
      const received = await within(connection.closed, 4_000)
      expect(received).toMatch(/^HTTP\/1\.1 200 /)
    } finally {
      await service.stop()
    }
  })
})
