/**
 * `POST /sessions/{id}/regenerate` over loopback, against the real `effect-sessions serve` process and the same layers
 * in this process: the session under a new id (with its `Location`), the old id gone, and the owner scope.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, type Service, type Start, startInProcess, startProcess } from "../support/service.js"
import { readEvents } from "../support/sse.js"

const modes: ReadonlyArray<readonly [string, Start]> = [["process", startProcess], ["in-process", startInProcess]]

describe.each(modes)("POST /sessions/{id}/regenerate (%s)", (_mode, start) => {
  let service: Service
  let alice: string
  let bob: string
  beforeAll(async () => {
    service = await start()
    alice = await service.token("alice")
    bob = await service.token("bob")
  })
  afterAll(() => service.stop())

  it("answers the session under a new id, with its Location; the old id answers 404 from then on", async () => {
    const created = await call(service, "POST", "/sessions", { token: alice, body: { name: "login", data: { a: 1 } } })
    expect(created.status).toBe(201)
    const old = created.json["id"] as string
    await call(service, "PUT", "/active", { token: alice, body: { id: old } })
    const rotated = await call(service, "POST", `/sessions/${old}/regenerate`, { token: alice })
    expect(rotated.status).toBe(200)
    const fresh = rotated.json["id"] as string
    expect(fresh).not.toBe(old)
    expect(rotated.json).toMatchObject({ owner: "alice", name: "login", data: { a: 1 }, status: "active", version: 1 })
    expect(rotated.headers.get("location")).toBe(`/sessions/${fresh}`)
    expect(rotated.headers.get("etag")).toBe(`"1"`)

    const read = await call(service, "GET", rotated.headers.get("location")!, { token: alice })
    expect(read.status).toBe(200)
    expect(read.json).toEqual(rotated.json)
    for (const [method, path] of [["GET", `/sessions/${old}`], ["POST", `/sessions/${old}/touch`]] as const) {
      const gone = await call(service, method, path, { token: alice })
      expect(gone.status).toBe(404)
      expect(gone.json["_tag"]).toBe("SessionNotFound")
    }
    const again = await call(service, "POST", `/sessions/${old}/regenerate`, { token: alice })
    expect(again.status).toBe(404)
    expect((await call(service, "GET", "/active", { token: alice })).json["id"]).toBe(fresh)
  })

  it("streams Regenerated to the owner, with the new id and the previous one", async () => {
    const token = await service.token("carol")
    let ids: ReadonlyArray<string> = []
    const events = await readEvents(service, "/events", {
      token,
      until: (seen) => seen.some((event) => event.event === "Regenerated"),
      onOpen: async () => {
        const created = await call(service, "POST", "/sessions", { token, body: {} })
        const rotated = await call(service, "POST", `/sessions/${created.json["id"]}/regenerate`, { token })
        ids = [rotated.json["id"] as string, created.json["id"] as string]
      }
    })
    expect(events.map((event) => event.event)).toEqual(["Created", "Regenerated"])
    expect(events[1]!.data).toMatchObject({ id: ids[0], previous: ids[1], owner: "carol" })
  })

  it("is scoped to the token's owner, and maps refusals like its siblings", async () => {
    const created = await call(service, "POST", "/sessions", { token: alice, body: {} })
    const id = created.json["id"] as string
    const foreign = await call(service, "POST", `/sessions/${id}/regenerate`, { token: bob })
    expect(foreign.status).toBe(404)
    expect(foreign.json["_tag"]).toBe("SessionNotFound")
    expect((await call(service, "GET", `/sessions/${id}`, { token: alice })).status).toBe(200)

    await call(service, "DELETE", `/sessions/${id}`, { token: alice })
    const ended = await call(service, "POST", `/sessions/${id}/regenerate`, { token: alice })
    expect(ended.json).toMatchObject({ _tag: "SessionEnded", status: "closed" })
    expect(ended.status).toBe((await call(service, "POST", `/sessions/${id}/wait`, { token: alice })).status)

    const malformed = await call(service, "POST", "/sessions/not-an-id/regenerate", { token: alice })
    expect(malformed.status).toBe(400)
    expect(malformed.json["_tag"]).toBe("InvalidInput")
    expect((await call(service, "POST", `/sessions/${id}/regenerate`)).status).toBe(401)
  })
})
