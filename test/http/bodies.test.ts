/**
 * Request bodies, against the real process and in this process: nesting past the depth limit is refused before any
 * decoding (never a 500), errors never echo what was sent, media types other than JSON get 415 at once, a body that
 * stalls gets 408 at the request deadline, and `POST /admin/backup` takes no body.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { maxBodyDepth } from "../../src/adapters/http/internal/body.js"
import { maxDataDepth } from "../../src/domain/Data.js"
import { call, connect, type Service, type Start, startInProcess, startProcess } from "../support/service.js"

const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "..", "README.md"), "utf8")

const modes: ReadonlyArray<readonly [string, Start]> = [["process", startProcess], ["in-process", startInProcess]]

/** `levels` arrays nested in one another, as JSON text. */
const nested = (levels: number, inner = "") => `${"[".repeat(levels)}${inner}${"]".repeat(levels)}`

/** A string that looks like a credential, to check that nothing sent comes back. */
const secretLooking = `sk_live_${"Zx9Qw3Lp7Rt2Vb8Nm4Kd6Hs1Jf5Gc0Ay".repeat(4)}`

describe.each(modes)("request bodies (%s)", (_mode, start) => {
  let service: Service
  let alice: string
  let admin: string
  let id: string
  beforeAll(async () => {
    service = await start({
      SESSIONS_ADMIN_RATE_LIMIT: "1000/1m",
      SESSIONS_REQUEST_TIMEOUT: "1s",
      SESSIONS_MAX_DATA_BYTES: "1048576",
      SESSIONS_MAX_BODY_BYTES: "1048576"
    })
    alice = await service.token("alice")
    admin = await service.token("ops", { admin: true })
    const created = await call(service, "POST", "/sessions", { token: alice, body: {} })
    expect(created.status).toBe(201)
    id = created.json["id"]
  })
  afterAll(() => service.stop())

  const bodyRoutes = () =>
    [
      ["POST", "/sessions", alice],
      ["POST", `/sessions/${id}/activity`, alice],
      ["PUT", "/active", alice],
      ["PUT", `/sessions/${id}/data`, alice],
      ["PATCH", `/sessions/${id}/data`, alice],
      ["PUT", "/admin/origins", admin],
      ["POST", "/admin/backup", admin]
    ] as const

  it("refuses a body nested deeper than the limit on every route that takes one, before decoding it", async () => {
    const deep = nested(2600)
    const inField = `{"data":{"kind":${nested(3000)}}}`
    for (const [method, path, token] of bodyRoutes()) {
      for (const body of [deep, inField, `{"name":"${"[".repeat(5000)}","kind":${nested(maxBodyDepth)}}`]) {
        const response = await call(service, method, path, { token, body })
        expect({ method, path, status: response.status }).toEqual({ method, path, status: 400 })
        expect(response.json).toMatchObject({
          _tag: "InvalidInput",
          field: "body",
          reason: `is nested deeper than ${maxBodyDepth} levels`
        })
      }
    }
  })

  it("lets through session data as deep as the domain accepts, with its envelope", async () => {
    expect(maxBodyDepth).toBeGreaterThan(maxDataDepth)
    expect(readme).toContain(`nested deeper than ${maxBodyDepth} levels`)
    const created = await call(service, "POST", "/sessions", {
      token: alice,
      // Brackets inside strings (an escaped quote included) are not nesting.
      body: `{"data":${nested(maxDataDepth, `"[{\\"]${"[".repeat(1000)}"`)}}`
    })
    expect(created.status).toBe(201)
    const replaced = await call(service, "PUT", `/sessions/${created.json["id"]}/data`, {
      token: alice,
      body: nested(maxDataDepth)
    })
    expect(replaced.status).toBe(200)
    // One level more is the domain's refusal, still a typed 400.
    const deeper = await call(service, "PUT", `/sessions/${created.json["id"]}/data`, {
      token: alice,
      body: nested(maxDataDepth + 1)
    })
    expect(deeper.status).toBe(400)
    expect(deeper.json).toMatchObject({ _tag: "InvalidInput", field: "data" })
  })

  it("never echoes the body: wrong values, bad JSON and bad names are described, not quoted", async () => {
    const cases = [
      ["POST", `/sessions/${id}/activity`, alice, { messages: secretLooking }, "messages"],
      ["POST", "/sessions", alice, { kind: { secret: secretLooking } }, "kind"],
      ["POST", "/sessions", alice, { idleTimeout: secretLooking }, "idleTimeout"],
      ["PUT", "/active", alice, { id: [secretLooking] }, "id"],
      ["PUT", "/admin/origins", admin, { origins: [secretLooking] }, "origins.0"],
      ["POST", "/admin/backup", admin, { name: `../${secretLooking}` }, "name"],
      ["POST", "/sessions", alice, `{"kind": ${secretLooking}}`, "body"],
      ["POST", "/sessions", alice, `{"kind": "${secretLooking}`, "body"]
    ] as const
    for (const [method, path, token, body, field] of cases) {
      const response = await call(service, method, path, { token, body })
      expect({ path, field, status: response.status }).toEqual({ path, field, status: 400 })
      expect(response.json).toMatchObject({ _tag: "InvalidInput", field })
      expect(response.text).not.toContain("sk_live_")
    }
    const wrongType = await call(service, "POST", `/sessions/${id}/activity`, {
      token: alice,
      body: { messages: secretLooking }
    })
    expect(wrongType.json["expected"]).toContain("number")
  })

  it("answers 415 at once for a media type a JSON route does not take, and accepts JSON ones", async () => {
    for (const [method, path, token] of bodyRoutes()) {
      for (
        const [contentType, body] of [
          [
            "multipart/form-data; boundary=x",
            "--x\r\nContent-Disposition: form-data; name=\"kind\"\r\n\r\nchat\r\n--x--"
          ],
          ["multipart/form-data; boundary=x", ""],
          ["application/x-www-form-urlencoded", "kind=chat"],
          ["text/plain", "{}"],
          ["application/octet-stream", "{}"]
        ] as const
      ) {
        const response = await call(service, method, path, { token, body, headers: { "content-type": contentType } })
        expect({ path, contentType, status: response.status }).toEqual({ path, contentType, status: 415 })
        expect(response.json).toMatchObject({
          _tag: "UnsupportedMediaType",
          contentType: contentType.split(";")[0],
          expected: expect.stringContaining("application/json")
        })
      }
    }
    for (const contentType of ["application/json; charset=utf-8", "application/merge-patch+json", "APPLICATION/JSON"]) {
      const response = await call(service, "PATCH", `/sessions/${id}/data`, {
        token: alice,
        body: { via: contentType },
        headers: { "content-type": contentType }
      })
      expect({ contentType, status: response.status }).toEqual({ contentType, status: 200 })
    }
  })

  it("reads a body without a Content-Type as JSON", async () => {
    const body = JSON.stringify({ kind: "untyped" })
    const connection = await connect(
      service,
      `POST /sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${alice}\r\n` +
        `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`
    )
    const received = await connection.closed
    expect(received).toMatch(/^HTTP\/1\.1 201 /)
    expect(received).toContain("\"kind\":\"untyped\"")
  })

  it("ignores a body, of any type, on routes that take none", async () => {
    for (const contentType of ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]) {
      const touched = await call(service, "POST", `/sessions/${id}/touch`, {
        token: alice,
        body: "anything",
        headers: { "content-type": contentType }
      })
      expect({ contentType, status: touched.status }).toEqual({ contentType, status: 200 })
    }
    const bare = await fetch(`${service.url}/sessions/${id}/touch`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice}` }
    })
    expect(bare.status).toBe(200)
  })

  it("backs up with no body at all, or an empty one", async () => {
    const none = await fetch(`${service.url}/admin/backup`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}` }
    })
    expect(none.status).toBe(201)
    const empty = await call(service, "POST", "/admin/backup", {
      token: admin,
      body: "",
      headers: { "content-type": "application/json" }
    })
    expect(empty.status).toBe(201)
    expect(empty.json["file"]).toMatch(/sessions-.*\.backup$/)
  })

  it("answers a body that stalls with 408 at the request deadline (the client's stall), then closes the connection", async () => {
    const connection = await connect(
      service,
      `POST /sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${alice}\r\n` +
        "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"data\":{\""
    )
    const received = await connection.closed
    expect(received).toMatch(/^HTTP\/1\.1 408 /)
    expect(received.toLowerCase()).toContain("connection: close")
    expect(received).toContain("\"_tag\":\"RequestTimeout\"")
    // The service is fine afterwards.
    expect((await call(service, "GET", `/sessions/${id}`, { token: alice })).status).toBe(200)
  })

  it("answers 413 for a declared length past the limit without reading the body, and closes the connection", async () => {
    const connection = await connect(
      service,
      `POST /sessions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${alice}\r\n` +
        "Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n{\"data\":\""
    )
    const received = await Promise.race([connection.closed, new Promise((resolve) => setTimeout(resolve, 5_000))])
    expect(connection.isClosed()).toBe(true)
    expect(received).toMatch(/^HTTP\/1\.1 413 /)
    expect(received).toContain("\"_tag\":\"PayloadTooLarge\"")
    connection.socket.destroy()
  })
})
